//! A function returning `()` can carry a breaker when a slow call is its failure: the fallback
//! runs in its place while the breaker is open.

use std::time::Duration;

use instrument_runtime::{BreakerState, ManualClock};

#[instrument_runtime::circuit_breaker(
    name = "notify",
    slow_call = "50ms",
    failure_threshold = 1,
    fallback = notify_later
)]
fn notify(clock: &ManualClock, sent: &mut Vec<&'static str>) {
    clock.advance(Duration::from_millis(80));
    sent.push("now");
}

fn notify_later(_clock: &ManualClock, sent: &mut Vec<&'static str>) {
    sent.push("later");
}

fn main() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut sent = Vec::new();
    notify(&clock, &mut sent);
    assert_eq!(instrument_runtime::breaker("notify").expect("registered").state(), BreakerState::Open);
    notify(&clock, &mut sent);
    assert_eq!(sent, ["now", "later"]);
}
