#[instrument_runtime::budget(name = "checkout", p95 = "50ms", p95 = "60ms")]
fn checkout() {}

fn main() {
    checkout();
}
