#[instrument_runtime::circuit_breaker]
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn main() {
    let _ = lines("a");
}
