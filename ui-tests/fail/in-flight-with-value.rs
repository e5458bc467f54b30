#[instrument_runtime::counted(name = "checkout", in_flight = true)]
fn checkout() {}

fn main() {
    checkout();
}
