#[instrument_runtime::circuit_breaker(failure_threshold = 5, failure_rate = "50%")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
