//! Wall and CPU time per call of every contender, background threads included.
//!
//! For each thread count, persistent worker threads run every contender `CALLS` times per round;
//! contenders take turns within a round (starting one further each round) so drift on a shared
//! machine spreads over all of them. A measurement spans from the start of the calls to the end
//! of the contender's flush, so work its library does off the calling thread (collectors, upkeep)
//! is in the process CPU time. Medians of the rounds are printed as a markdown table.
//!
//! `cargo bench -p instrument-bench --bench cpu`, tuned by these environment variables:
//!
//! - `INSTRUMENT_BENCH_CALLS`: calls per thread per round (default 1000000)
//! - `INSTRUMENT_BENCH_ROUNDS`: rounds (default 15)
//! - `INSTRUMENT_BENCH_THREADS`: thread counts, comma-separated (default `1,2`)
//! - `INSTRUMENT_BENCH_ONLY`: contenders to run, comma-separated (default all)
//! - `INSTRUMENT_BENCH_WARMUP`: calls per thread before the first round (default CALLS / 10)
//! - `INSTRUMENT_BENCH_ALERTS_MS`: run the alert engine in the background, evaluating every
//!   this many milliseconds (its implied rules over every budgeted node), to show it costs the
//!   calls nothing (default off)

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use instrument_bench::{CONTENDERS, Contender, Role, run_calls};

struct Settings {
    calls: u64,
    rounds: usize,
    threads: Vec<usize>,
    contenders: Vec<&'static Contender>,
    warmup: u64,
}

impl Settings {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let number = |name: &str, default: u64| {
            var(name).map_or(default, |value| {
                value
                    .replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} must be a number, found `{value}`"))
            })
        };
        let calls = number("INSTRUMENT_BENCH_CALLS", 1_000_000).max(1);
        let rounds = usize::try_from(number("INSTRUMENT_BENCH_ROUNDS", 15).max(1))
            .expect("the number of rounds fits in usize");
        let threads = var("INSTRUMENT_BENCH_THREADS").map_or_else(
            || vec![1, 2],
            |value| {
                value
                    .split(',')
                    .map(|count| {
                        count.trim().parse().unwrap_or_else(|_| {
                            panic!("INSTRUMENT_BENCH_THREADS must list numbers, found `{count}`")
                        })
                    })
                    .collect()
            },
        );
        let contenders = var("INSTRUMENT_BENCH_ONLY").map_or_else(
            || CONTENDERS.iter().collect(),
            |value| {
                value
                    .split(',')
                    .map(|name| {
                        instrument_bench::contender(name.trim()).unwrap_or_else(|| {
                            panic!("no contender named `{name}`; known: {}", known_names())
                        })
                    })
                    .collect()
            },
        );
        let warmup = number("INSTRUMENT_BENCH_WARMUP", calls / 10);
        Self {
            calls,
            rounds,
            threads,
            contenders,
            warmup,
        }
    }
}

fn known_names() -> String {
    CONTENDERS
        .iter()
        .map(|contender| contender.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU time consumed so far by every thread of this process, in nanoseconds.
fn process_cpu_ns() -> u64 {
    cpu_clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time consumed so far by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    cpu_clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is one the kernel knows.
    let status = unsafe { libc::clock_gettime(clock, &raw mut now) };
    assert_eq!(status, 0, "clock_gettime({clock}) failed");
    u64::try_from(now.tv_sec).expect("CPU time is positive") * 1_000_000_000
        + u64::try_from(now.tv_nsec).expect("CPU time is positive")
}

/// Warm-up calls go through their own loop, so a callgrind run that counts only
/// [`run_calls`] counts measured calls only.
#[inline(never)]
fn warm_up(contender: &Contender, calls: u64) {
    for i in 0..calls {
        black_box((contender.call)(black_box(i)));
    }
}

#[derive(Clone, Copy)]
enum Job {
    WarmUp(&'static Contender, u64),
    Run(&'static Contender, u64),
    Stop,
}

struct Shared {
    start: Barrier,
    done: Barrier,
    job: Mutex<Job>,
    /// Wall and CPU time of each worker's calls in the last job, in nanoseconds.
    walls: Mutex<Vec<(u64, u64)>>,
}

/// Worker threads that live across rounds, as a server's threads would.
struct Workers {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    fn spawn(count: usize) -> Self {
        let shared = Arc::new(Shared {
            start: Barrier::new(count + 1),
            done: Barrier::new(count + 1),
            job: Mutex::new(Job::Stop),
            walls: Mutex::new(Vec::with_capacity(count)),
        });
        let handles = (0..count)
            .map(|index| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("bench-{index}"))
                    .spawn(move || worker(&shared))
                    .expect("a thread can be spawned")
            })
            .collect();
        Self { shared, handles }
    }

    /// Runs `job` on every worker and returns each worker's wall time.
    fn run(&self, job: Job) -> Vec<(u64, u64)> {
        *lock(&self.shared.job) = job;
        lock(&self.shared.walls).clear();
        self.shared.start.wait();
        self.shared.done.wait();
        lock(&self.shared.walls).clone()
    }

    fn stop(self) {
        *lock(&self.shared.job) = Job::Stop;
        self.shared.start.wait();
        for handle in self.handles {
            handle.join().expect("a worker panicked");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn worker(shared: &Shared) {
    loop {
        shared.start.wait();
        let job = *lock(&shared.job);
        let wall = match job {
            Job::Stop => return,
            Job::WarmUp(contender, calls) => {
                warm_up(contender, calls);
                (0, 0)
            }
            Job::Run(contender, calls) => {
                let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
                black_box(run_calls(contender, calls));
                let cpu = thread_cpu_ns() - cpu_start;
                (
                    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
                    cpu,
                )
            }
        };
        lock(&shared.walls).push(wall);
        shared.done.wait();
    }
}

/// One contender at one thread count in one round, in nanoseconds per call.
#[derive(Clone, Copy)]
struct Sample {
    /// Wall time of each calling thread's loop.
    wall: f64,
    /// CPU time of the calling threads only.
    caller_cpu: f64,
    /// CPU time of the whole process, flush of background collectors included.
    process_cpu: f64,
}

#[allow(
    clippy::cast_precision_loss,
    reason = "nanosecond totals and call counts far below 2^52"
)]
fn measure(workers: &Workers, threads: usize, contender: &'static Contender, calls: u64) -> Sample {
    let cpu_start = process_cpu_ns();
    let walls = workers.run(Job::Run(contender, calls));
    (contender.flush)();
    let process_cpu = process_cpu_ns() - cpu_start;
    let wall = walls.iter().map(|&(wall, _)| wall).sum::<u64>() as f64 / walls.len() as f64;
    let caller_cpu = walls.iter().map(|&(_, cpu)| cpu).sum::<u64>() as f64;
    let total_calls = calls as f64 * threads as f64;
    Sample {
        wall: wall / calls as f64,
        caller_cpu: caller_cpu / total_calls,
        process_cpu: process_cpu as f64 / total_calls,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        f64::midpoint(values[middle - 1], values[middle])
    }
}

/// Interquartile range over median: how much the rounds disagree.
fn spread(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quartile = |q: usize| sorted[(sorted.len() - 1) * q / 4];
    (quartile(3) - quartile(1)) / median(values.to_vec())
}

/// Every round of one contender at one thread count.
struct Series {
    contender: &'static Contender,
    threads: usize,
    samples: Vec<Sample>,
}

impl Series {
    fn wall(&self) -> f64 {
        median(self.samples.iter().map(|sample| sample.wall).collect())
    }

    fn cpu(&self) -> f64 {
        median(
            self.samples
                .iter()
                .map(|sample| sample.process_cpu)
                .collect(),
        )
    }

    fn caller_cpu(&self) -> f64 {
        median(
            self.samples
                .iter()
                .map(|sample| sample.caller_cpu)
                .collect(),
        )
    }

    fn cpu_spread(&self) -> f64 {
        spread(
            &self
                .samples
                .iter()
                .map(|sample| sample.process_cpu)
                .collect::<Vec<_>>(),
        )
    }

    /// Median over rounds of this series' value divided by `other`'s in the same round: rounds
    /// are paired, so a slow spell of the machine cancels out.
    fn ratio(&self, other: &Series, value: fn(&Sample) -> f64) -> f64 {
        median(
            self.samples
                .iter()
                .zip(&other.samples)
                .map(|(mine, theirs)| value(mine) / value(theirs))
                .collect(),
        )
    }

    /// Median over rounds of this series' value minus `other`'s in the same round, paired as in
    /// [`ratio`](Self::ratio).
    fn difference(&self, other: &Series, value: fn(&Sample) -> f64) -> f64 {
        median(
            self.samples
                .iter()
                .zip(&other.samples)
                .map(|(mine, theirs)| value(mine) - value(theirs))
                .collect(),
        )
    }
}

fn wall(sample: &Sample) -> f64 {
    sample.wall
}

fn cpu(sample: &Sample) -> f64 {
    sample.process_cpu
}

fn caller_cpu(sample: &Sample) -> f64 {
    sample.caller_cpu
}

fn run(settings: &Settings) -> Vec<Series> {
    let mut all = Vec::new();
    for &threads in &settings.threads {
        let workers = Workers::spawn(threads);
        for contender in &settings.contenders {
            workers.run(Job::WarmUp(contender, settings.warmup));
            (contender.flush)();
        }
        let mut series: Vec<Series> = settings
            .contenders
            .iter()
            .map(|&contender| Series {
                contender,
                threads,
                samples: Vec::with_capacity(settings.rounds),
            })
            .collect();
        for round in 0..settings.rounds {
            for turn in 0..series.len() {
                let index = (round + turn) % series.len();
                let sample = measure(&workers, threads, series[index].contender, settings.calls);
                series[index].samples.push(sample);
            }
            eprint!(
                "\r{threads} thread(s): round {}/{}",
                round + 1,
                settings.rounds
            );
        }
        eprintln!();
        workers.stop();
        all.extend(series);
    }
    all
}

fn find<'a>(all: &'a [Series], name: &str, threads: usize) -> Option<&'a Series> {
    all.iter()
        .find(|series| series.contender.name == name && series.threads == threads)
}

fn find_role(all: &[Series], role: Role, threads: usize) -> Option<&Series> {
    all.iter()
        .find(|series| series.contender.role == role && series.threads == threads)
}

fn table(all: &[Series]) -> String {
    let mut out = String::new();
    out.push_str(
        "| contender | threads | wall ns/call | caller CPU ns/call | CPU ns/call | CPU spread | wall ÷ floor | CPU ÷ floor | timed ÷ this, wall | timed ÷ this, CPU |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for series in all {
        let floor = find_role(all, Role::Floor, series.threads);
        let timed = find(all, "timed", series.threads);
        let ratio = |base: Option<&Series>, value: fn(&Sample) -> f64, inverse: bool| {
            base.map_or_else(
                || "–".to_owned(),
                |base| {
                    let ratio = if inverse {
                        base.ratio(series, value)
                    } else {
                        series.ratio(base, value)
                    };
                    format!("{ratio:.2}")
                },
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0}% | {} | {} | {} | {} |",
            series.contender.name,
            series.threads,
            series.wall(),
            series.caller_cpu(),
            series.cpu(),
            series.cpu_spread() * 100.0,
            ratio(floor, wall, false),
            ratio(floor, cpu, false),
            ratio(timed, wall, true),
            ratio(timed, cpu, true),
        );
    }
    out
}

fn verdicts(all: &[Series], settings: &Settings) -> String {
    let mut out = String::new();
    for ours in all
        .iter()
        .filter(|series| series.contender.role == Role::Ours && series.contender.name != "counted")
    {
        let threads = ours.threads;
        if let Some(floor) = find_role(all, Role::Floor, threads) {
            let (wall, cpu) = (ours.ratio(floor, self::wall), ours.ratio(floor, self::cpu));
            let verdict = if wall <= 1.3 && cpu <= 1.3 {
                "yes"
            } else {
                "NO"
            };
            let _ = writeln!(
                out,
                "- {} at {threads} thread(s) within 1.3× of the floor: {verdict} (wall {wall:.2}×, CPU {cpu:.2}×)",
                ours.contender.name
            );
        }
        let peers: Vec<&Series> = all
            .iter()
            .filter(|series| series.contender.role == Role::Peer && series.threads == threads)
            .collect();
        if !peers.is_empty() {
            let dearer: Vec<String> = peers
                .iter()
                .filter(|peer| ours.ratio(peer, self::cpu) >= 1.0)
                .map(|peer| peer.contender.name.to_owned())
                .collect();
            let verdict = if dearer.is_empty() {
                "yes".to_owned()
            } else {
                format!("NO (not less than {})", dearer.join(", "))
            };
            let _ = writeln!(
                out,
                "- {} at {threads} thread(s) uses less CPU per call than every peer: {verdict}",
                ours.contender.name
            );
        }
    }
    let floor_scaling = match (
        find_role(all, Role::Floor, 1),
        find_role(all, Role::Floor, 2),
    ) {
        (Some(one), Some(two)) => {
            format!("; the floor's own: wall {:.2}×", two.wall() / one.wall())
        }
        _ => String::new(),
    };
    for name in ["timed", "budget", "timed_breaker"] {
        let (Some(one), Some(two)) = (find(all, name, 1), find(all, name, 2)) else {
            continue;
        };
        let cpu = two.caller_cpu() / one.caller_cpu();
        let wall = two.wall() / one.wall();
        let verdict = |ratio: f64| if ratio <= 1.2 { "yes" } else { "NO" };
        let _ = writeln!(
            out,
            "- {name} at 2 threads within 1.2× of 1 thread: CPU per call {} ({cpu:.2}×); wall per call {} ({wall:.2}×{floor_scaling})",
            verdict(cpu),
            verdict(wall),
        );
    }
    out.push_str(&breaker_verdicts(all));
    let _ = writeln!(
        out,
        "\n{} rounds of {} calls per thread; ratios are medians of per-round ratios; CPU spread is the interquartile range of the rounds over their median.",
        settings.rounds, settings.calls
    );
    out
}

/// What a closed circuit breaker adds to `#[timed]`, ours and the peer's, in nanoseconds per call
/// (paired per round) and as a ratio to `timed`.
fn breaker_verdicts(all: &[Series]) -> String {
    let mut out = String::new();
    let threads: Vec<usize> = all
        .iter()
        .filter(|series| series.contender.name == "timed_breaker")
        .map(|series| series.threads)
        .collect();
    for threads in threads {
        let (Some(timed), Some(breaker)) = (
            find(all, "timed", threads),
            find(all, "timed_breaker", threads),
        ) else {
            continue;
        };
        let extra_wall = breaker.difference(timed, wall);
        let extra_cpu = breaker.difference(timed, caller_cpu);
        // Read on the calling threads' CPU time, as the scaling verdict is: on a shared machine
        // another tenant taking a core stretches wall time, not CPU time per call.
        let verdict = if extra_cpu < 5.0 { "yes" } else { "NO" };
        let _ = writeln!(
            out,
            "- timed_breaker at {threads} thread(s) adds under 5 ns per call to timed: {verdict} (caller CPU {extra_cpu:+.1} ns, {:.2}×; wall {extra_wall:+.1} ns, {:.2}×)",
            breaker.ratio(timed, caller_cpu),
            breaker.ratio(timed, wall),
        );
        if let Some(counted) = find(all, "timed_counted", threads) {
            let _ = writeln!(
                out,
                "  - of which outcome counting (timed_counted − timed): caller CPU {:+.1} ns, wall {:+.1} ns; the breaker itself (timed_breaker − timed_counted): caller CPU {:+.1} ns, wall {:+.1} ns",
                counted.difference(timed, caller_cpu),
                counted.difference(timed, wall),
                breaker.difference(counted, caller_cpu),
                breaker.difference(counted, wall),
            );
        }
        if let (Some(peer), Some(bare)) =
            (find(all, "recloser", threads), find(all, "bare", threads))
        {
            let _ = writeln!(
                out,
                "  - recloser alone over bare: caller CPU {:+.1} ns, wall {:+.1} ns",
                peer.difference(bare, caller_cpu),
                peer.difference(bare, wall),
            );
        }
        if let Some(peer) = find(all, "timed_recloser", threads) {
            let _ = writeln!(
                out,
                "  - recloser under timed adds: wall {:+.1} ns ({:.2}×), caller CPU {:+.1} ns ({:.2}×)",
                peer.difference(timed, wall),
                peer.ratio(timed, wall),
                peer.difference(timed, caller_cpu),
                peer.ratio(timed, caller_cpu),
            );
        }
    }
    out
}

fn main() {
    let settings = Settings::from_env();
    instrument_bench::install(settings.contenders.iter().copied());
    let _alerts = std::env::var("INSTRUMENT_BENCH_ALERTS_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(|ms| {
            let engine = instrument_runtime::alert::AlertEngine::builder().interval_ms(ms);
            engine
                .build()
                .start()
                .expect("the alert engine's thread starts")
        });
    let all = run(&settings);
    println!("{}", table(&all));
    println!("{}", verdicts(&all, &settings));
    let calls = settings.calls
        * u64::try_from(settings.rounds).expect("rounds fit in u64")
        * settings
            .threads
            .iter()
            .map(|&threads| threads as u64)
            .sum::<u64>();
    println!("measured calls per contender: {calls}");
}
