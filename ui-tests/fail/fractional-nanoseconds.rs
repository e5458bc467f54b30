#[instrument_runtime::budget(p95 = "1.5ns")]
fn checkout() {}

fn main() {
    checkout();
}
