#[instrument_runtime::timed]
struct Checkout {
    total: u64,
}

fn main() {
    let checkout = Checkout { total: 3 };
    let _ = checkout.total;
}
