//! The CI gate of instrument: judges the `report.json` an instrumented program writes at exit
//! against its latency budgets, or against a saved baseline, and exits with a status CI can act on.
//!
//! ```text
//! cargo run -p instrument-gate -- check --report target/instrument/report.json --budgets performance_budgets.yaml
//! cargo run -p instrument-gate -- check --budgets performance_budgets.yaml --iterations 5 -- target/release/my-app
//! cargo run -p instrument-gate -- baseline save --iterations 5 -- target/release/my-app
//! cargo run -p instrument-gate -- compare --baseline performance_baseline.json --iterations 5 -- target/release/my-app
//! cargo run -p instrument-gate -- compare --interleave 5 -- ./app-before -- ./app-after
//! ```
//!
//! # `check`
//!
//! Every budgeted node against its budget: each budgeted statistic (`p50` to `max`) must stay
//! within `budget × (1 + tolerance)`. With `--budgets`, the budgets file overrides the code's
//! `#[budget]`s by its precedence rules ([`instrument_runtime::budgets::BudgetsFile`]); its errors, each as
//! `file:line:column: key: message`, stop the gate. A node with fewer calls than its
//! `min_samples` is not judged but reported as not exercised; `--require-all` makes that a
//! failure. A report in which no node could be judged is not a pass unless `--allow-empty` says
//! so. The gate prints a table (node, calls, statistic, observed, allowed, margin, verdict) and a
//! summary, and writes [`CI_REPORT_FILE`] beside the report (or at `--output`), keys sorted.
//!
//! `--iterations N -- COMMAND...` runs the command N times, each with its own
//! `INSTRUMENT_REPORT_DIR`, merges the reports (histograms and exact sums added, so the merged
//! quantiles are those of all calls together) into `--report`, and judges what holds across the
//! runs: when every run has `min_samples` calls, a statistic fails when it is over its allowance
//! in more than half of the runs (the table shows the median run, the runs' spread and how many
//! were over); when a run is too short to judge alone, the merged histogram is judged.
//!
//! # `baseline save` and `compare`
//!
//! Runs are the unit of evidence: what moves between two runs on a shared machine is invisible
//! inside one. `baseline save` keeps each run's histograms (and their merge) in
//! [`BASELINE_FILE`], from `--report` given once per run or from `--iterations N -- COMMAND`.
//! `compare` asks, per node and quantile, whether the candidate's runs are slower: the
//! Mann-Whitney rank test of the candidate runs' quantiles against the baseline runs' scaled by
//! `1 + band`, exact for small counts, at the level `1 - confidence` (5%), and significant still
//! with any one run of either side left out. The band is the tolerance, or twice the runs' own
//! spread within a side when that is larger, so runs that scatter widely are not called slower
//! by a chance ordering. With one run on a side, or too few runs for the test ever to reach the
//! level (5 a side at 5%), the comparison is inconclusive: reported, and a pass unless
//! `--require-conclusive`. `--interleave N` runs a
//! baseline and a candidate command alternately and compares them.
//!
//! # Exit status
//!
//! | status | `check` | `compare` |
//! | --- | --- | --- |
//! | [`EXIT_PASS`] (0) | every judged budget holds | no node is slower |
//! | [`EXIT_FAIL`] (1) | a budget is broken, or a node is not exercised under `--require-all` | a node is slower |
//! | [`EXIT_ERROR`] (2) | bad arguments; a missing, unreadable or invalid report, budgets file or baseline; a failing `--iterations` command; nothing judged | the same; an inconclusive comparison under `--require-conclusive` |
//!
//! A missing report is never a pass: CI fails when the program did not run or did not write it.
//!
//! Output is colored on a terminal and plain ASCII otherwise; `NO_COLOR` turns colors off and
//! `CLICOLOR_FORCE` on, as for the runtime's report ([`TableStyle::for_stream`]).
//!
//! # Example
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("instrument-gate-doc-{}", std::process::id()));
//! let report = dir.join("report.json");
//! let args: Vec<String> = ["check", "--report", report.to_str().unwrap()].map(String::from).to_vec();
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! // No report: the program did not run. That fails the gate, and says why.
//! assert_eq!(instrument_gate::run(&args, &mut out, &mut err), instrument_gate::EXIT_ERROR);
//! assert!(String::from_utf8(err).unwrap().contains("cannot read the report"));
//! // The CI report says so too, in place of a stale one.
//! assert!(dir.join(instrument_gate::CI_REPORT_FILE).exists());
//! # std::fs::remove_dir_all(dir).unwrap();
//! ```

use std::io::Write;

use clap::error::ErrorKind;
use instrument_runtime::format::{TableStyle, printable};

mod across;
mod args;
mod artifact;
mod baseline;
mod check;
mod compare;
mod iterations;
mod merge;
mod ranks;
mod table;
#[cfg(test)]
mod test_support;
mod validate;

/// Exit status: every budget holds, or no node is slower than the baseline.
pub const EXIT_PASS: u8 = 0;
/// Exit status: a budget is broken, or a node is slower than the baseline.
pub const EXIT_FAIL: u8 = 1;
/// Exit status: bad arguments, or a missing or invalid artifact; never a pass.
pub const EXIT_ERROR: u8 = 2;

/// The file `check` writes beside the report it read: every verdict, each budget's source, the
/// summary and the exit status, as JSON with sorted keys.
pub const CI_REPORT_FILE: &str = "ci_performance_report.json";
/// The schema identifier of [`CI_REPORT_FILE`].
pub const CI_REPORT_SCHEMA: &str = "instrument.gate/1";
/// Where `baseline save` writes by default.
pub const BASELINE_FILE: &str = "performance_baseline.json";
/// The schema identifier of a baseline file.
pub const BASELINE_SCHEMA: &str = "instrument.baseline/1";

/// Runs the gate with `args` (the arguments after the program's name) and returns its exit
/// status. Tables, results, help and version go to `out`; errors, usage mistakes and warnings to
/// `err`; all in plain ASCII.
///
/// ```
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// assert_eq!(instrument_gate::run(&["--help".to_owned()], &mut out, &mut err), instrument_gate::EXIT_PASS);
/// assert!(String::from_utf8(out).unwrap().contains("Usage: instrument-gate check"));
/// ```
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    run_with_color(args, out, err, false)
}

/// [`run`], with the verdicts colored when `color` is true (see [`color_wanted`]).
///
/// ```
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let status = instrument_gate::run_with_color(&["chek".to_owned()], &mut out, &mut err, true);
/// assert_eq!(status, instrument_gate::EXIT_ERROR);
/// let err = String::from_utf8(err).unwrap();
/// assert!(err.contains("unrecognized subcommand 'chek'"));
/// assert!(err.contains("a similar subcommand exists: 'check'"));
/// ```
pub fn run_with_color(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    color: bool,
) -> u8 {
    let style = if color {
        TableStyle::Color
    } else {
        TableStyle::Ascii
    };
    let mut console = Console { out, err, style };
    match args::parse(args) {
        Ok(args::Command::Check(args)) => check::check(&args, &mut console),
        Ok(args::Command::BaselineSave(args)) => baseline::save(&args, &mut console),
        Ok(args::Command::Compare(args)) => compare::compare(&args, &mut console),
        // Asked-for help and the version are the answer, on stdout; every other "error" of
        // clap's is a usage mistake (help shown for a bare command included): stderr, status 2.
        Err(shown)
            if matches!(
                shown.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            console.print(&shown.render().to_string());
            EXIT_PASS
        }
        Err(mistake) => {
            console.usage(&mistake.render().to_string());
            EXIT_ERROR
        }
    }
}

/// Whether to color the output written to a stream that is, or is not, a terminal: the policy
/// of the runtime's report at exit, [`TableStyle::for_stream`] (`NO_COLOR`, `CLICOLOR_FORCE`,
/// else the terminal decides).
///
/// ```
/// # if std::env::var_os("CLICOLOR_FORCE").is_none() {
/// assert!(!instrument_gate::color_wanted(false));
/// # }
/// ```
pub fn color_wanted(stdout_is_terminal: bool) -> bool {
    TableStyle::for_stream(stdout_is_terminal) == TableStyle::Color
}

/// Where the gate writes, and how.
pub(crate) struct Console<'a> {
    pub(crate) out: &'a mut dyn Write,
    pub(crate) err: &'a mut dyn Write,
    pub(crate) style: TableStyle,
}

impl Console<'_> {
    /// Writes to `out`. A closed stdout is not the gate's verdict, so write errors are ignored.
    /// The caller passes names from files through [`printable`] (the tables do it for their
    /// cells): `text` may hold the tables' own colors.
    pub(crate) fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    pub(crate) fn error(&mut self, message: &str) {
        self.message("error: ", message);
    }

    pub(crate) fn warning(&mut self, message: &str) {
        self.message("warning: ", message);
    }

    pub(crate) fn note(&mut self, message: &str) {
        self.message("", message);
    }

    /// clap's message about the command line, as clap words it (`error: ...`, a tip, the usage);
    /// it quotes what was written, so its lines are escaped like the others.
    fn usage(&mut self, message: &str) {
        let lines: Vec<_> = message.split('\n').map(printable).collect();
        let _ = write!(self.err, "{}", lines.join("\n"));
    }

    /// Messages quote reports, baselines and parser errors about them: each line is printed
    /// with its control characters escaped.
    fn message(&mut self, kind: &str, message: &str) {
        let lines: Vec<_> = message.split('\n').map(printable).collect();
        let _ = writeln!(self.err, "instrument-gate: {kind}{}", lines.join("\n"));
    }
}
