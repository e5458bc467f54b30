#[instrument_runtime::circuit_breaker(timeout = "60", recovery = "2 sec", slow_call = "0ms")]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
}
