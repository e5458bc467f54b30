#[instrument_runtime::budget(p95 = "50sec")]
fn checkout() {}

fn main() {
    checkout();
}
