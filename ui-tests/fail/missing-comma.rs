#[instrument_runtime::counted(name = "checkout" in_flight)]
fn checkout() {}

fn main() {
    checkout();
}
