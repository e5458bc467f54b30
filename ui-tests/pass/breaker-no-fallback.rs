//! Without a fallback, a rejected call returns the error made from `CircuitOpen`: `io::Error`
//! out of the box, any error type with `From<CircuitOpen>`, aliases included.

use instrument_runtime::{BreakerState, CircuitOpen};

#[instrument_runtime::circuit_breaker(failure_threshold = 1)]
fn read(ok: bool) -> std::io::Result<u32> {
    if ok { Ok(1) } else { Err(std::io::Error::other("disk")) }
}

#[derive(Debug)]
struct AppError(String);

impl From<CircuitOpen> for AppError {
    fn from(open: CircuitOpen) -> Self {
        Self(open.to_string())
    }
}

type AppResult<T> = Result<T, AppError>;

#[instrument_runtime::circuit_breaker(name = "app", failure_threshold = 1)]
async fn load() -> AppResult<u32> {
    Err(AppError("failed".to_owned()))
}

fn main() {
    assert!(read(false).is_err());
    let error = read(true).expect_err("the breaker is open");
    let open = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CircuitOpen>())
        .expect("the io::Error wraps CircuitOpen");
    assert_eq!((open.name(), open.state()), ("read", BreakerState::Open));
    assert_eq!(futures::executor::block_on(load()).expect_err("failed").0, "failed");
    let rejected = futures::executor::block_on(load()).expect_err("the breaker is open");
    assert!(rejected.0.contains("`app`"), "{}", rejected.0);
}
