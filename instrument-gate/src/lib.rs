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
//! `1 + tolerance`, exact for small counts, at the level `1 - confidence` (5%). With one run on a
//! side, or too few runs for the test ever to reach the level (4 a side at 5%), the comparison is
//! inconclusive: reported, and a pass unless `--require-conclusive`. `--interleave N` runs a
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
//! Output is plain ASCII unless stdout is a terminal and neither `CI` nor `NO_COLOR` is set.
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
/// status. Tables and results go to `out`, errors and warnings to `err`, in plain ASCII.
///
/// ```
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// assert_eq!(instrument_gate::run(&["--help".to_owned()], &mut out, &mut err), instrument_gate::EXIT_PASS);
/// assert!(String::from_utf8(out).unwrap().starts_with("usage: instrument-gate"));
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
/// assert!(String::from_utf8(err).unwrap().contains("unknown command `chek`"));
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
        Ok(args::Command::Help) => {
            console.print(USAGE);
            EXIT_PASS
        }
        Ok(args::Command::Version) => {
            console.print(&format!("instrument-gate {}\n", env!("CARGO_PKG_VERSION")));
            EXIT_PASS
        }
        Ok(args::Command::Check(args)) => check::check(&args, &mut console),
        Ok(args::Command::BaselineSave(args)) => baseline::save(&args, &mut console),
        Ok(args::Command::Compare(args)) => compare::compare(&args, &mut console),
        Err(error) => {
            console.error(&format!("{error}\nsee `instrument-gate --help`"));
            EXIT_ERROR
        }
    }
}

/// Whether to color the output: only when stdout is a terminal, and neither `CI` nor `NO_COLOR`
/// is set to a non-empty value.
///
/// ```
/// assert!(!instrument_gate::color_wanted(false));
/// ```
pub fn color_wanted(stdout_is_terminal: bool) -> bool {
    table::color_for(
        stdout_is_terminal,
        std::env::var_os("CI").as_deref(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
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

    /// Messages quote reports, baselines and parser errors about them: each line is printed
    /// with its control characters escaped.
    fn message(&mut self, kind: &str, message: &str) {
        let lines: Vec<_> = message.split('\n').map(printable).collect();
        let _ = writeln!(self.err, "instrument-gate: {kind}{}", lines.join("\n"));
    }
}

const USAGE: &str = "\
usage: instrument-gate check [--report FILE] [--budgets FILE] [--strict] [--min-samples N]
                             [--require-all] [--allow-empty] [--output FILE]
                             [--iterations N -- COMMAND...]
       instrument-gate baseline save [--report FILE]... [--output FILE]
       instrument-gate baseline save --iterations N [--output FILE] -- COMMAND...
       instrument-gate compare --baseline FILE [--report FILE]... [OPTIONS]
       instrument-gate compare --baseline FILE --iterations N [OPTIONS] -- COMMAND...
       instrument-gate compare --interleave N [OPTIONS] -- BASELINE_COMMAND... -- CANDIDATE_COMMAND...
       instrument-gate --help | --version

check: judge every budgeted node of a report against its latency budget
  --report FILE      the report (default target/instrument/report.json)
  --budgets FILE     a budgets file (performance_budgets.yaml) overriding the code's budgets
  --strict           a node in the budgets file that no function has is an error
  --min-samples N    calls every node needs to be judged (default: each budget's min_samples)
  --require-all      a node with too few calls fails the gate (default: reported only)
  --allow-empty      pass when no node could be judged (default: exit 2)
  --output FILE      where to write ci_performance_report.json (default: beside the report)
  --iterations N -- COMMAND...
                     run COMMAND N times, each with a fresh INSTRUMENT_REPORT_DIR, merge the
                     reports into --report; when every run has min_samples calls, a statistic
                     fails when it is over budget in more than half of the runs (the median
                     run is shown, with the runs' spread); otherwise the merged one is judged

baseline save: keep each run's latency histograms as the baseline for `compare`
  --report FILE      a report, one run; repeat it for several runs (default
                     target/instrument/report.json)
  --iterations N -- COMMAND...
                     run COMMAND N times and keep every run
  --output FILE      the baseline file (default performance_baseline.json)

compare: is each node slower than the baseline? Runs are the evidence: per quantile, the rank
test (Mann-Whitney) of the candidate runs' quantiles against the baseline runs' scaled by
1 + tolerance; slower only when significant. One run a side, or too few runs to reach the
level (4 a side at 5%, 5 recommended), is inconclusive: reported, exit 0
  --baseline FILE    a file written by `baseline save`
  --report FILE      a report of the candidate, one run; repeat it for several runs (default
                     target/instrument/report.json)
  --iterations N -- COMMAND...
                     run COMMAND N times as the candidate's runs
  --interleave N -- BASELINE_COMMAND... -- CANDIDATE_COMMAND...
                     run both commands N times each, alternately, and compare them (no
                     --baseline); a command holding `--` itself is best wrapped in `sh -c`
  --tolerance PCT    change accepted as noise, like `5%` (default 5%)
  --quantile LIST    quantiles compared, like `p50,p95,p99` (default p50,p95)
  --confidence PCT   confidence of the rank test, like `95%`: its level is 1 - confidence
                     (default 95%)
  --min-samples N    calls each side needs, all its runs together (default 100)
  --require-conclusive
                     an inconclusive comparison exits 2 instead of passing
  --output FILE      also write the comparisons, per-run figures and p-values, as JSON

exit status: 0 every budget holds / no node is slower; 1 a budget is broken / a node is
slower; 2 bad arguments, a missing or invalid report, budgets file or baseline, a failing
command, nothing to judge, or an inconclusive comparison under --require-conclusive
output: colored on a terminal; plain ASCII otherwise, or when CI or NO_COLOR is set
";
