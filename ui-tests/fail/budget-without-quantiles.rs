#[instrument_runtime::budget(name = "checkout", tolerance = "5%")]
fn checkout() {}

fn main() {
    checkout();
}
