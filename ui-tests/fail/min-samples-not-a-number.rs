#[instrument_runtime::budget(p95 = "50ms", min_samples = "100")]
fn checkout() {}

#[instrument_runtime::budget(p95 = "50ms", min_samples = -1)]
fn pay() {}

fn main() {
    checkout();
    pay();
}
