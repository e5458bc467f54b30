struct Cart;

#[instrument_runtime::counted]
impl Cart {
    fn total(&self) -> u64 {
        0
    }
}

fn main() {
    let _ = Cart.total();
}
