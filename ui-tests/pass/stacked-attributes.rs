//! All three attributes on one function, in every order: one wrapper, one node, recorded once.

#[instrument_runtime::timed(name = "stacked_tcb")]
#[instrument_runtime::counted(in_flight)]
#[instrument_runtime::budget(
    p50 = "10ms",
    p90 = "20ms",
    p95 = "50ms",
    p99 = "80ms",
    max = "1s",
    tolerance = "10%",
    min_samples = 100
)]
fn timed_first(value: u32) -> Result<u32, String> {
    value.checked_mul(2).ok_or_else(|| "overflow".to_owned())
}

#[instrument_runtime::budget(name = "stacked_bct", p95 = "50ms")]
#[instrument_runtime::counted(name = "stacked_bct")]
#[instrument_runtime::timed]
fn budget_first(value: u32) -> u32 {
    value + 1
}

#[instrument_runtime::counted]
#[instrument_runtime::budget(p99 = "1.5ms", min_samples = 3)]
#[instrument_runtime::timed]
fn counted_first() {}

fn main() {
    assert_eq!(timed_first(2), Ok(4));
    assert!(timed_first(u32::MAX).is_err());
    assert_eq!(budget_first(1), 2);
    counted_first();
    let snapshot = instrument_runtime::snapshot();
    let node = snapshot.node("stacked_tcb").expect("registered once");
    assert_eq!((node.calls, node.errors), (2, 1));
    assert_eq!(
        snapshot.node("stacked_bct").expect("registered once").calls,
        1
    );
    assert_eq!(
        snapshot
            .node("counted_first")
            .expect("named after the fn")
            .calls,
        1
    );
    assert!(instrument_runtime::record::conflicts().is_empty());
}
