#[instrument_runtime::circuit_breaker(slow_call = "50ms")]
fn notify(user: &str) {
    println!("{user}");
}

fn main() {
    notify("a");
}
