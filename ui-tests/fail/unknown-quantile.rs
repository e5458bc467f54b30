#[instrument_runtime::budget(p59 = "50ms")]
fn checkout() {}

fn main() {
    checkout();
}
