#[instrument_runtime::timed(name = "checkout")]
#[instrument_runtime::budget(name = "payment", p95 = "50ms")]
fn checkout() {}

fn main() {
    checkout();
}
