//! The report at exit, for each way a program can end: a real child process writes it.

use std::io::{BufRead as _, BufReader, Lines, Write as _};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use instrument_runtime::{VerdictStatus, report::Report};

/// Long enough for any machine: a wait this long means the fixture is stuck.
const LIVENESS: Duration = Duration::from_secs(60);

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("instrument-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_fixture(ending: &str, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_report-fixture"))
        .arg(ending)
        .env("INSTRUMENT_REPORT_DIR", dir)
        .env_remove("INSTRUMENT_REPORT")
        // stderr is a pipe here, which alone would print one line: these tests read the tables
        .env(instrument_runtime::report::SUMMARY_ENV, "table")
        .output()
        .expect("the fixture runs")
}

fn assert_report_written(ending: &str, expected_status: i32) {
    let dir = scratch_dir(ending);
    let output = run_fixture(ending, &dir);
    assert_eq!(output.status.code(), Some(expected_status), "{output:?}");
    assert_complete_set(&dir, 5);
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
    std::fs::remove_dir_all(dir).unwrap();
}

/// `report.json` with the fixture's `calls` and a passing verdict, every export, no temporary.
fn assert_complete_set(dir: &Path, calls: u64) -> Report {
    let report = read_report(dir);
    let node = report.snapshot.node("fixture_step").unwrap();
    assert_eq!(node.calls, calls);
    assert_eq!(node.verdict.as_ref().unwrap().status, VerdictStatus::Pass);
    assert_eq!((report.budgets.judged, report.budgets.passed), (1, 1));
    let files = file_names(dir);
    assert!(files.contains(&"report.json".to_owned()), "{files:?}");
    for artifact in instrument_runtime::export::artifacts(
        &report.snapshot,
        &report.budgets,
        &instrument_runtime::export::ExportOptions::default(),
    ) {
        assert!(files.contains(&artifact.file_name.to_owned()), "{files:?}");
    }
    assert!(
        files.iter().all(|name| !name.starts_with('.')),
        "no temporary file is left: {files:?}"
    );
    report
}

fn read_report(dir: &Path) -> Report {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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

/// The fixture in a `serve` mode, past `ready`: its handlers are installed.
struct Serving {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Stderr's lines as they come (none when the test holds stderr itself).
    stderr: Receiver<String>,
    dir: PathBuf,
}

fn serve(mode: &str, dir: PathBuf, configure: impl FnOnce(&mut Command)) -> Serving {
    let mut command = Command::new(env!("CARGO_BIN_EXE_report-fixture"));
    command
        .arg(mode)
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .env_remove("INSTRUMENT_REPORT")
        .env(instrument_runtime::report::SUMMARY_ENV, "table")
        .env_remove(instrument_runtime::report::SIGNALS_ENV)
        .env_remove(instrument_runtime::report::SIGNAL_DEADLINE_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("the fixture starts");
    let (lines, stderr) = mpsc::channel();
    if let Some(pipe) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let mut serving = Serving {
        stdin: child.stdin.take(),
        stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
        stderr,
        dir,
    };
    serving.expect_line("ready");
    serving
}

impl Serving {
    fn expect_line(&mut self, expected: &str) {
        let line = self.stdout.next().map(Result::unwrap);
        assert_eq!(line.as_deref(), Some(expected));
    }

    /// One more call; the answer shows the fixture is alive and has taken every signal sent
    /// before (pending signals are delivered before a read returns).
    fn ping(&mut self) {
        writeln!(self.stdin.as_mut().unwrap(), "ping").unwrap();
        self.expect_line("ok");
    }

    fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits for the summary's `report:` line on stderr.
    fn expect_report_line(&self) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(LIVENESS)
                .expect("a `report:` line on stderr");
            if line.starts_with("report: ") {
                return line;
            }
        }
    }

    /// Closes stdin: the fixture's cue to end normally.
    fn close_stdin(mut self) -> Self {
        drop(self.stdin.take());
        self
    }

    /// Waits for the end, killing a fixture that does not end.
    fn finish(self) -> (ExitStatus, Vec<String>, PathBuf) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        let (done, status) = mpsc::channel();
        let mut child = self.child;
        std::thread::spawn(move || done.send(child.wait().unwrap()));
        let Ok(status) = status.recv_timeout(LIVENESS) else {
            // SAFETY: ends our own stuck child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the fixture did not end");
        };
        drop(self.stdin);
        // Until the reader sees the end of stderr.
        let stderr = std::iter::from_fn(|| self.stderr.recv_timeout(LIVENESS).ok()).collect();
        (status, stderr, self.dir)
    }
}

fn report_lines(stderr: &[String]) -> usize {
    stderr
        .iter()
        .filter(|line| line.starts_with("report: "))
        .count()
}

fn assert_ended_by_signal_with_its_report(signal: i32, name: &str) {
    let serving = serve("serve", scratch_dir(name), |_| {});
    serving.signal(signal);
    let (status, stderr, dir) = serving.finish();
    assert_eq!(status.signal(), Some(signal), "{status:?} {stderr:?}");
    assert_complete_set(&dir, 5);
    assert_eq!(report_lines(&stderr), 1, "{stderr:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn written_when_sigterm_ends_the_program_which_still_dies_of_it() {
    assert_ended_by_signal_with_its_report(libc::SIGTERM, "sigterm");
}

#[test]
fn written_when_sigint_ends_the_program_which_still_dies_of_it() {
    assert_ended_by_signal_with_its_report(libc::SIGINT, "sigint");
}

#[test]
fn written_when_sighup_ends_the_program_which_still_dies_of_it() {
    assert_ended_by_signal_with_its_report(libc::SIGHUP, "sighup");
}

#[test]
fn a_program_handling_the_signal_itself_keeps_its_own_ending() {
    let mut serving = serve("serve-own-sigterm", scratch_dir("own-handler"), |_| {});
    serving.signal(libc::SIGTERM);
    serving.expect_line("stopping");
    // Written on the signal, while the program is still shutting down its own way.
    serving.expect_report_line();
    let (status, stderr, dir) = serving.close_stdin().finish();
    assert_eq!(status.code(), Some(7), "{status:?} {stderr:?}");
    // Written again at its exit, with the call it made after the signal.
    assert_complete_set(&dir, 6);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_signal_the_program_ignores_stays_ignored() {
    let mut serving = serve("serve", scratch_dir("nohup"), |command| {
        // SAFETY: `signal` is async-signal-safe, fit for between fork and exec; as `nohup` does.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    serving.signal(libc::SIGHUP);
    serving.ping();
    let (status, stderr, dir) = serving.close_stdin().finish();
    assert_eq!(status.code(), Some(0), "{status:?} {stderr:?}");
    assert_complete_set(&dir, 6);
    assert_eq!(report_lines(&stderr), 1, "{stderr:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn signals_are_left_alone_when_turned_off() {
    let serving = serve("serve", scratch_dir("signals-off"), |command| {
        command.env(instrument_runtime::report::SIGNALS_ENV, "off");
    });
    serving.signal(libc::SIGTERM);
    let (status, stderr, dir) = serving.finish();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(!dir.join("report.json").exists(), "{stderr:?}");
}

/// Stderr as a pipe already full, that the test never reads: the summary, printed after the
/// files, blocks for good, as on a service whose log reader died.
fn full_stderr(command: &mut Command) -> std::io::PipeReader {
    let (reader, writer) = std::io::pipe().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    // SAFETY: flags of a descriptor we own.
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) };
    let mut writer = writer;
    while writer.write(&[b'x'; 4096]).is_ok() {}
    // SAFETY: as above; the child must block, not fail, on the full pipe.
    unsafe { libc::fcntl(fd, libc::F_SETFL, 0) };
    command.stderr(writer);
    reader
}

#[test]
fn a_second_signal_ends_a_stuck_write_at_once() {
    let mut stderr = None;
    let mut serving = serve("serve", scratch_dir("second-signal"), |command| {
        command.env(instrument_runtime::report::SIGNAL_DEADLINE_ENV, "10m");
        stderr = Some(full_stderr(command));
    });
    serving.signal(libc::SIGTERM);
    serving.ping();
    serving.signal(libc::SIGTERM);
    let (status, _, dir) = serving.finish();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    drop(stderr);
    // The second signal may come before the write made the directory.
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_stuck_write_ends_the_process_at_the_deadline() {
    let mut stderr = None;
    let serving = serve("serve", scratch_dir("deadline"), |command| {
        command.env(instrument_runtime::report::SIGNAL_DEADLINE_ENV, "1s");
        stderr = Some(full_stderr(command));
    });
    serving.signal(libc::SIGTERM);
    let (status, _, dir) = serving.finish();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    drop(stderr);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn stale_temporaries_are_removed_at_startup_and_a_live_writers_kept() {
    let dir = scratch_dir("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let mut ended = Command::new("true").spawn().unwrap();
    let dead = ended.id();
    ended.wait().unwrap();
    // This test's process is alive while the fixture runs.
    let live = std::process::id();
    let stale = [
        format!(".report.json.{dead}.0.tmp"),
        format!(".performance_metrics.prom.{dead}.0123456789abcdef.4.tmp"),
    ];
    let kept = [
        format!(".report.json.{live}.0123456789abcdef.0.tmp"),
        format!(".notes.txt.{dead}.0.tmp"),
    ];
    for name in stale.iter().chain(&kept) {
        std::fs::write(dir.join(name), b"half written").unwrap();
    }
    let mut serving = serve("serve", dir.clone(), |_| {});
    let mut expected = kept.to_vec();
    expected.sort();
    assert_eq!(file_names(&dir), expected, "removed before the first write");
    serving.ping();
    let (status, _, _) = serving.close_stdin().finish();
    assert!(status.success());
    let left = file_names(&dir);
    assert!(kept.iter().all(|name| left.contains(name)), "{left:?}");
    assert!(stale.iter().all(|name| !left.contains(name)), "{left:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_file_of_a_run_carries_its_run_id() {
    let dir = scratch_dir("run-id");
    let run = |dir: &PathBuf| {
        let output = run_fixture("return", dir);
        assert!(output.status.success(), "{output:?}");
        read_report(dir).snapshot.run_id
    };
    let id = run(&dir);
    assert_eq!(id.len(), 16, "{id:?}");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let json = |name: &str| serde_json::from_str::<serde_json::Value>(&read(name)).unwrap();
    for name in [
        "phase_metrics.json",
        "latency_histograms.json",
        "performance_passport.json",
    ] {
        assert_eq!(json(name)["run_id"], id.as_str(), "{name}");
    }
    assert!(
        read("performance_metrics.prom")
            .contains(&format!("instrument_run_info{{run_id=\"{id}\"}} 1\n"))
    );
    assert!(
        read("prometheus_alerting_rules.yaml").contains(&format!("# Generated in run {id}.\n"))
    );
    assert!(read("performance_dashboard.html").contains(&format!(">{id}</code>")));
    assert_eq!(
        json("grafana_dashboard.json")["description"],
        format!("Generated by instrument in run {id}.")
    );
    assert_ne!(run(&dir), id, "each run has its own");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_export_switched_off_since_an_earlier_run_is_removed() {
    let dir = scratch_dir("switched-off");
    assert!(run_fixture("return", &dir).status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_report-fixture"))
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .env_remove("INSTRUMENT_REPORT")
        .env(
            "INSTRUMENT_EXPORTS_OFF",
            "performance_dashboard.html,grafana_dashboard.json",
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let files = file_names(&dir);
    assert!(
        !files.contains(&"performance_dashboard.html".to_owned()),
        "{files:?}"
    );
    assert!(
        !files.contains(&"grafana_dashboard.json".to_owned()),
        "{files:?}"
    );
    assert!(
        files.contains(&"phase_metrics.json".to_owned()),
        "{files:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
