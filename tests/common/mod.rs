//! Helpers several integration tests share: scratch directories, the real tools they run, and
//! the examples as processes.

#![allow(dead_code, reason = "each test binary uses part of these helpers")]

pub(crate) mod schema;
pub(crate) mod sinks;
pub(crate) mod webhook;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// An empty directory of this test process, named after `name`.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("instrument-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `command` with `input` on its stdin; a tool that cannot be started fails the test with
/// `missing`, which says how to get it.
pub(crate) fn run_with_input(command: &mut Command, input: &str, missing: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{missing} ({error})"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// What to do when promtool cannot be run.
const PROMTOOL_MISSING: &str = "promtool is needed and could not be run: run scripts/test-all, \
                                    which installs it (Debian package `prometheus`)";

/// Asserts that `promtool check metrics` finds no error and no lint warning in `text`.
pub(crate) fn assert_promtool_accepts(text: &str) {
    let output = run_with_input(
        Command::new("promtool").args(["check", "metrics"]),
        text,
        PROMTOOL_MISSING,
    );
    // 0: clean; 1: parse error; 3: lint warnings only, which count as failures here.
    assert_eq!(
        output.status.code(),
        Some(0),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// The pipeline example through cargo, with `args` after `--`.
pub(crate) fn pipeline_command(args: &[&str]) -> Command {
    example_command("pipeline", &[], args)
}

/// Example `name` through cargo, built with `features`, with `args` after `--`.
///
/// `CARGO_BIN_EXE_*` exists only for `[[bin]]` targets, so cargo runs it, in the profile these
/// tests were built in: it reuses their build instead of starting a second profile. The child runs
/// in this workspace and inherits `CARGO_TARGET_DIR` when it is set, so it builds into the same
/// target directory; `cargo test` releases the build lock before it runs the tests, so the child
/// does not wait on its parent. `INSTRUMENT_REPORT` is removed so the report is always written.
pub(crate) fn example_command(name: &str, features: &[&str], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", name]);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    command.arg("--").args(args).env_remove("INSTRUMENT_REPORT");
    command
}

/// Runs `instrument-gate` in-process with `args`: its exit status, stdout and stderr.
pub(crate) fn gate(args: &[String]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = instrument_gate::run(args, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// A loopback port free at the time of asking, for a server a test starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
