#![deny(dead_code)]

#[instrument_runtime::timed]
#[instrument_runtime::counted]
#[instrument_runtime::budget(p95 = "50ms")]
fn never_called() {}

fn main() {}
