//! `--iterations N -- COMMAND...`: runs the command N times, each writing its report into a
//! directory of its own, and reads the reports back.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use instrument_runtime::report::{REPORT_DIR_ENV, REPORT_ENV, Report};

use crate::Console;
use crate::args::Iterations;

/// The last lines of a failing run's stderr shown, enough for its panic message.
const STDERR_TAIL_LINES: usize = 20;

/// Runs every iteration in turn and returns their reports; stops at the first failure.
pub(crate) fn run(
    iterations: &Iterations,
    console: &mut Console<'_>,
) -> Result<Vec<Report>, String> {
    (1..=iterations.count)
        .map(|run| {
            let which = format!("run {run} of {}", iterations.count);
            run_once(&iterations.command, &which, console)
        })
        .collect()
}

/// Runs `baseline` and `candidate` `count` times each, alternating (baseline first), so that
/// whatever drifts on the machine during the job falls on both sides alike. Returns the
/// baseline's reports and the candidate's.
pub(crate) fn interleave(
    count: u32,
    baseline: &[String],
    candidate: &[String],
    console: &mut Console<'_>,
) -> Result<(Vec<Report>, Vec<Report>), String> {
    let (mut before, mut now) = (Vec::new(), Vec::new());
    for run in 1..=count {
        before.push(run_once(
            baseline,
            &format!("baseline run {run} of {count}"),
            console,
        )?);
        now.push(run_once(
            candidate,
            &format!("candidate run {run} of {count}"),
            console,
        )?);
    }
    Ok((before, now))
}

/// Runs `command` once with a report directory of its own and reads its report; `which` names
/// the run in messages.
fn run_once(command: &[String], which: &str, console: &mut Console<'_>) -> Result<Report, String> {
    let shown = shell_words(command);
    let dir = ScratchDir::new()
        .map_err(|error| format!("{which}: cannot create a report directory: {error}"))?;
    let (program, args) = command
        .split_first()
        .expect("the parser requires a program");
    let output = Command::new(program)
        .args(args)
        .env(REPORT_DIR_ENV, &dir.0)
        .env_remove(REPORT_ENV)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("{which}: cannot run `{shown}`: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        for line in &lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..] {
            console.note(&format!("| {line}"));
        }
        let ended = output.status.code().map_or_else(
            || "was stopped by a signal".to_owned(),
            |code| format!("exited with code {code}"),
        );
        return Err(format!("{which}: `{shown}` {ended}"));
    }
    let report = crate::artifact::load_report(&dir.0.join("report.json"))
        .map_err(|error| format!("{which}: {error}"))?;
    console.note(&format!("{which}: {} nodes", report.snapshot.nodes.len()));
    Ok(report)
}

/// The command as a shell would read it back: words with spaces or quotes single-quoted.
fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,%@+".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh directory under the system's temporary directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        // Unique within the process too: tests run several gates at once.
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "instrument-gate-run-{}-{}-{}",
            std::process::id(),
            crate::artifact::unix_ms_now(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_as_a_shell_would_read_them() {
        let words = ["sh", "-c", "echo it's", "", "--seed=7"].map(str::to_owned);
        assert_eq!(shell_words(&words), r"sh -c 'echo it'\''s' '' --seed=7");
    }
}
