#[instrument_runtime::circuit_breaker]
fn notify(user: &str) {
    println!("{user}");
}

fn main() {
    notify("a");
}
