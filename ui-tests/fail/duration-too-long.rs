#[instrument_runtime::budget(p95 = "99999999999999999999s")]
fn checkout() {}

fn main() {
    checkout();
}
