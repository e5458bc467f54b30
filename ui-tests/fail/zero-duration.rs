#[instrument_runtime::budget(p99 = "0ms")]
fn checkout() {}

fn main() {
    checkout();
}
