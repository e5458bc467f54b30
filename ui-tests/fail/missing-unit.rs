#[instrument_runtime::budget(p95 = "50")]
fn checkout() {}

fn main() {
    checkout();
}
