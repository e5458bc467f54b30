#[instrument_runtime::timed(name = "checkout", in_flight)]
fn checkout() {}

#[instrument_runtime::counted(p95 = "50ms")]
fn pay() {}

fn main() {
    checkout();
    pay();
}
