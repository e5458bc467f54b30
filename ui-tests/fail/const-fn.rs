#[instrument_runtime::timed]
const fn checkout() -> u64 {
    42
}

fn main() {
    let _ = checkout();
}
