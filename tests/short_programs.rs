//! A short command-line program as users run it: from any directory, often away from its build.
//! The report never lands in the working directory, costs little at exit, prints one line, and
//! starts no process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = env!("CARGO_BIN_EXE_short-cli-fixture");

/// The fixture run in `cwd` with none of our variables set but `env`.
fn run(binary: &Path, cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary);
    command.current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("INSTRUMENT_")
            || ["GIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"].contains(&name.as_str())
        {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    output
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn run_from_a_scratch_directory_it_leaves_nothing_there_and_reports_into_its_target_dir() {
    let cwd = common::scratch_dir("short-cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let output = run(Path::new(FIXTURE), &cwd, &[]);
    assert_eq!(
        entries(&cwd),
        Vec::<PathBuf>::new(),
        "nothing in the working directory"
    );
    // beside its build, in a directory of its own: <target>/instrument/short-cli-fixture
    let target = Path::new(FIXTURE).parent().unwrap().parent().unwrap();
    let dir = target.join("instrument/short-cli-fixture");
    assert!(dir.join("report.json").is_file());
    // no budget, no breaker: report.json only, and one line on stderr saying where it went
    let stderr = stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("report: {}", dir.join("report.json").display())),
        "{stderr}"
    );
    assert!(!dir.join("performance_dashboard.html").exists());
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn run_away_from_its_build_it_writes_nothing_and_says_so_once() {
    let scratch = common::scratch_dir("short-away");
    let (bin, cwd) = (scratch.join("bin"), scratch.join("cwd"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let installed = bin.join("short-cli");
    std::fs::copy(FIXTURE, &installed).unwrap();
    let output = run(&installed, &cwd, &[]);
    assert_eq!(entries(&cwd), Vec::<PathBuf>::new());
    assert_eq!(entries(&bin), std::slice::from_ref(&installed));
    let stderr = stderr(&output);
    assert_eq!(stderr.matches("no report written").count(), 1, "{stderr}");
    assert!(stderr.contains("INSTRUMENT_REPORT_DIR"), "{stderr}");
    // told where, it writes there
    let dir = scratch.join("report");
    run(
        &installed,
        &cwd,
        &[("INSTRUMENT_REPORT_DIR", dir.to_str().unwrap())],
    );
    assert!(dir.join("report.json").is_file());
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn the_passport_spawns_no_git_and_takes_the_commit_from_the_ci() {
    let scratch = common::scratch_dir("short-git");
    let fake = scratch.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let marker = scratch.join("git-was-run");
    let git = fake.join("git");
    std::fs::write(
        &git,
        format!(
            "#!/bin/sh\ntouch '{}'\necho {}\n",
            marker.display(),
            "a".repeat(40)
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = scratch.join("report");
    let passport = |env: &[(&str, &str)]| {
        let mut all = vec![
            ("PATH", path.as_str()),
            ("INSTRUMENT_REPORT_DIR", dir.to_str().unwrap()),
            ("INSTRUMENT_EXPORTS", "on"),
        ];
        all.extend_from_slice(env);
        run(Path::new(FIXTURE), &scratch, &all);
        let text = std::fs::read_to_string(dir.join("performance_passport.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["environment"]["git_commit"]
            .clone()
    };
    let from_ci = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(passport(&[("GITHUB_SHA", from_ci)]), from_ci);
    assert!(!marker.exists(), "git was run at exit");
    let _ = passport(&[]);
    assert!(!marker.exists(), "git was run at exit");
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn values_that_mean_nothing_are_warned_about_once_each() {
    let dir = common::scratch_dir("short-warn");
    std::fs::create_dir_all(&dir).unwrap();
    let output = run(
        Path::new(FIXTURE),
        &dir,
        &[
            ("INSTRUMENT_REPORT_DIR", dir.to_str().unwrap()),
            ("INSTRUMENT_REPORT", "nope"),
            ("INSTRUMENT_EXPORTS", "some"),
            ("INSTRUMENT_EXPORTS_OFF", "all"),
            ("INSTRUMENT_SUMMARY", "big"),
            ("INSTRUMENT_SIGNALS", "maybe"),
        ],
    );
    let stderr = stderr(&output);
    for warning in [
        "ignoring INSTRUMENT_REPORT=\"nope\"",
        "ignoring INSTRUMENT_EXPORTS=\"some\"",
        "ignoring `all` in INSTRUMENT_EXPORTS_OFF",
        "ignoring INSTRUMENT_SUMMARY=\"big\"",
        "ignoring INSTRUMENT_SIGNALS=\"maybe\"",
    ] {
        assert_eq!(stderr.matches(warning).count(), 1, "{warning}: {stderr}");
    }
    // and the report, read as on, is written
    assert!(dir.join("report.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}
