//! A breaker's expansion adds no warning under strict lints: fallback, pattern parameters,
//! `is_failure`, `async fn`.

#![deny(
    warnings,
    unused,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    unused_lifetimes,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    let_underscore_drop,
    redundant_lifetimes,
    unsafe_code,
    clippy::all,
    clippy::pedantic,
    clippy::nursery
)]

/// Whether an error should trip the breaker.
fn is_transient(error: &std::io::Error) -> bool {
    !matches!(error.kind(), std::io::ErrorKind::NotFound)
}

/// Reads a range.
#[instrument_runtime::circuit_breaker(name = "strict_read", fallback = read_cached, is_failure = is_transient)]
fn read((start, end): (u32, u32), _: &str) -> std::io::Result<u32> {
    Ok(end - start)
}

/// Reads a range from the cache.
const fn read_cached(range: (u32, u32), _label: &str) -> std::io::Result<u32> {
    Ok(range.0)
}

/// Loads a value.
#[instrument_runtime::circuit_breaker(name = "strict_load", failure_rate = "50%", window = "10s")]
async fn load(value: u32) -> std::io::Result<u32> {
    Ok(value)
}

fn main() {
    assert_eq!(read((1, 3), "a").ok(), Some(2));
    assert_eq!(futures::executor::block_on(load(4)).ok(), Some(4));
}
