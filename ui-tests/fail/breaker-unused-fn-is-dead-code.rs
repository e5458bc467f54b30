#![deny(dead_code)]

#[instrument_runtime::circuit_breaker(fallback = fetch_cached)]
fn fetch(key: u32) -> std::io::Result<u32> {
    Ok(key)
}

fn fetch_cached(key: u32) -> std::io::Result<u32> {
    Ok(key)
}

fn main() {}
