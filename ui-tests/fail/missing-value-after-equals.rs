#[instrument_runtime::budget(name = , p95 = "50ms")]
fn checkout() {}

fn main() {
    checkout();
}
