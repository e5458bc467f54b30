//! Synthetic snapshots and reports for the unit tests.

use std::path::PathBuf;

use instrument_runtime::{
    Budget, Instruments, Latency, LatencyHistogram, NodeSnapshot, REPORT_SCHEMA, Report, Snapshot,
    check_budgets,
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
    let calls = histogram.len();
    let sum_ns = pairs.iter().map(|&(ns, count)| ns * count).sum();
    let latency = (calls > 0).then(|| Latency::of(&histogram, sum_ns));
    NodeSnapshot {
        name: name.to_owned(),
        module_path: "app".to_owned(),
        file: "src/main.rs".to_owned(),
        line: 1,
        instruments: Instruments {
            timed: true,
            budget: budget.is_some(),
            ..Instruments::default()
        },
        budget,
        budget_source: None,
        memory: None,
        calls,
        errors: 0,
        panics: 0,
        cancelled: 0,
        in_flight: None,
        items_processed: 0,
        items_total: 0,
        warnings: 0,
        verdict: budget.map(|budget| instrument_runtime::judge(&budget, calls, latency.as_ref())),
        latency,
        sum_ns,
        histogram: (calls > 0).then_some(histogram),
    }
}

pub(crate) fn snapshot(mut nodes: Vec<NodeSnapshot>) -> Snapshot {
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Snapshot {
        taken_at_unix_ms: 1_700_000_000_000,
        host: "ci".to_owned(),
        run_id: String::new(),
        nodes,
        conflicts: Vec::new(),
        breakers: Vec::new(),
        budgets_file: None,
        process: None,
    }
}

pub(crate) fn report(nodes: Vec<NodeSnapshot>) -> Report {
    let snapshot = snapshot(nodes);
    Report {
        schema: REPORT_SCHEMA.to_owned(),
        budgets: check_budgets(&snapshot),
        snapshot,
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
