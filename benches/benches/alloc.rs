//! What the counting allocator costs, with it installed as this harness's global allocator.
//!
//! The contenders are the `cpu` harness's, run here with `CountingAllocator` as the global
//! allocator: `alloc_free` (one 64-byte `Box` allocated and freed outside any node),
//! `timed_alloc_free` (the same inside a `#[timed]` node, so the allocation is charged to it),
//! `timed` and `counted` (the per-call hook once the allocator is in use), and `bare`. One more,
//! `system_alloc_free`, allocates and frees the same block from the system allocator directly,
//! bypassing the counting one: the in-process reference. The `cpu` harness runs the same
//! contenders with the system allocator as the global one; `callgrind.sh` counts both exactly.
//!
//! One thread; per round every contender runs `INSTRUMENT_BENCH_CALLS` times, taking turns
//! (starting one further each round); medians over rounds, and ratios as medians of per-round
//! ratios. `cargo bench -p instrument-bench --bench alloc`, tuned by `INSTRUMENT_BENCH_CALLS`
//! (default 1000000), `INSTRUMENT_BENCH_ROUNDS` (15), `INSTRUMENT_BENCH_ONLY` and
//! `INSTRUMENT_BENCH_WARMUP` (CALLS / 10), as the `cpu` harness reads them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

use instrument_bench::{Contender, Role, run_calls, work};
use instrument_runtime::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::system();

/// The `alloc_free` block, from the system allocator directly.
#[inline(never)]
#[allow(
    clippy::cast_ptr_alignment,
    reason = "the block is allocated with the array's own layout"
)]
fn system_alloc_free(x: u64) -> u64 {
    let layout = Layout::new::<[u64; 8]>();
    // SAFETY: a non-zero size; the block is written before it is read, and freed with its layout.
    unsafe {
        let block = System.alloc(layout).cast::<[u64; 8]>();
        assert!(!block.is_null(), "out of memory");
        block.write([x; 8]);
        let value = work(black_box(&*block)[7]);
        System.dealloc(block.cast(), layout);
        value
    }
}

fn nothing() {}

static SYSTEM_ALLOC_FREE: Contender = Contender {
    name: "system_alloc_free",
    what: "the `alloc_free` block from `System` directly, not counted",
    role: Role::Reference,
    call: system_alloc_free,
    install: nothing,
    flush: nothing,
};

const DEFAULT: &[&str] = &[
    "bare",
    "system_alloc_free",
    "alloc_free",
    "timed",
    "timed_alloc_free",
    "counted",
];

fn contender(name: &str) -> &'static Contender {
    if name == SYSTEM_ALLOC_FREE.name {
        return &SYSTEM_ALLOC_FREE;
    }
    instrument_bench::contender(name)
        .unwrap_or_else(|| panic!("no contender named `{name}`; known: {}", DEFAULT.join(", ")))
}

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map_or(default, |value| {
            value
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be a number, found `{value}`"))
        })
}

#[allow(
    clippy::cast_precision_loss,
    reason = "nanoseconds and call counts of one round, far below 2^53"
)]
fn ns_per_call(contender: &Contender, calls: u64) -> f64 {
    let start = Instant::now();
    black_box(run_calls(contender, calls));
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let calls = number("INSTRUMENT_BENCH_CALLS", 1_000_000).max(1);
    let rounds = usize::try_from(number("INSTRUMENT_BENCH_ROUNDS", 15).max(1))
        .expect("the number of rounds fits in usize");
    let warmup = number("INSTRUMENT_BENCH_WARMUP", calls / 10);
    let names: Vec<String> = std::env::var("INSTRUMENT_BENCH_ONLY")
        .ok()
        .filter(|value| !value.is_empty())
        .map_or_else(
            || DEFAULT.iter().map(|name| (*name).to_owned()).collect(),
            |value| {
                value
                    .split(',')
                    .map(|name| name.trim().to_owned())
                    .collect()
            },
        );
    let contenders: Vec<&Contender> = names.iter().map(|name| contender(name)).collect();
    instrument_bench::install(contenders.iter().copied());
    for contender in &contenders {
        black_box(run_calls(contender, warmup));
    }
    // times[contender][round]
    let mut times = vec![Vec::with_capacity(rounds); contenders.len()];
    for round in 0..rounds {
        for turn in 0..contenders.len() {
            let index = (round + turn) % contenders.len();
            times[index].push(ns_per_call(contenders[index], calls));
        }
    }
    let position = |name: &str| contenders.iter().position(|c| c.name == name);
    let ratio = |over: usize, under: usize| {
        median(
            times[over]
                .iter()
                .zip(&times[under])
                .map(|(a, b)| a / b)
                .collect(),
        )
    };
    let difference = |over: usize, under: usize| {
        median(
            times[over]
                .iter()
                .zip(&times[under])
                .map(|(a, b)| a - b)
                .collect(),
        )
    };
    println!(
        "counting allocator installed; {rounds} rounds of {calls} calls, 1 thread (medians)\n"
    );
    println!("| contender | ns/call | ÷ bare |");
    println!("|---|--:|--:|");
    let bare = position("bare");
    for (index, contender) in contenders.iter().enumerate() {
        let over_bare = bare.map_or_else(
            || "–".to_owned(),
            |bare| format!("{:.2}", ratio(index, bare)),
        );
        println!(
            "| {} | {:.2} | {over_bare} |",
            contender.name,
            median(times[index].clone())
        );
    }
    println!();
    if let (Some(counted), Some(system)) = (position("alloc_free"), position("system_alloc_free")) {
        println!(
            "- one allocation + free, counting ÷ system: {:.2}× ({:+.2} ns)",
            ratio(counted, system),
            difference(counted, system)
        );
    }
    if let (Some(charged), Some(timed), Some(unattributed), Some(system)) = (
        position("timed_alloc_free"),
        position("timed"),
        position("alloc_free"),
        position("system_alloc_free"),
    ) {
        let charged_ns = median(
            times[charged]
                .iter()
                .zip(&times[timed])
                .map(|(a, b)| a - b)
                .collect(),
        );
        println!(
            "- charged to a node (timed_alloc_free - timed): {charged_ns:.2} ns, against {:.2} ns \
             outside any node and {:.2} ns from the system allocator directly",
            median(times[unattributed].clone()),
            median(times[system].clone())
        );
    }
}
