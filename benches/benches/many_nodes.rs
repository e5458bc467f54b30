//! Many nodes hot at once: what a call costs when a program runs many instrumented functions,
//! not one in a loop.
//!
//! 64 nodes; each item makes 16 calls: four chains of four nested calls (node `a` calls `b`
//! calls `c` calls `d`), the nodes of item `k` being `16k .. 16k + 15` modulo 64, so every four
//! items touch every node. Contenders: `bare` (the same calls, uninstrumented), `floor` (two TSC
//! reads and a record into a thread-local `hdrhistogram::Histogram` per node, 3 significant
//! figures) and `timed` (`#[instrument_runtime::timed]`), from 1, 2 and 8 threads, contenders
//! taking turns each round. In the cache-cold variant the application touches 16 random cache
//! lines of its own 4 MiB per thread after each chain, as a real program's data pushes the
//! instrumentation's lines out of the cache. A call's cost is the contender's CPU time per
//! call minus `bare`'s, so the application's own work cancels out.
//!
//! `cargo bench -p instrument-bench --bench many_nodes`

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::LazyLock;

use hdrhistogram::Histogram;

/// One node: the rest of its chain, and the value passed down.
type Step = fn(&[usize], u64) -> u64;

mod nodes {
    use super::Step;

    include!(concat!(env!("OUT_DIR"), "/many_nodes.rs"));
}

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// The application's data, per thread: 4 MiB.
const APP_WORDS: usize = 1 << 19;

thread_local! {
    static FLOOR: [RefCell<Histogram<u64>>; 64] = std::array::from_fn(|_| {
        RefCell::new(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"))
    });
    static APP: RefCell<(Vec<u64>, u64)> = RefCell::new((vec![1; APP_WORDS], 0x9e37_79b9));
}

fn next_timed(chain: &[usize], x: u64) -> u64 {
    match chain.split_first() {
        Some((&node, rest)) => nodes::TIMED[node](rest, x),
        None => black_box(x).wrapping_mul(3),
    }
}

#[inline(never)]
fn bare(chain: &[usize], x: u64) -> u64 {
    match chain.split_first() {
        Some((_, rest)) => bare(rest, x),
        None => black_box(x).wrapping_mul(3),
    }
}

#[inline(never)]
fn floor(chain: &[usize], x: u64) -> u64 {
    let Some((&node, rest)) = chain.split_first() else {
        return black_box(x).wrapping_mul(3);
    };
    let clock = &*CLOCK;
    let start = clock.raw();
    let out = floor(rest, x);
    let end = clock.raw();
    let elapsed_ns = clock.delta_as_nanos(start, end);
    FLOOR.with(|histograms| histograms[node].borrow_mut().saturating_record(elapsed_ns));
    out
}

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

/// Runs `items` items on this thread through `first` (the chain's entry), returning the thread's
/// CPU time.
fn run(items: u64, cold: bool, first: impl Fn(&[usize], u64) -> u64) -> u64 {
    let start = thread_cpu_ns();
    let mut acc = 0u64;
    for item in 0..items {
        for chain in 0..4 {
            let base = usize::try_from((item * 16 + chain * 4) % 64).expect("below 64");
            let nodes = [base, base + 1, base + 2, base + 3];
            acc = acc.wrapping_add(first(&nodes, item));
            if cold {
                touch_app_data();
            }
        }
    }
    black_box(acc);
    thread_cpu_ns() - start
}

fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is one the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    u64::try_from(now.tv_sec).expect("positive") * 1_000_000_000
        + u64::try_from(now.tv_nsec).expect("positive")
}

/// CPU ns per call of contender `which` (0 `bare`, 1 `floor`, 2 `timed`), over `threads`
/// threads.
#[allow(clippy::cast_precision_loss, reason = "CPU times far below 2^52 ns")]
fn round(which: usize, threads: usize, items: u64, cold: bool) -> f64 {
    let cpu: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || match which {
                    0 => run(items, cold, bare),
                    1 => run(items, cold, floor),
                    _ => run(items, cold, next_timed),
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("no panic"))
            .sum()
    });
    cpu as f64 / (threads as u64 * items * 16) as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
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
    LazyLock::force(&CLOCK);
    println!(
        "| case | threads | bare, ns/call | floor − bare | timed − bare | timed ÷ floor (extra) |\n|---|--:|--:|--:|--:|--:|"
    );
    for cold in [false, true] {
        for threads in [1, 2, 8] {
            // Threads are new each round, as they are per round: every round pays first calls.
            let mut per_call = [Vec::new(), Vec::new(), Vec::new()];
            let mut ratios = Vec::new();
            for turn in 0..usize::try_from(rounds).expect("a few rounds") {
                let mut this = [0.0; 3];
                for offset in 0..3 {
                    let which = (turn + offset) % 3;
                    this[which] = round(which, threads, items, cold);
                }
                ratios.push((this[2] - this[0]) / (this[1] - this[0]));
                for (all, value) in per_call.iter_mut().zip(this) {
                    all.push(value);
                }
            }
            let [bare, floor, timed] = per_call.map(|mut values| median(&mut values));
            println!(
                "| {} | {threads} | {bare:.1} | {:.1} | {:.1} | {:.2} |",
                if cold { "cache-cold" } else { "cache-hot" },
                floor - bare,
                timed - bare,
                median(&mut ratios),
            );
        }
    }
}
