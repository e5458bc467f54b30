#[instrument_runtime::circuit_breaker(failure_threshold = 70000, half_open_probes = 10000)]
fn embed(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

#[instrument_runtime::circuit_breaker(failure_rate = "50%", window = 1000000)]
fn rank(text: &str) -> Result<usize, String> {
    Ok(text.len())
}

fn main() {
    let _ = embed("a");
    let _ = rank("a");
}
