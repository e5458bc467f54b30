#[instrument_runtime::circuit_breaker(name = "embed\nding")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
