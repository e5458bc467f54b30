//! The in-test gate on the pipeline example itself: its eleven nodes run in this process, on the
//! simulated clock `--simulated-latency` moves, under the repository's `performance_budgets.yaml`.
//! The gate passes the pipeline as it is and fails it, with the table, when one node is made
//! slower on the clock.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use instrument_runtime::budgets::{BudgetKey, BudgetSource, Quantile, set_budgets_file};
use instrument_runtime::gate;

#[path = "../examples/pipeline/main.rs"]
#[allow(
    dead_code,
    reason = "the example's `main` and its printing are not called here"
)]
mod pipeline;

use clap::Parser as _;
use pipeline::{Options, Run};

/// Documents measured per gate: every node gets well over the file's `min_samples: 100`.
const DOCUMENTS: u64 = 300;

/// The gate judges every call the process makes while it runs, so the tests take turns; each
/// applies the repository's budgets file, whatever directory the test runs in.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    set_budgets_file(Some(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("performance_budgets.yaml"),
    ));
    turn
}

/// The pipeline as its command line `args` asks, one document per call of the workload.
fn pipeline_run(args: &[&str]) -> Run {
    let options = Options::try_parse_from(["pipeline"].iter().chain(args))
        .unwrap_or_else(|error| panic!("{args:?} is not a run: {error}"));
    Run::start(options)
}

#[test]
fn the_pipeline_passes_its_budgets_file_under_the_in_test_gate() {
    let _turn = one_at_a_time();
    let mut run = pipeline_run(&["--simulated-latency"]);
    let verdict = gate::run(DOCUMENTS, || run.next_document(|_, _| ()));

    assert_eq!(verdict.budgets.judged, 11, "{}", verdict.table());
    assert_eq!(verdict.budgets.passed, 11, "{}", verdict.table());
    assert!(verdict.budgets.not_exercised.is_empty());
    let measured = &verdict.snapshot;
    let sanitization = measured.node("sanitization").unwrap();
    assert_eq!(
        sanitization.calls, DOCUMENTS,
        "the 30 warm-up documents are left out"
    );
    let embedding = measured.node("embedding").unwrap();
    assert_eq!(
        measured.breaker("embedding").unwrap().calls,
        embedding.calls,
        "the breaker counts the measured calls too"
    );
    // The file names every node and sets the tolerance for all of them.
    match &embedding.budget_source {
        Some(BudgetSource::Merged { from_file, .. }) => {
            assert!(from_file.contains(&BudgetKey::Tolerance), "{from_file:?}");
        }
        other => panic!("embedding's budget should merge code and file: {other:?}"),
    }
    assert!(verdict.table().contains("gate: PASS"));
}

#[test]
fn a_node_slowed_on_the_simulated_clock_fails_the_in_test_gate_with_the_table() {
    let _turn = one_at_a_time();
    let mut run = pipeline_run(&[
        "--simulated-latency",
        "--slow-node",
        "embedding",
        "--slow-factor",
        "3",
    ]);
    let mut workload = || run.next_document(|_, _| ());
    let verdict = gate::Gate::new(DOCUMENTS).check(&mut workload);
    assert!(!verdict.is_pass(), "{}", verdict.table());
    let failed: Vec<_> = verdict
        .budgets
        .violations
        .iter()
        .map(|violation| (violation.node.as_str(), violation.quantile))
        .collect();
    assert_eq!(
        failed,
        [("embedding", Quantile::P95), ("embedding", Quantile::P99)],
        "{}",
        verdict.table()
    );
    assert_eq!(verdict.budgets.passed, 10);

    // `gate::run`, the form a test calls, fails the test with that table.
    let failure = catch_unwind(AssertUnwindSafe(|| gate::run(DOCUMENTS, &mut workload)))
        .expect_err("the gate fails");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("performance gate failed:"), "{message}");
    assert!(message.contains("violation: embedding p95 is"), "{message}");
    assert!(message.contains("gate: FAIL"), "{message}");
}
