//! `#[circuit_breaker]` end to end: every transition, timeout, fallback, SLA check and window
//! roll-over, driven by a hand-moved clock; and real threads hammering one breaker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use instrument_runtime::{
    BreakerState, CircuitOpen, ManualClock, breaker,
    breaker::{BreakerSnapshot, Health, TransitionCause},
};

const TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, PartialEq)]
enum FetchError {
    Down,
    Invalid,
    Open(CircuitOpen),
}

impl From<CircuitOpen> for FetchError {
    fn from(open: CircuitOpen) -> Self {
        FetchError::Open(open)
    }
}

fn outcome(fail: bool) -> Result<u32, FetchError> {
    if fail { Err(FetchError::Down) } else { Ok(1) }
}

fn breaker_snapshot(name: &str) -> BreakerSnapshot {
    breaker(name).expect("declared").snapshot()
}

fn node_calls(name: &str) -> u64 {
    instrument_runtime::snapshot().node(name).unwrap().calls
}

#[instrument_runtime::circuit_breaker(
    name = "it_lifecycle",
    timeout = "1s",
    recovery = "500ms",
    fallback = cached
)]
fn fetch(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn cached(_fail: bool) -> Result<u32, FetchError> {
    Ok(0)
}

#[test]
fn a_breaker_opens_serves_the_fallback_probes_and_recovers_against_the_sla() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for _ in 0..4 {
        assert_eq!(fetch(true), Err(FetchError::Down));
    }
    assert_eq!(fetch(false), Ok(1), "a success resets the count");
    for _ in 0..5 {
        assert_eq!(fetch(true), Err(FetchError::Down));
    }
    let opened_at = clock.now();
    assert_eq!(breaker_snapshot("it_lifecycle").state, BreakerState::Open);
    // open: the fallback answers and the function does not run
    let calls = node_calls("fetch");
    assert_eq!(fetch(false), Ok(0));
    clock.advance(TIMEOUT.saturating_sub(Duration::from_nanos(1)));
    assert_eq!(fetch(false), Ok(0));
    assert_eq!(node_calls("fetch"), calls);
    // the timeout has passed: one probe, then the second probe closes it
    clock.advance(Duration::from_nanos(1));
    assert_eq!(fetch(false), Ok(1));
    assert_eq!(
        breaker_snapshot("it_lifecycle").state,
        BreakerState::HalfOpen
    );
    clock.advance(Duration::from_millis(200));
    assert_eq!(fetch(false), Ok(1));
    let snapshot = breaker_snapshot("it_lifecycle");
    assert_eq!(snapshot.state, BreakerState::Closed);
    assert_eq!((snapshot.rejected, snapshot.fallbacks), (2, 2));
    assert_eq!((snapshot.calls, snapshot.failures), (12, 9));
    assert_eq!(
        (
            snapshot.transitions.opened,
            snapshot.transitions.half_opened,
            snapshot.transitions.closed
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (snapshot.probes.admitted, snapshot.probes.succeeded),
        (2, 2)
    );
    // the outage lasted the timeout and the probes, 1.2 s; the recovery, judged against the
    // 500 ms SLA, only the 200 ms from when probing was allowed
    let recovery = snapshot.recoveries.recent[0];
    let opened_at_ns = u64::try_from(opened_at.as_nanos()).unwrap();
    assert_eq!(recovery.opened_at_ns, opened_at_ns);
    assert_eq!(recovery.probing_from_ns, opened_at_ns + 1_000_000_000);
    assert_eq!(recovery.outage_ns, 1_200_000_000);
    assert_eq!(recovery.duration_ns, 200_000_000);
    assert!(recovery.within_sla);
    assert_eq!(snapshot.recoveries.longest_outage_ns, 1_200_000_000);
    assert_eq!(snapshot.recoveries.sla_violations, 0);
    let timeline: Vec<_> = snapshot
        .timeline
        .iter()
        .map(|t| (t.from, t.to, t.cause))
        .collect();
    assert_eq!(
        timeline,
        [
            (
                BreakerState::Closed,
                BreakerState::Open,
                TransitionCause::ConsecutiveFailures { failures: 5 }
            ),
            (
                BreakerState::Open,
                BreakerState::HalfOpen,
                TransitionCause::TimeoutElapsed
            ),
            (
                BreakerState::HalfOpen,
                BreakerState::Closed,
                TransitionCause::ProbesSucceeded
            ),
        ]
    );
    assert_eq!(snapshot.functions[0].fallback.as_deref(), Some("cached"));
    assert_eq!(
        snapshot.health.status,
        Health::Healthy,
        "healthy again since it closed"
    );
}

#[instrument_runtime::circuit_breaker(
    name = "it_no_fallback",
    failure_threshold = 2,
    timeout = "1s",
    recovery = "1s"
)]
fn fetch_or_error(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[test]
fn without_a_fallback_a_refused_call_returns_circuit_open_and_a_slow_recovery_violates_the_sla() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    fetch_or_error(true).unwrap_err();
    fetch_or_error(true).unwrap_err();
    clock.advance(Duration::from_millis(400));
    let Err(FetchError::Open(open)) = fetch_or_error(false) else {
        panic!("the breaker is open");
    };
    assert_eq!(
        (open.name(), open.state()),
        ("it_no_fallback", BreakerState::Open)
    );
    assert_eq!(open.retry_in(), Some(Duration::from_millis(600)));
    assert_eq!(
        open.to_string(),
        "circuit breaker `it_no_fallback` is open; next probe in 600ms"
    );
    // a failed probe reopens it; the outage goes on
    clock.advance(Duration::from_millis(600));
    fetch_or_error(true).unwrap_err();
    assert_eq!(breaker_snapshot("it_no_fallback").state, BreakerState::Open);
    // the recovery runs from the last time probing was allowed: 1 s SLA, 1.001 s taken
    clock.advance(TIMEOUT);
    fetch_or_error(false).unwrap();
    clock.advance(Duration::from_millis(1001));
    fetch_or_error(false).unwrap();
    let snapshot = breaker_snapshot("it_no_fallback");
    assert_eq!(snapshot.state, BreakerState::Closed);
    assert_eq!(snapshot.recoveries.recent[0].duration_ns, 1_001_000_000);
    assert_eq!(snapshot.recoveries.recent[0].outage_ns, 3_001_000_000);
    assert_eq!(snapshot.recoveries.sla_violations, 1);
    assert_eq!(
        snapshot.health.status,
        Health::Degraded,
        "closed, but its last recovery broke the SLA: not healthy"
    );
    assert_eq!(snapshot.probes.failed, 1);
}

#[instrument_runtime::circuit_breaker(name = "it_async", failure_threshold = 1, fallback = cached_async)]
async fn fetch_async(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[allow(
    clippy::unused_async,
    reason = "a fallback has the guarded function's signature"
)]
async fn cached_async(_fail: bool) -> Result<u32, FetchError> {
    Ok(0)
}

#[test]
fn async_functions_are_guarded_and_fall_back_asynchronously() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    futures::executor::block_on(async {
        assert_eq!(fetch_async(true).await, Err(FetchError::Down));
        assert_eq!(fetch_async(false).await, Ok(0));
    });
    let snapshot = breaker_snapshot("it_async");
    assert_eq!(
        (snapshot.state, snapshot.fallbacks),
        (BreakerState::Open, 1)
    );
}

#[instrument_runtime::circuit_breaker(name = "it_panics", failure_threshold = 2)]
fn may_panic(panic: bool) -> Result<(), FetchError> {
    assert!(!panic, "dependency crashed");
    Ok(())
}

#[test]
fn panics_count_as_failures_and_still_propagate() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for _ in 0..2 {
        let caught = std::panic::catch_unwind(|| may_panic(true));
        assert!(caught.is_err(), "the panic propagates");
    }
    let snapshot = breaker_snapshot("it_panics");
    assert_eq!((snapshot.state, snapshot.failures), (BreakerState::Open, 2));
    assert_eq!(snapshot.last_failure.unwrap().message, "panicked");
    assert!(matches!(may_panic(false), Err(FetchError::Open(_))));
}

fn is_outage(error: &FetchError) -> bool {
    *error == FetchError::Down
}

#[instrument_runtime::circuit_breaker(name = "it_is_failure", failure_threshold = 2, is_failure = is_outage)]
#[instrument_runtime::counted]
fn validate(error: FetchError) -> Result<(), FetchError> {
    Err(error)
}

#[test]
fn is_failure_keeps_errors_that_are_not_the_dependencys_fault_out_of_the_breaker() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for _ in 0..10 {
        validate(FetchError::Invalid).unwrap_err();
    }
    validate(FetchError::Down).unwrap_err();
    let snapshot = breaker_snapshot("it_is_failure");
    assert_eq!(
        (snapshot.state, snapshot.calls, snapshot.failures),
        (BreakerState::Closed, 11, 1)
    );
    assert_eq!(snapshot.last_failure.unwrap().message, "Down");
    assert_eq!(
        instrument_runtime::snapshot()
            .node("validate")
            .unwrap()
            .errors,
        11,
        "the node counts every error"
    );
}

#[instrument_runtime::circuit_breaker(name = "it_slow", failure_threshold = 2, slow_call = "500ms")]
#[instrument_runtime::timed]
fn slow(clock: &ManualClock, took: Duration) -> Result<(), FetchError> {
    clock.advance(took);
    Ok(())
}

#[test]
fn slow_calls_count_as_failures() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    slow(&clock, Duration::from_millis(500)).unwrap();
    slow(&clock, Duration::from_millis(501)).unwrap();
    assert_eq!(breaker_snapshot("it_slow").consecutive_failures, 1);
    slow(&clock, Duration::from_secs(2)).unwrap();
    let snapshot = breaker_snapshot("it_slow");
    assert_eq!(
        (snapshot.state, snapshot.slow_calls),
        (BreakerState::Open, 2)
    );
    assert_eq!(
        snapshot.last_failure.unwrap().message,
        "slow call: 2.00s over the 500ms limit"
    );
}

#[instrument_runtime::circuit_breaker(name = "it_shared", failure_threshold = 3)]
fn shared_a(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[instrument_runtime::circuit_breaker(name = "it_shared", failure_threshold = 3)]
fn shared_b(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[test]
fn functions_naming_one_breaker_share_it() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    shared_a(true).unwrap_err();
    shared_b(true).unwrap_err();
    shared_a(true).unwrap_err();
    assert!(matches!(shared_b(false), Err(FetchError::Open(_))));
    let snapshot = breaker_snapshot("it_shared");
    assert_eq!(
        (snapshot.state, snapshot.calls, snapshot.rejected),
        (BreakerState::Open, 3, 1)
    );
    let functions: Vec<_> = snapshot
        .functions
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(functions, ["shared_a", "shared_b"]);
}

#[instrument_runtime::circuit_breaker(name = "it_forced")]
fn forced() -> Result<(), FetchError> {
    Ok(())
}

#[test]
fn operators_force_a_breaker_open_or_closed_and_reset_it() {
    let handle = breaker("it_forced").unwrap();
    assert_eq!(handle.force_open(), BreakerState::Closed);
    let Err(FetchError::Open(open)) = forced() else {
        panic!("forced open");
    };
    assert_eq!(open.retry_in(), None);
    assert_eq!(handle.health().status, Health::Failing);
    assert_eq!(handle.force_closed(), BreakerState::Open);
    forced().unwrap();
    assert!(handle.snapshot().forced);
    assert_eq!(handle.reset(), BreakerState::Closed);
    assert!(!handle.snapshot().forced);
    let health = instrument_runtime::breaker::breaker_health();
    let mine = health
        .iter()
        .find(|health| health.name == "it_forced")
        .unwrap();
    assert_eq!(
        (mine.state, mine.status),
        (BreakerState::Closed, Health::Healthy)
    );
}

#[instrument_runtime::circuit_breaker(
    name = "it_rate",
    failure_rate = "50%",
    window = "10s",
    min_calls = 4
)]
fn rated(fail: bool) -> Result<u32, FetchError> {
    outcome(fail)
}

#[test]
fn a_failure_rate_breaker_opens_on_the_rate_in_its_time_window() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    rated(true).unwrap_err();
    rated(true).unwrap_err();
    rated(true).unwrap_err();
    clock.advance(Duration::from_secs(10));
    // the three failures have rolled out of the window
    rated(false).unwrap();
    rated(false).unwrap();
    rated(true).unwrap_err();
    assert_eq!(breaker_snapshot("it_rate").state, BreakerState::Closed);
    let window = breaker_snapshot("it_rate").window.unwrap();
    assert_eq!((window.calls, window.failures), (3, 1));
    rated(true).unwrap_err();
    let snapshot = breaker_snapshot("it_rate");
    assert_eq!(snapshot.state, BreakerState::Open);
    assert_eq!(
        snapshot.timeline[0].cause,
        TransitionCause::FailureRate {
            calls: 4,
            failures: 2
        }
    );
}

static FAILED: AtomicU64 = AtomicU64::new(0);

#[instrument_runtime::circuit_breaker(
    name = "it_stress",
    failure_threshold = 3,
    success_threshold = 2,
    timeout = "1ns",
    half_open_probes = 2
)]
fn hammered(fail: bool) -> Result<(), FetchError> {
    std::thread::yield_now();
    if fail {
        FAILED.fetch_add(1, Ordering::SeqCst);
        Err(FetchError::Down)
    } else {
        Ok(())
    }
}

#[test]
fn threads_hammering_one_breaker_lose_no_call_and_no_transition() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 20_000;
    let rejected = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            let rejected = &rejected;
            scope.spawn(move || {
                for call in 0..CALLS {
                    // runs of 4 failures and 8 successes: each thread alone opens and closes it
                    let fail = (call / 4) % 3 == 0;
                    if let Err(FetchError::Open(_)) = hammered(fail) {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let snapshot = breaker_snapshot("it_stress");
    assert_eq!(
        snapshot.calls + snapshot.rejected,
        THREADS * CALLS,
        "every call is counted once"
    );
    assert_eq!(snapshot.rejected, rejected.load(Ordering::Relaxed));
    assert_eq!(snapshot.failures, FAILED.load(Ordering::SeqCst));
    let transitions = snapshot.transitions;
    assert!(
        transitions.opened > 0 && transitions.closed > 0,
        "{transitions:?}"
    );
    // every opening ends in a half-opening, unless it is still open
    let open_now = u64::from(snapshot.state == BreakerState::Open);
    assert_eq!(
        transitions.half_opened + open_now,
        transitions.opened,
        "{snapshot:#?}"
    );
    assert_eq!(
        snapshot.probes.admitted,
        snapshot.probes.succeeded + snapshot.probes.failed
    );
    let timeline = &snapshot.timeline;
    for pair in timeline.windows(2) {
        assert_eq!(
            pair[0].to, pair[1].from,
            "the timeline is a chain: {timeline:#?}"
        );
    }
    assert_eq!(timeline.last().unwrap().to, snapshot.state);
}

#[test]
fn functions_sharing_a_breaker_name_with_different_settings_stop_the_program_at_startup() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_breaker-conflict-fixture"))
        .env("INSTRUMENT_REPORT", "off")
        .output()
        .expect("the fixture runs");
    assert!(!output.status.success(), "{output:?}");
    assert!(
        output.stdout.is_empty(),
        "main never got past report_at_exit"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("circuit breaker `downstream` is declared with different settings"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "(breaker_conflict_fixture::fetch): failure_threshold = 5, timeout_ns = 60000000000"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("(breaker_conflict_fixture::fetch_batch): failure_threshold = 3, timeout_ns = 5000000000"), "{stderr}");
}

#[test]
fn reproduces_a_breaker_conflict_first_met_in_a_spawned_thread_leaving_main_a_poisoned_lock() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_breaker-conflict-fixture"))
        .arg("spawned")
        .env("INSTRUMENT_REPORT", "off")
        .output()
        .expect("the fixture runs");
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "main stopped too");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("poisoned"), "{stderr}");
    // Once in the spawned thread, once in `main`: each names both functions.
    for function in ["fetch", "fetch_batch"] {
        let named = format!("(breaker_conflict_fixture::{function}): failure_threshold");
        assert_eq!(stderr.matches(&named).count(), 2, "{stderr}");
    }
}

#[instrument_runtime::circuit_breaker(
    name = "it_cancelled_probe",
    failure_threshold = 1,
    timeout = "1s"
)]
async fn maybe_hang(hang: bool, fail: bool) -> Result<u32, FetchError> {
    if hang {
        futures::future::pending::<()>().await;
    }
    outcome(fail)
}

#[test]
fn a_probe_whose_future_is_dropped_gives_its_slot_back() {
    use futures::FutureExt as _;

    let clock = ManualClock::new();
    let _installed = clock.install();
    futures::executor::block_on(maybe_hang(false, true)).unwrap_err();
    clock.advance(TIMEOUT);
    // the probe is admitted, then its future is dropped while pending
    assert!(maybe_hang(true, false).now_or_never().is_none());
    let snapshot = breaker_snapshot("it_cancelled_probe");
    assert_eq!(
        (snapshot.state, snapshot.probes_in_flight),
        (BreakerState::HalfOpen, 0)
    );
    assert_eq!(snapshot.failures, 1, "a cancelled probe is not a failure");
    // the freed slot admits the next probe instead of refusing it
    assert_eq!(futures::executor::block_on(maybe_hang(false, false)), Ok(1));
    let snapshot = breaker_snapshot("it_cancelled_probe");
    assert_eq!((snapshot.rejected, snapshot.probes.admitted), (0, 2));
}
