//! `check`: the report's nodes against their budgets -> a table, `ci_performance_report.json`
//! and an exit status.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use instrument_runtime::{
    BudgetReport, NodeSnapshot, VerdictStatus,
    budgets::{
        BudgetSource, BudgetVerdict, BudgetsFile, BudgetsFileDiagnostic, CodeSite, NodeBudgetInput,
        Quantile, ResolvedBudget, Violation,
    },
    check_budgets,
    format::{TableStyle, format_duration, printable},
    report::Report,
};
use serde::Serialize;

use crate::across::Spread;
use crate::args::CheckArgs;
use crate::table::{Table, signed_percent};
use crate::{CI_REPORT_FILE, CI_REPORT_SCHEMA, Console, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

/// Runs `check` and returns the exit status.
pub(crate) fn check(args: &CheckArgs, console: &mut Console<'_>) -> u8 {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| beside(&args.report, CI_REPORT_FILE));
    let mut ci = CiReport::new(args);
    let status = match judge_report(args, console, &mut ci) {
        Ok(status) => status,
        Err(failure) => {
            for line in &failure {
                console.error(line);
            }
            ci.fail_with(failure.join("\n"));
            EXIT_ERROR
        }
    };
    match crate::artifact::write_json(&output, &ci) {
        Ok(()) => {
            console.print(&format!("ci report: {}\n", output.display()));
            status
        }
        Err(message) => {
            console.error(&message);
            EXIT_ERROR
        }
    }
}

/// A file named `name` in the report's directory.
fn beside(report: &Path, name: &str) -> PathBuf {
    report.with_file_name(name)
}

/// Why the gate could not judge: one message per line (every diagnostic of a budgets file).
type Failure = Vec<String>;

/// A budgeted node, its verdict, where its budget came from, and each check's spread over the
/// runs (empty for one run).
type Judged<'a> = (&'a NodeSnapshot, BudgetVerdict, BudgetSource, Vec<Spread>);

fn judge_report(
    args: &CheckArgs,
    console: &mut Console<'_>,
    ci: &mut CiReport,
) -> Result<u8, Failure> {
    let (mut report, runs) = match &args.iterations {
        Some(iterations) => {
            let reports = crate::iterations::run(iterations, console).map_err(|e| vec![e])?;
            let merged = crate::merge::merge_reports(&reports).map_err(|e| vec![e])?;
            crate::artifact::write_json(&args.report, &merged).map_err(|e| vec![e])?;
            console.note(&format!(
                "merged {} runs into {}",
                reports.len(),
                args.report.display()
            ));
            (merged, reports)
        }
        None => (
            crate::artifact::load_report(&args.report).map_err(|e| vec![e])?,
            Vec::new(),
        ),
    };
    for conflict in &report.snapshot.conflicts {
        console.warning(&format!(
            "node name `{}` is used by {} functions, judged apart: {}",
            conflict.name,
            conflict.sites.len(),
            conflict.sites.join(", ")
        ));
    }
    let resolved = resolve_budgets(args, &report, console, ci)?;
    let sources = apply_budgets(&mut report, &resolved, args.min_samples);
    let verdicts: Vec<Judged> = report
        .snapshot
        .nodes
        .iter()
        .zip(sources)
        .filter_map(|(node, source)| {
            let mut verdict = instrument_runtime::budgets::judge(
                node.budget.as_ref()?,
                node.calls,
                node.latency.as_ref(),
            );
            // Several runs: the rule across runs decides (see `across`), one run: its figures.
            let spreads = if runs.len() > 1 {
                crate::across::judge(node, &mut verdict, &runs)
            } else {
                Vec::new()
            };
            Some((node, verdict, source?, spreads))
        })
        .collect();
    let budgets = if runs.len() > 1 {
        instrument_runtime::BudgetReport::of_verdicts(
            verdicts
                .iter()
                .map(|(node, verdict, ..)| (node.name.as_str(), verdict)),
        )
    } else {
        check_budgets(&report.snapshot)
    };
    console.print(&render_table(&verdicts, console.style));
    let (status, result) = decide(args, &budgets);
    console.print(&format!(
        "components tested: {}, passed: {}, failed: {}, not exercised: {}\n{result}\n",
        budgets.judged,
        budgets.passed,
        budgets.failed,
        budgets.not_exercised.len()
    ));
    ci.judged(&budgets, &verdicts, status, result);
    Ok(status)
}

/// Each budgeted node's budget and where it came from: the code's, or the budgets file merged
/// with them. Warnings are printed; errors stop the gate.
fn resolve_budgets(
    args: &CheckArgs,
    report: &Report,
    console: &mut Console<'_>,
    ci: &mut CiReport,
) -> Result<Vec<ResolvedBudget>, Failure> {
    let inputs: Vec<NodeBudgetInput> = report
        .snapshot
        .nodes
        .iter()
        .map(|node| NodeBudgetInput {
            name: node.name.clone(),
            budget: node.budget,
            site: site_of(node),
        })
        .collect();
    let Some(path) = &args.budgets else {
        return Ok(inputs
            .into_iter()
            .filter_map(|input| {
                Some(ResolvedBudget {
                    node: input.name,
                    budget: input.budget?,
                    source: BudgetSource::Code(input.site),
                })
            })
            .collect());
    };
    let file = BudgetsFile::load(path).map_err(|errors| lines(&errors.diagnostics))?;
    let resolution = file.resolve(&inputs, args.strict);
    for warning in &resolution.warnings {
        console.warning(&warning.to_string());
    }
    ci.warnings = lines(&resolution.warnings);
    if !resolution.errors.is_empty() {
        return Err(lines(&resolution.errors));
    }
    Ok(resolution.budgets)
}

fn lines(diagnostics: &[BudgetsFileDiagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

fn site_of(node: &NodeSnapshot) -> CodeSite {
    CodeSite {
        file: node.file.clone(),
        line: node.line,
    }
}

/// Gives every node its resolved budget (or none), with `min_samples` overridden when asked;
/// returns each node's budget source, in node order.
fn apply_budgets(
    report: &mut Report,
    resolved: &[ResolvedBudget],
    min_samples: Option<u64>,
) -> Vec<Option<BudgetSource>> {
    // By name, so a report of many nodes is matched in linear time.
    let mut by_name: HashMap<&str, Vec<&ResolvedBudget>> = HashMap::new();
    for budget in resolved {
        by_name
            .entry(budget.node.as_str())
            .or_default()
            .push(budget);
    }
    report
        .snapshot
        .nodes
        .iter_mut()
        .map(|node| {
            let site = site_of(node);
            // Two functions may share a name: each keeps the budget resolved for its own site.
            let candidates = by_name
                .get(node.name.as_str())
                .map_or(&[][..], Vec::as_slice);
            let found = candidates
                .iter()
                .copied()
                .find(|resolved| match &resolved.source {
                    BudgetSource::Code(code) | BudgetSource::Merged { code, .. } => *code == site,
                    BudgetSource::File(_) => true,
                });
            node.budget = found.map(|resolved| {
                let mut budget = resolved.budget;
                budget.min_samples = min_samples.unwrap_or(budget.min_samples);
                budget
            });
            found.map(|resolved| resolved.source.clone())
        })
        .collect()
}

/// The exit status and the line that says why.
fn decide(args: &CheckArgs, budgets: &BudgetReport) -> (u8, String) {
    let names = |names: Vec<&str>| {
        let mut names = names;
        names.dedup();
        let shown: Vec<_> = names.into_iter().map(printable).collect();
        shown.join(", ")
    };
    if budgets.failed > 0 {
        let over = names(budgets.violations.iter().map(|v| v.node.as_str()).collect());
        return (EXIT_FAIL, format!("result: FAIL: over budget: {over}"));
    }
    if args.require_all && !budgets.not_exercised.is_empty() {
        let idle = names(
            budgets
                .not_exercised
                .iter()
                .map(|n| n.node.as_str())
                .collect(),
        );
        return (
            EXIT_FAIL,
            format!("result: FAIL: not exercised, and `--require-all` is set: {idle}"),
        );
    }
    if budgets.judged == 0 && !args.allow_empty {
        return (
            EXIT_ERROR,
            "result: ERROR: no budgeted node had enough calls to be judged; pass \
             `--allow-empty` to accept that"
                .to_owned(),
        );
    }
    (EXIT_PASS, "result: pass".to_owned())
}

fn render_table(verdicts: &[Judged<'_>], style: TableStyle) -> String {
    let duration = |ns| format_duration(ns, style);
    let several = verdicts.iter().any(|(.., spreads)| !spreads.is_empty());
    let mut rows = Vec::new();
    for (node, verdict, _, spreads) in verdicts {
        if verdict.status == VerdictStatus::NotExercised {
            let mut row = vec![node.name.clone(), node.calls.to_string()];
            row.extend(std::iter::repeat_n(
                "-".to_owned(),
                if several { 6 } else { 4 },
            ));
            row.push(format!(
                "not exercised ({}/{} calls)",
                verdict.calls, verdict.min_samples
            ));
            rows.push(row);
        }
        for (at, check) in verdict.checks.iter().enumerate() {
            let mut row = vec![
                node.name.clone(),
                node.calls.to_string(),
                check.quantile.to_string(),
                duration(check.observed_ns),
            ];
            if several {
                let spread = spreads.get(at);
                row.push(
                    spread
                        .and_then(|s| Some((s.low()?, s.high()?)))
                        .map_or_else(
                            || "-".to_owned(),
                            |(low, high)| format!("{}..{}", duration(low), duration(high)),
                        ),
                );
                row.push(spread.map_or_else(
                    || "-".to_owned(),
                    |s| {
                        format!(
                            "{}/{}{}",
                            s.failed,
                            s.runs,
                            if s.rule == "merged" { " (merged)" } else { "" }
                        )
                    },
                ));
            }
            row.push(duration(check.allowed_ns));
            row.push(signed_percent(check.margin_percent()));
            row.push(if check.passed { "pass" } else { "FAIL" }.to_owned());
            rows.push(row);
        }
    }
    let (header, verdict): (&'static [&'static str], usize) = if several {
        (
            &[
                "node",
                "calls",
                "statistic",
                "observed",
                "runs spread",
                "runs over",
                "allowed",
                "margin",
                "verdict",
            ],
            8,
        )
    } else {
        (
            &[
                "node",
                "calls",
                "statistic",
                "observed",
                "allowed",
                "margin",
                "verdict",
            ],
            6,
        )
    };
    let left_aligned: &'static [usize] = if several { &[0, 2, 8] } else { &[0, 2, 6] };
    Table {
        header,
        left_aligned,
        verdict,
        rows,
    }
    .render(style)
}

/// The content of `ci_performance_report.json`.
#[derive(Debug, Serialize)]
struct CiReport {
    schema: &'static str,
    /// `pass`, `fail` or `error`.
    status: &'static str,
    exit_code: u8,
    /// Why the gate could not judge, for `error`.
    error: Option<String>,
    /// The line the gate ended with.
    result: String,
    report: String,
    budgets_file: Option<String>,
    options: Options,
    summary: Summary,
    nodes: Vec<NodeVerdict>,
    violations: Vec<Violation>,
    /// The budgets file's warnings.
    warnings: Vec<String>,
    generated_at_unix_ms: u64,
}

#[derive(Debug, Serialize)]
struct Options {
    strict: bool,
    require_all: bool,
    allow_empty: bool,
    min_samples: Option<u64>,
    iterations: Option<u32>,
    command: Option<Vec<String>>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    tested: usize,
    passed: usize,
    failed: usize,
    not_exercised: usize,
}

#[derive(Debug, Serialize)]
struct NodeVerdict {
    node: String,
    status: VerdictStatus,
    calls: u64,
    min_samples: u64,
    tolerance: f64,
    source: BudgetSource,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct Check {
    quantile: Quantile,
    observed_ns: u64,
    budget_ns: u64,
    allowed_ns: u64,
    /// Headroom under the allowance as a percentage of it; negative when over.
    margin_percent: f64,
    passed: bool,
    /// With `--iterations` above 1: the statistic in each run and how many were over.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<Spread>,
}

impl CiReport {
    /// An error report, until the gate has judged.
    fn new(args: &CheckArgs) -> Self {
        Self {
            schema: CI_REPORT_SCHEMA,
            status: "error",
            exit_code: EXIT_ERROR,
            error: None,
            result: String::new(),
            report: args.report.display().to_string(),
            budgets_file: args.budgets.as_ref().map(|path| path.display().to_string()),
            options: Options {
                strict: args.strict,
                require_all: args.require_all,
                allow_empty: args.allow_empty,
                min_samples: args.min_samples,
                iterations: args.iterations.as_ref().map(|run| run.count),
                command: args.iterations.as_ref().map(|run| run.command.clone()),
            },
            summary: Summary::default(),
            nodes: Vec::new(),
            violations: Vec::new(),
            warnings: Vec::new(),
            generated_at_unix_ms: crate::artifact::unix_ms_now(),
        }
    }

    fn fail_with(&mut self, error: String) {
        self.result = format!(
            "result: ERROR: {}",
            error.lines().next().unwrap_or_default()
        );
        self.error = Some(error);
    }

    fn judged(
        &mut self,
        budgets: &BudgetReport,
        verdicts: &[Judged<'_>],
        exit_code: u8,
        result: String,
    ) {
        self.status = match exit_code {
            EXIT_PASS => "pass",
            EXIT_FAIL => "fail",
            _ => "error",
        };
        self.exit_code = exit_code;
        self.result = result;
        self.summary = Summary {
            tested: budgets.judged,
            passed: budgets.passed,
            failed: budgets.failed,
            not_exercised: budgets.not_exercised.len(),
        };
        self.violations.clone_from(&budgets.violations);
        self.nodes = verdicts
            .iter()
            .map(|(node, verdict, source, spreads)| NodeVerdict {
                node: node.name.clone(),
                status: verdict.status,
                calls: verdict.calls,
                min_samples: verdict.min_samples,
                tolerance: verdict.tolerance,
                source: source.clone(),
                checks: verdict
                    .checks
                    .iter()
                    .enumerate()
                    .map(|(at, check)| Check {
                        quantile: check.quantile,
                        observed_ns: check.observed_ns,
                        budget_ns: check.budget_ns,
                        allowed_ns: check.allowed_ns,
                        margin_percent: check.margin_percent(),
                        passed: check.passed,
                        runs: spreads.get(at).cloned(),
                    })
                    .collect(),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use instrument_runtime::Budget;
    use serde_json::Value;

    use crate::test_support::{gate, node, report, scratch_dir, write_report};

    const MS: u64 = 1_000_000;

    fn budget(p95_ms: u64) -> Budget {
        Budget {
            p95_ns: Some(p95_ms * MS),
            ..Budget::DEFAULT
        }
    }

    fn ci_report(dir: &std::path::Path) -> Value {
        serde_json::from_slice(&fs::read(dir.join("ci_performance_report.json")).unwrap()).unwrap()
    }

    #[test]
    fn all_budgets_holding_pass_and_the_ci_report_says_why() {
        let dir = scratch_dir("check-pass");
        let path = write_report(
            &dir,
            &report(vec![
                node("embedding", &[(40 * MS, 150)], Some(budget(50))),
                node("sanitization", &[(MS, 150)], Some(budget(2))),
                node("rare", &[(MS, 3)], Some(budget(2))),
                node("free", &[(MS, 3)], None),
            ]),
        );
        let (status, out, err) = gate(&["check", "--report", path.to_str().unwrap()]);
        assert_eq!(status, 0, "{out}{err}");
        assert_eq!(err, "");
        let expected_table = "\
node          calls  statistic  observed  allowed  margin  verdict
------------  -----  ---------  --------  -------  ------  ---------------------------
embedding       150  p95          40.1ms   55.0ms  +27.1%  pass
rare              3  -                 -        -       -  not exercised (3/100 calls)
sanitization    150  p95          1.00ms   2.20ms  +54.4%  pass
components tested: 2, passed: 2, failed: 0, not exercised: 1
result: pass
";
        assert!(out.starts_with(expected_table), "{out}");
        assert!(out.is_ascii());
        let ci = ci_report(&dir);
        assert_eq!(ci["status"], "pass");
        assert_eq!(ci["exit_code"], 0);
        assert_eq!(ci["summary"]["tested"], 2);
        assert_eq!(ci["summary"]["not_exercised"], 1);
        assert_eq!(ci["nodes"][0]["source"]["from"], "code");
        assert_eq!(ci["nodes"][0]["checks"][0]["allowed_ns"], 55 * MS);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_budget_fails_and_require_all_fails_on_too_few_calls() {
        let dir = scratch_dir("check-fail");
        let path = write_report(
            &dir,
            &report(vec![
                node("embedding", &[(70 * MS, 150)], Some(budget(50))),
                node("rare", &[(MS, 3)], Some(budget(2))),
            ]),
        );
        let path = path.to_str().unwrap();
        let (status, out, _) = gate(&["check", "--report", path]);
        assert_eq!(status, 1, "{out}");
        assert!(
            out.contains("embedding    150  p95          70.3ms   55.0ms  -27.7%  FAIL"),
            "{out}"
        );
        assert!(
            out.contains("result: FAIL: over budget: embedding"),
            "{out}"
        );
        assert_eq!(ci_report(&dir)["violations"][0]["node"], "embedding");

        let passing = write_report(
            &dir.join("passing"),
            &report(vec![
                node("embedding", &[(40 * MS, 150)], Some(budget(50))),
                node("rare", &[(MS, 3)], Some(budget(2))),
            ]),
        );
        let passing = passing.to_str().unwrap();
        assert_eq!(gate(&["check", "--report", passing]).0, 0);
        let (status, out, _) = gate(&["check", "--report", passing, "--require-all"]);
        assert_eq!(status, 1);
        assert!(out.contains("`--require-all` is set: rare"), "{out}");
        assert_eq!(
            gate(&[
                "check",
                "--report",
                passing,
                "--require-all",
                "--min-samples",
                "3"
            ])
            .0,
            0
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn nothing_judged_is_not_a_pass_unless_allowed() {
        let dir = scratch_dir("check-empty");
        let path = write_report(
            &dir,
            &report(vec![node("rare", &[(MS, 3)], Some(budget(2)))]),
        );
        let path = path.to_str().unwrap();
        let (status, out, _) = gate(&["check", "--report", path]);
        assert_eq!(status, 2);
        assert!(
            out.contains("result: ERROR: no budgeted node had enough calls"),
            "{out}"
        );
        assert_eq!(ci_report(&dir)["status"], "error");
        assert_eq!(gate(&["check", "--report", path, "--allow-empty"]).0, 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_report_is_an_error_and_replaces_a_stale_ci_report() {
        let dir = scratch_dir("check-missing");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("ci_performance_report.json"),
            r#"{"status": "pass"}"#,
        )
        .unwrap();
        let path = dir.join("report.json");
        let (status, _, err) = gate(&["check", "--report", path.to_str().unwrap()]);
        assert_eq!(status, 2);
        assert!(
            err.starts_with(&format!(
                "instrument-gate: error: cannot read the report `{}`",
                path.display()
            )),
            "{err}"
        );
        let ci = ci_report(&dir);
        assert_eq!(
            (ci["status"].as_str(), ci["exit_code"].as_u64()),
            (Some("error"), Some(2))
        );
        assert!(
            ci["error"]
                .as_str()
                .unwrap()
                .contains("cannot read the report")
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_budgets_file_overrides_the_code_and_its_errors_stop_the_gate() {
        let dir = scratch_dir("check-budgets");
        let path = write_report(
            &dir,
            &report(vec![node("embedding", &[(40 * MS, 150)], Some(budget(50)))]),
        );
        let path = path.to_str().unwrap();
        let budgets = dir.join("performance_budgets.yaml");
        fs::write(
            &budgets,
            "tolerance: 0%\nnodes:\n  embedding: { p95: 30ms }\n  embeding: { p95: 1ms }\n",
        )
        .unwrap();
        let budgets = budgets.to_str().unwrap();
        let (status, out, err) = gate(&["check", "--report", path, "--budgets", budgets]);
        assert_eq!(status, 1, "{out}");
        assert!(out.contains("40.1ms   30.0ms"), "{out}");
        assert!(
            err.contains(&format!("warning: {budgets}:4:3: nodes.embeding: ")),
            "{err}"
        );
        let ci = ci_report(&dir);
        assert_eq!(ci["nodes"][0]["source"]["from"], "merged");
        assert_eq!(ci["warnings"].as_array().unwrap().len(), 1);

        let (status, _, err) = gate(&["check", "--report", path, "--budgets", budgets, "--strict"]);
        assert_eq!(status, 2);
        assert!(
            err.contains(&format!("error: {budgets}:4:3: nodes.embeding: ")),
            "{err}"
        );

        fs::write(
            dir.join("performance_budgets.yaml"),
            "nodes:\n  embedding: { p95: fifty, p99: 1 }\n",
        )
        .unwrap();
        let (status, _, err) = gate(&["check", "--report", path, "--budgets", budgets]);
        assert_eq!(status, 2);
        let errors: Vec<&str> = err.lines().collect();
        assert_eq!(errors.len(), 2, "every diagnostic, one per line: {err}");
        assert!(
            errors[0].starts_with(&format!(
                "instrument-gate: error: {budgets}:2:21: nodes.embedding.p95: "
            )),
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(unix)] // the runs are shell commands
    fn iterations_merge_every_run_before_judging() {
        let dir = scratch_dir("check-iterations");
        // Each run alone has 60 calls, under the 100 needed; three together are judged.
        let run = write_report(
            &dir.join("one-run"),
            &report(vec![node("embedding", &[(40 * MS, 60)], Some(budget(50)))]),
        );
        let merged = dir.join("merged").join("report.json");
        let copy = format!(
            "cp '{}' \"$INSTRUMENT_REPORT_DIR/report.json\"",
            run.display()
        );
        let (status, out, err) = gate(&[
            "check",
            "--report",
            merged.to_str().unwrap(),
            "--iterations",
            "3",
            "--",
            "sh",
            "-c",
            &copy,
        ]);
        assert_eq!(status, 0, "{out}{err}");
        assert!(out.contains("embedding    180  p95"), "{out}");
        assert!(
            dir.join("merged")
                .join("ci_performance_report.json")
                .exists()
        );
        let merged: instrument_runtime::report::Report =
            serde_json::from_slice(&fs::read(&merged).unwrap()).unwrap();
        assert_eq!(merged.snapshot.nodes[0].calls, 180);

        let (status, _, err) = gate(&[
            "check",
            "--report",
            dir.join("failed").join("report.json").to_str().unwrap(),
            "--iterations",
            "2",
            "--",
            "sh",
            "-c",
            "echo broken >&2; exit 3",
        ]);
        assert_eq!(status, 2);
        assert!(
            err.contains("run 1 of 2: `sh -c 'echo broken >&2; exit 3'` exited with code 3"),
            "{err}"
        );
        assert!(err.contains("broken"), "{err}");
        let (status, _, err) = gate(&[
            "check",
            "--report",
            dir.join("silent").join("report.json").to_str().unwrap(),
            "--iterations",
            "1",
            "--",
            "true",
        ]);
        assert_eq!(status, 2);
        assert!(err.contains("cannot read the report"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
