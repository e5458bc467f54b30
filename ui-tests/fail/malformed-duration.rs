#[instrument_runtime::budget(p95 = "fifty")]
fn checkout() {}

fn main() {
    checkout();
}
