//! The gate's JSON files checked against the shipped JSON Schemas, each written from real runs
//! of the calibration fixture: the baseline with its runs, `compare --output` with every run's
//! figure and p-values, and `ci_performance_report.json` with each check's spread over runs.

mod common;

use std::path::Path;

use common::schema;
use serde_json::Value;

const BASELINE_SCHEMA: &str = include_str!("../schemas/performance_baseline.schema.json");
const COMPARE_SCHEMA: &str = include_str!("../schemas/compare_report.schema.json");
const CI_REPORT_SCHEMA: &str = include_str!("../schemas/ci_performance_report.schema.json");

/// The fixture, short: three runs of 120 calls each take well under a second.
fn fixture() -> Vec<String> {
    [
        env!("CARGO_BIN_EXE_calibration-fixture"),
        "--calls",
        "120",
        "--work",
        "2000",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn args(words: &[&str], command: &[String]) -> Vec<String> {
    let mut args: Vec<String> = words.iter().map(|&word| word.to_owned()).collect();
    args.push("--".to_owned());
    args.extend_from_slice(command);
    args
}

fn assert_valid(schema: &str, path: &Path) -> Value {
    let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let violations = schema::violations(&serde_json::from_str(schema).unwrap(), &value);
    assert!(violations.is_empty(), "{violations:#?}\n{value:#}");
    value
}

#[test]
fn the_baseline_the_comparison_and_the_ci_report_match_their_schemas() {
    let dir = common::scratch_dir("gate-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let (baseline, comparison) = (path("baseline.json"), path("comparison.json"));

    let (status, out, err) = common::gate(&args(
        &[
            "baseline",
            "save",
            "--iterations",
            "3",
            "--output",
            &baseline,
        ],
        &fixture(),
    ));
    assert_eq!(status, 0, "{out}{err}");
    let saved = assert_valid(BASELINE_SCHEMA, Path::new(&baseline));
    assert_eq!(saved["runs"].as_array().unwrap().len(), 3);

    let (status, out, err) = common::gate(&args(
        &[
            "compare",
            "--baseline",
            &baseline,
            "--iterations",
            "2",
            "--output",
            &comparison,
        ],
        &fixture(),
    ));
    assert!(status < 2, "{out}{err}");
    let compared = assert_valid(COMPARE_SCHEMA, Path::new(&comparison));
    assert_eq!(
        compared["comparisons"][0]["baseline_runs_ns"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        compared["comparisons"][0]["candidate_runs_ns"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let budgets = dir.join("budgets.yaml");
    std::fs::write(
        &budgets,
        "nodes:\n  compute: { p95: 1s }\n  wait: { p50: 1s }\n",
    )
    .unwrap();
    let report = path("merged/report.json");
    let budgets = budgets.display().to_string();
    let (status, out, err) = common::gate(&args(
        &[
            "check",
            "--report",
            &report,
            "--budgets",
            &budgets,
            "--iterations",
            "3",
        ],
        &fixture(),
    ));
    assert_eq!(status, 0, "{out}{err}");
    let ci = assert_valid(
        CI_REPORT_SCHEMA,
        &dir.join("merged/ci_performance_report.json"),
    );
    let runs = &ci["nodes"][0]["checks"][0]["runs"];
    assert_eq!(
        (runs["runs"].as_u64(), runs["rule"].as_str()),
        (Some(3), Some("majority"))
    );

    // A failed gate's report matches too.
    let (status, ..) =
        common::gate(&["check".to_owned(), "--report".to_owned(), path("none.json")]);
    assert_eq!(status, 2);
    assert_valid(CI_REPORT_SCHEMA, &dir.join("ci_performance_report.json"));
    std::fs::remove_dir_all(dir).unwrap();
}
