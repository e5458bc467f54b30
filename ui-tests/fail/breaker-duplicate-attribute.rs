#[instrument_runtime::circuit_breaker(name = "embedding")]
#[instrument_runtime::circuit_breaker(failure_threshold = 3)]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
