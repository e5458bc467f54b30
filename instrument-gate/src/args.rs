//! Parse: the command line -> a typed [`Command`], every value checked; nothing is read yet.
//!
//! clap's derive reads the line (help, "a similar argument exists", `--`, repeated and
//! conflicting flags); what clap cannot say in attributes (a command's default runs, the two
//! commands of `--interleave`) is checked when its flags become a [`Command`].

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory as _, Parser, Subcommand};
use instrument_runtime::{
    gate::{CompareOptions, DEFAULT_QUANTILES},
    report::DEFAULT_REPORT_DIR,
};

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Command {
    Check(CheckArgs),
    BaselineSave(SaveArgs),
    Compare(CompareArgs),
}

/// `check`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CheckArgs {
    /// The report judged; with `iterations`, where the merged report is written.
    pub(crate) report: PathBuf,
    pub(crate) budgets: Option<PathBuf>,
    pub(crate) strict: bool,
    pub(crate) min_samples: Option<u64>,
    pub(crate) require_all: bool,
    pub(crate) allow_empty: bool,
    /// `ci_performance_report.json`; `None`: beside the report.
    pub(crate) output: Option<PathBuf>,
    pub(crate) iterations: Option<Iterations>,
}

/// `--iterations N -- COMMAND...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Iterations {
    pub(crate) count: u32,
    /// The program and its arguments, at least the program.
    pub(crate) command: Vec<String>,
}

/// Where the runs of one side come from: reports already written (`--report`, repeated), or a
/// command run N times (`--iterations N -- COMMAND...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Runs {
    Reports(Vec<PathBuf>),
    Command(Iterations),
}

/// `baseline save`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SaveArgs {
    pub(crate) runs: Runs,
    pub(crate) output: PathBuf,
}

/// `compare`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CompareArgs {
    pub(crate) sides: Sides,
    /// One set of options per quantile compared, in the order given. The rank test's level is
    /// `1 - confidence`.
    pub(crate) options: Vec<CompareOptions>,
    /// An inconclusive comparison (too few runs to tell) is an error, not a pass.
    pub(crate) require_conclusive: bool,
    pub(crate) output: Option<PathBuf>,
}

/// What `compare` judges against what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sides {
    /// A saved baseline against the runs given.
    Baseline { baseline: PathBuf, runs: Runs },
    /// `--interleave N -- BASELINE... -- CANDIDATE...`: both commands, N runs each, alternating.
    Interleave {
        count: u32,
        baseline: Vec<String>,
        candidate: Vec<String>,
    },
}

/// The default confidence of `compare`: the rank test at the 5% level, as `benchstat` uses.
pub(crate) const DEFAULT_CONFIDENCE: f64 = 0.95;

/// The report `report_at_exit()` writes by default.
pub(crate) fn default_report() -> PathBuf {
    PathBuf::from(DEFAULT_REPORT_DIR).join("report.json")
}

/// Parses the arguments after the program name. `Err` holds clap's message, or its help or
/// version text ([`ErrorKind::DisplayHelp`], [`ErrorKind::DisplayVersion`]).
pub(crate) fn parse(args: &[String]) -> Result<Command, clap::Error> {
    let line = Line::try_parse_from(
        std::iter::once("instrument-gate").chain(args.iter().map(String::as_str)),
    )?;
    match line.command {
        Commands::Check(flags) => Ok(Command::Check(flags.into_args())),
        Commands::Baseline {
            action: BaselineCommands::Save(flags),
        } => Ok(Command::BaselineSave(flags.into_args())),
        Commands::Compare(flags) => flags.into_args().map(Command::Compare),
    }
}

/// The synopsis `--help` opens with, written out: clap's own would read
/// `instrument-gate <COMMAND>`, and this shows every way to call the gate, the repeatable
/// `--report` and both `--` forms. Each command's `--help` has clap's usage of that command.
const USAGE: &str = "\
instrument-gate check [--report FILE] [--budgets FILE] [--strict] [--min-samples N]
                             [--require-all] [--allow-empty] [--output FILE]
                             [--iterations N -- COMMAND...]
       instrument-gate baseline save [--report FILE]... [--output FILE]
       instrument-gate baseline save --iterations N [--output FILE] -- COMMAND...
       instrument-gate compare --baseline FILE [--report FILE]... [OPTIONS]
       instrument-gate compare --baseline FILE --iterations N [OPTIONS] -- COMMAND...
       instrument-gate compare --interleave N [OPTIONS] -- BASELINE_COMMAND... -- CANDIDATE_COMMAND...
       instrument-gate --help | --version";

/// What `--help` ends with: what the exit status and the colors mean.
const AFTER_HELP: &str = "\
Exit status: 0 every budget holds / no node is slower; 1 a budget is broken / a node is
slower; 2 bad arguments, a missing or invalid report, budgets file or baseline, a failing
command, nothing to judge, or an inconclusive comparison under --require-conclusive.
Output: colored on a terminal, plain ASCII otherwise; NO_COLOR turns colors off, CLICOLOR_FORCE
on. `instrument-gate help COMMAND` documents each command.";

/// The CI gate of instrument: judges report.json against latency budgets, and against a baseline
#[derive(Debug, Parser)]
#[command(
    name = "instrument-gate",
    version,
    override_usage = USAGE,
    after_help = AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Line {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Judge every budgeted node of a report against its latency budget
    Check(CheckFlags),
    /// Keep latency histograms as the baseline for `compare`
    #[command(subcommand_required = true, arg_required_else_help = true)]
    Baseline {
        #[command(subcommand)]
        action: BaselineCommands,
    },
    /// Is each node slower than the baseline? Runs are the evidence
    ///
    /// Per quantile, the rank test (Mann-Whitney) of the candidate runs' quantiles against the
    /// baseline runs' scaled by 1 + band, the band being the tolerance or twice the runs' own
    /// spread if larger; slower only when significant with any one run left out. One run a side,
    /// or too few runs to reach the level (5 a side at 5%), is inconclusive: reported, exit 0.
    Compare(CompareFlags),
}

#[derive(Debug, Subcommand)]
enum BaselineCommands {
    /// Keep each run's latency histograms as the baseline for `compare`
    Save(SaveFlags),
}

/// `check`'s flags, as written.
#[derive(Debug, Args)]
struct CheckFlags {
    /// The report [default: target/instrument/report.json]
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// A budgets file (`performance_budgets.yaml`) overriding the code's budgets
    #[arg(long, value_name = "FILE")]
    budgets: Option<PathBuf>,
    /// A node in the budgets file that no function has is an error
    #[arg(long)]
    strict: bool,
    /// Calls every node needs to be judged [default: each budget's `min_samples`]
    #[arg(long, value_name = "N")]
    min_samples: Option<u64>,
    /// A node with too few calls fails the gate [default: reported only]
    #[arg(long)]
    require_all: bool,
    /// Pass when no node could be judged [default: exit 2]
    #[arg(long)]
    allow_empty: bool,
    /// Where to write `ci_performance_report.json` [default: beside the report]
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Run COMMAND N times, each with a fresh `INSTRUMENT_REPORT_DIR`, and merge the reports into
    /// --report; when every run has `min_samples` calls, a statistic fails when it is over budget
    /// in more than half of the runs (the median run is shown, with the runs' spread); otherwise
    /// the merged one is judged
    #[arg(long, value_name = "N", value_parser = run_count, requires = "command")]
    iterations: Option<u32>,
    /// The program to run and its arguments, after `--` [runs once without --iterations]
    #[arg(last = true, value_name = "COMMAND", num_args = 1..)]
    command: Vec<String>,
}

/// `baseline save`'s flags, as written.
#[derive(Debug, Args)]
struct SaveFlags {
    /// A report, one run; repeat it for several runs [default: target/instrument/report.json]
    #[arg(long = "report", value_name = "FILE", conflicts_with_all = ["iterations", "command"])]
    reports: Vec<PathBuf>,
    /// Run COMMAND N times and keep every run
    #[arg(long, value_name = "N", value_parser = run_count, requires = "command")]
    iterations: Option<u32>,
    /// The baseline file [default: `performance_baseline.json`]
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The program to run and its arguments, after `--`
    #[arg(last = true, value_name = "COMMAND", num_args = 1..)]
    command: Vec<String>,
}

/// `compare`'s flags, as written.
#[derive(Debug, Args)]
struct CompareFlags {
    /// A file written by `baseline save`
    #[arg(long, value_name = "FILE", required_unless_present = "interleave")]
    baseline: Option<PathBuf>,
    /// A report of the candidate, one run; repeat it for several runs
    /// [default: target/instrument/report.json]
    #[arg(long = "report", value_name = "FILE", conflicts_with_all = ["iterations", "command"])]
    reports: Vec<PathBuf>,
    /// Run COMMAND N times as the candidate's runs
    #[arg(long, value_name = "N", value_parser = run_count, requires = "command")]
    iterations: Option<u32>,
    /// Run both commands N times each, alternately, and compare them (no --baseline):
    /// `--interleave N -- BASELINE_COMMAND... -- CANDIDATE_COMMAND...`; a command holding `--`
    /// itself is best wrapped in `sh -c`
    #[arg(
        long,
        value_name = "N",
        value_parser = run_count,
        requires = "command",
        conflicts_with_all = ["baseline", "reports", "iterations"]
    )]
    interleave: Option<u32>,
    /// Change accepted as noise, like `5%` [default: 5%]
    #[arg(long, value_name = "PCT", value_parser = tolerance)]
    tolerance: Option<f64>,
    /// Quantiles compared, like `p50,p95,p99` [default: p50,p95]
    #[arg(
        long = "quantile",
        value_name = "LIST",
        value_parser = quantile,
        value_delimiter = ',',
        action = ArgAction::Set
    )]
    quantiles: Vec<f64>,
    /// Confidence of the rank test, like `95%`: its level is 1 - confidence [default: 95%]
    #[arg(long, value_name = "PCT", value_parser = confidence)]
    confidence: Option<f64>,
    /// Calls each side needs, all its runs together [default: 100]
    #[arg(long, value_name = "N")]
    min_samples: Option<u64>,
    /// An inconclusive comparison exits 2 instead of passing
    #[arg(long)]
    require_conclusive: bool,
    /// Also write the comparisons, per-run figures and p-values, as JSON
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The candidate program and its arguments, after `--`; with --interleave, the baseline's
    /// and the candidate's, `--` between them
    #[arg(last = true, value_name = "COMMAND", num_args = 1..)]
    command: Vec<String>,
}

/// `--iterations N` and the command after `--`: a command given alone runs once.
fn iterations_of(count: Option<u32>, command: Vec<String>) -> Option<Iterations> {
    (!command.is_empty()).then(|| Iterations {
        count: count.unwrap_or(1),
        command,
    })
}

/// One side's runs: the command's, or the reports given (the default report when none). clap
/// has already refused both at once.
fn runs_of(reports: Vec<PathBuf>, iterations: Option<Iterations>) -> Runs {
    match iterations {
        Some(iterations) => Runs::Command(iterations),
        None if reports.is_empty() => Runs::Reports(vec![default_report()]),
        None => Runs::Reports(reports),
    }
}

impl CheckFlags {
    fn into_args(self) -> CheckArgs {
        CheckArgs {
            report: self.report.unwrap_or_else(default_report),
            budgets: self.budgets,
            strict: self.strict,
            min_samples: self.min_samples,
            require_all: self.require_all,
            allow_empty: self.allow_empty,
            output: self.output,
            iterations: iterations_of(self.iterations, self.command),
        }
    }
}

impl SaveFlags {
    fn into_args(self) -> SaveArgs {
        SaveArgs {
            runs: runs_of(self.reports, iterations_of(self.iterations, self.command)),
            output: self
                .output
                .unwrap_or_else(|| PathBuf::from(crate::BASELINE_FILE)),
        }
    }
}

impl CompareFlags {
    fn into_args(self) -> Result<CompareArgs, clap::Error> {
        let sides = match (self.interleave, self.baseline) {
            (Some(count), _) => {
                let (baseline, candidate) = two_commands(&self.command).ok_or_else(|| {
                    usage_error(
                        "compare",
                        "`--interleave` needs two commands: \
                         `-- BASELINE_COMMAND... -- CANDIDATE_COMMAND...`",
                    )
                })?;
                Sides::Interleave {
                    count,
                    baseline,
                    candidate,
                }
            }
            (None, baseline) => Sides::Baseline {
                // clap requires `--baseline` unless `--interleave` is given.
                baseline: baseline.unwrap_or_default(),
                runs: runs_of(self.reports, iterations_of(self.iterations, self.command)),
            },
        };
        let defaults = CompareOptions::DEFAULT;
        let quantiles = if self.quantiles.is_empty() {
            DEFAULT_QUANTILES.to_vec()
        } else {
            self.quantiles
        };
        let options = quantiles
            .into_iter()
            .map(|quantile| CompareOptions {
                quantile,
                tolerance: self.tolerance.unwrap_or(defaults.tolerance),
                confidence: self.confidence.unwrap_or(DEFAULT_CONFIDENCE),
                min_samples: self.min_samples.unwrap_or(defaults.min_samples),
                ..defaults
            })
            .collect();
        Ok(CompareArgs {
            sides,
            options,
            require_conclusive: self.require_conclusive,
            output: self.output,
        })
    }
}

/// A usage error of `subcommand` that clap's attributes cannot express, shown as clap shows its
/// own (message, then the subcommand's usage).
fn usage_error(subcommand: &str, message: &str) -> clap::Error {
    let mut line = Line::command();
    // Built, so the subcommand's usage line starts with the program's name.
    line.build();
    match line.find_subcommand_mut(subcommand) {
        Some(command) => command.error(ErrorKind::WrongNumberOfValues, message),
        None => line.error(ErrorKind::WrongNumberOfValues, message),
    }
}

/// `BASELINE... -- CANDIDATE...`, each side at least its program.
fn two_commands(words: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let at = words.iter().position(|word| word == "--")?;
    let (baseline, candidate) = (&words[..at], &words[at + 1..]);
    (!baseline.is_empty() && !candidate.is_empty()).then(|| (baseline.to_vec(), candidate.to_vec()))
}

/// A number of runs: `5`, at least 1.
fn run_count(value: &str) -> Result<u32, String> {
    value
        .parse()
        .ok()
        .filter(|&count: &u32| count > 0)
        .ok_or_else(|| "expected a number of runs like `5`".to_owned())
}

fn tolerance(value: &str) -> Result<f64, String> {
    share(value)
        .filter(|tolerance| (0.0..=1.0).contains(tolerance))
        .ok_or_else(|| "expected a percentage like `5%` or a fraction like `0.05`".to_owned())
}

fn confidence(value: &str) -> Result<f64, String> {
    share(value)
        .filter(|&confidence| confidence > 0.0 && confidence < 1.0)
        .ok_or_else(|| "expected a percentage like `99%`, above 0 and below 100".to_owned())
}

/// `5%` -> 0.05, `0.05` -> 0.05.
fn share(value: &str) -> Option<f64> {
    let parsed = match value.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().ok()? / 100.0,
        None => value.parse::<f64>().ok()?,
    };
    parsed.is_finite().then_some(parsed)
}

/// `p50` -> 0.5, `p99.9` -> 0.999, `max` -> 1, `0.9` -> 0.9.
fn quantile(value: &str) -> Result<f64, String> {
    let value = value.trim();
    let parsed = if value == "max" {
        Some(1.0)
    } else if let Some(percentile) = value.strip_prefix('p') {
        // Rounded so that `p99.9` is the double nearest 0.999, as if written `0.999`.
        percentile
            .parse::<f64>()
            .ok()
            .map(|percentile| (percentile * 1e10).round() / 1e12)
    } else {
        value.parse::<f64>().ok()
    };
    parsed
        .filter(|quantile| (0.0..=1.0).contains(quantile))
        .ok_or_else(|| "expected quantiles like `p50,p95`, `max` or `0.9`".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, clap::Error> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    fn check(line: &str) -> CheckArgs {
        match parse_line(line) {
            Ok(Command::Check(args)) => args,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// clap's message for a line that is refused, without its closing usage lines.
    fn message(line: &str) -> String {
        let error = parse_line(line).expect_err(line);
        error.render().to_string()
    }

    #[test]
    fn the_command_line_declaration_is_consistent() {
        // Every `requires`, `conflicts_with` and value name resolves: clap checks it here.
        Line::command().debug_assert();
    }

    #[test]
    fn check_defaults_to_the_runtime_report_and_takes_every_flag() {
        let defaults = check("check");
        assert_eq!(
            defaults.report,
            PathBuf::from("target/instrument/report.json")
        );
        assert_eq!(
            (defaults.budgets, defaults.output, defaults.iterations),
            (None, None, None)
        );
        assert!(!defaults.strict && !defaults.require_all && !defaults.allow_empty);

        let all = check(
            "check --report r.json --budgets=b.yaml --strict --min-samples 50 --require-all \
             --allow-empty --output out/ci.json",
        );
        assert_eq!(
            all,
            CheckArgs {
                report: "r.json".into(),
                budgets: Some("b.yaml".into()),
                strict: true,
                min_samples: Some(50),
                require_all: true,
                allow_empty: true,
                output: Some("out/ci.json".into()),
                iterations: None,
            }
        );
    }

    #[test]
    fn iterations_take_the_command_after_the_double_dash_whole() {
        let args = check("check --iterations 3 -- cargo run --example pipeline -- --seed 7");
        assert_eq!(
            args.iterations,
            Some(Iterations {
                count: 3,
                command: ["cargo", "run", "--example", "pipeline", "--", "--seed", "7"]
                    .map(str::to_owned)
                    .to_vec(),
            })
        );
        assert_eq!(check("check -- ./bench").iterations.unwrap().count, 1);
        for line in ["check --iterations 3", "check --iterations 2 --"] {
            let message = message(line);
            assert!(
                message.contains("required arguments were not provided")
                    && message.contains("-- <COMMAND>..."),
                "{message}"
            );
        }
    }

    #[test]
    fn mistakes_are_named_with_what_was_written() {
        let cases = [
            (
                "check --report a --report b",
                "the argument '--report <FILE>' cannot be used multiple times",
            ),
            (
                "check --strict --strict",
                "the argument '--strict' cannot be used multiple times",
            ),
            (
                "check --budgets",
                "a value is required for '--budgets <FILE>' but none was supplied",
            ),
            (
                "check --strict=yes",
                "unexpected value 'yes' for '--strict' found; no more were expected",
            ),
            ("check --repor x", "a similar argument exists: '--report'"),
            (
                "check --iterations 0 -- x",
                "invalid value '0' for '--iterations <N>': expected a number of runs like `5`",
            ),
            (
                "compare --baseline b --tolerance five",
                "invalid value 'five' for '--tolerance <PCT>': expected a percentage like `5%` \
                 or a fraction like `0.05`",
            ),
            ("compare", "--baseline <FILE>"),
            ("chek", "a similar subcommand exists: 'check'"),
            ("bless", "unrecognized subcommand 'bless'"),
            ("baseline load", "unrecognized subcommand 'load'"),
            ("baseline sav", "a similar subcommand exists: 'save'"),
        ];
        for (line, expected) in cases {
            let message = message(line);
            assert!(message.contains(expected), "{line}: {message}");
            assert!(message.starts_with("error: "), "{line}: {message}");
        }
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }

    #[test]
    fn compare_reads_percentages_fractions_and_quantile_names() {
        let Ok(Command::Compare(args)) = parse_line(
            "compare --baseline b.json --tolerance 10% --confidence 0.95 --quantile p50,p99.9,max \
             --min-samples 20",
        ) else {
            panic!()
        };
        assert_eq!(
            args.sides,
            Sides::Baseline {
                baseline: "b.json".into(),
                runs: Runs::Reports(vec![default_report()]),
            }
        );
        let quantiles: Vec<f64> = args.options.iter().map(|o| o.quantile).collect();
        assert_eq!(quantiles, [0.5, 0.999, 1.0]);
        for options in &args.options {
            assert_eq!(
                (options.tolerance, options.confidence, options.min_samples),
                (0.1, 0.95, 20)
            );
        }
        let Ok(Command::Compare(defaults)) = parse_line("compare --baseline b.json") else {
            panic!()
        };
        let quantiles: Vec<f64> = defaults.options.iter().map(|o| o.quantile).collect();
        assert_eq!(quantiles, DEFAULT_QUANTILES);
        assert_eq!(
            defaults.options[0],
            CompareOptions {
                quantile: 0.5,
                tolerance: 0.05,
                confidence: 0.95,
                ..CompareOptions::DEFAULT
            }
        );
        assert!(parse_line("compare --baseline b --confidence 100%").is_err());
        assert!(parse_line("compare --baseline b --quantile p50,p101").is_err());
        assert!(parse_line("compare --baseline b --quantile p50 --quantile p95").is_err());
    }

    #[test]
    fn reports_repeat_and_a_side_takes_reports_or_a_command() {
        let Ok(Command::Compare(args)) =
            parse_line("compare --baseline b --report 1.json --report=2.json --require-conclusive")
        else {
            panic!()
        };
        assert!(args.require_conclusive);
        assert_eq!(
            args.sides,
            Sides::Baseline {
                baseline: "b".into(),
                runs: Runs::Reports(vec!["1.json".into(), "2.json".into()]),
            }
        );
        assert_eq!(
            parse_line("baseline save --iterations 5 -- ./app --fast").unwrap(),
            Command::BaselineSave(SaveArgs {
                runs: Runs::Command(Iterations {
                    count: 5,
                    command: vec!["./app".to_owned(), "--fast".to_owned()],
                }),
                output: "performance_baseline.json".into(),
            })
        );
        let Ok(Command::Compare(args)) =
            parse_line("compare --interleave 6 -- ./old --seed 1 -- ./new --seed 1")
        else {
            panic!()
        };
        assert_eq!(
            args.sides,
            Sides::Interleave {
                count: 6,
                baseline: vec!["./old".into(), "--seed".into(), "1".into()],
                candidate: vec!["./new".into(), "--seed".into(), "1".into()],
            }
        );
        let cases = [
            (
                "baseline save --report r --iterations 2 -- ./app",
                "the argument '--report <FILE>' cannot be used with",
            ),
            (
                "baseline save --report r -- ./app",
                "the argument '--report <FILE>' cannot be used with",
            ),
            (
                "compare --baseline b --interleave 2 -- a -- b",
                "'--baseline <FILE>' cannot be used with '--interleave <N>'",
            ),
            (
                "compare --interleave 2 -- ./only",
                "`--interleave` needs two commands: `-- BASELINE_COMMAND... -- CANDIDATE_COMMAND...`",
            ),
            (
                "compare --interleave 2 -- ./old --",
                "`--interleave` needs two commands",
            ),
        ];
        for (line, expected) in cases {
            let message = message(line);
            assert!(message.contains(expected), "{line}: {message}");
        }
    }

    #[test]
    fn baseline_save_defaults_and_help_anywhere() {
        assert_eq!(
            parse_line("baseline save").unwrap(),
            Command::BaselineSave(SaveArgs {
                runs: Runs::Reports(vec![default_report()]),
                output: "performance_baseline.json".into(),
            })
        );
        for line in [
            "--help",
            "-h",
            "help",
            "check --help",
            "compare -h",
            "baseline --help",
            "help compare",
        ] {
            assert_eq!(
                parse_line(line).unwrap_err().kind(),
                ErrorKind::DisplayHelp,
                "{line}"
            );
        }
        assert_eq!(
            parse_line("--version").unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
    }
}
