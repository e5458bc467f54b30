//! One writer of the report set (`report.json`, the exports, the summary on stderr) for every way
//! a program ends: the C `atexit` hook, a signal, or the program's own shutdown.

use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, Once, PoisonError};
use std::time::Duration;

use crate::export::atomic_file::remove_stale_temporaries;
use crate::export::{export_options, write_artifacts};
use crate::read::budget::check_budgets;
use crate::read::snapshot::snapshot;

use super::{REPORT_ENV, TableStyle, render_summary, report_dir, write_report_of};

/// Writes the report when the program ends. Call it once, first thing in `main`.
///
/// The report is written when `main` returns, when the program calls `std::process::exit`, when
/// `main` panics, and when SIGTERM, SIGINT or SIGHUP ends the program (see [how this composes
/// with a program's own signal handling](crate#signals)). Also calibrates the clock now rather
/// than on the first measured call, and removes the temporary files of earlier runs killed while
/// writing theirs.
///
/// Where the files go, which of them, and how much is printed (see [the crate docs](crate#the-runtime)):
/// - `report.json` in [`report_dir`](crate::report::report_dir): `instrument/<binary name>/` in the cargo
///   target directory the binary was built in, never the working directory; a binary run away
///   from its build writes nothing unless [`REPORT_DIR_ENV`](crate::report::REPORT_DIR_ENV) says where,
///   and says so once on stderr;
/// - the exports (dashboard, Prometheus text, alert rules, ...) too when a budget or a circuit
///   breaker is declared, or when [`EXPORTS_ENV`]`=on` asks for them (`off` never);
/// - on stderr the full tables when stderr is a terminal or a budget failed, else one line;
///   [`SUMMARY_ENV`]`=table` or `line` chooses.
///
/// ```no_run
/// instrument_runtime::report_at_exit();
/// // ... the program; at exit `report.json` is written to `target/instrument/<binary>/` (in
/// // the default target directory) and its path printed to stderr.
/// ```
pub fn report_at_exit() {
    static REGISTER: Once = Once::new();
    // Nothing is recorded in a build without the `enabled` feature: nothing to report either.
    if !cfg!(feature = "enabled") {
        return;
    }
    REGISTER.call_once(|| {
        crate::record::clock::calibrate();
        // Sets up the circuit breakers now, so functions that share a breaker name but not its
        // settings stop the program at startup rather than at their first call.
        crate::breaker::table::all();
        if is_off() {
            return;
        }
        if let Some(dir) = report_dir() {
            remove_stale(&dir);
        }
        register_atexit();
        #[cfg(unix)]
        super::signals::install();
    });
}

fn register_atexit() {
    // SAFETY: the hook is a plain `extern "C"` fn that never unwinds (it catches panics).
    let status = unsafe { libc::atexit(write_at_exit) };
    if status != 0 {
        eprintln!("instrument: could not register the report at exit (atexit returned {status})");
    }
}

extern "C" fn write_at_exit() {
    let _ = std::panic::catch_unwind(|| write_set(Ending::Exit));
    #[cfg(unix)]
    super::signals::end_if_signalled();
}

/// What [`write_report_now`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// The path of `report.json`.
    pub report: PathBuf,
    /// The exports written, in their fixed order.
    pub exports: Vec<PathBuf>,
    /// The [`run_id`](crate::record::run_id) every one of these files carries.
    pub run_id: String,
}

/// Writes `report.json` and the exports into [`report_dir`] now and prints the summary table to
/// stderr: what the report at exit does, for a program that runs its own shutdown (for example
/// one that ends by re-raising a signal itself, or by `abort`, where no exit hook runs). The
/// report at exit, if registered, still writes again when the program exits, with the figures
/// of then.
///
/// Returns `Ok(None)` without writing anything when [`REPORT_ENV`] turns the report off.
///
/// # Errors
///
/// When `report.json` or an export could not be written (the summary on stderr says which), or
/// when a write already under way, for a signal, did not finish within [`SIGNAL_DEADLINE`].
///
/// [`SIGNAL_DEADLINE`]: crate::report::SIGNAL_DEADLINE
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("instrument-write-now-doc-{}", std::process::id()));
/// # instrument_runtime::report::set_report_dir(&dir);
/// # if std::env::var_os(instrument_runtime::report::REPORT_ENV).is_none() && std::env::var_os(instrument_runtime::report::REPORT_DIR_ENV).is_none() {
/// let files = instrument_runtime::report::write_report_now().unwrap().unwrap();
/// assert!(files.report.ends_with("report.json"));
/// assert_eq!(files.run_id, instrument_runtime::record::run_id());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// ```
pub fn write_report_now() -> io::Result<Option<ReportFiles>> {
    write_set(Ending::Now)
}

/// Who writes: after the exit hook's write, no other may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// The C exit hook: the process ends after it.
    Exit,
    /// A signal is ending the process.
    Signal,
    /// [`write_report_now`].
    Now,
}

/// The environment variable that asks for the exports at exit (`on`) or never (`off`); unset,
/// they are written when a budget or a circuit breaker is declared.
pub const EXPORTS_ENV: &str = "INSTRUMENT_EXPORTS";
/// The environment variable that chooses what the report at exit prints on stderr: `table` (every
/// table) or `line` (one line); unset, the tables when stderr is a terminal or a budget failed.
pub const SUMMARY_ENV: &str = "INSTRUMENT_SUMMARY";

pub(super) fn write_set(ending: Ending) -> io::Result<Option<ReportFiles>> {
    if is_off() {
        return Ok(None);
    }
    let Some(dir) = report_dir() else {
        crate::record::env::warn_once(
            super::REPORT_DIR_ENV,
            &format!(
                "instrument: no report written: this binary runs away from its build (no cargo \
                 target directory above it); set {} to write one",
                super::REPORT_DIR_ENV
            ),
        );
        return Ok(None);
    };
    let Some(writing) = WRITING.enter(super::signal_deadline()) else {
        let error = io::Error::new(
            io::ErrorKind::TimedOut,
            "another write of the report did not finish in time",
        );
        let _ = writeln!(io::stderr(), "instrument: {error}");
        return Err(error);
    };
    remove_stale(&dir);
    match ending {
        // The stream's final flush first, so its last interval ends before the report's
        // snapshot and what the sinks got adds up to the report; on a signal, within half the
        // write's deadline, leaving the other half to the files.
        Ending::Exit => drop(crate::stream::shutdown()),
        Ending::Signal => drop(crate::stream::shutdown_within(super::signal_deadline() / 2)),
        Ending::Now => {}
    }
    let snapshot = snapshot();
    let budgets = check_budgets(&snapshot);
    let report = write_report_of(&snapshot, &budgets, &dir);
    let mut options = export_options();
    if !exports_wanted(&snapshot) {
        // Switched off like any export: what an earlier run left is removed, so the folder never
        // shows this run's report beside another run's exports.
        options
            .disabled
            .extend(crate::export::file_names().map(str::to_owned));
    }
    let exports = write_artifacts(&snapshot, &budgets, &options, &dir);
    if ending == Ending::Exit {
        // The process ends as soon as the hook returns: a write started after this one (by a
        // signal arriving now) would be cut off halfway, so none may start.
        std::mem::forget(writing);
    } else {
        drop(writing);
    }
    let summary = summary(
        &render_summary(&snapshot, &budgets, TableStyle::for_stderr()),
        table_wanted(&budgets),
        &dir,
        &report,
        &exports,
    );
    // Last, after the files: a stderr nobody reads can block this forever.
    let _ = io::stderr().write_all(summary.as_bytes());
    Ok(Some(ReportFiles {
        report: report?,
        exports: exports?,
        run_id: snapshot.run_id,
    }))
}

/// What is printed on stderr: the tables, or their headline only, then where the files went.
fn summary(
    tables: &str,
    table: bool,
    dir: &Path,
    report: &io::Result<PathBuf>,
    exports: &io::Result<Vec<PathBuf>>,
) -> String {
    let mut summary = if table {
        tables.to_owned()
    } else {
        // The tables' first line is their headline: nodes and budget verdicts.
        format!("{}; ", tables.lines().next().unwrap_or_default())
    };
    match report {
        Ok(path) => {
            let _ = write!(summary, "report: {}", path.display());
        }
        Err(error) => {
            let _ = write!(
                summary,
                "instrument: could not write the report to {}: {error}",
                dir.display()
            );
        }
    }
    match exports {
        Ok(paths) if paths.is_empty() => summary.push('\n'),
        Ok(paths) if !table => {
            let _ = writeln!(summary, " and {} exports beside it", paths.len());
        }
        Ok(paths) => {
            let names: Vec<String> = paths
                .iter()
                .filter_map(|path| path.file_name())
                .map(|name| name.to_string_lossy().into_owned())
                .collect();
            let _ = writeln!(summary, "\nexports: {}", names.join(", "));
        }
        Err(error) => {
            let _ = writeln!(
                summary,
                "\ninstrument: could not write the exports to {}: {error}",
                dir.display()
            );
        }
    }
    summary
}

fn is_off() -> bool {
    crate::record::env::switch(REPORT_ENV) == Some(false)
}

/// The exports cost most of the exit (the dashboard and the Grafana JSON are rendered for every
/// node): a program that declared no budget and no breaker gets them only when it asks.
fn exports_wanted(snapshot: &crate::read::snapshot::Snapshot) -> bool {
    crate::record::env::switch(EXPORTS_ENV).unwrap_or_else(|| {
        !snapshot.breakers.is_empty() || snapshot.nodes.iter().any(|node| node.budget.is_some())
    })
}

/// The full tables on a terminal or when a budget failed; one line in logs, where a short
/// program's 50 lines at every run are noise.
fn table_wanted(budgets: &crate::read::budget::BudgetReport) -> bool {
    match std::env::var(SUMMARY_ENV).as_deref() {
        Ok("table") => true,
        Ok("line") => false,
        Ok(value) if !value.is_empty() => {
            crate::record::env::warn_once(
                SUMMARY_ENV,
                &format!(
                    "instrument: ignoring {SUMMARY_ENV}={value:?}: expected `table` or `line`"
                ),
            );
            budgets.failed > 0 || io::stderr().is_terminal()
        }
        _ => budgets.failed > 0 || io::stderr().is_terminal(),
    }
}

/// Temporaries of the files the report writes, left by processes killed while writing them.
fn remove_stale(dir: &Path) {
    let names: Vec<&str> = std::iter::once("report.json")
        .chain(crate::export::file_names())
        .collect();
    remove_stale_temporaries(dir, &names);
}

/// One write of the report set at a time, so a signal's write and the exit hook's never mix
/// their files; entering waits a bounded time, so an exit never hangs on a write stuck in
/// another thread.
static WRITING: WriteGate = WriteGate {
    busy: Mutex::new(false),
    freed: Condvar::new(),
};

struct WriteGate {
    busy: Mutex<bool>,
    freed: Condvar,
}

struct Writing<'a>(&'a WriteGate);

impl WriteGate {
    fn enter(&self, wait: Duration) -> Option<Writing<'_>> {
        let busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut busy, _) = self
            .freed
            .wait_timeout_while(busy, wait, |busy| *busy)
            .unwrap_or_else(PoisonError::into_inner);
        if *busy {
            return None;
        }
        *busy = true;
        Some(Writing(self))
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_lets_one_writer_in_and_the_next_after_it_leaves() {
        let gate = WriteGate {
            busy: Mutex::new(false),
            freed: Condvar::new(),
        };
        let first = gate.enter(Duration::ZERO).unwrap();
        assert!(gate.enter(Duration::ZERO).is_none());
        std::thread::scope(|scope| {
            // Waits (for as long as it takes) until the first writer leaves.
            let second = scope.spawn(|| gate.enter(Duration::from_secs(3600)).is_some());
            drop(first);
            assert!(second.join().unwrap());
        });
    }
}
