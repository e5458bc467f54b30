//! Failure-rate mode, over a window of calls and over a window of time.

use instrument_runtime::{breaker::Window, BreakerState};

#[instrument_runtime::circuit_breaker(failure_rate = "50%", window = 4, min_calls = 4, fallback = by_calls_cached)]
fn by_calls(ok: bool) -> Result<(), String> {
    if ok { Ok(()) } else { Err("failed".to_owned()) }
}

fn by_calls_cached(_ok: bool) -> Result<(), String> {
    Err("open".to_owned())
}

#[instrument_runtime::circuit_breaker(
    failure_rate = "100%",
    window = "30s",
    min_calls = 2,
    slow_call = "10s",
    healthy_above = "95%",
    failing_below = "80%",
)]
fn by_time(ok: bool) -> std::io::Result<()> {
    if ok { Ok(()) } else { Err(std::io::Error::other("failed")) }
}

fn main() {
    let breaker = instrument_runtime::breaker("by_calls").expect("registered");
    let rate = breaker.config().failure_rate.expect("failure-rate mode");
    assert_eq!((rate.window, rate.min_calls), (Window::Calls(4), 4));
    assert!(by_calls(true).is_ok());
    assert!(by_calls(false).is_err());
    assert!(by_calls(true).is_ok());
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(by_calls(false).is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(by_calls(true), Err("open".to_owned()));

    let breaker = instrument_runtime::breaker("by_time").expect("registered");
    let config = breaker.config();
    assert_eq!(config.failure_rate.expect("failure-rate mode").window, Window::Nanos(30_000_000_000));
    assert_eq!(config.slow_call_ns, Some(10_000_000_000));
    assert!((config.healthy_above - 0.95).abs() < 1e-9 && (config.failing_below - 0.8).abs() < 1e-9);
    assert!(by_time(false).is_err());
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(by_time(false).is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
}
