//! `compare`: is each node slower than the baseline? Decided between runs, from one figure per
//! run: the rank test of [`crate::ranks`] on the runs' quantiles, against a band around the
//! baseline.
//!
//! The band, the effective tolerance, is the larger of `--tolerance` and twice the runs' own
//! spread ([`ranks::spread`]): a row whose runs scatter widely within each side (a tail made of
//! the machine's wake-up delays) cannot be called slower by a chance ordering of its runs, while
//! a steady row (a CPU-bound step) is judged at the tolerance asked for.
//!
//! Per node and quantile, with `n` baseline runs and `m` candidate runs:
//!
//! - too few calls on a side (all its runs together under `--min-samples`): not compared;
//! - runs too few for the test ever to be significant (a side of one run, or `n` against `m`
//!   whose smallest p-value is not below the level): **inconclusive**, with the runs needed;
//! - **slower** when the candidate's runs are significantly above the baseline's scaled by
//!   `1 + band` (one-sided rank test at half the level, so a change within the band is never
//!   called, however many runs there are), and stay so with any one run of either side left out
//!   ([`ranks::one_sided_without_any_one`]): one disturbed run is never the only evidence;
//!   **faster** likewise below `1 - band`;
//! - otherwise **unchanged**: `~` when the runs do not differ significantly at all (two-sided
//!   p at or above the level), "within tolerance" when they do but the estimated ratio is inside
//!   the tolerance; **inconclusive** when the ratio is outside the tolerance but not
//!   significantly beyond the band.

use instrument_runtime::{
    LatencyHistogram,
    format::{TableStyle, format_duration, printable},
    gate::{Change, CompareOptions},
    report::Report,
};
use serde::Serialize;

use crate::args::{CompareArgs, Sides};
use crate::artifact::{unix_ms_now, write_json};
use crate::baseline::{Run, load_runs, reports_of};
use crate::ranks;
use crate::table::Table;
use crate::{Console, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

/// One node's comparison at one quantile, as `--output` writes it.
#[derive(Debug, Serialize)]
struct NodeComparison {
    node: String,
    quantile: f64,
    change: Change,
    /// The quantile in each run that has the node, in run order.
    baseline_runs_ns: Vec<u64>,
    candidate_runs_ns: Vec<u64>,
    baseline_calls: u64,
    candidate_calls: u64,
    /// The median of the runs' quantiles, each side.
    baseline_ns: Option<u64>,
    candidate_ns: Option<u64>,
    /// Hodges-Lehmann: the median of every candidate ÷ baseline pair of runs.
    ratio: Option<f64>,
    /// Two-sided rank test p-value: could the two sets of runs come from one distribution?
    p_value: Option<f64>,
    /// One-sided p-value that the candidate is beyond `1 ± effective_tolerance` of the
    /// baseline, in the ratio's direction, the largest with any one run left out: the test
    /// that calls a change.
    p_beyond_tolerance: Option<f64>,
    /// How far the runs scatter within their side: the median run's relative distance from its
    /// side's median ([`ranks::spread`]).
    run_spread: Option<f64>,
    /// The band a change must leave to be called: the larger of the tolerance and
    /// `NOISE_FLOOR_SPREADS` times the runs' spread. `None` when not tested.
    effective_tolerance: Option<f64>,
    /// Why the comparison could not decide, or what `~` means here.
    note: Option<String>,
}

/// What `compare --output` writes.
#[derive(Debug, Serialize)]
struct CompareReport<'a> {
    schema: &'static str,
    baseline: String,
    report: String,
    baseline_runs: usize,
    candidate_runs: usize,
    tolerance: f64,
    /// The rank test's level: `1 - confidence`.
    alpha: f64,
    method: &'static str,
    exit_code: u8,
    slower: Vec<String>,
    comparisons: &'a [NodeComparison],
    generated_at_unix_ms: u64,
}

/// How the runs are judged, in one line for the JSON file.
const METHOD: &str = "mann-whitney rank test on per-run quantiles (exact distribution), called \
                      slower when significant against the baseline scaled by 1 + the effective \
                      tolerance, the larger of the tolerance and twice the runs' spread within \
                      a side, with every set of one run left out; ratio: hodges-lehmann";

/// The noise floor, in runs' spreads: a change must leave a band this many times the usual
/// distance of a run from its side's median. Two: for runs scattered normally, the median
/// distance is 0.67 standard deviations, so the floor is 1.35 of them; a row whose runs are
/// steady (a CPU-bound step, runs within a few percent) keeps the tolerance asked for.
const NOISE_FLOOR_SPREADS: f64 = 2.0;

/// Runs `compare` and returns the exit status.
pub(crate) fn compare(args: &CompareArgs, console: &mut Console<'_>) -> u8 {
    let (baseline_name, report_name, baseline, candidate) = match sides(args, console) {
        Ok(sides) => sides,
        Err(message) => {
            console.error(&message);
            return EXIT_ERROR;
        }
    };
    let comparisons = compare_runs(&baseline, &candidate, &args.options);
    console.print(&render_table(&comparisons, console.style));
    let options = &args.options[0];
    // Like `check`, the gate never passes on nothing: every row short of calls judges nothing.
    if comparisons
        .iter()
        .all(|row| row.change == Change::TooFewSamples)
    {
        console.error(&format!(
            "no node of `{baseline_name}` had enough calls on both sides to be compared \
             (`--min-samples` {})",
            options.min_samples
        ));
        return EXIT_ERROR;
    }
    let named = |change| -> Vec<String> {
        comparisons
            .iter()
            .filter(|row| row.change == change)
            .map(|row| format!("{} {}", row.node, quantile_name(row.quantile)))
            .collect()
    };
    let (slower, inconclusive) = (named(Change::Slower), named(Change::Inconclusive));
    let count = |change| {
        comparisons
            .iter()
            .filter(|row| row.change == change)
            .count()
    };
    console.print(&format!(
        "compared: {} ({} baseline runs, {} candidate runs; tolerance {}, rank test at {}); \
         slower: {}, faster: {}, unchanged: {}, inconclusive: {}, too few samples: {}\n",
        comparisons.len(),
        baseline.len(),
        candidate.len(),
        percent(options.tolerance),
        percent(1.0 - options.confidence),
        count(Change::Slower),
        count(Change::Faster),
        count(Change::Unchanged),
        inconclusive.len(),
        count(Change::TooFewSamples),
    ));
    let status = if !slower.is_empty() {
        let shown = printable(&slower.join(", ")).into_owned();
        console.print(&format!("result: FAIL: slower: {shown}\n"));
        EXIT_FAIL
    } else if inconclusive.is_empty() {
        console.print("result: pass: no node is slower than the baseline\n");
        EXIT_PASS
    } else if args.require_conclusive {
        let shown = printable(&inconclusive.join(", ")).into_owned();
        console.print(&format!(
            "result: ERROR: inconclusive, and `--require-conclusive` is set: {shown}\n"
        ));
        EXIT_ERROR
    } else {
        console.print(
            "result: pass: no node is called slower; some comparisons are inconclusive (see \
             above); `--require-conclusive` makes that an error\n",
        );
        EXIT_PASS
    };
    let Some(output) = &args.output else {
        return status;
    };
    let written = write_json(
        output,
        &CompareReport {
            schema: "instrument.compare/2",
            baseline: baseline_name,
            report: report_name,
            baseline_runs: baseline.len(),
            candidate_runs: candidate.len(),
            tolerance: options.tolerance,
            alpha: 1.0 - options.confidence,
            method: METHOD,
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

/// The baseline's runs and the candidate's, with the names of where they came from.
fn sides(
    args: &CompareArgs,
    console: &mut Console<'_>,
) -> Result<(String, String, Vec<Run>, Vec<Run>), String> {
    let runs = |reports: &[Report]| reports.iter().map(Run::of).collect::<Vec<_>>();
    match &args.sides {
        Sides::Baseline {
            baseline,
            runs: candidate,
        } => {
            let before = load_runs(baseline)?;
            let reports = reports_of(candidate, console)?;
            let names: Vec<&str> = reports.iter().map(|(name, _)| name.as_str()).collect();
            let now = reports.iter().map(|(_, report)| Run::of(report)).collect();
            Ok((
                baseline.display().to_string(),
                names.join(", "),
                before,
                now,
            ))
        }
        Sides::Interleave {
            count,
            baseline,
            candidate,
        } => {
            let (before, now) =
                crate::iterations::interleave(*count, baseline, candidate, console)?;
            Ok((
                baseline.join(" "),
                candidate.join(" "),
                runs(&before),
                runs(&now),
            ))
        }
    }
}

/// Every node in either side, at every quantile asked, in name order.
fn compare_runs(
    baseline: &[Run],
    candidate: &[Run],
    options: &[CompareOptions],
) -> Vec<NodeComparison> {
    let mut names: Vec<&str> = baseline
        .iter()
        .chain(candidate)
        .flat_map(|run| run.nodes.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut rows = Vec::new();
    for name in names {
        let (before, now) = (runs_with(baseline, name), runs_with(candidate, name));
        for options in options {
            let figures = |runs: &[&LatencyHistogram]| -> Vec<u64> {
                runs.iter()
                    .map(|histogram| histogram.value_at_quantile(options.quantile))
                    .collect()
            };
            let calls = |runs: &[&LatencyHistogram]| -> u64 {
                runs.iter().map(|histogram| histogram.len()).sum()
            };
            rows.push(judge(
                name,
                (figures(&before), calls(&before)),
                (figures(&now), calls(&now)),
                options,
            ));
        }
    }
    rows
}

/// The node's histogram in each run that has it.
fn runs_with<'a>(runs: &'a [Run], name: &str) -> Vec<&'a LatencyHistogram> {
    runs.iter().filter_map(|run| run.nodes.get(name)).collect()
}

/// One node at one quantile: the per-run figures and calls of each side -> the verdict.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "latencies in ns, far inside f64's exact range; the median is rounded back"
)]
fn judge(
    name: &str,
    (before, before_calls): (Vec<u64>, u64),
    (now, now_calls): (Vec<u64>, u64),
    options: &CompareOptions,
) -> NodeComparison {
    let alpha = 1.0 - options.confidence;
    let as_f64 = |values: &[u64]| -> Vec<f64> { values.iter().map(|&v| v as f64).collect() };
    let median = |values: &[f64]| -> Option<u64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        (!sorted.is_empty()).then(|| ranks::median_of_sorted(&sorted).round() as u64)
    };
    let (base, cand) = (as_f64(&before), as_f64(&now));
    let mut row = NodeComparison {
        node: name.to_owned(),
        quantile: options.quantile,
        change: Change::TooFewSamples,
        baseline_ns: median(&base),
        candidate_ns: median(&cand),
        baseline_runs_ns: before,
        candidate_runs_ns: now,
        baseline_calls: before_calls,
        candidate_calls: now_calls,
        ratio: ranks::ratio(&base, &cand),
        p_value: None,
        p_beyond_tolerance: None,
        run_spread: ranks::spread(&base, &cand),
        effective_tolerance: None,
        note: None,
    };
    let min_samples = options.min_samples.max(1);
    if before_calls < min_samples || now_calls < min_samples {
        return row;
    }
    let Some(ratio) = row.ratio else {
        return row;
    };
    let (n, m) = (base.len(), cand.len());
    if ranks::smallest_p(n, m) >= alpha {
        row.change = Change::Inconclusive;
        let needed = ranks::runs_needed(alpha);
        let one_run = "cannot separate run-to-run variation from a change";
        row.note = Some(if n == 1 && m == 1 {
            format!("one run per side {one_run}; use {needed} or more runs per side")
        } else if n.min(m) == 1 {
            format!(
                "{n} against {m} runs: a side of one run {one_run}; use {needed} or more runs \
                 per side"
            )
        } else {
            format!(
                "{n} against {m} runs cannot be significant at {} with any one run left out; use \
                 {needed} or more runs per side",
                percent(alpha)
            )
        });
        return row;
    }
    // The runs' own scatter sets a floor under the tolerance: a shift no larger than the runs
    // scatter within one side is what the machine does between runs, so it is never called.
    let floor = row
        .run_spread
        .map_or(0.0, |spread| NOISE_FLOOR_SPREADS * spread);
    let band = options.tolerance.max(floor);
    row.effective_tolerance = Some(band);
    let scaled = |factor: f64| -> Vec<f64> { base.iter().map(|v| v * factor.max(0.0)).collect() };
    let (above, _) = ranks::one_sided_without_any_one(&scaled(1.0 + band), &cand);
    let (_, below) = ranks::one_sided_without_any_one(&scaled(1.0 - band), &cand);
    let p_value = ranks::two_sided(&base, &cand);
    row.p_value = Some(p_value);
    row.p_beyond_tolerance = Some(if ratio >= 1.0 { above } else { below });
    let within = |width: f64| (1.0 - width..=1.0 + width).contains(&ratio);
    row.change = if above < alpha / 2.0 {
        Change::Slower
    } else if below < alpha / 2.0 {
        Change::Faster
    } else if p_value >= alpha {
        row.note = Some("~: the runs do not differ significantly".to_owned());
        Change::Unchanged
    } else if within(options.tolerance) {
        row.note = Some("a significant change within the tolerance".to_owned());
        Change::Unchanged
    } else if within(band) {
        row.note = Some(format!(
            "changed by more than the tolerance, but not beyond the runs' own scatter (band {}); \
             steadier runs would tell",
            percent_rounded(band)
        ));
        Change::Inconclusive
    } else {
        row.note = Some(format!(
            "changed, but not significantly beyond the band ({}); more runs would tell",
            percent_rounded(band)
        ));
        Change::Inconclusive
    };
    row
}

fn render_table(rows: &[NodeComparison], style: TableStyle) -> String {
    let duration =
        |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), |ns| format_duration(ns, style));
    let spread = |runs: &[u64]| -> String {
        match (runs.iter().min(), runs.iter().max()) {
            (Some(&low), Some(&high)) if runs.len() > 1 => format!(
                "{}..{}",
                format_duration(low, style),
                format_duration(high, style)
            ),
            _ => "-".to_owned(),
        }
    };
    let rows = rows
        .iter()
        .map(|row| {
            let change = match row.change {
                Change::Slower => "SLOWER".to_owned(),
                Change::Unchanged => match &row.note {
                    Some(note) if note.starts_with('~') => "~".to_owned(),
                    _ => "unchanged (within tolerance)".to_owned(),
                },
                Change::Inconclusive => {
                    format!("inconclusive: {}", row.note.as_deref().unwrap_or_default())
                }
                Change::TooFewSamples => format!(
                    "too few samples ({}/{} calls)",
                    row.baseline_calls.min(row.candidate_calls),
                    row.baseline_calls.max(row.candidate_calls),
                ),
                Change::Faster => "faster".to_owned(),
            };
            let p = row
                .p_value
                .map_or_else(|| "-".to_owned(), |value| format!("{value:.3}"));
            vec![
                row.node.clone(),
                quantile_name(row.quantile),
                format!(
                    "{}/{}",
                    row.baseline_runs_ns.len(),
                    row.candidate_runs_ns.len()
                ),
                duration(row.baseline_ns),
                spread(&row.baseline_runs_ns),
                duration(row.candidate_ns),
                spread(&row.candidate_runs_ns),
                row.ratio
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}x")),
                row.effective_tolerance
                    .map_or_else(|| "-".to_owned(), percent_rounded),
                p,
                change,
            ]
        })
        .collect();
    Table {
        header: &[
            "node",
            "quantile",
            "runs",
            "baseline",
            "runs spread",
            "current",
            "runs spread",
            "ratio",
            "band",
            "p",
            "change",
        ],
        left_aligned: &[0, 1, 10],
        verdict: 10,
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

/// `0.3712` -> `37%`: a band worked out from the runs, whose decimals mean nothing.
fn percent_rounded(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// `0.05` -> `5%`.
fn percent(share: f64) -> String {
    let percent = format!("{:.3}", share * 100.0);
    format!("{}%", percent.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::test_support::{gate, node, report, scratch_dir, write_report};

    const US: u64 = 1_000;

    /// 2,000 calls spread over 100 to 299 µs, each latency scaled by `permille / 1000`.
    fn spread(permille: u64) -> Vec<(u64, u64)> {
        (100..300)
            .map(|us| (us * US * permille / 1000, 10))
            .collect()
    }

    /// One report per factor (in permille) under `dir/side/i`, with `embedding` scaled by it
    /// and `parse` not: the `--report` arguments naming them.
    fn runs(dir: &Path, side: &str, factors: &[u64]) -> Vec<String> {
        factors
            .iter()
            .enumerate()
            .flat_map(|(i, &factor)| {
                let path = write_report(
                    &dir.join(side).join(i.to_string()),
                    &report(vec![
                        node("embedding", &spread(factor), None),
                        node("parse", &spread(1000), None),
                    ]),
                );
                ["--report".to_owned(), path.display().to_string()]
            })
            .collect()
    }

    fn save_baseline(dir: &Path, factors: &[u64]) -> String {
        let baseline = dir.join("performance_baseline.json").display().to_string();
        let mut args = vec!["baseline".to_owned(), "save".to_owned()];
        args.extend(runs(dir, "before", factors));
        args.extend(["--output".to_owned(), baseline.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, out, err) = gate(&args);
        assert_eq!(status, 0, "{out}{err}");
        baseline
    }

    /// `compare` of runs scaled by `factors` against `baseline`, with `extra` arguments.
    fn compare_runs_of(
        dir: &Path,
        baseline: &str,
        factors: &[u64],
        extra: &[&str],
    ) -> (u8, String, String) {
        let mut args = vec![
            "compare".to_owned(),
            "--baseline".to_owned(),
            baseline.to_owned(),
        ];
        args.extend(runs(dir, "now", factors));
        args.extend(extra.iter().map(|&arg| arg.to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gate(&args)
    }

    fn rows<'a>(out: &'a str, node: &str) -> Vec<&'a str> {
        out.lines().filter(|line| line.starts_with(node)).collect()
    }

    /// Five runs each whose run-to-run factors interleave (up to 25% apart): not called.
    const VARIED: [u64; 5] = [800, 1150, 950, 1250, 1000];
    const VARIED_TOO: [u64; 5] = [1200, 850, 1050, 780, 1100];

    #[test]
    fn runs_that_vary_alike_are_not_a_regression() {
        let dir = scratch_dir("compare-equal");
        let baseline = save_baseline(&dir, &VARIED);
        let (status, out, err) = compare_runs_of(&dir, &baseline, &VARIED_TOO, &[]);
        assert_eq!(status, 0, "{out}{err}");
        for row in rows(&out, "embedding") {
            assert!(row.contains(" 5/5 ") && row.ends_with('~'), "{out}");
        }
        assert!(out.contains("result: pass: no node is slower"), "{out}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_run_slower_beyond_the_tolerance_is_a_regression_with_its_p_value() {
        let dir = scratch_dir("compare-slower");
        let baseline = save_baseline(&dir, &[1000, 1020, 990, 1010, 1000]);
        let output = dir.join("comparison.json");
        let (status, out, err) = compare_runs_of(
            &dir,
            &baseline,
            &[1300, 1290, 1320, 1310, 1300],
            &["--tolerance", "10%", "--output", output.to_str().unwrap()],
        );
        assert_eq!(status, 1, "{out}{err}");
        let embedding = rows(&out, "embedding");
        assert_eq!(embedding.len(), 2, "{out}");
        for line in embedding {
            assert!(line.contains("0.008") && line.ends_with("SLOWER"), "{line}");
        }
        assert!(
            out.contains("result: FAIL: slower: embedding p50, embedding p95"),
            "{out}"
        );
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["baseline_runs"], 5);
        let first = &json["comparisons"][0];
        assert_eq!(
            (first["node"].as_str(), first["change"].as_str()),
            (Some("embedding"), Some("slower"))
        );
        assert_eq!(first["candidate_runs_ns"].as_array().unwrap().len(), 5);
        assert!(first["p_beyond_tolerance"].as_f64().unwrap() < 0.025);
        assert!((first["ratio"].as_f64().unwrap() - 1.3).abs() < 0.02);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn runs_that_scatter_widely_are_judged_against_their_own_spread() {
        let dir = scratch_dir("compare-scatter");
        // Each side's runs scatter over a factor of nearly three, as a tail made of the
        // machine's wake-up delays does; the candidate's came out above the baseline's in 24 of
        // the 25 pairs. Against 10% alone that is a regression (p = 0.008 without any one run);
        // against twice the runs' spread, 56%, it is not significant.
        let baseline = save_baseline(&dir, &[600, 800, 1000, 1300, 1700]);
        let output = dir.join("comparison.json");
        let (status, out, err) = compare_runs_of(
            &dir,
            &baseline,
            &[1500, 1900, 2300, 2900, 3600],
            &["--tolerance", "10%", "--output", output.to_str().unwrap()],
        );
        assert_eq!(status, 0, "{out}{err}");
        for row in rows(&out, "embedding") {
            // 56% at p50, 55% at p95, whose figures the histogram rounds a little differently.
            assert!(
                row.contains("inconclusive: changed, but not significantly beyond the band (5"),
                "{out}"
            );
        }
        // A steady row keeps the tolerance asked for.
        for row in rows(&out, "parse") {
            assert!(row.contains(" 10% ") && row.ends_with('~'), "{out}");
        }
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
        let first = &json["comparisons"][0];
        assert!(
            (first["run_spread"].as_f64().unwrap() - 0.28).abs() < 0.01,
            "{first}"
        );
        assert!(
            (first["effective_tolerance"].as_f64().unwrap() - 0.56).abs() < 0.02,
            "{first}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn one_loaded_run_is_not_the_only_evidence_of_a_change() {
        let dir = scratch_dir("compare-loaded-run");
        // Four candidate runs just over 5% above the baseline's, two pairs the wrong way round,
        // and one run taken on a loaded machine, five times slower: 23 of 25 pairs above, p =
        // 0.016 with it; without it, 18 of 20 pairs, p = 0.032. The loaded run alone would
        // decide, so nothing is called.
        let baseline = save_baseline(&dir, &[1000, 1020, 1040, 1060, 1080]);
        let candidate = [1115, 1120, 1140, 1150, 5000];
        let (status, out, err) =
            compare_runs_of(&dir, &baseline, &candidate, &["--tolerance", "5%"]);
        assert_eq!(status, 0, "{out}{err}");
        for row in rows(&out, "embedding") {
            assert!(
                row.contains(" 5% ") && row.contains("inconclusive"),
                "{out}"
            );
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn one_run_per_side_is_inconclusive_never_a_failure() {
        let dir = scratch_dir("compare-one-run");
        let baseline = save_baseline(&dir, &[1000]);
        // Even 50% slower: one run against one cannot tell a change from a slower run.
        let (status, out, err) = compare_runs_of(&dir, &baseline, &[1500], &[]);
        assert_eq!(status, 0, "{out}{err}");
        assert!(
            out.contains(
                "inconclusive: one run per side cannot separate run-to-run variation from a \
                 change; use 5 or more runs per side"
            ),
            "{out}"
        );
        let (status, out, _) = compare_runs_of(&dir, &baseline, &[1500], &["--require-conclusive"]);
        assert_eq!(status, 2, "{out}");
        assert!(out.contains("result: ERROR: inconclusive"), "{out}");
        // Four runs a side cannot reach 5% either: with one run left out, 3 against 4 wholly
        // apart is 1 of 35 orders, p = 0.057 two-sided.
        let baseline = save_baseline(&dir, &[1000, 1000, 1000, 1000]);
        let (status, out, _) = compare_runs_of(&dir, &baseline, &[1500, 1500, 1500, 1500], &[]);
        assert_eq!(status, 0, "{out}");
        assert!(
            out.contains(
                "4 against 4 runs cannot be significant at 5% with any one run left out; use 5 \
                 or more runs"
            ),
            "{out}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_baseline_or_report_is_an_error_and_a_new_node_is_not_judged() {
        let dir = scratch_dir("compare-missing");
        let baseline = save_baseline(&dir, &[1000]);
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
            &dir.join("before/0/report.json").to_string_lossy(),
        ]);
        assert_eq!(status, 2);
        assert!(
            err.contains("expected schema `instrument.baseline/1`, found `instrument.report/1`"),
            "{err}"
        );

        let now = write_report(
            &dir.join("new"),
            &report(vec![
                node("embedding", &spread(1000), None),
                node("brand_new", &spread(3000), None),
            ]),
        );
        let (status, out, _) = gate(&[
            "compare",
            "--baseline",
            &baseline,
            "--report",
            now.to_str().unwrap(),
            "--quantile",
            "p95",
        ]);
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
    #[cfg(unix)] // the runs are shell commands
    fn interleave_runs_both_commands_in_turn() {
        let dir = scratch_dir("compare-interleave");
        let fast = runs(&dir, "fast", &[1000])[1].clone();
        let slow = runs(&dir, "slow", &[1400])[1].clone();
        let copy = |path: &str| format!("cp '{path}' \"$INSTRUMENT_REPORT_DIR/report.json\"");
        let (copy_fast, copy_slow) = (copy(&fast), copy(&slow));
        let (status, out, err) = gate(&[
            "compare",
            "--interleave",
            "5",
            "--tolerance",
            "10%",
            "--",
            "sh",
            "-c",
            &copy_fast,
            "--",
            "sh",
            "-c",
            &copy_slow,
        ]);
        assert_eq!(status, 1, "{out}{err}");
        let order: Vec<&str> = err
            .lines()
            .filter_map(|line| line.strip_prefix("instrument-gate: "))
            .map(|line| line.split(" run ").next().unwrap())
            .collect();
        assert_eq!(
            order[..4],
            ["baseline", "candidate", "baseline", "candidate"],
            "{err}"
        );
        assert!(
            rows(&out, "embedding")
                .iter()
                .all(|row| row.ends_with("SLOWER")),
            "{out}"
        );
        assert!(
            rows(&out, "parse").iter().all(|row| row.ends_with('~')),
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
