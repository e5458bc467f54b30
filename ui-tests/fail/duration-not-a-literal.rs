const LIMIT: &str = "50ms";

#[instrument_runtime::budget(p95 = LIMIT)]
fn checkout() {}

#[instrument_runtime::budget(p99 = std::time::Duration::from_millis(80))]
fn pay() {}

fn main() {
    checkout();
    pay();
}
