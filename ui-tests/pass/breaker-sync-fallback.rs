//! A sync function with a fallback: once the breaker opens, the fallback answers, and rejected
//! calls are not calls of the node.

use instrument_runtime::BreakerState;

#[instrument_runtime::circuit_breaker(failure_threshold = 2, fallback = fetch_cached)]
fn fetch(key: u32, fresh: bool) -> Result<String, String> {
    if key == 0 {
        return Err("no key".to_owned());
    }
    let value = if fresh { Ok(key) } else { Err("down") }?;
    Ok(format!("fresh {value}"))
}

fn fetch_cached(key: u32, _fresh: bool) -> Result<String, String> {
    Ok(format!("cached {key}"))
}

fn main() {
    assert_eq!(fetch(1, true), Ok("fresh 1".to_owned()));
    assert!(fetch(0, true).is_err());
    assert!(fetch(2, false).is_err());
    assert_eq!(fetch(3, true), Ok("cached 3".to_owned()));
    let breaker = instrument_runtime::breaker("fetch").expect("named after the fn");
    assert_eq!(breaker.state(), BreakerState::Open);
    let snapshot = instrument_runtime::snapshot();
    assert_eq!(snapshot.breaker("fetch").expect("registered").fallbacks, 1);
    let node = snapshot.node("fetch").expect("registered");
    assert_eq!((node.calls, node.errors), (3, 2));
}
