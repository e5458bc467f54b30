#[instrument_runtime::circuit_breaker(fallback = "embed_cached", is_failure = |error: &String| error.is_empty())]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
