#[instrument_runtime::budget(p95 = "50ms", tolerance = "0.1")]
fn checkout() {}

#[instrument_runtime::budget(p95 = "50ms", tolerance = 10)]
fn pay() {}

fn main() {
    checkout();
    pay();
}
