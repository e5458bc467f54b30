#[instrument_runtime::circuit_breaker]
fn serve() -> ! {
    loop {}
}

fn main() {
    if false {
        serve();
    }
}
