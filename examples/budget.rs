//! `#[budget]`: say in code how fast a step must be, and get a verdict.
//!
//! ```text
//! cargo run --release --example budget
//! ```
//!
//! `check_budgets` judges every budget while the program runs; the report at exit holds the same
//! verdicts, which `instrument-gate` turns into a failed CI build. This program ends with code 1
//! when a budget is broken, as a check in CI would.

use std::process::ExitCode;
use std::time::Duration;

/// Stands for a call to a store that takes about a millisecond. The budget implies `#[timed]`:
/// 95% of calls within 50 ms and 99% within 100 ms, each with the default 10% tolerance. A budget
/// bounds the slow calls a user would notice, not the typical one, so it leaves room for a busy
/// machine (this one runs in CI, beside other builds).
#[instrument_runtime::budget(p95 = "50ms", p99 = "100ms")]
fn load_profile(id: u32) -> String {
    std::thread::sleep(Duration::from_millis(1));
    format!("profile {id}")
}

fn main() -> ExitCode {
    instrument_runtime::report_at_exit();

    // A budget is judged from `min_samples` calls on (100 unless the attribute says otherwise):
    // a p99 of ten calls would be one unlucky call, so fewer calls leave it "not exercised".
    for id in 0..100 {
        load_profile(id);
    }

    let report = instrument_runtime::check_budgets(&instrument_runtime::snapshot());
    for violation in &report.violations {
        println!(
            "{} {} is {} ns, over the {} ns allowed",
            violation.node, violation.quantile, violation.observed_ns, violation.allowed_ns
        );
    }
    println!(
        "budgets: {} judged, {} passed, {} failed, {} not exercised",
        report.judged,
        report.passed,
        report.failed,
        report.not_exercised.len()
    );
    if report.is_pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
