//! The budgets file, `performance_budgets.yaml`: budgets kept beside the code instead of in it.
//!
//! Three steps, each a pure function: [`BudgetsFile::parse`] reads the text (YAML syntax in
//! `yaml`, then the schema in `schema`; every mistake is collected, not just the first),
//! [`BudgetsFile::resolve`] merges it with the code's budgets (`resolve`), and the caller judges
//! with the result. [`BudgetsFile::load`] only adds reading the file.
//!
//! The format and the precedence of file over code are documented on [`BudgetsFile`]: this module
//! is private, and that is where users read them.

mod active;
mod alerts;
mod diagnostic;
mod resolve;
mod schema;
mod values;
mod yaml;

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) use active::{Applied, applied};
pub use active::{
    BUDGETS_FILE_ENV, BudgetsFileUse, DEFAULT_BUDGETS_FILE, budgets_file_path, set_budgets_file,
};
pub use diagnostic::{BudgetsFileDiagnostic, BudgetsFileErrors, DiagnosticKind, Position};
pub use resolve::{
    BudgetKey, BudgetSource, CodeSite, FileSite, NodeBudgetInput, Resolution, ResolvedBudget,
};

use crate::read::alert_rule::AlertRule;
use crate::read::budget::Quantile;
use diagnostic::Sink;

/// A parsed and validated budgets file: budgets kept beside the code instead of in it.
///
/// ```yaml
/// tolerance: 10%          # default tolerance of the file's entries
/// min_samples: 50         # optional: default `min_samples` of the file's entries
/// nodes:
///   embedding: { p95: 50ms, p99: 80ms }
///   sanitization: { p95: 2ms, p99: 3ms, tolerance: 5% }
/// special:
///   contract_validation_ROUTING: { p95: 5ms }
/// ```
///
/// An entry sets any of `p50`, `p90`, `p95`, `p99`, `max` (durations as in `#[budget]`: `500us`,
/// `2ms`, `1.5s`; units `ns`, `us`, `µs`, `ms`, `s`, `m`), `tolerance` (`5%`, or the fraction
/// `0.05`) and `min_samples` (a whole number). `special` holds the nodes that are keyed
/// specially; its entries work as under `nodes`, only the section is remembered, and a name may
/// be in one section only.
///
/// `alerts` holds alert rules for the [alert engine](crate::alert), by alert name: `node` or
/// `breaker` (what it watches), `when` (a figure, an operator and a threshold: `p95 > 60ms`,
/// `error_rate >= 5%`, `breaker_state >= open`), and optionally `severity` (`CRITICAL`,
/// `WARNING`, `INFO`; default `WARNING`), `for` and `window` (durations), `min_calls`,
/// `message` (a template with `{value}`, `{threshold}`, `{node}`, ...) and `labels`:
///
/// ```yaml
/// alerts:
///   EmbeddingTooSlow: { node: embedding, when: p95 > 60ms, severity: CRITICAL, for: 20s }
/// ```
///
/// # Precedence
///
/// A node listed in the file takes each setting from the first place that has it; a node not
/// listed keeps its `#[budget]` untouched, whatever the file's top level says.
///
/// | setting                           | 1st        | 2nd                  | 3rd          | otherwise |
/// |-----------------------------------|------------|----------------------|--------------|-----------|
/// | `p50` `p90` `p95` `p99` `max`     | file entry | -                    | `#[budget]`  | none      |
/// | `tolerance`                       | file entry | file's `tolerance`   | `#[budget]`  | 10%       |
/// | `min_samples`                     | file entry | file's `min_samples` | `#[budget]`  | 100       |
///
/// So an entry overrides the code quantile by quantile: the keys it sets win, the ones it leaves
/// out keep the code's value. A node without `#[budget]` gets its budget from its entry alone,
/// which then must set a quantile. After merging, the quantiles must still not decrease (a file
/// `p95` above the code's `p99` is an error). An entry in error is not applied: the node keeps
/// its code budget. [`BudgetSource`] records where each budget came from, and which settings the
/// file decided.
///
/// A name in the file that no instrumented function has is a warning listing the known nodes
/// (with a suggestion when one is close), or an error when [`resolve`](Self::resolve) is strict.
///
/// # Diagnostics
///
/// Each is `file:line:column: key: message`, the key as a dotted path and the position on the
/// offending key or value (lines and columns from 1):
///
/// ```text
/// performance_budgets.yaml:3:21: nodes.embedding.p95: expected a duration like `50ms`, found `fifty`
/// ```
///
/// # Example
///
/// ```
/// use instrument_runtime::budgets::BudgetsFile;
///
/// let text = "tolerance: 10%\nnodes:\n  embedding: { p95: 50ms, p99: 80ms }\n";
/// let file = BudgetsFile::parse("performance_budgets.yaml", text).unwrap();
/// assert_eq!(file.tolerance, Some(0.1));
/// assert_eq!(file.entries[0].node, "embedding");
/// assert_eq!(file.entries[0].p99_ns, Some(80_000_000));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetsFile {
    /// The file's name as given, used in every diagnostic.
    pub file: String,
    /// The top-level `tolerance`: the default of the file's entries, as a fraction.
    pub tolerance: Option<f64>,
    /// The top-level `min_samples`: the default of the file's entries.
    pub min_samples: Option<u64>,
    /// The entries of `nodes` and `special`, in file order.
    pub entries: Vec<FileEntry>,
    /// The rules of `alerts`, in file order (see [`alert`](crate::alert)).
    pub alerts: Vec<AlertRule>,
}

/// The section of the budgets file an entry is in.
///
/// ```
/// use instrument_runtime::budgets::{BudgetsFile, Section};
///
/// let file = BudgetsFile::parse("b.yaml", "special:\n  contract_validation_ROUTING: { p95: 5ms }\n").unwrap();
/// assert_eq!(file.entries[0].section, Section::Special);
/// assert_eq!(Section::Special.key(), "special");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// `nodes:`.
    Nodes,
    /// `special:`: nodes that are keyed specially.
    Special,
}

impl Section {
    /// The section's key in the file.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::budgets::Section::Nodes.key(), "nodes");
    /// ```
    pub fn key(self) -> &'static str {
        match self {
            Self::Nodes => "nodes",
            Self::Special => "special",
        }
    }
}

/// One node's entry: only what it sets, before merging.
///
/// ```
/// use instrument_runtime::budgets::{BudgetsFile, Position};
///
/// let text = "nodes:\n  sanitization: { p95: 2ms, tolerance: 5% }\n";
/// let entry = &BudgetsFile::parse("performance_budgets.yaml", text).unwrap().entries[0];
/// assert_eq!(entry.position, Position { line: 2, column: 3 });
/// assert_eq!((entry.p95_ns, entry.p99_ns), (Some(2_000_000), None));
/// assert_eq!(entry.tolerance, Some(0.05));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    /// The node's name.
    pub node: String,
    /// Where it is listed.
    pub section: Section,
    /// The position of the node's name.
    pub position: Position,
    /// `p50`, in nanoseconds.
    pub p50_ns: Option<u64>,
    /// `p90`, in nanoseconds.
    pub p90_ns: Option<u64>,
    /// `p95`, in nanoseconds.
    pub p95_ns: Option<u64>,
    /// `p99`, in nanoseconds.
    pub p99_ns: Option<u64>,
    /// `max`, in nanoseconds.
    pub max_ns: Option<u64>,
    /// `tolerance`, as a fraction.
    pub tolerance: Option<f64>,
    /// `min_samples`.
    pub min_samples: Option<u64>,
}

impl FileEntry {
    /// The entry's budget for one statistic, if it sets one.
    ///
    /// ```
    /// use instrument_runtime::budgets::{BudgetsFile, Quantile};
    ///
    /// let file = BudgetsFile::parse("b.yaml", "nodes:\n  embedding: { max: 1s }\n").unwrap();
    /// assert_eq!(file.entries[0].quantile(Quantile::Max), Some(1_000_000_000));
    /// assert_eq!(file.entries[0].quantile(Quantile::P50), None);
    /// ```
    pub fn quantile(&self, quantile: Quantile) -> Option<u64> {
        match quantile {
            Quantile::P50 => self.p50_ns,
            Quantile::P90 => self.p90_ns,
            Quantile::P95 => self.p95_ns,
            Quantile::P99 => self.p99_ns,
            Quantile::Max => self.max_ns,
        }
    }

    fn quantile_mut(&mut self, quantile: Quantile) -> &mut Option<u64> {
        match quantile {
            Quantile::P50 => &mut self.p50_ns,
            Quantile::P90 => &mut self.p90_ns,
            Quantile::P95 => &mut self.p95_ns,
            Quantile::P99 => &mut self.p99_ns,
            Quantile::Max => &mut self.max_ns,
        }
    }

    /// `nodes.embedding`: the key path diagnostics about the whole entry name.
    fn key(&self) -> String {
        format!("{}.{}", self.section.key(), self.node)
    }
}

impl BudgetsFile {
    /// Parses and validates a budgets file's text; `file_name` is used in the diagnostics only.
    ///
    /// An empty file, or one with only comments, has no entries.
    ///
    /// # Errors
    ///
    /// Every mistake in the file, in file order: a YAML syntax error (the parser stops there), a
    /// value of the wrong type or that does not parse, quantiles that decrease, an unknown or
    /// repeated key, a node under both sections.
    ///
    /// ```
    /// use instrument_runtime::budgets::BudgetsFile;
    ///
    /// let text = "tolerence: 10%\nnodes:\n  embedding: { p95: fifty }\n";
    /// let errors = BudgetsFile::parse("performance_budgets.yaml", text).unwrap_err();
    /// let lines: Vec<String> = errors.diagnostics.iter().map(ToString::to_string).collect();
    /// assert_eq!(lines, [
    ///     "performance_budgets.yaml:1:1: tolerence: unknown key `tolerence`; did you mean `tolerance`? \
    ///      expected one of `tolerance`, `min_samples`, `nodes`, `special`, `alerts`",
    ///     "performance_budgets.yaml:3:21: nodes.embedding.p95: expected a duration like `50ms`, found `fifty`",
    /// ]);
    /// ```
    pub fn parse(file_name: &str, text: &str) -> Result<BudgetsFile, BudgetsFileErrors> {
        let mut sink = Sink::new(file_name);
        match yaml::parse(text) {
            Ok(root) => {
                let file = schema::validate(file_name, root.as_ref(), &mut sink);
                if sink.diagnostics.is_empty() {
                    return Ok(file);
                }
            }
            Err(error) => sink.push(error.at, "", DiagnosticKind::Syntax, error.message),
        }
        Err(BudgetsFileErrors {
            diagnostics: sink.into_sorted(),
        })
    }

    /// Reads and parses the budgets file at `path`; diagnostics name it as `path` displays.
    ///
    /// # Errors
    ///
    /// The file cannot be read (it does not exist, say), is larger than [`MAX_BUDGETS_FILE_BYTES`],
    /// or [`parse`](Self::parse)'s errors.
    ///
    /// ```
    /// let errors = instrument_runtime::budgets::BudgetsFile::load("no/such/performance_budgets.yaml".as_ref())
    ///     .unwrap_err();
    /// assert!(errors.to_string().starts_with("no/such/performance_budgets.yaml: cannot read the budgets file: "));
    /// ```
    pub fn load(path: &Path) -> Result<BudgetsFile, BudgetsFileErrors> {
        let file_name = path.display().to_string();
        match read_bounded(path) {
            Ok(text) => Self::parse(&file_name, &text),
            Err(message) => Err(BudgetsFileErrors {
                diagnostics: vec![BudgetsFileDiagnostic {
                    file: file_name,
                    position: None,
                    key: String::new(),
                    kind: DiagnosticKind::Unreadable,
                    message,
                }],
            }),
        }
    }

    /// Merges the file with the code's budgets: each node's effective budget and its source, by
    /// the [precedence](Self#precedence).
    ///
    /// `nodes` are all instrumented functions, budgeted or not (their names are the known
    /// nodes). With `strict`, a file entry for an unknown node is an error instead of a warning.
    ///
    /// ```
    /// use instrument_runtime::{budgets::{BudgetKey, BudgetSource, BudgetsFile, CodeSite, NodeBudgetInput}, Budget};
    ///
    /// let file = BudgetsFile::parse("performance_budgets.yaml", "nodes:\n  embedding: { p99: 90ms }\n").unwrap();
    /// let code = Budget { p95_ns: Some(50_000_000), p99_ns: Some(80_000_000), ..Budget::DEFAULT };
    /// let nodes = [NodeBudgetInput {
    ///     name: "embedding".to_owned(),
    ///     budget: Some(code),
    ///     site: CodeSite { file: "src/embed.rs".to_owned(), line: 7 },
    /// }];
    /// let resolution = file.resolve(&nodes, true);
    /// let resolved = &resolution.budgets[0];
    /// assert_eq!((resolved.budget.p95_ns, resolved.budget.p99_ns), (Some(50_000_000), Some(90_000_000)));
    /// assert!(matches!(&resolved.source, BudgetSource::Merged { from_file, .. } if *from_file == [BudgetKey::P99]));
    /// ```
    pub fn resolve(&self, nodes: &[NodeBudgetInput], strict: bool) -> Resolution {
        resolve::resolve(self, nodes, strict)
    }
}

/// The largest budgets file [`BudgetsFile::load`] reads: 64 MiB, four times a file of 300,000
/// entries. A path to something endless (`/dev/zero`, a pipe) is refused once past it.
///
/// ```
/// assert_eq!(instrument_runtime::budgets::MAX_BUDGETS_FILE_BYTES, 64 << 20);
/// ```
pub const MAX_BUDGETS_FILE_BYTES: u64 = 64 << 20;

/// The file's text, read no further than one byte past the limit.
fn read_bounded(path: &Path) -> Result<String, String> {
    let unreadable = |error: std::io::Error| format!("cannot read the budgets file: {error}");
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_BUDGETS_FILE_BYTES + 1)
                .read_to_string(&mut text)
        })
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_BUDGETS_FILE_BYTES {
        return Err(format!(
            "the budgets file is larger than {} MiB; a budgets file holds a few lines per node",
            MAX_BUDGETS_FILE_BYTES >> 20
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::node::Budget;

    const MS: u64 = 1_000_000;

    /// The example from the issue, verbatim.
    const EXAMPLE: &str = "\
tolerance: 10%
nodes:
  embedding: { p95: 50ms, p99: 80ms }
  sanitization: { p95: 2ms, p99: 3ms, tolerance: 5% }
special:
  contract_validation_ROUTING: { p95: 5ms }
";

    fn entry(node: &str, section: Section, line: u32) -> FileEntry {
        FileEntry {
            node: node.to_owned(),
            section,
            position: Position { line, column: 3 },
            p50_ns: None,
            p90_ns: None,
            p95_ns: None,
            p99_ns: None,
            max_ns: None,
            tolerance: None,
            min_samples: None,
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let file = BudgetsFile::parse("performance_budgets.yaml", EXAMPLE).unwrap();
        assert_eq!(
            file,
            BudgetsFile {
                file: "performance_budgets.yaml".to_owned(),
                tolerance: Some(0.10),
                min_samples: None,
                entries: vec![
                    FileEntry {
                        p95_ns: Some(50 * MS),
                        p99_ns: Some(80 * MS),
                        ..entry("embedding", Section::Nodes, 3)
                    },
                    FileEntry {
                        p95_ns: Some(2 * MS),
                        p99_ns: Some(3 * MS),
                        tolerance: Some(0.05),
                        ..entry("sanitization", Section::Nodes, 4)
                    },
                    FileEntry {
                        p95_ns: Some(5 * MS),
                        ..entry("contract_validation_ROUTING", Section::Special, 6)
                    },
                ],
                alerts: Vec::new(),
            }
        );
    }

    #[test]
    fn the_issue_example_resolves_against_code_budgets() {
        let file = BudgetsFile::parse("performance_budgets.yaml", EXAMPLE).unwrap();
        let code = |line| CodeSite {
            file: "src/pipeline.rs".to_owned(),
            line,
        };
        let nodes = [
            NodeBudgetInput {
                name: "embedding".to_owned(),
                budget: Some(Budget {
                    p50_ns: Some(20 * MS),
                    p95_ns: Some(40 * MS),
                    ..Budget::DEFAULT
                }),
                site: code(1),
            },
            NodeBudgetInput {
                name: "sanitization".to_owned(),
                budget: None,
                site: code(2),
            },
            NodeBudgetInput {
                name: "contract_validation_ROUTING".to_owned(),
                budget: None,
                site: code(3),
            },
        ];
        let resolution = file.resolve(&nodes, true);
        assert!(resolution.errors.is_empty() && resolution.warnings.is_empty());
        let budgets: Vec<(&str, Budget)> = resolution
            .budgets
            .iter()
            .map(|resolved| (resolved.node.as_str(), resolved.budget))
            .collect();
        let budget = |p50_ns, p95_ns, p99_ns, tolerance| Budget {
            p50_ns,
            p95_ns,
            p99_ns,
            tolerance,
            ..Budget::DEFAULT
        };
        assert_eq!(
            budgets,
            [
                (
                    "contract_validation_ROUTING",
                    budget(None, Some(5 * MS), None, 0.10)
                ),
                (
                    "embedding",
                    budget(Some(20 * MS), Some(50 * MS), Some(80 * MS), 0.10)
                ),
                (
                    "sanitization",
                    budget(None, Some(2 * MS), Some(3 * MS), 0.05)
                ),
            ]
        );
        assert!(matches!(
            &resolution.budgets[0].source,
            BudgetSource::File(FileSite {
                section: Section::Special,
                line: 6,
                ..
            })
        ));
    }

    #[test]
    fn an_empty_file_has_no_entries() {
        for text in ["", "# budgets come later\n", "~\n"] {
            let file = BudgetsFile::parse("b.yaml", text).unwrap();
            assert!(
                file.entries.is_empty() && file.tolerance.is_none(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn load_reads_the_file_and_names_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("budgets-file-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("performance_budgets.yaml");
        std::fs::write(&path, "nodes:\n  a: { p95: fifty }\n").unwrap();
        let errors = BudgetsFile::load(&path).unwrap_err();
        assert_eq!(
            errors.to_string(),
            format!(
                "{}:2:13: nodes.a.p95: expected a duration like `50ms`, found `fifty`",
                path.display()
            )
        );
        std::fs::write(&path, EXAMPLE).unwrap();
        assert_eq!(BudgetsFile::load(&path).unwrap().entries.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();

        let errors = BudgetsFile::load(&path).unwrap_err();
        assert_eq!(errors.diagnostics.len(), 1);
        let missing = &errors.diagnostics[0];
        assert_eq!(missing.kind, DiagnosticKind::Unreadable);
        assert_eq!((missing.position, missing.key.as_str()), (None, ""));
        assert!(
            missing.to_string().starts_with(&format!(
                "{}: cannot read the budgets file: ",
                path.display()
            )),
            "{missing}"
        );
    }

    /// Reproduces the 300,000-entry file that never finished: its duplicate checks compared
    /// each name with every earlier one. At 60,000 entries that was minutes; hashed, it is a
    /// fraction of a second (liveness only: nothing here measures time).
    #[test]
    fn reproduces_a_huge_file_checked_in_linear_time() {
        use std::fmt::Write as _;

        const ENTRIES: usize = 60_000;
        let mut text = String::from("nodes:\n");
        for i in 0..ENTRIES {
            let _ = writeln!(text, "  node_{i}: {{ p95: 1ms, p99: 2ms }}");
        }
        let file = BudgetsFile::parse("b.yaml", &text).unwrap();
        assert_eq!(file.entries.len(), ENTRIES);

        // Every name under both sections: one diagnostic each, found by hashing.
        let both = format!("{text}special:\n{}", &text["nodes:\n".len()..]);
        let errors = BudgetsFile::parse("b.yaml", &both).unwrap_err();
        assert_eq!(errors.diagnostics.len(), ENTRIES);
        assert_eq!(errors.diagnostics[0].kind, DiagnosticKind::InBothSections);

        // None is known: twenty are reported with a suggestion, then one line counts the rest.
        let nodes = [NodeBudgetInput {
            name: "node_x".to_owned(),
            budget: None,
            site: CodeSite {
                file: "src/a.rs".to_owned(),
                line: 1,
            },
        }];
        let resolution = file.resolve(&nodes, false);
        assert_eq!(resolution.warnings.len(), 21);
        assert_eq!(
            resolution.warnings[1].message,
            "no instrumented function is named `node_1`; did you mean `node_x`? known nodes: `node_x`"
        );
        assert_eq!(
            resolution.warnings[20].to_string(),
            format!(
                "b.yaml:22:3: nodes.node_20: {} more entries from here on name no instrumented function",
                ENTRIES - 20
            )
        );
        assert!(resolution.budgets.is_empty());
    }
}
