//! Synthetic snapshots and reports for the unit tests.

use std::path::PathBuf;

use instrument_runtime::{
    Budget, LatencyHistogram, NodeSnapshot, Snapshot, check_budgets,
    record::Instruments,
    report::{REPORT_SCHEMA, Report},
};

/// A fresh, empty directory for one test.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("instrument-gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A timed node whose calls took the values of `pairs` (`(ns, count)`), as the runtime reports
/// it: latency, exact sum, histogram, and the verdict when budgeted.
pub(crate) fn node(name: &str, pairs: &[(u64, u64)], budget: Option<Budget>) -> NodeSnapshot {
    let mut histogram = LatencyHistogram::new();
    for &(ns, count) in pairs {
        histogram.record_n(ns, count);
    }
    let mut node = NodeSnapshot::new(name);
    node.module_path = "app".to_owned();
    node.file = "src/main.rs".to_owned();
    node.line = 1;
    node.instruments = Instruments {
        timed: true,
        budget: budget.is_some(),
        ..Instruments::default()
    };
    node.budget = budget;
    node.calls = histogram.len();
    let sum_ns = pairs.iter().map(|&(ns, count)| ns * count).sum();
    node.with_histogram(histogram, sum_ns).judged()
}

pub(crate) fn snapshot(nodes: Vec<NodeSnapshot>) -> Snapshot {
    let mut snapshot = Snapshot::new(nodes);
    snapshot.taken_at_unix_ms = 1_700_000_000_000;
    snapshot.host = "ci".to_owned();
    snapshot
}

pub(crate) fn report(nodes: Vec<NodeSnapshot>) -> Report {
    let snapshot = snapshot(nodes);
    Report {
        schema: REPORT_SCHEMA.to_owned(),
        budgets: check_budgets(&snapshot),
        snapshot,
        stream: None,
    }
}

/// Writes `report` as `dir/report.json` and returns its path.
pub(crate) fn write_report(dir: &std::path::Path, report: &Report) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_vec_pretty(report).unwrap()).unwrap();
    path
}

/// Runs the gate in-process with these arguments: exit code, stdout, stderr.
pub(crate) fn gate(args: &[&str]) -> (u8, String, String) {
    let args: Vec<String> = args.iter().map(|&arg| arg.to_owned()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = crate::run(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}
