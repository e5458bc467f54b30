//! The pipeline example as a real process, with and without injected faults: its report at exit
//! shows a breaker opening, serving the fallback, probing and recovering, and, without faults,
//! every breaker closed and untouched.

mod common;

use std::path::Path;
use std::process::Output;

use instrument_runtime::{
    BreakerState,
    breaker::{BreakerSnapshot, TransitionCause, TransitionCounts},
    report::Report,
};

/// The nodes guarded by a breaker, each breaker named after its node.
const GUARDED: [&str; 6] = [
    "causal_detection",
    "contradiction_detection",
    "dag_validation",
    "embedding",
    "responsibility_detection",
    "teoria_cambio",
];

/// 300 documents on the example's simulated clock, 1 ms apart: the breakers' 20 ms timeout is 20
/// documents, so a fault run goes through several outages whatever the machine's speed.
const DOCUMENTS: &str = "300";
const SIMULATED_US_PER_DOCUMENT: &str = "1000";

/// Runs the example (see [`common::pipeline_command`]), its report written into `report_dir`.
fn run_pipeline(report_dir: &Path, args: &[&str]) -> Output {
    common::pipeline_command(args)
        .env("INSTRUMENT_REPORT_DIR", report_dir)
        .output()
        .expect("cargo runs the example")
}

fn read_report(dir: &Path) -> Report {
    let json = std::fs::read(dir.join("report.json")).expect("the example wrote its report");
    serde_json::from_slice(&json).expect("the report parses")
}

fn breaker<'a>(report: &'a Report, name: &str) -> &'a BreakerSnapshot {
    report
        .snapshot
        .breaker(name)
        .unwrap_or_else(|| panic!("no breaker `{name}` in the report"))
}

/// Each transition starts where the previous one ended, never earlier, for the reason its
/// states call for; the breaker half-opens no sooner than its timeout after opening.
fn assert_timeline_chained(breaker: &BreakerSnapshot) {
    let timeline = &breaker.timeline;
    assert!(!timeline.is_empty(), "{breaker:#?}");
    for pair in timeline.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "{pair:#?}");
        assert!(pair[0].at_ns <= pair[1].at_ns, "{pair:#?}");
        if pair[1].to == BreakerState::HalfOpen {
            assert!(
                pair[1].at_ns - pair[0].at_ns >= breaker.config.timeout_ns,
                "{pair:#?}"
            );
        }
    }
    for transition in timeline {
        let expected = match (transition.from, transition.to) {
            (BreakerState::Closed, BreakerState::Open) => {
                TransitionCause::ConsecutiveFailures { failures: 3 }
            }
            (BreakerState::Open, BreakerState::HalfOpen) => TransitionCause::TimeoutElapsed,
            (BreakerState::HalfOpen, BreakerState::Closed) => TransitionCause::ProbesSucceeded,
            (BreakerState::HalfOpen, BreakerState::Open) => TransitionCause::ProbeFailed,
            unexpected => panic!("unexpected transition {unexpected:?}"),
        };
        assert_eq!(transition.cause, expected, "{transition:#?}");
    }
}

#[test]
fn injected_embedding_faults_open_the_breaker_which_falls_back_probes_and_recovers() {
    let dir = common::scratch_dir("pipeline-faults");
    let output = run_pipeline(
        &dir,
        &[
            "--documents",
            DOCUMENTS,
            "--seed",
            "7",
            "--fault-rate",
            "0.3",
            "--fault-node",
            "embedding",
            "--simulated-us-per-document",
            SIMULATED_US_PER_DOCUMENT,
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let report = read_report(&dir);
    let embedding = breaker(&report, "embedding");

    let transitions = embedding.transitions;
    assert!(transitions.opened >= 1, "{embedding:#?}");
    assert!(transitions.half_opened >= 1, "{embedding:#?}");
    assert!(transitions.closed >= 1, "{embedding:#?}");
    assert!(embedding.fallbacks > 0, "{embedding:#?}");
    assert_eq!(
        embedding.rejected, embedding.fallbacks,
        "the fallback serves every refused call"
    );
    assert!(embedding.probes.admitted >= 2 * transitions.closed);
    assert!(
        embedding
            .last_failure
            .as_ref()
            .expect("a failure was recorded")
            .message
            .contains("injected fault")
    );
    let node = report
        .snapshot
        .node("embedding")
        .expect("the embedding node");
    assert_eq!(
        (node.calls, node.errors),
        (embedding.calls, embedding.failures),
        "refused calls are not calls of the node"
    );

    let recoveries = &embedding.recoveries;
    assert!(recoveries.count >= 1, "{recoveries:#?}");
    assert_eq!(recoveries.count, transitions.closed);
    assert_eq!(recoveries.sla_ns, 2_000_000_000);
    assert!(!recoveries.recent.is_empty());
    for recovery in &recoveries.recent {
        assert_eq!(
            recovery.outage_ns,
            recovery.closed_at_ns - recovery.opened_at_ns
        );
        assert_eq!(
            recovery.duration_ns,
            recovery.closed_at_ns - recovery.probing_from_ns
        );
        assert!(recovery.outage_ns >= embedding.config.timeout_ns);
        assert!(recovery.duration_ns <= recoveries.longest_ns);
        assert!(recovery.outage_ns <= recoveries.longest_outage_ns);
        assert_eq!(
            recovery.within_sla,
            recovery.duration_ns <= recoveries.sla_ns
        );
    }
    assert_timeline_chained(embedding);

    for name in GUARDED.iter().filter(|&&name| name != "embedding") {
        let untouched = breaker(&report, name);
        assert_eq!(untouched.transitions, TransitionCounts::default(), "{name}");
    }
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("embedding: opened ") && line.contains("recoveries")),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_faults_every_breaker_stays_closed() {
    let dir = common::scratch_dir("pipeline-no-faults");
    let output = run_pipeline(&dir, &["--documents", DOCUMENTS, "--seed", "7"]);
    assert!(output.status.success(), "{output:?}");
    let report = read_report(&dir);
    let names: Vec<&str> = report
        .snapshot
        .breakers
        .iter()
        .map(|breaker| breaker.name.as_str())
        .collect();
    assert_eq!(names, GUARDED);
    for breaker in &report.snapshot.breakers {
        assert_eq!(breaker.state, BreakerState::Closed, "{breaker:#?}");
        assert_eq!(
            breaker.transitions,
            TransitionCounts::default(),
            "{breaker:#?}"
        );
        assert_eq!(
            (breaker.failures, breaker.rejected, breaker.fallbacks),
            (0, 0, 0),
            "{breaker:#?}"
        );
        assert!(breaker.timeline.is_empty() && breaker.recoveries.count == 0);
    }
    let dag = report.snapshot.node("dag_validation").unwrap();
    assert!(
        dag.errors > 0,
        "circular theories are node errors, yet never breaker failures"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("breakers: 6 closed, none changed state"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fault_node_without_a_breaker_is_a_usage_error_before_the_report_is_armed() {
    let dir = common::scratch_dir("pipeline-usage");
    let output = run_pipeline(
        &dir,
        &["--fault-rate", "0.3", "--fault-node", "sanitization"],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("`sanitization` has no circuit breaker"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: pipeline"), "{stderr}");
    assert!(!dir.exists(), "no report is written");
}
