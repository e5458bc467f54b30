//! `is_failure` decides which errors count against the breaker.

use instrument_runtime::{BreakerState, CircuitOpen};

#[derive(Debug)]
enum FetchError {
    NotFound,
    Timeout,
    Open(CircuitOpen),
}

impl From<CircuitOpen> for FetchError {
    fn from(open: CircuitOpen) -> Self {
        Self::Open(open)
    }
}

mod errors {
    pub(crate) fn is_transient(error: &super::FetchError) -> bool {
        matches!(error, super::FetchError::Timeout)
    }
}

#[instrument_runtime::circuit_breaker(name = "lookup", failure_threshold = 2, is_failure = errors::is_transient)]
fn lookup(key: u32) -> Result<u32, FetchError> {
    match key {
        0 => Err(FetchError::NotFound),
        1 => Err(FetchError::Timeout),
        _ => Ok(key),
    }
}

fn main() {
    let breaker = instrument_runtime::breaker("lookup").expect("registered");
    for _ in 0..5 {
        assert!(matches!(lookup(0), Err(FetchError::NotFound)));
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(matches!(lookup(1), Err(FetchError::Timeout)));
    assert!(matches!(lookup(1), Err(FetchError::Timeout)));
    assert_eq!(breaker.state(), BreakerState::Open);
    let Err(FetchError::Open(open)) = lookup(2) else {
        panic!("the breaker is open");
    };
    assert_eq!(open.name(), "lookup");
    // The node still counts every `Err` as an error.
    assert_eq!(instrument_runtime::snapshot().node("lookup").expect("registered").errors, 7);
}
