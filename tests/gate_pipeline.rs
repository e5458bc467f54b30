//! The performance gate on the pipeline example, as CI runs it: the example on its simulated
//! clock (each node moves a hand-driven `ManualClock` by a cost drawn from the seed), then
//! `instrument-gate` in-process with the repository's `performance_budgets.yaml`. A node made
//! slower on that clock breaks its budget; no test sleeps or depends on the machine's speed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use instrument_runtime::report::Report;

/// Documents per run: about 290 calls per node, well over the 100 a budget needs.
const DOCUMENTS: &str = "300";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn budgets_file() -> String {
    repository()
        .join("performance_budgets.yaml")
        .display()
        .to_string()
}

/// The example on its simulated clock (see [`common::pipeline_command`]), with `extra` flags.
fn pipeline_command(extra: &[&str]) -> Command {
    seeded_command("7", extra)
}

/// [`pipeline_command`] with the documents and costs drawn from `seed`.
fn seeded_command(seed: &str, extra: &[&str]) -> Command {
    let args = [
        "--simulated-latency",
        "--documents",
        DOCUMENTS,
        "--seed",
        seed,
    ];
    let args: Vec<&str> = args.iter().chain(extra).copied().collect();
    common::pipeline_command(&args)
}

/// Runs the simulated pipeline once per process for each set of flags; returns its report.
fn simulated_report(name: &str, extra: &[&str]) -> PathBuf {
    seeded_report(name, "7", extra)
}

/// Runs the simulated pipeline with `seed` and `extra` flags; returns its report.
fn seeded_report(name: &str, seed: &str, extra: &[&str]) -> PathBuf {
    let dir = common::scratch_dir(name);
    let output = seeded_command(seed, extra)
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .output()
        .expect("cargo runs the example");
    assert!(output.status.success(), "{output:?}");
    dir.join("report.json")
}

fn normal_report() -> &'static Path {
    static REPORT: OnceLock<PathBuf> = OnceLock::new();
    REPORT.get_or_init(|| simulated_report("normal", &[]))
}

fn slow_embedding_report() -> &'static Path {
    static REPORT: OnceLock<PathBuf> = OnceLock::new();
    REPORT.get_or_init(|| {
        simulated_report(
            "slow-embedding",
            &["--slow-node", "embedding", "--slow-factor", "3"],
        )
    })
}

/// Runs the gate in-process: exit status, stdout, stderr.
fn gate(args: &[&str]) -> (u8, String, String) {
    let args: Vec<String> = args.iter().map(|&arg| arg.to_owned()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = instrument_gate::run(&args, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary directory")
}

#[test]
fn the_simulated_pipeline_holds_the_repository_budgets() {
    let report = normal_report();
    let budgets = budgets_file();
    let (status, out, err) = gate(&["check", "--report", path(report), "--budgets", &budgets]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains("components tested: 11, passed: 11, failed: 0, not exercised: 0"),
        "{out}"
    );
    assert!(out.is_ascii() && !out.contains("FAIL"), "{out}");

    let ci = report.with_file_name("ci_performance_report.json");
    let ci: serde_json::Value = serde_json::from_slice(&std::fs::read(ci).unwrap()).unwrap();
    assert_eq!(
        (ci["status"].as_str(), ci["exit_code"].as_u64()),
        (Some("pass"), Some(0))
    );
    let nodes = ci["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 11);
    for node in nodes {
        assert_eq!(node["source"]["from"], "merged", "{node}");
        assert_eq!(node["source"]["file"]["file"], budgets.as_str(), "{node}");
    }
}

#[test]
fn a_node_slowed_on_the_simulated_clock_breaks_its_budget_and_the_gate() {
    let report = slow_embedding_report();
    let ci = report.with_file_name("ci_performance_report.json");
    let (status, out, err) = gate(&[
        "check",
        "--report",
        path(report),
        "--budgets",
        &budgets_file(),
    ]);
    assert_eq!(status, 1, "{out}{err}");
    let failing: Vec<&str> = out.lines().filter(|line| line.ends_with("FAIL")).collect();
    assert!(!failing.is_empty(), "{out}");
    for line in failing {
        assert!(
            line.starts_with("embedding "),
            "only the slowed node fails: {out}"
        );
    }
    assert!(
        out.contains("components tested: 11, passed: 10, failed: 1"),
        "{out}"
    );
    assert!(
        out.contains("result: FAIL: over budget: embedding"),
        "{out}"
    );
    let ci: serde_json::Value = serde_json::from_slice(&std::fs::read(ci).unwrap()).unwrap();
    assert_eq!(
        (ci["status"].as_str(), ci["exit_code"].as_u64()),
        (Some("fail"), Some(1))
    );
    assert_eq!(ci["violations"][0]["node"], "embedding");
}

#[test]
fn a_missing_report_fails_the_gate_with_status_2() {
    let dir = common::scratch_dir("missing");
    let report = dir.join("report.json");
    let (status, out, err) = gate(&[
        "check",
        "--report",
        path(&report),
        "--budgets",
        &budgets_file(),
    ]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains(&format!("cannot read the report `{}`", report.display())),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_budgets_file_with_an_error_fails_the_gate_naming_the_place() {
    let dir = common::scratch_dir("bad-budgets");
    std::fs::create_dir_all(&dir).unwrap();
    let budgets = dir.join("performance_budgets.yaml");
    std::fs::write(
        &budgets,
        "tolerance: 10%\nnodes:\n  embedding: { p95: fifty }\n",
    )
    .unwrap();
    let (status, out, err) = gate(&[
        "check",
        "--report",
        path(normal_report()),
        "--budgets",
        path(&budgets),
        "--output",
        path(&dir.join("ci_performance_report.json")),
    ]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{}:3:21: nodes.embedding.p95: expected a duration like `50ms`, found `fifty`",
            budgets.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Five runs with these seeds, each a run of its own as CI would take them: `--report` flags.
fn five_runs(name: &str, seeds: [&str; 5], extra: &[&str]) -> Vec<String> {
    seeds
        .iter()
        .flat_map(|seed| {
            let report = seeded_report(&format!("{name}-{seed}"), seed, extra);
            ["--report".to_owned(), path(&report).to_owned()]
        })
        .collect()
}

fn gate_owned(args: &[String]) -> (u8, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gate(&args)
}

#[test]
fn the_slowed_node_is_a_regression_against_the_baseline_and_nothing_else_is() {
    let dir = common::scratch_dir("baseline");
    let baseline = path(&dir.join("performance_baseline.json")).to_owned();
    let mut save = vec!["baseline".to_owned(), "save".to_owned()];
    save.extend(five_runs("baseline", ["1", "2", "3", "4", "5"], &[]));
    save.extend(["--output".to_owned(), baseline.clone()]);
    let (status, out, err) = gate_owned(&save);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("from 5 runs"), "{out}");

    let compare = |runs: Vec<String>| {
        let mut args = vec![
            "compare".to_owned(),
            "--baseline".to_owned(),
            baseline.clone(),
        ];
        args.extend(runs);
        gate_owned(&args)
    };
    let seeds = ["6", "7", "8", "9", "10"];
    // Other documents, the same code: never slower.
    let (status, out, err) = compare(five_runs("same", seeds, &[]));
    assert_eq!(status, 0, "{out}{err}");
    assert!(!out.contains("SLOWER"), "{out}");

    let slow = ["--slow-node", "embedding", "--slow-factor", "3"];
    let (status, out, err) = compare(five_runs("slow", seeds, &slow));
    assert_eq!(status, 1, "{out}{err}");
    for line in out.lines().filter(|line| line.contains(" 5/5 ")) {
        if line.starts_with("embedding ") {
            assert!(line.ends_with("SLOWER"), "{line}");
            let ratio: f64 = line
                .split_whitespace()
                .find_map(|word| word.strip_suffix('x')?.parse().ok())
                .unwrap();
            // Each quantile is within 1/128 of its exact value, so their ratio within 1.6%.
            assert!((ratio - 3.0).abs() < 0.05, "{line}");
        } else {
            assert!(!line.ends_with("SLOWER"), "{line}");
        }
    }
    assert!(
        out.contains("result: FAIL: slower: embedding p50, embedding p95"),
        "{out}"
    );

    // One run against the baseline cannot tell a slower run from a slower build: reported, and
    // not a failure.
    let one = vec![
        "--report".to_owned(),
        path(slow_embedding_report()).to_owned(),
    ];
    let (status, out, err) = compare(one);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("inconclusive: 5 against 1 runs"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn iterations_run_the_pipeline_and_judge_the_merged_report() {
    let dir = common::scratch_dir("iterations");
    let merged = dir.join("report.json");
    let command = pipeline_command(&[]);
    let mut args = vec![
        "check".to_owned(),
        "--report".to_owned(),
        path(&merged).to_owned(),
        "--budgets".to_owned(),
        budgets_file(),
        "--iterations".to_owned(),
        "2".to_owned(),
        "--".to_owned(),
        command.get_program().to_str().unwrap().to_owned(),
    ];
    args.extend(
        command
            .get_args()
            .map(|arg| arg.to_str().unwrap().to_owned()),
    );
    // The runs start in this test's directory, the workspace root, where cargo finds the example.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = instrument_gate::run(&args, &mut out, &mut err);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(status, 0, "{out}{err}");
    let report: Report = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    let sanitization = report.snapshot.node("sanitization").unwrap();
    assert_eq!(sanitization.calls, 2 * DOCUMENTS.parse::<u64>().unwrap());
    assert!(dir.join("ci_performance_report.json").exists());
    std::fs::remove_dir_all(dir).unwrap();
}
