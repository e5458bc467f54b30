#[instrument_runtime::timed]
#[instrument_runtime::timed]
fn checkout() {}

fn main() {
    checkout();
}
