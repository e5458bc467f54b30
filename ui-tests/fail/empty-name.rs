#[instrument_runtime::timed(name = "")]
fn checkout() {}

fn main() {
    checkout();
}
