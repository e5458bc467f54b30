#[instrument_runtime::timed(nmae = "checkout")]
fn checkout() {}

fn main() {
    checkout();
}
