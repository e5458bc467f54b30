//! The report at exit, for each way a program can end: a real child process writes it.

use std::path::PathBuf;
use std::process::{Command, Output};

use instrument_runtime::{Report, VerdictStatus};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("instrument-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_fixture(ending: &str, dir: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_report-fixture"))
        .arg(ending)
        .env("INSTRUMENT_REPORT_DIR", dir)
        .env_remove("INSTRUMENT_REPORT")
        .output()
        .expect("the fixture runs")
}

fn assert_report_written(ending: &str, expected_status: i32) {
    let dir = scratch_dir(ending);
    let output = run_fixture(ending, &dir);
    assert_eq!(output.status.code(), Some(expected_status), "{output:?}");
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let node = report.snapshot.node("fixture_step").unwrap();
    assert_eq!(node.calls, 5);
    assert_eq!(node.verdict.as_ref().unwrap().status, VerdictStatus::Pass);
    assert_eq!((report.budgets.judged, report.budgets.passed), (1, 1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("fixture_step"), "{stderr}");
    assert!(
        stderr.contains(&format!("report: {}", dir.join("report.json").display())),
        "{stderr}"
    );
    let table: String = stderr
        .lines()
        .filter(|line| !line.contains("panicked"))
        .collect();
    assert!(
        table.is_ascii(),
        "stderr is not a terminal, so the table is ASCII: {stderr}"
    );
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.contains(&"report.json".to_owned()), "{files:?}");
    for artifact in instrument_runtime::artifacts(
        &report.snapshot,
        &report.budgets,
        &instrument_runtime::ExportOptions::default(),
    ) {
        assert!(files.contains(&artifact.file_name.to_owned()), "{files:?}");
    }
    assert!(
        files.iter().all(|name| !name.starts_with('.')),
        "no temporary file is left: {files:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn written_when_main_returns() {
    assert_report_written("return", 0);
}

#[test]
fn written_when_the_program_calls_process_exit() {
    assert_report_written("exit", 3);
}

#[test]
fn written_when_main_panics() {
    assert_report_written("panic", 101);
}

#[test]
fn turned_off_by_the_environment() {
    let dir = scratch_dir("off");
    let output = Command::new(env!("CARGO_BIN_EXE_report-fixture"))
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .env("INSTRUMENT_REPORT", "off")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!dir.exists());
    assert!(output.stderr.is_empty());
}
