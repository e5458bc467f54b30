#[instrument_runtime::budget(p95 = "50ms", tolerance = "150%")]
fn checkout() {}

fn main() {
    checkout();
}
