#[instrument_runtime::circuit_breaker(timeout = "30s", failure_threshold = 3, timeout = "60s")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
