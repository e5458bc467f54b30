mod errors {
    #[derive(Debug)]
    pub struct EmbedError;
}

#[instrument_runtime::circuit_breaker]
fn embed(text: &str) -> Result<usize, errors::EmbedError> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
