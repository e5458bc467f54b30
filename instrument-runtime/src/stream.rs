//! Measurements streamed out of the process while it runs: to Kafka (feature `kafka`), to
//! PostgreSQL (feature `postgres`), or to any [`Sink`].
//!
//! What flows: every flush interval, each active node's [interval](crate::interval) (calls,
//! errors, panics, cancellations, quantiles and the interval's histogram); circuit breaker
//! transitions and budget verdict changes; and the program's own events ([`record_timing`],
//! [`record_counter`], [`record_gauge`], [`record_rate`], the [`timing`] scope, [`Event`] for tags
//! and a correlation id); and the alert engine's alerts, firing and resolved, when its
//! [`StreamNotifier`](crate::alert::StreamNotifier) is on. Each record carries a unique id, and
//! its sink adds the run id, the host and the service name.
//!
//! How: pushing an event puts it in a bounded, pre-allocated buffer (lock-free; when full the
//! oldest record is dropped and counted) and returns. One flusher thread drains it every 10 ms,
//! sends each sink a batch as soon as [`StreamConfig::batch_size`] records wait or every
//! [`StreamConfig::flush_interval`], retries a failing sink with backoff (100 ms doubling to 5 s)
//! while the others go on, and at exit runs a final flush with a deadline. Every record is
//! accounted for per sink, stored, dropped by reason, or pending ([`StreamStats`]); `report.json`
//! and `/metrics` carry the accounts.
//!
//! Off unless started: [`start`] (settings in code) or [`start_from_env`]; the first event pushed
//! before either starts the pipeline from the environment ([`StreamConfig::from_env`]), with no
//! sink unless one is configured there; the flusher then only keeps [`latest_values`].
//!
//! ```
//! use instrument_runtime::stream::{self, MemorySink, StreamConfig};
//!
//! let sink = MemorySink::new("memory");
//! stream::start(StreamConfig::default(), vec![Box::new(sink.clone())]).unwrap();
//! stream::record_gauge("cache_size", 512.0, "entries", &[("cache", "lru")]);
//! let stats = stream::shutdown().unwrap();
//! assert_eq!(stats.sinks[0].stored, stats.produced);
//! assert!(sink.records().iter().any(|record| record.name == "cache_size"));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

mod config;
mod envelope;
mod event;
mod flusher;
#[cfg(feature = "kafka")]
mod kafka;
mod latest;
#[cfg(feature = "postgres")]
mod postgres;
mod sink;

pub use config::{
    BATCH_SIZE_ENV, BUFFER_SIZE_ENV, FLUSH_INTERVAL_ENV, KAFKA_ENV, POSTGRES_ENV,
    RETENTION_DAYS_ENV, SERVICE_ENV, StreamConfig,
};
pub use envelope::{CLOUDEVENTS_SCHEMA, cloudevent, topic};
pub use event::{
    AlertRecord, Event, MAX_EVENT_TAGS, MAX_EVENT_TEXT, Name, Record, RecordData, RecordKind,
    TimingScope, record_counter, record_gauge, record_rate, record_timing, timing,
};
pub use flusher::{
    DROPPED_BACKLOG_FULL, DROPPED_BUFFER_FULL, DROPPED_SHUTDOWN, DROPPED_TIMELINE_FULL, SinkStats,
    StreamStats,
};
#[cfg(feature = "kafka")]
pub use kafka::{DELIVERY_TIMEOUT, KafkaSink, PARTITIONS};
pub use latest::{LATEST_CAP, LatestKind, LatestValue, LatestValues};
#[cfg(feature = "postgres")]
pub use postgres::{MIGRATIONS, PostgresSink};
pub use sink::{MemorySink, Origin, Sink, SinkError};

use flusher::{Clock, Flusher, Shared};

/// The running pipeline.
struct Pipeline {
    shared: Arc<Shared>,
    /// Taken by the first [`shutdown`].
    control: Mutex<Option<Control>>,
    deadline: Duration,
}

struct Control {
    stop: Arc<AtomicBool>,
    thread: Thread,
    done: mpsc::Receiver<()>,
}

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

/// [`start`] was called after the pipeline had started.
#[derive(Debug, PartialEq, Eq)]
pub struct AlreadyStarted;

impl std::fmt::Display for AlreadyStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stream pipeline has already started")
    }
}

impl std::error::Error for AlreadyStarted {}

/// Starts the pipeline with `config`, sending to `sinks` (add [`sinks_from_config`] for the
/// Kafka and PostgreSQL sinks `config` names). The final flush runs at exit (a C `atexit` hook,
/// and the report at exit's signal handling), or at [`shutdown`].
///
/// # Errors
///
/// When the pipeline has already started (by a call to `start` or by a first event).
///
/// ```
/// use instrument_runtime::stream::{self, StreamConfig};
///
/// let config = StreamConfig { batch_size: 500, ..StreamConfig::from_env() };
/// let sinks = stream::sinks_from_config(&config);
/// let _ = stream::start(config, sinks);
/// ```
pub fn start(config: StreamConfig, sinks: Vec<Box<dyn Sink>>) -> Result<(), AlreadyStarted> {
    let mut started = false;
    PIPELINE.get_or_init(|| {
        started = true;
        launch(config, sinks)
    });
    if started { Ok(()) } else { Err(AlreadyStarted) }
}

/// Starts the pipeline from the environment: [`StreamConfig::from_env`] and the sinks it names.
/// What the pipeline example calls; does nothing if the pipeline has started.
///
/// ```
/// instrument_runtime::stream::start_from_env();
/// ```
pub fn start_from_env() {
    PIPELINE.get_or_init(launch_from_env);
}

fn launch_from_env() -> Pipeline {
    let config = StreamConfig::from_env();
    let sinks = sinks_from_config(&config);
    launch(config, sinks)
}

/// The sinks `config` names: Kafka if [`StreamConfig::kafka_bootstrap_servers`] is set (with the
/// feature `kafka`), PostgreSQL if [`StreamConfig::postgres_url`] is (feature `postgres`). A sink
/// named without its feature is reported on stderr.
pub fn sinks_from_config(config: &StreamConfig) -> Vec<Box<dyn Sink>> {
    #[allow(unused_mut, reason = "pushed to only with the sink features")]
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(servers) = &config.kafka_bootstrap_servers {
        #[cfg(feature = "kafka")]
        sinks.push(Box::new(KafkaSink::new(servers)));
        #[cfg(not(feature = "kafka"))]
        eprintln!("instrument: {KAFKA_ENV}={servers:?} ignored: built without the `kafka` feature");
    }
    if let Some(url) = &config.postgres_url {
        #[cfg(feature = "postgres")]
        sinks.push(Box::new(PostgresSink::new(url, config.retention_days)));
        #[cfg(not(feature = "postgres"))]
        {
            let _ = url;
            eprintln!("instrument: {POSTGRES_ENV} ignored: built without the `postgres` feature");
        }
    }
    sinks
}

/// The flusher's clock: monotonic time since the pipeline started; its sleep can be woken.
struct RealClock(Instant);

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }

    fn sleep(&self, period: Duration) {
        thread::park_timeout(period);
    }
}

fn launch(config: StreamConfig, sinks: Vec<Box<dyn Sink>>) -> Pipeline {
    let shared = Arc::new(Shared::new(config.buffer_size));
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done) = mpsc::channel();
    let deadline = config.shutdown_deadline;
    let mut flusher = Flusher::new(
        Arc::clone(&shared),
        config,
        sinks,
        Box::new(RealClock(Instant::now())),
        Box::new(crate::read::snapshot::snapshot),
    );
    let stopping = Arc::clone(&stop);
    let spawned = thread::Builder::new()
        .name("instrument-stream".into())
        .spawn(move || {
            let period = flusher.poll_period();
            while !stopping.load(Ordering::Acquire) {
                flusher.tick();
                flusher.clock().sleep(period);
            }
            flusher.close();
            let _ = done_tx.send(());
        });
    // Out of threads, the program goes on: pushes still never block, the full buffer drops its
    // oldest records and counts them, and the accounts show nothing stored.
    let control = match spawned {
        Ok(handle) => {
            register_atexit();
            Some(Control {
                stop,
                thread: handle.thread().clone(),
                done,
            })
        }
        Err(error) => {
            eprintln!("instrument: the stream's flusher thread did not start: {error}");
            None
        }
    };
    Pipeline {
        shared,
        control: Mutex::new(control),
        deadline,
    }
}

fn register_atexit() {
    extern "C" fn flush_at_exit() {
        let _ = std::panic::catch_unwind(shutdown);
    }
    // SAFETY: a plain `extern "C"` fn that never unwinds (it catches panics).
    let status = unsafe { libc::atexit(flush_at_exit) };
    if status != 0 {
        eprintln!(
            "instrument: could not register the stream's final flush (atexit returned {status})"
        );
    }
}

/// Pushes a record into the buffer, starting the pipeline from the environment if it has not
/// started.
#[inline]
pub(crate) fn push(record: Record) {
    PIPELINE.get_or_init(launch_from_env).shared.push(record);
}

/// Stops the pipeline: the final flush sends what is buffered, the last interval included,
/// within [`StreamConfig::shutdown_deadline`]; what is left is dropped and counted. Returns the
/// final accounts (`None` if the pipeline never started); later calls return the same accounts
/// and events pushed after it are only counted. Runs at exit by itself.
pub fn shutdown() -> Option<StreamStats> {
    shutdown_within(Duration::MAX)
}

/// [`shutdown`], waiting at most `wait` for the final flush (a signal's report has its own
/// deadline); the accounts then show what was still pending.
pub(crate) fn shutdown_within(wait: Duration) -> Option<StreamStats> {
    let pipeline = PIPELINE.get()?;
    let control = (pipeline.control.lock())
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(control) = control {
        control.stop.store(true, Ordering::Release);
        control.thread.unpark();
        // A sink stuck in a call past its timeout must not hold the exit: wait a little longer
        // than the deadline, then report what was sent by then.
        let wait = wait.min(pipeline.deadline + Duration::from_secs(1));
        let _ = (control.done).recv_timeout(wait);
    }
    Some(pipeline.shared.stats())
}

/// The pipeline's accounts now (`None` if it has not started).
///
/// ```
/// if let Some(stats) = instrument_runtime::stream::stats() {
///     assert!(stats.sinks.iter().all(|sink| sink.stored + sink.dropped_total() + sink.pending <= stats.produced));
/// }
/// ```
pub fn stats() -> Option<StreamStats> {
    PIPELINE.get().map(|pipeline| pipeline.shared.stats())
}

/// Every counter's total and every gauge's and rate's last value, as of the flusher's last
/// round (at most 10 ms behind); empty if the pipeline has not started.
pub fn latest_values() -> LatestValues {
    PIPELINE
        .get()
        .map_or_else(LatestValues::default, |pipeline| {
            (pipeline.shared.latest.lock())
                .unwrap_or_else(PoisonError::into_inner)
                .values()
        })
}
