//! The in-test gate on a hand-driven clock: it passes within budget, fails (with the table) when
//! a node is slowed, judges only the measured runs, and applies the budgets file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use instrument_runtime::gate::{self, Gate};
use instrument_runtime::{
    ManualClock, VerdictStatus,
    budgets::{BudgetSource, set_budgets_file},
};

#[instrument_runtime::budget(name = "gate_embedding", p95 = "50ms", p99 = "80ms", min_samples = 50)]
fn embedding(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

#[instrument_runtime::budget(name = "gate_sanitization", p95 = "2ms", min_samples = 50)]
fn sanitization(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

#[instrument_runtime::budget(name = "gate_warmed_up", p95 = "2ms", min_samples = 10)]
fn warmed_up(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

#[instrument_runtime::timed(name = "gate_file_only")]
fn file_only(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

/// The gate judges every call the process makes while it runs, so these tests take turns.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A workload where each `embedding` call takes 30 ms, one in 10 `slow` instead.
fn pipeline(clock: &ManualClock, slow: Duration) -> impl FnMut() + '_ {
    let mut call = 0u32;
    move || {
        call += 1;
        let took = if call.is_multiple_of(10) {
            slow
        } else {
            Duration::from_millis(30)
        };
        embedding(clock, took);
        sanitization(clock, Duration::from_micros(1_500));
    }
}

#[test]
fn a_workload_within_budget_passes_and_counts_only_the_measured_runs() {
    let _turn = one_at_a_time();
    let clock = ManualClock::new();
    let _installed = clock.install();
    let verdict = gate::run(200, pipeline(&clock, Duration::from_millis(45)));
    assert!(verdict.is_pass(), "{}", verdict.table());
    let node = verdict.snapshot.node("gate_embedding").unwrap();
    assert_eq!(node.calls, 200, "the 20 warm-up calls are left out");
    assert!(verdict.table().contains("gate: PASS"));
}

#[test]
fn a_node_slowed_on_the_clock_fails_the_gate_with_the_table() {
    let _turn = one_at_a_time();
    let clock = ManualClock::new();
    let _installed = clock.install();
    // One call in 10 takes 70 ms: p95 is 70 ms, over 50 ms + 10%.
    let failure = catch_unwind(AssertUnwindSafe(|| {
        gate::run(200, pipeline(&clock, Duration::from_millis(70)))
    }))
    .expect_err("the gate fails");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("performance gate failed:"), "{message}");
    assert!(
        message.contains("violation: gate_embedding p95 is 70.3ms, over the 55.0ms allowed"),
        "{message}"
    );
    assert!(message.contains("gate: FAIL"), "{message}");
    assert!(
        !message.contains("violation: gate_sanitization"),
        "{message}"
    );
}

#[test]
fn warm_up_calls_are_not_judged() {
    let _turn = one_at_a_time();
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut runs = 0;
    // The first 10 runs (the warm-up) are slow, the 100 measured ones fast.
    let verdict = Gate::new(100).warm_up(10).check(|| {
        runs += 1;
        let took = if runs <= 10 { 50 } else { 1 };
        warmed_up(&clock, Duration::from_millis(took));
    });
    assert!(verdict.is_pass(), "{}", verdict.table());
    let latency = verdict
        .snapshot
        .node("gate_warmed_up")
        .unwrap()
        .latency
        .unwrap();
    assert!(latency.max_ns < 1_100_000, "{latency:?}");
    // Judged on every call, the same node fails.
    let all_calls = instrument_runtime::snapshot();
    let verdict = all_calls
        .node("gate_warmed_up")
        .unwrap()
        .verdict
        .clone()
        .unwrap();
    assert_eq!(verdict.calls, 110);
    assert_eq!(verdict.status, VerdictStatus::Fail);
}

#[test]
fn the_budgets_file_overrides_and_adds_budgets_and_its_errors_fail_the_gate() {
    let dir = std::env::temp_dir().join(format!("instrument-gate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _turn = one_at_a_time();
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut workload = || file_only(&clock, Duration::from_millis(3));

    // Only `#[timed]`: no budget, nothing judged.
    let verdict = Gate::new(100).check(&mut workload);
    assert!(
        verdict
            .snapshot
            .node("gate_file_only")
            .unwrap()
            .budget
            .is_none()
    );

    let file = dir.join("performance_budgets.yaml");
    std::fs::write(
        &file,
        "tolerance: 5%\nnodes:\n  gate_file_only: { p95: 2ms, min_samples: 10 }\n",
    )
    .unwrap();
    set_budgets_file(Some(file.clone()));
    let verdict = Gate::new(100).check(&mut workload);
    let node = verdict.snapshot.node("gate_file_only").unwrap();
    assert_eq!(node.budget.unwrap().p95_ns, Some(2_000_000));
    assert!(matches!(&node.budget_source, Some(BudgetSource::File(site)) if site.line == 3));
    assert!(!verdict.is_pass(), "3 ms is over the file's 2 ms");

    // A mistake in the file fails the gate and says where it is.
    let broken = dir.join("broken_budgets.yaml");
    std::fs::write(&broken, "nodes:\n  gate_file_only: { p95: fast }\n").unwrap();
    set_budgets_file(Some(broken));
    let verdict = Gate::new(10).check(&mut workload);
    assert!(!verdict.is_pass());
    let table = verdict.table();
    assert!(
        table.contains("broken_budgets.yaml:2:26: nodes.gate_file_only.p95: expected a duration"),
        "{table}"
    );
    set_budgets_file(None);
}
