#[instrument_runtime::timed]
#[instrument_runtime::counted = "checkout"]
fn checkout() {}

fn main() {
    checkout();
}
