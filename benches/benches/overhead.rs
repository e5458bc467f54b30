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

#[divan::bench(threads = [1, 2], args = CONTENDERS)]
fn call(bencher: Bencher, contender: &Contender) {
    let call = contender.call;
    bencher.bench(|| call(divan::black_box(7)));
}
