#[instrument_runtime::budget(p95 = "80ms", p99 = "50ms")]
fn checkout() {}

fn main() {
    checkout();
}
