//! `baseline save` and `compare`: each node's full latency histogram now against the one saved.

use std::collections::BTreeMap;

use instrument_runtime::{
    Change, CompareOptions, Comparison, LatencyHistogram, Report, TableStyle, format_duration,
    printable,
};
use serde::{Deserialize, Serialize};

use crate::args::{CompareArgs, SaveArgs};
use crate::artifact::{LoadError, load_json, load_report, unix_ms_now, write_json};
use crate::table::Table;
use crate::{BASELINE_SCHEMA, Console, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

/// A baseline file: every timed node's histogram, and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Baseline {
    schema: String,
    /// When `baseline save` ran, in milliseconds since the Unix epoch.
    saved_at_unix_ms: u64,
    /// The report it was saved from, as named on the command line.
    report: String,
    /// The report's snapshot time and host.
    taken_at_unix_ms: u64,
    host: String,
    nodes: Vec<BaselineNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BaselineNode {
    name: String,
    calls: u64,
    sum_ns: u64,
    /// `[lowest value in ns, count]` pairs, as in `report.json`.
    histogram: LatencyHistogram,
}

/// Each timed node's histogram, nodes that share a name added together, sorted by name.
fn histograms(report: &Report) -> BTreeMap<String, BaselineNode> {
    let mut nodes: BTreeMap<String, BaselineNode> = BTreeMap::new();
    for node in &report.snapshot.nodes {
        let Some(histogram) = node.histogram.as_ref().filter(|h| !h.is_empty()) else {
            continue;
        };
        let entry = nodes
            .entry(node.name.clone())
            .or_insert_with(|| BaselineNode {
                name: node.name.clone(),
                calls: 0,
                sum_ns: 0,
                histogram: LatencyHistogram::new(),
            });
        entry.calls += histogram.len();
        entry.sum_ns += node.sum_ns;
        entry.histogram.add(histogram);
    }
    nodes
}

/// Runs `baseline save` and returns the exit status.
pub(crate) fn save(args: &SaveArgs, console: &mut Console<'_>) -> u8 {
    let report = match load_report(&args.report) {
        Ok(report) => report,
        Err(message) => {
            console.error(&message);
            return EXIT_ERROR;
        }
    };
    let nodes: Vec<BaselineNode> = histograms(&report).into_values().collect();
    if nodes.is_empty() {
        console.error(&format!(
            "`{}` has no latency histograms: no timed node was called, or the report comes \
             from an older runtime",
            args.report.display()
        ));
        return EXIT_ERROR;
    }
    let baseline = Baseline {
        schema: BASELINE_SCHEMA.to_owned(),
        saved_at_unix_ms: unix_ms_now(),
        report: args.report.display().to_string(),
        taken_at_unix_ms: report.snapshot.taken_at_unix_ms,
        host: report.snapshot.host.clone(),
        nodes,
    };
    match write_json(&args.output, &baseline) {
        Ok(()) => {
            console.print(&format!(
                "baseline: {} nodes saved to {}\n",
                baseline.nodes.len(),
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

/// One node's comparison at one quantile.
#[derive(Debug, Serialize)]
struct NodeComparison {
    node: String,
    #[serde(flatten)]
    comparison: Comparison,
}

/// What `compare --output` writes.
#[derive(Debug, Serialize)]
struct CompareReport<'a> {
    schema: &'static str,
    baseline: String,
    report: String,
    exit_code: u8,
    slower: Vec<String>,
    comparisons: &'a [NodeComparison],
    generated_at_unix_ms: u64,
}

/// Runs `compare` and returns the exit status.
pub(crate) fn compare(args: &CompareArgs, console: &mut Console<'_>) -> u8 {
    let loaded = load_baseline(&args.baseline)
        .and_then(|baseline| Ok((baseline, load_report(&args.report)?)));
    let (baseline, report) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            console.error(&message);
            return EXIT_ERROR;
        }
    };
    let comparisons = compare_all(&baseline, &report, &args.options);
    console.print(&render_table(&comparisons, console.style));
    // Like `check`, the gate never passes on nothing: every row short of calls judges nothing.
    if comparisons
        .iter()
        .all(|row| row.comparison.change == Change::TooFewSamples)
    {
        console.error(&format!(
            "no node of `{}` had enough calls on both sides to be compared (`--min-samples` {})",
            args.baseline.display(),
            args.options[0].min_samples
        ));
        return EXIT_ERROR;
    }
    let slower: Vec<String> = comparisons
        .iter()
        .filter(|row| row.comparison.change == Change::Slower)
        .map(|row| format!("{} {}", row.node, quantile_name(row.comparison.quantile)))
        .collect();
    let count = |change| {
        comparisons
            .iter()
            .filter(|row| row.comparison.change == change)
            .count()
    };
    let options = &args.options[0];
    console.print(&format!(
        "compared: {} (tolerance {}, confidence {}); slower: {}, faster: {}, unchanged: {}, \
         inconclusive: {}, too few samples: {}\n",
        comparisons.len(),
        percent(options.tolerance),
        percent(options.confidence),
        count(Change::Slower),
        count(Change::Faster),
        count(Change::Unchanged),
        count(Change::Inconclusive),
        count(Change::TooFewSamples),
    ));
    let status = if slower.is_empty() {
        console.print("result: pass: no node is slower than the baseline\n");
        EXIT_PASS
    } else {
        let shown = printable(&slower.join(", ")).into_owned();
        console.print(&format!("result: FAIL: slower: {shown}\n"));
        EXIT_FAIL
    };
    let Some(output) = &args.output else {
        return status;
    };
    let written = write_json(
        output,
        &CompareReport {
            schema: "instrument.compare/1",
            baseline: args.baseline.display().to_string(),
            report: args.report.display().to_string(),
            exit_code: status,
            slower,
            comparisons: &comparisons,
            generated_at_unix_ms: unix_ms_now(),
        },
    );
    match written {
        Ok(()) => status,
        Err(message) => {
            console.error(&message);
            EXIT_ERROR
        }
    }
}

/// Reads a baseline and checks it ([`validate::baseline`](crate::validate::baseline)).
fn load_baseline(path: &std::path::Path) -> Result<Baseline, String> {
    let baseline = load_json::<Baseline>(path, "baseline", BASELINE_SCHEMA)
        .map_err(|(LoadError::Unreadable(message) | LoadError::Invalid(message))| message)?;
    let nodes = baseline
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.calls, &node.histogram));
    crate::validate::baseline(path, nodes)?;
    Ok(baseline)
}

/// Every node in either file, at every quantile asked, in name order.
fn compare_all(
    baseline: &Baseline,
    report: &Report,
    options: &[CompareOptions],
) -> Vec<NodeComparison> {
    let pairs = |histogram: &LatencyHistogram| -> Vec<(u64, u64)> {
        histogram
            .bins()
            .map(|bin| (bin.lowest_ns, bin.count))
            .collect()
    };
    let before: BTreeMap<&str, Vec<(u64, u64)>> = baseline
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), pairs(&node.histogram)))
        .collect();
    let now: BTreeMap<String, Vec<(u64, u64)>> = histograms(report)
        .into_values()
        .map(|node| (node.name, pairs(&node.histogram)))
        .collect();
    let mut names: Vec<&str> = before
        .keys()
        .copied()
        .chain(now.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut rows = Vec::new();
    for name in names {
        let (before, now) = (
            before.get(name).map_or(&[][..], Vec::as_slice),
            now.get(name).map_or(&[][..], Vec::as_slice),
        );
        for options in options {
            rows.push(NodeComparison {
                node: name.to_owned(),
                comparison: instrument_runtime::compare(before, now, options),
            });
        }
    }
    rows
}

fn render_table(rows: &[NodeComparison], style: TableStyle) -> String {
    let duration =
        |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), |ns| format_duration(ns, style));
    let rows = rows
        .iter()
        .map(|row| {
            let comparison = &row.comparison;
            let (ratio, interval) = comparison.ratio.map_or_else(
                || ("-".to_owned(), "-".to_owned()),
                |ratio| {
                    (
                        format!("{:.3}x", ratio.estimate),
                        format!("[{:.3}, {:.3}]", ratio.low, ratio.high),
                    )
                },
            );
            let change = match comparison.change {
                Change::Slower => "SLOWER".to_owned(),
                Change::TooFewSamples => format!(
                    "too few samples ({}/{} calls)",
                    comparison.baseline_calls.min(comparison.candidate_calls),
                    comparison.baseline_calls.max(comparison.candidate_calls),
                ),
                other => other.to_string(),
            };
            vec![
                row.node.clone(),
                quantile_name(comparison.quantile),
                duration(comparison.baseline_ns),
                duration(comparison.candidate_ns),
                ratio,
                interval,
                change,
            ]
        })
        .collect();
    Table {
        header: &[
            "node", "quantile", "baseline", "current", "ratio", "interval", "change",
        ],
        left_aligned: &[0, 1, 6],
        verdict: 6,
        rows,
    }
    .render(style)
}

/// `0.5` -> `p50`, `0.999` -> `p99.9`, `1` -> `max`.
fn quantile_name(quantile: f64) -> String {
    if quantile >= 1.0 {
        return "max".to_owned();
    }
    let percent = format!("{:.3}", quantile * 100.0);
    format!("p{}", percent.trim_end_matches('0').trim_end_matches('.'))
}

/// `0.05` -> `5%`.
fn percent(share: f64) -> String {
    let percent = format!("{:.3}", share * 100.0);
    format!("{}%", percent.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::test_support::{gate, node, report, scratch_dir, write_report};

    const US: u64 = 1_000;

    /// 2,000 calls spread over 100 to 299 µs, each latency scaled by `percent / 100`.
    fn spread(percent: u64) -> Vec<(u64, u64)> {
        (100..300).map(|us| (us * US * percent / 100, 10)).collect()
    }

    fn save_baseline(dir: &std::path::Path) -> String {
        let path = write_report(
            &dir.join("before"),
            &report(vec![
                node("embedding", &spread(100), None),
                node("parse", &spread(100), None),
            ]),
        );
        let baseline = dir.join("performance_baseline.json");
        let (status, out, err) = gate(&[
            "baseline",
            "save",
            "--report",
            path.to_str().unwrap(),
            "--output",
            baseline.to_str().unwrap(),
        ]);
        assert_eq!(status, 0, "{out}{err}");
        assert_eq!(
            out,
            format!("baseline: 2 nodes saved to {}\n", baseline.display())
        );
        baseline.to_str().unwrap().to_owned()
    }

    /// `compare` of a run of `nodes` (written to `dir/now`) against `baseline`, with `extra`
    /// arguments: the exit status, stdout and stderr.
    fn compare_run(
        dir: &std::path::Path,
        baseline: &str,
        nodes: Vec<instrument_runtime::NodeSnapshot>,
        extra: &[&str],
    ) -> (u8, String, String) {
        let now = write_report(&dir.join("now"), &report(nodes));
        let mut args = vec!["compare", "--baseline", baseline, "--report"];
        args.push(now.to_str().unwrap());
        args.extend_from_slice(extra);
        gate(&args)
    }

    #[test]
    fn the_same_latencies_are_not_a_regression() {
        let dir = scratch_dir("compare-equal");
        let baseline = save_baseline(&dir);
        let (status, out, err) = compare_run(
            &dir,
            &baseline,
            vec![
                node("embedding", &spread(100), None),
                node("parse", &spread(100), None),
            ],
            &[],
        );
        assert_eq!(status, 0, "{out}{err}");
        assert_eq!(
            out.lines()
                .filter(|line| line.ends_with("unchanged"))
                .count(),
            4,
            "{out}"
        );
        assert!(out.contains("result: pass"), "{out}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn twenty_percent_slower_is_a_regression_with_its_interval() {
        let dir = scratch_dir("compare-slower");
        let baseline = save_baseline(&dir);
        let output = dir.join("comparison.json");
        let (status, out, err) = compare_run(
            &dir,
            &baseline,
            vec![
                node("embedding", &spread(120), None),
                node("parse", &spread(100), None),
            ],
            &["--output", output.to_str().unwrap()],
        );
        assert_eq!(status, 1, "{out}{err}");
        let embedding: Vec<&str> = out
            .lines()
            .filter(|line| line.starts_with("embedding"))
            .collect();
        assert_eq!(embedding.len(), 2, "{out}");
        for line in embedding {
            let ratio: f64 = (line.split_whitespace())
                .find_map(|word| word.strip_suffix('x')?.parse().ok())
                .unwrap();
            // 1.2, to the histogram's resolution: each quantile within 1/128 of its exact value
            assert!(
                (ratio - 1.2).abs() < 0.02 && line.ends_with("SLOWER"),
                "{line}"
            );
        }
        assert!(
            out.contains("result: FAIL: slower: embedding p50, embedding p95"),
            "{out}"
        );
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["comparisons"][0]["node"], "embedding");
        assert_eq!(json["comparisons"][0]["change"], "slower");
        assert!(json["comparisons"][0]["ratio"]["low"].as_f64().unwrap() > 1.05);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_baseline_or_report_is_an_error_and_a_new_node_is_not_judged() {
        let dir = scratch_dir("compare-missing");
        let baseline = save_baseline(&dir);
        let missing = dir.join("nothing.json");
        let (status, _, err) = gate(&["compare", "--baseline", missing.to_str().unwrap()]);
        assert_eq!(status, 2);
        assert!(err.contains("cannot read the baseline"), "{err}");
        let (status, _, err) = gate(&[
            "compare",
            "--baseline",
            &baseline,
            "--report",
            missing.to_str().unwrap(),
        ]);
        assert_eq!(status, 2);
        assert!(err.contains("cannot read the report"), "{err}");
        let (status, _, err) = gate(&[
            "compare",
            "--baseline",
            &dir.join("before").join("report.json").to_string_lossy(),
        ]);
        assert_eq!(status, 2);
        assert!(
            err.contains("expected schema `instrument.baseline/1`, found `instrument.report/1`"),
            "{err}"
        );

        let (status, out, _) = compare_run(
            &dir,
            &baseline,
            vec![
                node("embedding", &spread(100), None),
                node("brand_new", &spread(300), None),
            ],
            &["--quantile", "p95"],
        );
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("brand_new"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("parse") && l.ends_with("too few samples (0/2000 calls)")),
            "{out}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn quantiles_and_percentages_read_as_written() {
        assert_eq!(quantile_name(0.5), "p50");
        assert_eq!(quantile_name(0.999), "p99.9");
        assert_eq!(quantile_name(1.0), "max");
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(0.99), "99%");
    }
}
