#[instrument_runtime::circuit_breaker(window = 100, min_calls = 10)]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
