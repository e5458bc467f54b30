//! `baseline save`, and the runs `compare` judges: each run's per-node histograms, read from
//! reports, from a command run N times, or from a baseline file.

use std::collections::BTreeMap;
use std::path::Path;

use instrument_runtime::{LatencyHistogram, report::Report};
use serde::{Deserialize, Serialize};

use crate::args::{Runs, SaveArgs};
use crate::artifact::{LoadError, load_json, load_report, unix_ms_now, write_json};
use crate::{BASELINE_SCHEMA, Console, EXIT_ERROR, EXIT_PASS};

/// A baseline file: every timed node's histogram over all runs, each run's own figures, and
/// where they came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Baseline {
    schema: String,
    /// When `baseline save` ran, in milliseconds since the Unix epoch.
    saved_at_unix_ms: u64,
    /// The reports it was saved from, as named on the command line, comma-separated.
    report: String,
    /// The latest run's snapshot time, and the hosts.
    taken_at_unix_ms: u64,
    host: String,
    /// All runs together.
    nodes: Vec<BaselineNode>,
    /// Each run on its own; absent in a baseline saved from one report by an older gate, which
    /// reads as one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    runs: Vec<BaselineRun>,
}

/// One run of a baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BaselineRun {
    report: String,
    taken_at_unix_ms: u64,
    host: String,
    nodes: Vec<BaselineNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BaselineNode {
    name: String,
    calls: u64,
    sum_ns: u64,
    /// The usual quantiles, for a reader of the file; `compare` reads the histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quantiles_ns: Option<Quantiles>,
    /// `[lowest value in ns, count]` pairs, as in `report.json`.
    histogram: LatencyHistogram,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Quantiles {
    p50: u64,
    p90: u64,
    p95: u64,
    p99: u64,
}

impl BaselineNode {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            calls: 0,
            sum_ns: 0,
            quantiles_ns: None,
            histogram: LatencyHistogram::new(),
        }
    }

    fn add(&mut self, histogram: &LatencyHistogram, sum_ns: u64) {
        self.calls += histogram.len();
        self.sum_ns += sum_ns;
        self.histogram.add(histogram);
        let at = |quantile| self.histogram.value_at_quantile(quantile);
        self.quantiles_ns = Some(Quantiles {
            p50: at(0.5),
            p90: at(0.9),
            p95: at(0.95),
            p99: at(0.99),
        });
    }
}

/// One run: each timed node's histogram by name (nodes that share a name added together).
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub(crate) nodes: BTreeMap<String, LatencyHistogram>,
}

/// Each timed node of a report, nodes that share a name added together, sorted by name.
fn nodes_of(report: &Report) -> BTreeMap<String, BaselineNode> {
    let mut nodes: BTreeMap<String, BaselineNode> = BTreeMap::new();
    for node in &report.snapshot.nodes {
        let Some(histogram) = node.histogram.as_ref().filter(|h| !h.is_empty()) else {
            continue;
        };
        nodes
            .entry(node.name.clone())
            .or_insert_with(|| BaselineNode::new(&node.name))
            .add(histogram, node.sum_ns);
    }
    nodes
}

impl Run {
    pub(crate) fn of(report: &Report) -> Self {
        Self {
            nodes: nodes_of(report)
                .into_values()
                .map(|node| (node.name, node.histogram))
                .collect(),
        }
    }

    fn of_nodes(nodes: &[BaselineNode]) -> Self {
        Self {
            nodes: nodes
                .iter()
                .map(|node| (node.name.clone(), node.histogram.clone()))
                .collect(),
        }
    }
}

/// The reports of one side, with the names they go by: read from files, or produced by running
/// the command.
pub(crate) fn reports_of(
    runs: &Runs,
    console: &mut Console<'_>,
) -> Result<Vec<(String, Report)>, String> {
    match runs {
        Runs::Reports(paths) => paths
            .iter()
            .map(|path| Ok((path.display().to_string(), load_report(path)?)))
            .collect(),
        Runs::Command(iterations) => {
            let reports = crate::iterations::run(iterations, console)?;
            let count = reports.len();
            Ok(reports
                .into_iter()
                .enumerate()
                .map(|(run, report)| (format!("run {} of {count}", run + 1), report))
                .collect())
        }
    }
}

/// Runs `baseline save` and returns the exit status.
pub(crate) fn save(args: &SaveArgs, console: &mut Console<'_>) -> u8 {
    let baseline = reports_of(&args.runs, console).and_then(|reports| baseline_of(&reports));
    let written = baseline.and_then(|baseline| {
        write_json(&args.output, &baseline)?;
        Ok(baseline)
    });
    match written {
        Ok(baseline) => {
            console.print(&format!(
                "baseline: {} nodes from {} runs saved to {}\n",
                baseline.nodes.len(),
                baseline.runs.len(),
                args.output.display()
            ));
            EXIT_PASS
        }
        Err(message) => {
            console.error(&message);
            EXIT_ERROR
        }
    }
}

fn baseline_of(reports: &[(String, Report)]) -> Result<Baseline, String> {
    let mut merged: BTreeMap<String, BaselineNode> = BTreeMap::new();
    let mut runs = Vec::new();
    let mut hosts: Vec<&str> = Vec::new();
    for (name, report) in reports {
        let nodes = nodes_of(report);
        if nodes.is_empty() {
            return Err(format!(
                "`{name}` has no latency histograms: no timed node was called, or the report \
                 comes from an older runtime"
            ));
        }
        for node in nodes.values() {
            merged
                .entry(node.name.clone())
                .or_insert_with(|| BaselineNode::new(&node.name))
                .add(&node.histogram, node.sum_ns);
        }
        if !hosts.contains(&report.snapshot.host.as_str()) {
            hosts.push(&report.snapshot.host);
        }
        runs.push(BaselineRun {
            report: name.clone(),
            taken_at_unix_ms: report.snapshot.taken_at_unix_ms,
            host: report.snapshot.host.clone(),
            nodes: nodes.into_values().collect(),
        });
    }
    Ok(Baseline {
        schema: BASELINE_SCHEMA.to_owned(),
        saved_at_unix_ms: unix_ms_now(),
        report: runs
            .iter()
            .map(|run| run.report.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        taken_at_unix_ms: runs
            .iter()
            .map(|run| run.taken_at_unix_ms)
            .max()
            .unwrap_or(0),
        host: hosts.join(", "),
        nodes: merged.into_values().collect(),
        runs,
    })
}

/// Reads a baseline, checks it ([`validate::baseline`](crate::validate::baseline)) and returns
/// its runs: one, the merged histograms, for a baseline saved before runs were kept.
pub(crate) fn load_runs(path: &Path) -> Result<Vec<Run>, String> {
    let baseline = load_json::<Baseline>(path, "baseline", BASELINE_SCHEMA)
        .map_err(|(LoadError::Unreadable(message) | LoadError::Invalid(message))| message)?;
    let check = |nodes: &[BaselineNode]| {
        let nodes = nodes
            .iter()
            .map(|node| (node.name.as_str(), node.calls, &node.histogram));
        crate::validate::baseline(path, nodes)
    };
    check(&baseline.nodes)?;
    if baseline.runs.is_empty() {
        return Ok(vec![Run::of_nodes(&baseline.nodes)]);
    }
    baseline
        .runs
        .iter()
        .map(|run| {
            check(&run.nodes)?;
            Ok(Run::of_nodes(&run.nodes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::test_support::{gate, node, report, scratch_dir, write_report};

    #[test]
    fn every_run_is_kept_beside_the_merged_histograms() {
        let dir = scratch_dir("baseline-runs");
        let first = write_report(
            &dir.join("1"),
            &report(vec![node("parse", &[(1_000, 10)], None)]),
        );
        let second = write_report(
            &dir.join("2"),
            &report(vec![
                node("parse", &[(3_000, 10)], None),
                node("embed", &[(9_000, 4)], None),
            ]),
        );
        let output = dir.join("baseline.json");
        let (status, out, err) = gate(&[
            "baseline",
            "save",
            "--report",
            first.to_str().unwrap(),
            "--report",
            second.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert_eq!(status, 0, "{out}{err}");
        assert!(
            out.starts_with("baseline: 2 nodes from 2 runs saved to "),
            "{out}"
        );
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
        assert_eq!(json["nodes"][1]["name"], "parse");
        assert_eq!(json["nodes"][1]["calls"], 20);
        // Each at the top of its bucket: within 1/128 above what was recorded (1,000 and 3,001 ns).
        assert_eq!(json["runs"][0]["nodes"][0]["quantiles_ns"]["p95"], 1_003);
        assert_eq!(json["runs"][1]["nodes"][1]["quantiles_ns"]["p50"], 3_007);
        let runs = load_runs(&output).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].nodes["embed"].len(), 4);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_help_says_report_repeats() {
        let (status, out, _) = gate(&["--help"]);
        assert_eq!(status, 0);
        assert!(
            out.contains("baseline save [--report FILE]... [--output FILE]"),
            "{out}"
        );
        assert!(
            out.contains("compare --baseline FILE [--report FILE]... [OPTIONS]"),
            "{out}"
        );
        assert!(
            out.contains("--interleave N [OPTIONS] -- BASELINE_COMMAND... -- CANDIDATE_COMMAND..."),
            "{out}"
        );
        for command in [&["baseline", "save", "--help"][..], &["compare", "--help"]] {
            let (status, out, _) = gate(command);
            assert_eq!(status, 0);
            assert!(out.contains("--report <FILE>"), "{out}");
            assert!(out.contains("repeat it for several runs"), "{out}");
        }
    }

    #[test]
    fn a_baseline_without_runs_reads_as_one_run() {
        let dir = scratch_dir("baseline-old");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.json");
        fs::write(
            &path,
            r#"{"schema": "instrument.baseline/1", "saved_at_unix_ms": 1, "report": "r.json",
                "taken_at_unix_ms": 1, "host": "ci",
                "nodes": [{"name": "parse", "calls": 3, "sum_ns": 3000,
                           "histogram": [[1000, 3]]}]}"#,
        )
        .unwrap();
        let runs = load_runs(&path).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].nodes["parse"].len(), 3);
        fs::remove_dir_all(dir).unwrap();
    }
}
