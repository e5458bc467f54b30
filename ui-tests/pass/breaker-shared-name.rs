//! Two functions naming one breaker share it; their nodes stay separate and do not conflict.

use instrument_runtime::BreakerState;

#[instrument_runtime::circuit_breaker(name = "storage", failure_threshold = 2, timeout = "30s")]
fn read(ok: bool) -> std::io::Result<u32> {
    if ok { Ok(1) } else { Err(std::io::Error::other("disk")) }
}

#[instrument_runtime::circuit_breaker(name = "storage", failure_threshold = 2, timeout = "30s")]
fn write(ok: bool) -> std::io::Result<()> {
    if ok { Ok(()) } else { Err(std::io::Error::other("disk")) }
}

fn main() {
    assert!(read(false).is_err());
    assert!(write(false).is_err());
    let breaker = instrument_runtime::breaker("storage").expect("registered once");
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(read(true).is_err());
    let snapshot = instrument_runtime::snapshot();
    let storage = snapshot.breaker("storage").expect("registered");
    let mut functions: Vec<&str> = storage.functions.iter().map(|function| function.function.as_str()).collect();
    functions.sort_unstable();
    assert_eq!(functions, ["read", "write"]);
    assert_eq!(snapshot.node("read").expect("own node").calls, 1);
    assert_eq!(snapshot.node("write").expect("own node").calls, 1);
    assert!(snapshot.node("storage").is_none());
    assert!(instrument_runtime::record::conflicts().is_empty());
}
