//! Time per call of every contender, on 1 and 2 threads, measured by divan in one process.
//!
//! `cargo bench -p instrument-bench --bench overhead`

use std::time::Duration;

use divan::Bencher;
use instrument_bench::{CONTENDERS, Contender};

fn main() {
    instrument_bench::install(CONTENDERS);
    // The exporter's own upkeep task would do this; without it its sample buffer only grows.
    instrument_bench::spawn_metrics_upkeep(Duration::from_secs(1));
    divan::main();
}

// A fixed sample size: divan sizes samples from the first one, and a thread's first call of a
// contender (its thread-local histogram or shard being set up) would make it pick one call per
// sample, which its timer (about 20 ns here) cannot resolve.
#[divan::bench(threads = [1, 2], args = CONTENDERS, sample_size = 1000, sample_count = 500)]
fn call(bencher: Bencher, contender: &Contender) {
    let call = contender.call;
    bencher.bench(|| call(divan::black_box(7)));
}
