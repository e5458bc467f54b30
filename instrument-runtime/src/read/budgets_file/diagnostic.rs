//! Errors and warnings about a budgets file, each naming the file, line, column and key.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::format::printable;

/// A place in the budgets file: 1-based line and column, columns counted in characters.
///
/// ```
/// use instrument_runtime::budgets::BudgetsFile;
///
/// let errors = BudgetsFile::parse("performance_budgets.yaml", "nodes:\n  embedding: { p95: fifty }\n")
///     .unwrap_err();
/// let position = errors.diagnostics[0].position.unwrap();
/// assert_eq!((position.line, position.column), (2, 21));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// What is wrong, for callers that react to some mistakes differently.
///
/// ```
/// use instrument_runtime::budgets::{BudgetsFile, DiagnosticKind};
///
/// let errors = BudgetsFile::parse("performance_budgets.yaml", "tolerence: 5%\n").unwrap_err();
/// assert_eq!(errors.diagnostics[0].kind, DiagnosticKind::UnknownKey);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The file could not be read.
    Unreadable,
    /// The text is not YAML. The parser stops at the first such error.
    Syntax,
    /// A mapping where a value belongs, a list, nothing, or a value where a mapping belongs.
    WrongType,
    /// A duration, tolerance or `min_samples` that does not parse or is out of range.
    InvalidValue,
    /// A quantile budget larger than a higher quantile's (`p95` above `p99`).
    DecreasingQuantiles,
    /// A key the budgets file does not have.
    UnknownKey,
    /// A key set twice in one mapping.
    DuplicateKey,
    /// A node listed under both `nodes` and `special`.
    InBothSections,
    /// A node entry that sets nothing (`embedding: {}`).
    EmptyEntry,
    /// A node in the file that no instrumented function has: a warning, or an error when strict.
    UnknownNode,
    /// A node with no quantile budget in the file and none in the code.
    NoQuantile,
    /// A required key is missing: an alert's `when`, or its `node` or `breaker`.
    MissingKey,
}

/// One error or warning: `file:line:column: key: message`.
///
/// `key` is the dotted path of the offending key (`nodes.embedding.p95`); it is empty for a YAML
/// syntax error and an unreadable file, and `position` is `None` for an unreadable file. The
/// fields hold the file's text as written; `Display` shows control characters in them as escapes
/// ([`printable`](crate::format::printable)), so a hostile key cannot rewrite a terminal or CI log.
///
/// ```
/// use instrument_runtime::budgets::BudgetsFile;
///
/// let text = "tolerance: 10%\nnodes:\n  embedding: { p95: fifty }\n";
/// let errors = BudgetsFile::parse("performance_budgets.yaml", text).unwrap_err();
/// assert_eq!(
///     errors.diagnostics[0].to_string(),
///     "performance_budgets.yaml:3:21: nodes.embedding.p95: expected a duration like `50ms`, found `fifty`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetsFileDiagnostic {
    /// The budgets file, as named to [`BudgetsFile::parse`](crate::budgets::BudgetsFile::parse) or
    /// [`BudgetsFile::load`](crate::budgets::BudgetsFile::load).
    pub file: String,
    /// Where in the file; `None` when the file could not be read.
    pub position: Option<Position>,
    /// The dotted path of the key (`nodes.embedding.p95`), or empty.
    pub key: String,
    /// What is wrong.
    pub kind: DiagnosticKind,
    /// Lower-case, no final period, quoting what was written.
    pub message: String,
}

impl fmt::Display for BudgetsFileDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(Position { line, column }) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        // The key and the message quote the file, which may hold anything.
        if !self.key.is_empty() {
            write!(f, "{}: ", printable(&self.key))?;
        }
        f.write_str(&printable(&self.message))
    }
}

impl std::error::Error for BudgetsFileDiagnostic {}

/// Every error found in a budgets file, in file order.
///
/// Its `Display` puts one error per line.
///
/// ```
/// use instrument_runtime::budgets::BudgetsFile;
///
/// let text = "nodes:\n  embedding: { p95: 80ms, p99: 50ms, mx: 1s }\n";
/// let errors = BudgetsFile::parse("performance_budgets.yaml", text).unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "performance_budgets.yaml:2:21: nodes.embedding.p95: `p95` budget (80ms) is larger than `p99` \
///      (50ms): quantile budgets must not decrease\n\
///      performance_budgets.yaml:2:38: nodes.embedding.mx: unknown key `mx`; did you mean `max`? \
///      expected one of `p50`, `p90`, `p95`, `p99`, `max`, `tolerance`, `min_samples`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetsFileErrors {
    /// The errors, at least one.
    pub diagnostics: Vec<BudgetsFileDiagnostic>,
}

impl fmt::Display for BudgetsFileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.diagnostics.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BudgetsFileErrors {}

/// Collects diagnostics for one file.
pub(super) struct Sink<'a> {
    file: &'a str,
    pub(super) diagnostics: Vec<BudgetsFileDiagnostic>,
}

impl<'a> Sink<'a> {
    pub(super) fn new(file: &'a str) -> Self {
        Self {
            file,
            diagnostics: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, at: Position, key: &str, kind: DiagnosticKind, message: String) {
        self.diagnostics.push(BudgetsFileDiagnostic {
            file: self.file.to_owned(),
            position: Some(at),
            key: key.to_owned(),
            kind,
            message,
        });
    }

    /// The diagnostics in file order (a stable sort: ones at one place keep their order).
    pub(super) fn into_sorted(mut self) -> Vec<BudgetsFileDiagnostic> {
        self.diagnostics
            .sort_by_key(|diagnostic| diagnostic.position);
        self.diagnostics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(position: Option<Position>, key: &str) -> BudgetsFileDiagnostic {
        BudgetsFileDiagnostic {
            file: "performance_budgets.yaml".to_owned(),
            position,
            key: key.to_owned(),
            kind: DiagnosticKind::Syntax,
            message: "went wrong".to_owned(),
        }
    }

    #[test]
    fn display_leaves_out_what_is_missing() {
        let at = Some(Position { line: 3, column: 7 });
        assert_eq!(
            diagnostic(at, "nodes.a").to_string(),
            "performance_budgets.yaml:3:7: nodes.a: went wrong"
        );
        assert_eq!(
            diagnostic(at, "").to_string(),
            "performance_budgets.yaml:3:7: went wrong"
        );
        assert_eq!(
            diagnostic(None, "").to_string(),
            "performance_budgets.yaml: went wrong"
        );
    }

    #[test]
    fn display_escapes_what_the_file_wrote() {
        let mut hostile = diagnostic(Some(Position { line: 1, column: 1 }), "nodes.a\x1b[2K");
        hostile.message = "unknown key `\rp95`".to_owned();
        assert_eq!(
            hostile.to_string(),
            r"performance_budgets.yaml:1:1: nodes.a\x1b[2K: unknown key `\rp95`"
        );
    }

    #[test]
    fn sorted_by_position_stably() {
        let mut sink = Sink::new("f.yaml");
        sink.push(
            Position { line: 2, column: 1 },
            "b",
            DiagnosticKind::Syntax,
            String::new(),
        );
        sink.push(
            Position { line: 1, column: 9 },
            "a",
            DiagnosticKind::Syntax,
            String::new(),
        );
        sink.push(
            Position { line: 2, column: 1 },
            "c",
            DiagnosticKind::Syntax,
            String::new(),
        );
        let keys: Vec<String> = sink.into_sorted().into_iter().map(|d| d.key).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }
}
