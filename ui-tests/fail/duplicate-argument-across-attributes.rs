#[instrument_runtime::counted(in_flight, in_flight)]
#[instrument_runtime::budget(p99 = "80ms", max = "1s", max = "2s")]
fn checkout() {}

fn main() {
    checkout();
}
