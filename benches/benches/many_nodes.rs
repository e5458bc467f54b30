//! Many nodes hot at once: what a call costs when a program runs many instrumented functions,
//! not one in a loop.
//!
//! 64 nodes; each item makes 16 calls: four chains of four nested calls (node `a` calls `b`
//! calls `c` calls `d`), the nodes of item `k` being `16k .. 16k + 15` modulo 64, so every four
//! items touch every node. Every contender is 64 generated functions, one per node, each with its
//! own name (and so its own span, callsite, metric or registry field): `bare` (uninstrumented),
//! `floor` (two TSC reads and a record into a thread-local `hdrhistogram::Histogram` per node, 3
//! significant figures), `timed` (`#[instrument_runtime::timed]`) and the peers of the single-node
//! benchmarks, each set up as there (`instrument_bench::install`): `metrics` (a histogram handle
//! per node, Prometheus recorder), `metered`, `fastrace`, `tracing`, `hotpath`, `autometrics`.
//! Beside them, `one_bare` and `one_timed` make the same 16 calls per item flat, on one node: the
//! single-node cost, in the same run. From 1, 2 and 8 threads, contenders taking turns each
//! round. In the cache-cold variant the application touches 16 random cache lines of its own
//! 4 MiB per thread after each chain, as a real program's data pushes the instrumentation's lines
//! out of the cache.
//!
//! A call's cost is the process's CPU time per call, the contender's flush included (the work
//! peers do off the calling thread), minus `bare`'s, so the application's own work cancels out.
//! Memory per (thread, node), of the floor and ours, is the growth of resident memory from 1 to 8
//! threads, each having run the hot pattern, per added (thread, node), minus `bare`'s, in a fresh
//! process per run. Not the peers': theirs is mostly samples and spans queued for a collector
//! thread, so it grows with the calls made since that thread last ran.
//!
//! `cargo bench -p instrument-bench --bench many_nodes`

use std::cell::RefCell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::sync::{Barrier, LazyLock};

use hdrhistogram::Histogram;

/// One node: the rest of its chain, and the value passed down.
type Step = fn(&[usize], u64) -> u64;

mod nodes {
    include!(concat!(env!("OUT_DIR"), "/many_nodes.rs"));
}

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// A `metrics` histogram handle per node, looked up once, as the single-node `metrics` contender
/// does; built after the recorder is installed.
static METRICS: LazyLock<[metrics::Histogram; 64]> = LazyLock::new(|| {
    std::array::from_fn(|node| metrics::histogram!(format!("many_{node:02}_duration_seconds")))
});

/// The application's data, per thread: 4 MiB.
const APP_WORDS: usize = 1 << 19;

/// Items each thread runs before resident memory is read.
const MEMORY_ITEMS: u64 = 1_000;

/// The thread counts whose resident memory is compared.
const MEMORY_THREADS: [usize; 2] = [1, 8];

/// Fresh processes per thread count whose median is taken.
const MEMORY_TRIALS: usize = 3;

/// The child-process mode: `contender:threads`, whose resident memory the child reports.
const MEMORY_VAR: &str = "INSTRUMENT_BENCH_MEMORY_OF";

thread_local! {
    static FLOOR: [RefCell<Histogram<u64>>; 64] = std::array::from_fn(|_| {
        RefCell::new(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"))
    });
    static APP: RefCell<(Vec<u64>, u64)> = RefCell::new((vec![1; APP_WORDS], 0x9e37_79b9));
}

/// Calls the first node of `chain` through `nodes`, or does the innermost work.
#[inline(always)]
fn descend(nodes: &[Step; 64], chain: &[usize], x: u64) -> u64 {
    match chain.split_first() {
        Some((&node, rest)) => nodes[node](rest, x),
        None => black_box(x).wrapping_mul(3),
    }
}

/// [`descend`] between two raw TSC reads, handing the clock and the two reads to `record`.
#[inline(always)]
fn clocked(
    nodes: &[Step; 64],
    chain: &[usize],
    x: u64,
    record: impl FnOnce(&quanta::Clock, u64, u64),
) -> u64 {
    let clock = &*CLOCK;
    let start = clock.raw();
    let out = descend(nodes, chain, x);
    let end = clock.raw();
    record(clock, start, end);
    out
}

#[inline(always)]
fn floor(node: usize, nodes: &[Step; 64], chain: &[usize], x: u64) -> u64 {
    clocked(nodes, chain, x, |clock, start, end| {
        let elapsed_ns = clock.delta_as_nanos(start, end);
        FLOOR.with(|histograms| histograms[node].borrow_mut().saturating_record(elapsed_ns));
    })
}

#[inline(always)]
fn metrics(node: usize, nodes: &[Step; 64], chain: &[usize], x: u64) -> u64 {
    clocked(nodes, chain, x, |clock, start, end| {
        METRICS[node].record(clock.delta(start, end));
    })
}

/// Makes one chain's calls.
type Entry = Box<dyn Fn(&[usize], u64) -> u64 + Sync>;

/// One way of making an item's calls.
struct Contender {
    name: &'static str,
    /// The single-node benchmarks' contender whose set-up and flush this one shares.
    library: &'static instrument_bench::Contender,
    entry: Entry,
}

/// A chain of `nodes`, nested.
fn nested(name: &'static str, nodes: &'static [Step; 64]) -> Contender {
    let entry: Entry = if name == "fastrace" {
        // fastrace records a span only under a local parent: each thread's root takes 1024.
        Box::new(move |chain, x| {
            instrument_bench::fastrace_under_root(u32::try_from(chain.len()).expect("4 calls"));
            descend(nodes, chain, x)
        })
    } else {
        Box::new(move |chain, x| descend(nodes, chain, x))
    };
    Contender {
        name,
        library: library(name),
        entry,
    }
}

/// As many calls as `chain` has nodes, one after the other, to the single-node contender `of`.
fn flat(name: &'static str, of: &str) -> Contender {
    let library = library(of);
    let call = library.call;
    Contender {
        name,
        library,
        entry: Box::new(move |chain, x| {
            chain
                .iter()
                .fold(0, |sum: u64, _| sum.wrapping_add(call(x)))
        }),
    }
}

fn library(name: &str) -> &'static instrument_bench::Contender {
    instrument_bench::contender(name).expect("a contender of the single-node benchmarks")
}

/// The contenders, in the order they take their first turn.
fn contenders() -> Vec<Contender> {
    vec![
        nested("bare", &nodes::bare::NODES),
        nested("floor", &nodes::floor::NODES),
        nested("timed", &nodes::timed::NODES),
        flat("one_bare", "bare"),
        flat("one_timed", "timed"),
        nested("metrics", &nodes::metrics::NODES),
        nested("metered", &nodes::metered::NODES),
        nested("fastrace", &nodes::fastrace::NODES),
        nested("tracing", &nodes::tracing::NODES),
        nested("hotpath", &nodes::hotpath::NODES),
        nested("autometrics", &nodes::autometrics::NODES),
    ]
}

/// The peers' columns of the second table.
const PEERS: [&str; 6] = [
    "metrics",
    "metered",
    "fastrace",
    "tracing",
    "hotpath",
    "autometrics",
];

/// Reads and writes 16 random lines of the thread's application data.
fn touch_app_data() {
    APP.with(|app| {
        let (data, state) = &mut *app.borrow_mut();
        for _ in 0..16 {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let at = usize::try_from(*state % APP_WORDS as u64).expect("below 2^19");
            data[at] = data[at].wrapping_add(1);
        }
    });
}

/// Runs `items` items on this thread through `entry`.
fn run(items: u64, cold: bool, entry: &(dyn Fn(&[usize], u64) -> u64 + Sync)) {
    let mut acc = 0u64;
    for item in 0..items {
        for chain in 0..4 {
            let base = usize::try_from((item * 16 + chain * 4) % 64).expect("below 64");
            let nodes = [base, base + 1, base + 2, base + 3];
            acc = acc.wrapping_add(entry(&nodes, item));
            if cold {
                touch_app_data();
            }
        }
    }
    black_box(acc);
}

fn cpu_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is one the kernel knows.
    unsafe { libc::clock_gettime(clock, &raw mut now) };
    u64::try_from(now.tv_sec).expect("positive") * 1_000_000_000
        + u64::try_from(now.tv_nsec).expect("positive")
}

/// Process CPU ns per call of `contender` over `threads` new threads, its flush included.
#[allow(clippy::cast_precision_loss, reason = "CPU times far below 2^52 ns")]
fn round(contender: &Contender, threads: usize, items: u64, cold: bool) -> f64 {
    let start = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| run(items, cold, &*contender.entry));
        }
    });
    (contender.library.flush)();
    let cpu = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - start;
    cpu as f64 / (threads as u64 * items * 16) as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS is listed");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// The child process: growth of resident memory once `threads` threads have each run the hot
/// pattern through `contender`, read while they are all alive.
fn memory_child(contender: &Contender, threads: usize) -> u64 {
    let before = resident_bytes();
    let (done, read) = (Barrier::new(threads + 1), Barrier::new(threads + 1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                run(MEMORY_ITEMS, false, &*contender.entry);
                done.wait();
                read.wait();
            });
        }
        done.wait();
        let after = resident_bytes();
        read.wait();
        after.saturating_sub(before)
    })
}

/// Resident memory `contender` adds per (thread, node) from the first to the last of
/// [`MEMORY_THREADS`], each count in a fresh process, median of [`MEMORY_TRIALS`].
#[allow(clippy::cast_precision_loss, reason = "byte counts far below 2^52")]
fn memory(contender: &str) -> f64 {
    let resident = |threads: usize| -> f64 {
        let output = Command::new(std::env::current_exe().expect("the running benchmark"))
            .env(MEMORY_VAR, format!("{contender}:{threads}"))
            .output()
            .expect("the benchmark runs again");
        assert!(
            output.status.success(),
            "the memory run of {contender} failed"
        );
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a byte count")
    };
    let [few, many] = MEMORY_THREADS;
    let mut trials: Vec<f64> = (0..MEMORY_TRIALS)
        .map(|_| (resident(many) - resident(few)) / ((many - few) * 64) as f64)
        .collect();
    median(&mut trials)
}

fn main() {
    let contenders = contenders();
    instrument_bench::install(contenders.iter().map(|contender| contender.library));
    LazyLock::force(&CLOCK);
    LazyLock::force(&METRICS);
    if let Ok(which) = std::env::var(MEMORY_VAR) {
        let (name, threads) = which.split_once(':').expect("contender:threads");
        let contender = contenders.iter().find(|c| c.name == name).expect("known");
        println!(
            "{}",
            memory_child(contender, threads.parse().expect("a count"))
        );
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (items, rounds) = (
        env("INSTRUMENT_BENCH_ITEMS", 100_000),
        env("INSTRUMENT_BENCH_ROUNDS", 9),
    );
    let index = |name: &str| {
        contenders
            .iter()
            .position(|contender| contender.name == name)
            .expect("listed")
    };
    let [bare, floor, timed, one_bare, one_timed] =
        ["bare", "floor", "timed", "one_bare", "one_timed"].map(index);
    let mut ours = String::from(
        "| case | threads | bare, ns/call | single-node `#[timed]` − bare | floor − bare | `#[timed]` − bare | `#[timed]` ÷ single-node | `#[timed]` ÷ floor |\n|---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let mut peers = format!(
        "| case | threads | {} |\n|---|--:|{}\n",
        PEERS.join(" | "),
        "--:|".repeat(PEERS.len())
    );
    for cold in [false, true] {
        let case = if cold { "cache-cold" } else { "cache-hot" };
        for threads in [1, 2, 8] {
            // Threads are new each round: every round pays first calls.
            let mut per_call = vec![Vec::new(); contenders.len()];
            // Per round: `#[timed]` over single-node and over floor, then each peer over ours.
            let mut ratios = vec![Vec::new(); 2 + PEERS.len()];
            for turn in 0..usize::try_from(rounds).expect("a few rounds") {
                let mut this = vec![0.0; contenders.len()];
                for offset in 0..contenders.len() {
                    let which = (turn + offset) % contenders.len();
                    this[which] = round(&contenders[which], threads, items, cold);
                }
                let ours = this[timed] - this[bare];
                ratios[0].push(ours / (this[one_timed] - this[one_bare]));
                ratios[1].push(ours / (this[floor] - this[bare]));
                for (all, peer) in ratios[2..].iter_mut().zip(PEERS) {
                    all.push((this[index(peer)] - this[bare]) / ours);
                }
                for (all, value) in per_call.iter_mut().zip(this) {
                    all.push(value);
                }
            }
            let per_call: Vec<f64> = per_call.iter_mut().map(|all| median(all)).collect();
            let ratios: Vec<f64> = ratios.iter_mut().map(|all| median(all)).collect();
            let _ = writeln!(
                ours,
                "| {case} | {threads} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
                per_call[bare],
                per_call[one_timed] - per_call[one_bare],
                per_call[floor] - per_call[bare],
                per_call[timed] - per_call[bare],
                ratios[0],
                ratios[1],
            );
            let cells: Vec<String> = ratios[2..].iter().map(|r| format!("{r:.1}")).collect();
            let _ = writeln!(peers, "| {case} | {threads} | {} |", cells.join(" | "));
            eprintln!("{case}, {threads} threads: done");
        }
    }
    println!(
        "CPU per call, ns, medians of {rounds} rounds of {items} items per thread (ratios: medians of per-round ratios)\n\n{ours}"
    );
    println!("Each peer's cost per call as a multiple of `#[timed]`'s\n\n{peers}");
    let bare = memory("bare");
    println!(
        "Resident memory per (thread, node) after {MEMORY_ITEMS} hot items per thread, {} against {} threads, `bare`'s subtracted: floor {:.0} B, `#[timed]` {:.0} B",
        MEMORY_THREADS[0],
        MEMORY_THREADS[1],
        memory("floor") - bare,
        memory("timed") - bare,
    );
}
