//! The generated alerting rules, checked by the real `promtool check rules`, and their behaviour
//! by `promtool test rules` with the unit tests of `tests/fixtures/alert-rules-test.yaml`: which
//! alerts fire, with which labels and annotations, and which do not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use instrument_runtime::{
    Snapshot,
    export::{ExportOptions, alerting_rules},
    snapshot,
};

const UNIT_TESTS: &str = include_str!("fixtures/alert-rules-test.yaml");

#[instrument_runtime::budget(name = "alert_slow", p95 = "50ms", p99 = "80ms")]
fn slow() {}

#[instrument_runtime::budget(name = "alert_fast", p95 = "50ms", p99 = "80ms")]
fn fast() {}

#[instrument_runtime::budget(name = "alert_regressing", p95 = "1s")]
fn regressing() {}

#[instrument_runtime::budget(name = "alert_stopped", p95 = "1s")]
fn stopped() {}

#[instrument_runtime::timed(name = "alert_unbudgeted")]
fn unbudgeted() {}

#[instrument_runtime::circuit_breaker(name = "alert_breaker")]
fn guarded() -> std::io::Result<()> {
    Ok(())
}

#[instrument_runtime::circuit_breaker(name = "alert_breaker_probing")]
fn probing() -> std::io::Result<()> {
    Ok(())
}

/// The declared nodes and breakers, plus a node whose name needs escaping everywhere.
fn declared() -> Snapshot {
    let _ = (
        slow, fast, regressing, stopped, unbudgeted, guarded, probing,
    );
    let mut snapshot = snapshot();
    let mut odd = snapshot.node("alert_slow").unwrap().clone();
    "odd \"name\" \\ ü {{x}}".clone_into(&mut odd.name);
    snapshot.nodes.push(odd);
    snapshot
}

/// A fresh directory holding the generated rules as `prometheus_alerting_rules.yaml`.
fn rules_dir(rules: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "instrument-alert-rules-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("prometheus_alerting_rules.yaml"), rules).unwrap();
    dir
}

/// Runs `promtool <args>` in `dir`; fails the test when promtool is missing.
fn promtool(dir: &Path, args: &[&str]) -> Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "promtool is needed and could not be run ({error}): run scripts/test-all, \
                 which installs it (Debian package `prometheus`)"
            )
        })
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_unit_tests(rules: &str, unit_tests: &str) -> Output {
    let dir = rules_dir(rules);
    std::fs::write(dir.join("alert-rules-test.yaml"), unit_tests).unwrap();
    let output = promtool(&dir, &["test", "rules", "alert-rules-test.yaml"]);
    std::fs::remove_dir_all(&dir).ok();
    output
}

/// `promtool check rules` with every lint fatal, on `rules` written to a file of its own.
fn check_rules(rules: &str) -> Output {
    let dir = rules_dir(rules);
    let output = promtool(
        &dir,
        &[
            "check",
            "rules",
            "--lint=all",
            "--lint-fatal",
            "prometheus_alerting_rules.yaml",
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
    output
}

#[test]
fn promtool_check_rules_accepts_the_generated_file() {
    let rules = alerting_rules(&declared(), &ExportOptions::default());
    let output = check_rules(&rules);
    // Lint findings (duplicate rules) exit with 3 and count as failures.
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("FAILED"),
        "{}",
        describe(&output)
    );
    // Five budgeted nodes (p95 and p99 rules for three, p95 for two, a regression and an
    // inactivity rule each) and four rules for each of the two breakers.
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("SUCCESS: 26 rules found"),
        "{}",
        describe(&output)
    );
    assert!(!rules.contains("alert_unbudgeted"), "no budget, no rule");
}

#[test]
fn promtool_check_rules_accepts_rules_with_a_sanitized_prefix() {
    let options = ExportOptions {
        prefix: "9my-app.".to_owned(),
        ..ExportOptions::default()
    };
    let rules = alerting_rules(&declared(), &options);
    assert!(rules.contains("rate(_9my_app_node_latency_seconds_bucket{"));
    let output = check_rules(&rules);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn the_alerts_fire_when_they_should_and_only_then() {
    let rules = alerting_rules(&declared(), &ExportOptions::default());
    let output = run_unit_tests(&rules, UNIT_TESTS);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn a_wrong_expectation_fails_the_unit_tests() {
    // The unit tests can fail: expecting the fast node's p95 alert too is reported.
    let rules = alerting_rules(&declared(), &ExportOptions::default());
    let wrong = UNIT_TESTS.replacen(
        "      - eval_time: 10m\n        alertname: InstrumentLatencyP95OverBudget\n        exp_alerts:\n",
        "      - eval_time: 10m\n        alertname: InstrumentLatencyP95OverBudget\n        exp_alerts:\n          - exp_labels:\n              severity: warning\n              node: alert_fast\n",
        1,
    );
    assert_ne!(wrong, UNIT_TESTS);
    let output = run_unit_tests(&rules, &wrong);
    assert_ne!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("alertname: InstrumentLatencyP95OverBudget"),
        "{}",
        describe(&output)
    );
}

#[test]
fn the_rules_are_deterministic() {
    let snapshot = declared();
    let options = ExportOptions::default();
    assert_eq!(
        alerting_rules(&snapshot, &options),
        alerting_rules(&snapshot, &options)
    );
}
