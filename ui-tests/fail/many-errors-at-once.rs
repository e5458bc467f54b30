#[instrument_runtime::budget(
    name = "",
    p50 = "fifty",
    p95 = "50",
    p99 = "0ms",
    max = "1h",
    tolerance = "200%",
    min_samples = "many",
    p95 = "60ms",
    colour = "blue",
)]
fn checkout() {}

fn main() {
    checkout();
}
