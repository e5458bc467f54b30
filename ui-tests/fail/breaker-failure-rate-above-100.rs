#[instrument_runtime::circuit_breaker(failure_rate = "150%")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
