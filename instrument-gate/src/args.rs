//! Parse: the command line -> a typed [`Command`], every value checked; nothing is read yet.

use std::fmt;
use std::path::PathBuf;

use instrument_runtime::{
    gate::{CompareOptions, DEFAULT_QUANTILES},
    report::DEFAULT_REPORT_DIR,
};

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Command {
    Help,
    Version,
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

/// Why the command line was not understood. Messages are lower-case and quote what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UsageError {
    NoCommand,
    UnknownCommand(String),
    UnknownFlag {
        command: &'static str,
        flag: String,
    },
    Duplicate(String),
    MissingValue(String),
    UnexpectedValue(String),
    InvalidValue {
        flag: String,
        expected: &'static str,
        found: String,
    },
    Missing {
        command: &'static str,
        flag: &'static str,
    },
    IterationsWithoutCommand,
    EmptyCommand,
    /// Two sources of runs for one side, like `--report` and `--iterations`.
    Conflict(&'static str, &'static str),
    InterleaveCommands,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCommand => {
                f.write_str("expected a command: `check`, `baseline save` or `compare`")
            }
            Self::UnknownCommand(found) => write!(
                f,
                "unknown command `{found}`; expected `check`, `baseline save` or `compare`"
            ),
            Self::UnknownFlag { command, flag } => {
                write!(f, "unknown argument `{flag}` for `{command}`")
            }
            Self::Duplicate(flag) => write!(f, "duplicate argument `{flag}`"),
            Self::MissingValue(flag) => write!(f, "`{flag}` needs a value"),
            Self::UnexpectedValue(flag) => write!(f, "`{flag}` takes no value"),
            Self::InvalidValue {
                flag,
                expected,
                found,
            } => {
                write!(f, "`{flag}` expects {expected}, found `{found}`")
            }
            Self::Missing { command, flag } => write!(f, "`{command}` needs `{flag}`"),
            Self::IterationsWithoutCommand => {
                f.write_str("`--iterations` needs the command to run after `--`")
            }
            Self::EmptyCommand => f.write_str("expected a command to run after `--`"),
            Self::Conflict(a, b) => write!(f, "`{a}` and `{b}` cannot be used together"),
            Self::InterleaveCommands => f.write_str(
                "`--interleave` needs two commands: `-- BASELINE_COMMAND... -- CANDIDATE_COMMAND...`",
            ),
        }
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((first, rest)) = args.split_first() else {
        return Err(UsageError::NoCommand);
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "check" => parse_check(rest),
        "baseline" => match rest.split_first() {
            Some((save, rest)) if save == "save" => parse_save(rest),
            Some((other, _)) if other == "-h" || other == "--help" => Ok(Command::Help),
            Some((other, _)) => Err(UsageError::UnknownCommand(format!("baseline {other}"))),
            None => Err(UsageError::UnknownCommand("baseline".to_owned())),
        },
        "compare" => parse_compare(rest),
        other => Err(UsageError::UnknownCommand(other.to_owned())),
    }
}

/// The flags before `--`, and the words after it.
fn split_command(args: &[String]) -> (&[String], Option<Vec<String>>) {
    match args.iter().position(|arg| arg == "--") {
        Some(at) => (&args[..at], Some(args[at + 1..].to_vec())),
        None => (args, None),
    }
}

/// `--iterations N` and the command after `--`, if any, checked together.
fn iterations_of(
    count: Option<u32>,
    command: Option<Vec<String>>,
) -> Result<Option<Iterations>, UsageError> {
    match (count, command) {
        (_, Some(command)) if command.is_empty() => Err(UsageError::EmptyCommand),
        (count, Some(command)) => Ok(Some(Iterations {
            count: count.unwrap_or(1),
            command,
        })),
        (Some(_), None) => Err(UsageError::IterationsWithoutCommand),
        (None, None) => Ok(None),
    }
}

/// One side's runs: the reports given (the default report when none), or the command's.
fn runs_of(reports: Vec<PathBuf>, iterations: Option<Iterations>) -> Result<Runs, UsageError> {
    match iterations {
        Some(_) if !reports.is_empty() => Err(UsageError::Conflict("--report", "--iterations")),
        Some(iterations) => Ok(Runs::Command(iterations)),
        None if reports.is_empty() => Ok(Runs::Reports(vec![default_report()])),
        None => Ok(Runs::Reports(reports)),
    }
}

fn count_flag(flags: &mut Flags<'_>, slot: &mut Option<u32>) -> Result<(), UsageError> {
    flags.set(slot, "a number of runs like `5`", |v| {
        v.parse().ok().filter(|&n: &u32| n > 0)
    })
}

fn parse_check(args: &[String]) -> Result<Command, UsageError> {
    let (args, command) = split_command(args);
    let mut flags = Flags::new("check", args);
    let (mut report, mut budgets, mut output) = (None, None, None);
    let (mut min_samples, mut iterations) = (None, None);
    let (mut strict, mut require_all, mut allow_empty) = (false, false, false);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--report" => flags.set_path(&mut report)?,
            "--budgets" => flags.set_path(&mut budgets)?,
            "--output" => flags.set_path(&mut output)?,
            "--min-samples" => flags.set(&mut min_samples, "a whole number like `100`", |v| {
                v.parse().ok()
            })?,
            "--iterations" => count_flag(&mut flags, &mut iterations)?,
            "--strict" => flags.switch(&mut strict)?,
            "--require-all" => flags.switch(&mut require_all)?,
            "--allow-empty" => flags.switch(&mut allow_empty)?,
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(flags.unknown()),
        }
    }
    let iterations = iterations_of(iterations, command)?;
    Ok(Command::Check(CheckArgs {
        report: report.unwrap_or_else(default_report),
        budgets,
        strict,
        min_samples,
        require_all,
        allow_empty,
        output,
        iterations,
    }))
}

fn parse_save(args: &[String]) -> Result<Command, UsageError> {
    let (args, command) = split_command(args);
    let mut flags = Flags::new("baseline save", args);
    let (mut reports, mut output, mut iterations) = (Vec::new(), None, None);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--report" => flags.add_path(&mut reports)?,
            "--output" => flags.set_path(&mut output)?,
            "--iterations" => count_flag(&mut flags, &mut iterations)?,
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(flags.unknown()),
        }
    }
    Ok(Command::BaselineSave(SaveArgs {
        runs: runs_of(reports, iterations_of(iterations, command)?)?,
        output: output.unwrap_or_else(|| PathBuf::from(crate::BASELINE_FILE)),
    }))
}

fn parse_compare(args: &[String]) -> Result<Command, UsageError> {
    let (args, command) = split_command(args);
    let mut flags = Flags::new("compare", args);
    let (mut baseline, mut reports, mut output) = (None, Vec::new(), None);
    let (mut iterations, mut interleave, mut require_conclusive) = (None, None, false);
    let (mut tolerance, mut confidence, mut quantiles, mut min_samples) = (None, None, None, None);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--baseline" => flags.set_path(&mut baseline)?,
            "--report" => flags.add_path(&mut reports)?,
            "--iterations" => count_flag(&mut flags, &mut iterations)?,
            "--interleave" => count_flag(&mut flags, &mut interleave)?,
            "--require-conclusive" => flags.switch(&mut require_conclusive)?,
            "--output" => flags.set_path(&mut output)?,
            "--tolerance" => flags.set(
                &mut tolerance,
                "a percentage like `5%` or a fraction like `0.05`",
                |v| share(v).filter(|&t| (0.0..=1.0).contains(&t)),
            )?,
            "--confidence" => flags.set(
                &mut confidence,
                "a percentage like `99%`, above 0 and below 100",
                |v| share(v).filter(|&c| c > 0.0 && c < 1.0),
            )?,
            "--quantile" => flags.set(&mut quantiles, "quantiles like `p50,p95`", |v| {
                v.split(',').map(quantile).collect::<Option<Vec<f64>>>()
            })?,
            "--min-samples" => flags.set(&mut min_samples, "a whole number like `100`", |v| {
                v.parse().ok()
            })?,
            "-h" | "--help" => return Ok(Command::Help),
            _ => return Err(flags.unknown()),
        }
    }
    let sides = match (interleave, baseline) {
        (Some(count), baseline) => {
            let conflict = if baseline.is_some() {
                Some("--baseline")
            } else if !reports.is_empty() {
                Some("--report")
            } else {
                iterations.map(|_| "--iterations")
            };
            if let Some(other) = conflict {
                return Err(UsageError::Conflict("--interleave", other));
            }
            let command = command.ok_or(UsageError::InterleaveCommands)?;
            let Some(at) = command.iter().position(|arg| arg == "--") else {
                return Err(UsageError::InterleaveCommands);
            };
            let (baseline, candidate) = (&command[..at], &command[at + 1..]);
            if baseline.is_empty() || candidate.is_empty() {
                return Err(UsageError::InterleaveCommands);
            }
            Sides::Interleave {
                count,
                baseline: baseline.to_vec(),
                candidate: candidate.to_vec(),
            }
        }
        (None, Some(baseline)) => Sides::Baseline {
            baseline,
            runs: runs_of(reports, iterations_of(iterations, command)?)?,
        },
        (None, None) => {
            return Err(UsageError::Missing {
                command: "compare",
                flag: "--baseline",
            });
        }
    };
    let defaults = CompareOptions::DEFAULT;
    let options = quantiles
        .unwrap_or_else(|| DEFAULT_QUANTILES.to_vec())
        .into_iter()
        .map(|quantile| CompareOptions {
            quantile,
            tolerance: tolerance.unwrap_or(defaults.tolerance),
            confidence: confidence.unwrap_or(DEFAULT_CONFIDENCE),
            min_samples: min_samples.unwrap_or(defaults.min_samples),
            ..defaults
        })
        .collect();
    Ok(Command::Compare(CompareArgs {
        sides,
        options,
        require_conclusive,
        output,
    }))
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
fn quantile(value: &str) -> Option<f64> {
    let value = value.trim();
    let parsed = if value == "max" {
        1.0
    } else if let Some(percentile) = value.strip_prefix('p') {
        // Rounded so that `p99.9` is the double nearest 0.999, as if written `0.999`.
        (percentile.parse::<f64>().ok()? * 1e10).round() / 1e12
    } else {
        value.parse::<f64>().ok()?
    };
    (0.0..=1.0).contains(&parsed).then_some(parsed)
}

/// The flags of one command: `--flag value` or `--flag=value`, each set at most once.
struct Flags<'a> {
    command: &'static str,
    args: std::slice::Iter<'a, String>,
    flag: String,
    inline: Option<String>,
}

impl<'a> Flags<'a> {
    fn new(command: &'static str, args: &'a [String]) -> Self {
        Self {
            command,
            args: args.iter(),
            flag: String::new(),
            inline: None,
        }
    }

    fn next_flag(&mut self) -> Option<String> {
        let arg = self.args.next()?;
        (self.flag, self.inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        Some(self.flag.clone())
    }

    fn unknown(&self) -> UsageError {
        UsageError::UnknownFlag {
            command: self.command,
            flag: self.flag.clone(),
        }
    }

    fn value(&mut self) -> Result<String, UsageError> {
        self.inline
            .take()
            .or_else(|| self.args.next().cloned())
            .ok_or_else(|| UsageError::MissingValue(self.flag.clone()))
    }

    /// Sets `slot` from the next value, converted by `parse`, once.
    fn set<T>(
        &mut self,
        slot: &mut Option<T>,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<(), UsageError> {
        if slot.is_some() {
            return Err(UsageError::Duplicate(self.flag.clone()));
        }
        let value = self.value()?;
        *slot = Some(parse(&value).ok_or_else(|| UsageError::InvalidValue {
            flag: self.flag.clone(),
            expected,
            found: value,
        })?);
        Ok(())
    }

    /// Adds the next value to `paths`: a flag that may be repeated.
    fn add_path(&mut self, paths: &mut Vec<PathBuf>) -> Result<(), UsageError> {
        let mut path = None;
        self.set_path(&mut path)?;
        paths.extend(path);
        Ok(())
    }

    fn set_path(&mut self, slot: &mut Option<PathBuf>) -> Result<(), UsageError> {
        self.set(slot, "a path", |value| {
            (!value.is_empty()).then(|| PathBuf::from(value))
        })
    }

    fn switch(&mut self, slot: &mut bool) -> Result<(), UsageError> {
        if self.inline.is_some() {
            return Err(UsageError::UnexpectedValue(self.flag.clone()));
        }
        if std::mem::replace(slot, true) {
            return Err(UsageError::Duplicate(self.flag.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, UsageError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    fn check(line: &str) -> CheckArgs {
        match parse_line(line) {
            Ok(Command::Check(args)) => args,
            other => panic!("{line}: {other:?}"),
        }
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
        assert_eq!(
            parse_line("check --iterations 3"),
            Err(UsageError::IterationsWithoutCommand)
        );
        assert_eq!(
            parse_line("check --iterations 2 --"),
            Err(UsageError::EmptyCommand)
        );
    }

    #[test]
    fn mistakes_are_named_with_what_was_written() {
        let message = |line| parse_line(line).unwrap_err().to_string();
        assert_eq!(
            message("check --report a --report b"),
            "duplicate argument `--report`"
        );
        assert_eq!(
            message("check --strict --strict"),
            "duplicate argument `--strict`"
        );
        assert_eq!(message("check --budgets"), "`--budgets` needs a value");
        assert_eq!(message("check --strict=yes"), "`--strict` takes no value");
        assert_eq!(
            message("check --repor x"),
            "unknown argument `--repor` for `check`"
        );
        assert_eq!(
            message("check --iterations 0 -- x"),
            "`--iterations` expects a number of runs like `5`, found `0`"
        );
        assert_eq!(
            message("compare --baseline b --tolerance five"),
            "`--tolerance` expects a percentage like `5%` or a fraction like `0.05`, found `five`"
        );
        assert_eq!(message("compare"), "`compare` needs `--baseline`");
        assert_eq!(
            message("bless"),
            "unknown command `bless`; expected `check`, `baseline save` or `compare`"
        );
        assert_eq!(
            message("baseline load"),
            "unknown command `baseline load`; expected `check`, `baseline save` or `compare`"
        );
        assert_eq!(parse(&[]), Err(UsageError::NoCommand));
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
            parse_line("baseline save --iterations 5 -- ./app --fast"),
            Ok(Command::BaselineSave(SaveArgs {
                runs: Runs::Command(Iterations {
                    count: 5,
                    command: vec!["./app".to_owned(), "--fast".to_owned()],
                }),
                output: "performance_baseline.json".into(),
            }))
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
        let message = |line| parse_line(line).unwrap_err().to_string();
        assert_eq!(
            message("baseline save --report r --iterations 2 -- ./app"),
            "`--report` and `--iterations` cannot be used together"
        );
        assert_eq!(
            message("compare --baseline b --interleave 2 -- a -- b"),
            "`--interleave` and `--baseline` cannot be used together"
        );
        assert_eq!(
            message("compare --interleave 2 -- ./only"),
            "`--interleave` needs two commands: `-- BASELINE_COMMAND... -- CANDIDATE_COMMAND...`"
        );
    }

    #[test]
    fn baseline_save_defaults_and_help_anywhere() {
        assert_eq!(
            parse_line("baseline save"),
            Ok(Command::BaselineSave(SaveArgs {
                runs: Runs::Reports(vec![default_report()]),
                output: "performance_baseline.json".into(),
            }))
        );
        for line in [
            "--help",
            "-h",
            "check --help",
            "compare -h",
            "baseline --help",
        ] {
            assert_eq!(parse_line(line), Ok(Command::Help), "{line}");
        }
        assert_eq!(parse_line("--version"), Ok(Command::Version));
    }
}
