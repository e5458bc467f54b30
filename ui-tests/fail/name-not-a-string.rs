#[instrument_runtime::timed(name = checkout)]
fn checkout() {}

fn main() {
    checkout();
}
