//! The report at exit: `report.json`, the exports and a summary table on stderr, however the
//! program ends.
//!
//! [`report_at_exit`] registers a C `atexit` hook and handlers for SIGTERM, SIGINT and SIGHUP.
//! The hook runs when `main` returns, when the program calls `std::process::exit`, and when
//! `main` panics (Rust catches that panic and exits with status 101). It cannot run on `abort`
//! (including `panic = "abort"`) or SIGKILL.
//!
//! On SIGTERM, SIGINT or SIGHUP, a thread of ours writes the same files, then ends the process
//! with the signal's default action, so its exit status is unchanged ("killed by SIGTERM"). The
//! write gets [`SIGNAL_DEADLINE`] (5 s; [`SIGNAL_DEADLINE_ENV`] changes it); after that, or on a
//! second signal, the process ends at once. How this composes with a program's own handling:
//!
//! - a plain program: nothing to do;
//! - a signal the program ignores (`nohup`) or handles before calling [`report_at_exit`] is left
//!   alone: only signals with the default action get our handler; the report is written when the
//!   program then exits normally;
//! - a handler installed *after* [`report_at_exit`] owns the signal. tokio's `signal::ctrl_c`
//!   and `signal-hook` chain to the previous handler, so ours still writes the report, but does
//!   not end the process: the program shuts down its own way, and its normal exit writes the
//!   report again with the final figures. A handler that does not chain (plain `sigaction`)
//!   means no write on the signal, only at exit;
//! - a program whose shutdown does not end in a normal exit (it re-raises the signal itself,
//!   calls `abort` or `_exit`) calls [`write_report_now`] in its shutdown path;
//! - [`SIGNALS_ENV`]`=off` leaves every signal alone; [`REPORT_ENV`]`=off` turns the whole
//!   report off (no hook, no handler, no file).
//!
//! One write happens at a time: a signal's write and the exit hook's never mix their files, and
//! an exit waits at most [`SIGNAL_DEADLINE`] for a write under way. Every file of one run
//! carries its [`run_id`](crate::record::run_id); at startup and before each write, the temporary files
//! left by runs killed mid-write are removed (see [`write_atomically`]).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::export::atomic_file::write_atomically;
use crate::format::{Bytes, Mean, TableStyle, format_duration};
use crate::read::budget::{BudgetReport, VerdictStatus, check_budgets};
use crate::read::snapshot::{NodeSnapshot, Snapshot, snapshot};
use crate::stream::StreamStats;

/// The environment variable that turns the report at exit off when set to `0` or `off`: no file
/// is written, no signal handler installed.
pub const REPORT_ENV: &str = "INSTRUMENT_REPORT";
/// The environment variable that leaves SIGTERM, SIGINT and SIGHUP alone when set to `0` or
/// `off`: the report is then written at a normal exit only.
pub const SIGNALS_ENV: &str = "INSTRUMENT_SIGNALS";
/// The environment variable that sets how long the report may take when a signal ends the
/// program, as a duration like `10s` or `500ms` (default [`SIGNAL_DEADLINE`]).
pub const SIGNAL_DEADLINE_ENV: &str = "INSTRUMENT_SIGNAL_DEADLINE";
/// How long the report may take when a signal ends the program before the process ends anyway,
/// and how long an exit waits for such a write under way. Well inside the grace period before
/// `docker stop` (10 s) and Kubernetes (30 s) send SIGKILL.
pub const SIGNAL_DEADLINE: Duration = Duration::from_secs(5);
mod at_exit;
mod dir;
mod resources;
#[cfg(unix)]
mod signals;

pub use at_exit::{EXPORTS_ENV, ReportFiles, SUMMARY_ENV, report_at_exit, write_report_now};
pub use dir::{DEFAULT_REPORT_DIR, REPORT_DIR_ENV, build_target_dir, report_dir, set_report_dir};
pub use resources::{
    DEFAULT_SAMPLE_PERIOD, ProcSample, RESOURCE_USAGE_FILE, ResourceSampler, sample_line,
    sample_resources, sample_resources_into,
};

/// [`SIGNAL_DEADLINE_ENV`], else [`SIGNAL_DEADLINE`]; read once.
fn signal_deadline() -> Duration {
    static DEADLINE: OnceLock<Duration> = OnceLock::new();
    *DEADLINE.get_or_init(|| {
        let Ok(text) = std::env::var(SIGNAL_DEADLINE_ENV) else {
            return SIGNAL_DEADLINE;
        };
        instrument_duration::parse_nanos(&text).map_or_else(
            |error| {
                eprintln!("instrument: ignoring {SIGNAL_DEADLINE_ENV}={text:?}: {error}");
                SIGNAL_DEADLINE
            },
            Duration::from_nanos,
        )
    })
}

/// The content of `report.json`.
///
/// ```
/// let dir = std::env::temp_dir().join("instrument-report-type-doc");
/// let path = instrument_runtime::report::write_report(&dir).unwrap();
/// let report: instrument_runtime::report::Report = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
/// assert_eq!(report.budgets, instrument_runtime::check_budgets(&report.snapshot));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Format identifier, bumped on incompatible changes.
    pub schema: String,
    /// Every node's statistics.
    pub snapshot: Snapshot,
    /// Every budget, judged.
    pub budgets: BudgetReport,
    /// The streaming pipeline's accounts (records produced, stored and dropped per sink and
    /// reason), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamStats>,
}

/// The schema identifier written in `report.json`.
pub const REPORT_SCHEMA: &str = "instrument.report/1";

/// Takes a snapshot now and writes `report.json` into `dir`, atomically. Returns the file's path.
///
/// # Errors
///
/// When the directory cannot be created or the file cannot be written; a previous `report.json`
/// is then left as it was.
///
/// ```
/// let dir = std::env::temp_dir().join("instrument-write-report-doc");
/// let path = instrument_runtime::report::write_report(&dir).unwrap();
/// let report: instrument_runtime::report::Report =
///     serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
/// assert_eq!(report.schema, instrument_runtime::report::REPORT_SCHEMA);
/// ```
pub fn write_report(dir: &Path) -> io::Result<PathBuf> {
    let snapshot = snapshot();
    let budgets = check_budgets(&snapshot);
    write_report_of(&snapshot, &budgets, dir)
}

fn write_report_of(snapshot: &Snapshot, budgets: &BudgetReport, dir: &Path) -> io::Result<PathBuf> {
    let report = Report {
        schema: REPORT_SCHEMA.to_owned(),
        snapshot: snapshot.clone(),
        budgets: budgets.clone(),
        stream: crate::stream::stats(),
    };
    let mut json = serde_json::to_vec_pretty(&report).map_err(io::Error::other)?;
    json.push(b'\n');
    let path = dir.join("report.json");
    write_atomically(&path, &json)?;
    Ok(path)
}

/// The summary's table of nodes.
const NODES: Table<11> = Table {
    header: [
        "node",
        "calls",
        "errors",
        "panics",
        "cancelled",
        "p50",
        "p95",
        "p99",
        "max",
        "budget",
        "verdict",
    ],
    left_aligned: &[0, 9, 10],
    status: Some(10),
};

/// Renders the compact summary table printed at exit.
///
/// ```
/// use instrument_runtime::{check_budgets, format::TableStyle, report::render_summary, snapshot};
/// let snapshot = snapshot();
/// let table = render_summary(&snapshot, &check_budgets(&snapshot), TableStyle::Ascii);
/// assert!(table.is_ascii());
/// assert!(table.contains("node"));
/// ```
pub fn render_summary(snapshot: &Snapshot, budgets: &BudgetReport, style: TableStyle) -> String {
    const BREAKERS: Table<10> = Table {
        header: [
            "breaker",
            "state",
            "health",
            "calls",
            "failures",
            "rejected",
            "fallbacks",
            "opened",
            "recovered",
            "longest / SLA",
        ],
        left_aligned: &[0, 1, 2, 9],
        status: Some(2),
    };
    const MEMORY: Table<5> = Table {
        header: ["memory", "calls", "allocs/call", "bytes/call", "peak live"],
        left_aligned: &[0],
        status: None,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "instrument: {} nodes; budgets: {} pass, {} fail, {} not exercised",
        snapshot.nodes.len(),
        budgets.passed,
        budgets.failed,
        budgets.not_exercised.len()
    );
    let rows: Vec<[String; 11]> = snapshot
        .nodes
        .iter()
        .map(|node| summary_row(node, style))
        .collect();
    NODES.write(&mut out, &rows, style);
    for conflict in &snapshot.conflicts {
        let _ = writeln!(
            out,
            "warning: node name `{}` is used by {} functions, kept apart: {}",
            conflict.name,
            conflict.sites.len(),
            conflict.sites.join(", ")
        );
    }
    if let Some(file) = &snapshot.budgets_file {
        let _ = writeln!(
            out,
            "budgets file {}: {} errors, {} warnings",
            file.path,
            file.errors.len(),
            file.warnings.len()
        );
        for error in &file.errors {
            let _ = writeln!(out, "error: {error}");
        }
        for warning in &file.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
    }
    if !snapshot.breakers.is_empty() {
        let rows: Vec<[String; 10]> = snapshot
            .breakers
            .iter()
            .map(|breaker| breaker_row(breaker, style))
            .collect();
        BREAKERS.write(&mut out, &rows, style);
    }
    // Only with the counting allocator, and only for the nodes it measured.
    let rows: Vec<[String; 5]> = snapshot
        .nodes
        .iter()
        .filter_map(|node| Some((node, node.memory.filter(|memory| memory.calls > 0)?)))
        .map(|(node, memory)| {
            #[allow(
                clippy::cast_precision_loss,
                reason = "three significant figures are printed"
            )]
            let peak = memory.peak_live_bytes as f64;
            [
                node.name.clone(),
                memory.calls.to_string(),
                Mean(memory.allocations_per_call).to_string(),
                Bytes(memory.bytes_per_call).to_string(),
                Bytes(peak).to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        MEMORY.write(&mut out, &rows, style);
    }
    out
}

fn breaker_row(
    breaker: &crate::breaker::snapshot::BreakerSnapshot,
    style: TableStyle,
) -> [String; 10] {
    let recoveries = &breaker.recoveries;
    let longest = if recoveries.count == 0 {
        "-".to_owned()
    } else {
        format_duration(recoveries.longest_ns, style)
    };
    let violations = match recoveries.sla_violations {
        0 => String::new(),
        1 => ", 1 over".to_owned(),
        many => format!(", {many} over"),
    };
    [
        breaker.name.clone(),
        format!(
            "{}{}",
            breaker.state.as_str(),
            if breaker.forced { " (forced)" } else { "" }
        ),
        format!("{:?}", breaker.health.status).to_uppercase(),
        breaker.calls.to_string(),
        breaker.failures.to_string(),
        breaker.rejected.to_string(),
        breaker.fallbacks.to_string(),
        breaker.transitions.opened.to_string(),
        recoveries.count.to_string(),
        format!(
            "{longest} / {}{violations}",
            format_duration(recoveries.sla_ns, style)
        ),
    ]
}

/// A table's columns: which align left (names and text; the rest are numbers) and which one
/// holds a status worth colouring.
struct Table<const N: usize> {
    header: [&'static str; N],
    left_aligned: &'static [usize],
    status: Option<usize>,
}

impl<const N: usize> Table<N> {
    fn write(&self, out: &mut String, rows: &[[String; N]], style: TableStyle) {
        let mut widths = self.header.map(str::len);
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        self.write_row(out, &self.header.map(str::to_owned), &widths, style);
        for row in rows {
            self.write_row(out, row, &widths, style);
        }
    }

    fn write_row(
        &self,
        out: &mut String,
        cells: &[String; N],
        widths: &[usize; N],
        style: TableStyle,
    ) {
        for (column, (cell, &width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            let color = match cell.split(' ').next().unwrap_or_default() {
                "pass" | "HEALTHY" => "32",
                "FAIL" | "FAILING" => "1;31",
                "not" | "DEGRADED" => "33",
                _ => "",
            };
            let colored =
                if style == TableStyle::Color && Some(column) == self.status && !color.is_empty() {
                    format!("\x1b[{color}m{cell}\x1b[0m")
                } else {
                    cell.clone()
                };
            let separator = if column == 0 { "" } else { "  " };
            if self.left_aligned.contains(&column) {
                let _ = write!(out, "{separator}{colored}{:pad$}", "");
            } else {
                let _ = write!(out, "{separator}{:pad$}{colored}", "");
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
}

fn summary_row(node: &NodeSnapshot, style: TableStyle) -> [String; 11] {
    let quantile = |pick: fn(&crate::read::snapshot::Latency) -> u64| {
        node.latency.as_ref().map_or_else(
            || "-".to_owned(),
            |latency| format_duration(pick(latency), style),
        )
    };
    let budget = node.budget.as_ref().map_or_else(
        || "-".to_owned(),
        |budget| {
            crate::read::budget::Quantile::ALL
                .into_iter()
                .filter_map(|q| {
                    Some(format!(
                        "{q} {}",
                        format_duration(q.budget_in(budget)?, style)
                    ))
                })
                .collect::<Vec<_>>()
                .join(" ")
        },
    );
    let verdict = node.verdict.as_ref().map_or_else(
        || "-".to_owned(),
        |verdict| match verdict.status {
            VerdictStatus::Pass => "pass".to_owned(),
            VerdictStatus::Fail => {
                let failed: Vec<String> = verdict
                    .checks
                    .iter()
                    .filter(|check| !check.passed)
                    .map(|check| format!("{} {:+.0}%", check.quantile, -check.margin_percent()))
                    .collect();
                format!("FAIL {}", failed.join(" "))
            }
            VerdictStatus::NotExercised => {
                format!(
                    "not exercised ({}/{} calls)",
                    verdict.calls, verdict.min_samples
                )
            }
        },
    );
    [
        node.name.clone(),
        node.calls.to_string(),
        node.errors.to_string(),
        node.panics.to_string(),
        node.cancelled.to_string(),
        quantile(|l| l.p50_ns),
        quantile(|l| l.p95_ns),
        quantile(|l| l.p99_ns),
        quantile(|l| l.max_ns),
        budget,
        verdict,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::budget::{BudgetCheck, BudgetVerdict, Quantile};
    use crate::read::snapshot::Latency;
    use crate::record::alloc::NodeMemory;
    use crate::record::node::{Budget, Instruments};

    fn node(name: &str, p95_ns: u64, verdict: Option<BudgetVerdict>) -> NodeSnapshot {
        let mut node = NodeSnapshot::new(name);
        node.module_path = "app".into();
        node.file = "src/main.rs".into();
        node.line = 1;
        node.instruments = Instruments {
            timed: true,
            ..Instruments::default()
        };
        node.budget = verdict.as_ref().map(|_| Budget {
            p95_ns: Some(2_000_000),
            ..Budget::DEFAULT
        });
        node.calls = 120;
        node.errors = 1;
        node.latency = Some(Latency {
            min_ns: 500,
            mean_ns: 1_000_000,
            max_ns: 4_000_000,
            p50_ns: 1_000_000,
            p90_ns: 1_500_000,
            p95_ns,
            p99_ns: 3_000_000,
            p999_ns: 4_000_000,
        });
        node.verdict = verdict;
        node
    }

    #[test]
    fn the_summary_is_aligned_ascii_with_one_row_per_node() {
        let failing = BudgetVerdict {
            status: VerdictStatus::Fail,
            calls: 120,
            min_samples: 100,
            tolerance: 0.1,
            checks: vec![BudgetCheck {
                quantile: Quantile::P95,
                observed_ns: 2_640_000,
                budget_ns: 2_000_000,
                allowed_ns: 2_200_000,
                passed: false,
            }],
        };
        let snapshot = Snapshot::of(
            vec![
                node("embedding", 2_640_000, Some(failing)),
                node("sanitization", 20_000, None),
            ],
            Vec::new(),
        );
        let budgets = check_budgets(&snapshot);
        let table = render_summary(&snapshot, &budgets, TableStyle::Ascii);
        let expected = "\
instrument: 2 nodes; budgets: 0 pass, 1 fail, 0 not exercised
node          calls  errors  panics  cancelled     p50     p95     p99     max  budget      verdict
embedding       120       1       0          0  1.00ms  2.64ms  3.00ms  4.00ms  p95 2.00ms  FAIL p95 +20%
sanitization    120       1       0          0  1.00ms  20.0us  3.00ms  4.00ms  -           -
";
        assert_eq!(table, expected);
    }

    #[test]
    fn breakers_get_a_table_of_their_own_with_recoveries_against_the_sla() {
        use crate::breaker::Breaker;
        use crate::breaker::config::BreakerConfig;

        let breaker = Breaker::new("embedding", BreakerConfig::DEFAULT, Vec::new(), |ns| ns);
        for _ in 0..5 {
            let admission = breaker.admit(0).unwrap();
            breaker.failed(admission, 0, String::new);
        }
        breaker.admit(0).unwrap_err();
        for at_ns in [60_000_000_000, 61_000_000_000] {
            let probe = breaker.admit(at_ns).unwrap();
            breaker.succeeded(probe, || at_ns);
        }
        let snapshot = Snapshot::of(Vec::new(), vec![breaker.snapshot(61_000_000_000)]);
        let table = render_summary(&snapshot, &check_budgets(&snapshot), TableStyle::Ascii);
        let breaker_lines: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            breaker_lines,
            [
                "breaker    state   health   calls  failures  rejected  fallbacks  opened  recovered  longest / SLA",
                // a 61 s outage, closed 1 s after probing was allowed: within the 2 s SLA
                "embedding  CLOSED  HEALTHY      0         0         1          0       1          1  1.00s / 2.00s",
            ]
        );
    }

    #[test]
    fn bytes_read_to_three_significant_figures() {
        for (bytes, text) in [
            (0.0, "0 B"),
            (1000.0, "1000 B"),
            (1023.5, "1023.50 B"),
            (1024.0, "1.00 KiB"),
            (12_288.0, "12.0 KiB"),
            (150.0 * 1024.0 * 1024.0, "150 MiB"),
        ] {
            assert_eq!(Bytes(bytes).to_string(), text);
            assert_eq!(
                format!("{:#}", Bytes(bytes)),
                text.replace(" K", "\u{a0}K").replace(" M", "\u{a0}M")
            );
        }
    }

    #[test]
    fn nodes_measured_by_the_counting_allocator_get_a_memory_table() {
        let mut measured = node("embedding", 2_000_000, None);
        measured.memory = Some(NodeMemory::of(4, 6, 6_144, 4_096));
        let mut idle = node("idle", 2_000_000, None);
        idle.memory = Some(NodeMemory::of(0, 0, 0, 0));
        let snapshot = Snapshot::of(
            vec![measured, idle, node("unmeasured", 2_000_000, None)],
            Vec::new(),
        );
        let table = render_summary(&snapshot, &check_budgets(&snapshot), TableStyle::Ascii);
        let memory_lines: Vec<&str> = table.lines().skip(5).collect();
        assert_eq!(
            memory_lines,
            [
                "memory     calls  allocs/call  bytes/call  peak live",
                "embedding      4         1.50    1.50 KiB   4.00 KiB",
            ]
        );
        assert!(table.is_ascii());
    }

    #[test]
    fn durations_keep_three_significant_figures() {
        let ascii = |ns| format_duration(ns, TableStyle::Ascii);
        assert_eq!(ascii(0), "0ns");
        assert_eq!(ascii(999), "999ns");
        assert_eq!(ascii(1_000), "1.00us");
        assert_eq!(ascii(123_456), "123us");
        assert_eq!(ascii(80_000_000), "80.0ms");
        assert_eq!(ascii(2_500_000_000), "2.50s");
    }
}
