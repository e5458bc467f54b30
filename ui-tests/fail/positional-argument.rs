#[instrument_runtime::timed("checkout")]
fn checkout() {}

#[instrument_runtime::budget(50ms, name = "pay")]
fn pay() {}

fn main() {
    checkout();
    pay();
}
