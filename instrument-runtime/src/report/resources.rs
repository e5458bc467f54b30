//! The resource sampler: `resource_usage.jsonl`, one line per period with the process's CPU use,
//! resident memory and threads, read from Linux's `/proc` (see `proc(5)`).
//!
//! Off unless started with [`sample_resources`]. Reading `/proc` is the only impure part: a line
//! is a pure function of two [`ProcSample`]s ([`sample_line`]), so tests drive it with made-up
//! samples. Each line is written with one `write` call on an unbuffered file as soon as it is
//! sampled, so a crash keeps every line sampled before it.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::format::rfc3339;
use crate::record::procfs::{bad, cpu_time_and_threads, kib_field};

/// The file [`sample_resources`] writes in the report directory.
///
/// ```
/// let path = std::path::Path::new("target/instrument/app").join(instrument_runtime::report::RESOURCE_USAGE_FILE);
/// assert!(path.ends_with("resource_usage.jsonl"));
/// ```
pub const RESOURCE_USAGE_FILE: &str = "resource_usage.jsonl";

/// The period [`sample_resources`] is usually given: one second.
///
/// ```
/// assert_eq!(instrument_runtime::report::DEFAULT_SAMPLE_PERIOD, std::time::Duration::from_secs(1));
/// ```
pub const DEFAULT_SAMPLE_PERIOD: Duration = Duration::from_secs(1);

/// What the process used at one moment, as read from `/proc`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use instrument_runtime::report::ProcSample;
///
/// // Made up, as tests of `sample_line` do; `ProcSample::read` takes a real one.
/// let sample = ProcSample {
///     wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
///     monotonic: Duration::from_secs(5),
///     cpu: Duration::from_millis(1_250),
///     rss_bytes: 64 << 20,
///     memory_total_bytes: 8 << 30,
///     threads: 4,
/// };
/// assert_eq!(sample.cpu.as_millis(), 1_250);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSample {
    /// Wall-clock time of the sample: the line's timestamp.
    pub wall: SystemTime,
    /// Time on a monotonic clock, from any origin: CPU use is measured against its differences.
    pub monotonic: Duration,
    /// CPU time the process has used so far, user and system, all threads.
    pub cpu: Duration,
    /// Resident set size.
    pub rss_bytes: u64,
    /// The machine's physical memory.
    pub memory_total_bytes: u64,
    /// Threads in the process.
    pub threads: u64,
}

impl ProcSample {
    /// Reads the process's usage now from `/proc/self/stat`, `/proc/self/status` and
    /// `/proc/meminfo`; `monotonic` is measured from the first call.
    ///
    /// # Errors
    ///
    /// When `/proc` cannot be read or parsed (on systems other than Linux, always).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// let sample = instrument_runtime::report::ProcSample::read().unwrap();
    /// assert!(sample.rss_bytes > 0 && sample.rss_bytes < sample.memory_total_bytes);
    /// # }
    /// ```
    pub fn read() -> io::Result<Self> {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let origin = *ORIGIN.get_or_init(Instant::now);
        let (cpu, threads) = cpu_time_and_threads()?;
        let status = fs::read_to_string("/proc/self/status")?;
        let meminfo = fs::read_to_string("/proc/meminfo")?;
        let rss_kib = kib_field(&status, "VmRSS:").ok_or_else(|| bad("/proc/self/status"))?;
        let total_kib = kib_field(&meminfo, "MemTotal:").ok_or_else(|| bad("/proc/meminfo"))?;
        Ok(Self {
            wall: SystemTime::now(),
            monotonic: origin.elapsed(),
            cpu,
            rss_bytes: rss_kib.saturating_mul(1024),
            memory_total_bytes: total_kib.saturating_mul(1024),
            threads,
        })
    }
}

/// One line of `resource_usage.jsonl`; the fields are in key order.
#[derive(Serialize)]
struct ResourceUsage {
    cpu_percent: f64,
    memory_percent: f64,
    rss_mb: f64,
    threads: u64,
    timestamp: String,
}

/// One line of `resource_usage.jsonl` (newline included) for the interval from `previous` to
/// `current`: `cpu_percent` is the CPU time used over the interval as a percentage of its length
/// (above 100 when several cores are busy; 0 for an empty interval), `rss_mb` the resident memory
/// in MiB, `memory_percent` its share of the machine's memory, `threads` the thread count and
/// `timestamp` the current sample's time in RFC 3339 (UTC, milliseconds). Keys are sorted.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use instrument_runtime::report::{ProcSample, sample_line};
///
/// let previous = ProcSample {
///     wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
///     monotonic: Duration::from_secs(10),
///     cpu: Duration::from_millis(2_000),
///     rss_bytes: 100 << 20,
///     memory_total_bytes: 1 << 30,
///     threads: 3,
/// };
/// let current = ProcSample {
///     wall: previous.wall + Duration::from_secs(1),
///     monotonic: Duration::from_secs(11),
///     cpu: Duration::from_millis(2_250),
///     rss_bytes: 128 << 20,
///     ..previous
/// };
/// assert_eq!(
///     sample_line(&previous, &current),
///     "{\"cpu_percent\":25.0,\"memory_percent\":12.5,\"rss_mb\":128.0,\"threads\":3,\
///      \"timestamp\":\"2023-11-14T22:13:21.000Z\"}\n",
/// );
/// ```
#[allow(
    clippy::missing_panics_doc,
    reason = "serializing finite numbers and a string cannot fail"
)]
pub fn sample_line(previous: &ProcSample, current: &ProcSample) -> String {
    let interval = current.monotonic.saturating_sub(previous.monotonic);
    let cpu = current.cpu.saturating_sub(previous.cpu);
    let cpu_percent = if interval.is_zero() {
        0.0
    } else {
        cpu.as_secs_f64() / interval.as_secs_f64() * 100.0
    };
    #[allow(
        clippy::cast_precision_loss,
        reason = "byte counts far below 2^53 bytes; rounded to two decimals"
    )]
    let (rss_mb, memory_percent) = (
        current.rss_bytes as f64 / f64::from(1 << 20),
        if current.memory_total_bytes == 0 {
            0.0
        } else {
            current.rss_bytes as f64 / current.memory_total_bytes as f64 * 100.0
        },
    );
    let usage = ResourceUsage {
        cpu_percent: round2(cpu_percent),
        memory_percent: round2(memory_percent),
        rss_mb: round2(rss_mb),
        threads: current.threads,
        timestamp: rfc3339(current.wall),
    };
    let mut line = serde_json::to_string(&usage).expect("plain numbers and strings serialize");
    line.push('\n');
    line
}

/// Rounds to two decimals: the finite values this module computes stay finite.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// A running resource sampler. Dropping it (or [`stop`](Self::stop)) ends the sampling; the
/// file keeps every line written.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("instrument-sampler-doc-{}", std::process::id()));
/// # #[cfg(target_os = "linux")] {
/// let path = dir.join("usage.jsonl");
/// let sampler = instrument_runtime::report::sample_resources_into(&path, std::time::Duration::from_millis(5)).unwrap();
/// assert_eq!(sampler.path(), path.as_path());
/// while std::fs::read_to_string(&path).map_or(true, |written| written.is_empty()) {
///     std::thread::sleep(std::time::Duration::from_millis(5));
/// }
/// sampler.stop().unwrap();
/// assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));
/// # }
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug)]
#[must_use = "the sampler stops when dropped"]
pub struct ResourceSampler {
    path: PathBuf,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Starts sampling the process's resource usage every `period` into `resource_usage.jsonl` in
/// the report directory ([`report_dir`](crate::report::report_dir)), until the returned guard is dropped.
/// [`DEFAULT_SAMPLE_PERIOD`] is one second.
///
/// The file is replaced when sampling starts, then appended to, one line per period, each line
/// written as soon as it is sampled (see [`sample_line`] for the fields). The first line comes
/// one period after the start. The kernel counts CPU time in ticks of usually 10 ms, so over
/// periods much shorter than a second `cpu_percent` is coarse.
///
/// # Errors
///
/// When there is no report directory ([`report_dir`](crate::report::report_dir) is `None`), the
/// directory or the file cannot be created, or `/proc` cannot be read (on systems other than
/// Linux, always).
///
/// ```no_run
/// let _sampler = instrument_runtime::report::sample_resources(instrument_runtime::report::DEFAULT_SAMPLE_PERIOD)?;
/// // ... the program; `resource_usage.jsonl` in the report directory grows by a line a second.
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn sample_resources(period: Duration) -> io::Result<ResourceSampler> {
    let dir = crate::report::report_dir().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no report directory: this binary runs away from its build; set INSTRUMENT_REPORT_DIR",
        )
    })?;
    sample_resources_into(dir.join(RESOURCE_USAGE_FILE), period)
}

/// Like [`sample_resources`], into the file at `path`.
///
/// # Errors
///
/// As for [`sample_resources`].
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// let path = std::env::temp_dir().join(format!("instrument-usage-doc-{}.jsonl", std::process::id()));
/// drop(instrument_runtime::report::sample_resources_into(&path, std::time::Duration::from_secs(1)).unwrap());
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), ""); // stopped before the first period
/// # std::fs::remove_file(&path).ok();
/// # }
/// ```
pub fn sample_resources_into(
    path: impl Into<PathBuf>,
    period: Duration,
) -> io::Result<ResourceSampler> {
    let path = path.into();
    let first = ProcSample::read()?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let file = File::create(&path)?;
    let (stop, stopped) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("instrument-resources".to_owned())
        .spawn(move || run(file, first, period, &stopped))?;
    Ok(ResourceSampler {
        path,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The sampling loop: a line per period, on a schedule that does not drift, until told to stop.
fn run(
    mut file: File,
    mut previous: ProcSample,
    period: Duration,
    stopped: &mpsc::Receiver<()>,
) -> io::Result<()> {
    let period = period.max(Duration::from_millis(1));
    let start = Instant::now();
    let mut next = start + period;
    loop {
        match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        let current = ProcSample::read()?;
        // One `write` of the whole line on an unbuffered file: nothing waits in a buffer.
        file.write_all(sample_line(&previous, &current).as_bytes())?;
        previous = current;
        next += period;
        // After a stall (a suspended machine), skip the missed periods rather than burst.
        let now = Instant::now();
        if next < now {
            next = now + period;
        }
    }
}

impl ResourceSampler {
    /// The file being written.
    ///
    /// ```no_run
    /// let sampler = instrument_runtime::report::sample_resources(std::time::Duration::from_secs(1))?;
    /// println!("sampling into {}", sampler.path().display());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops sampling and waits for the sampler's thread to end.
    ///
    /// # Errors
    ///
    /// The error that stopped the sampler early, if one did (a failed write or `/proc` read).
    ///
    /// ```no_run
    /// let sampler = instrument_runtime::report::sample_resources(std::time::Duration::from_secs(1))?;
    /// // ...
    /// sampler.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the resource sampler panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ResourceSampler {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    fn sample(monotonic_ms: u64, cpu_ms: u64) -> ProcSample {
        ProcSample {
            wall: at(1_700_000_000, 0) + Duration::from_millis(monotonic_ms),
            monotonic: Duration::from_millis(monotonic_ms),
            cpu: Duration::from_millis(cpu_ms),
            rss_bytes: 3 << 20,
            memory_total_bytes: 0,
            threads: 2,
        }
    }

    #[test]
    fn lines_of_degenerate_intervals_are_still_numbers() {
        // No time passed, no machine memory known, CPU time going backwards: zeros, not NaN.
        let line = sample_line(&sample(1_000, 500), &sample(1_000, 400));
        assert_eq!(
            line,
            "{\"cpu_percent\":0.0,\"memory_percent\":0.0,\"rss_mb\":3.0,\"threads\":2,\
             \"timestamp\":\"2023-11-14T22:13:21.000Z\"}\n"
        );
    }

    #[test]
    fn several_busy_cores_exceed_a_hundred_percent() {
        let line = sample_line(&sample(0, 0), &sample(100, 250));
        assert!(line.starts_with("{\"cpu_percent\":250.0,"), "{line}");
    }
}
