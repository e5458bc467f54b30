#[instrument_runtime::circuit_breaker(healthy_above = "90%", failing_below = "95%")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
