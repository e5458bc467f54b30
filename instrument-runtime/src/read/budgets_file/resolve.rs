//! Merge: the file's entries with the code's `#[budget]`s -> each node's effective budget and
//! where every part of it came from.

use std::collections::HashMap;
use std::fmt;

use instrument_duration::format_nanos;
use instrument_duration::suggest::closest;
use serde::{Deserialize, Serialize};

use super::diagnostic::{BudgetsFileDiagnostic, DiagnosticKind, Sink};
use super::{BudgetsFile, FileEntry, Section};
use crate::read::budget::Quantile;
use crate::record::node::{Budget, NodeMeta};

/// Where a function is defined: the code site of a `#[budget]`.
///
/// ```
/// use instrument_runtime::budgets::CodeSite;
///
/// let site = CodeSite { file: "src/embed.rs".to_owned(), line: 12 };
/// assert_eq!(site.to_string(), "src/embed.rs:12");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeSite {
    /// Source file.
    pub file: String,
    /// Line of the function's name.
    pub line: u32,
}

impl fmt::Display for CodeSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Where a node's entry is in the budgets file.
///
/// ```
/// use instrument_runtime::budgets::{FileSite, Section};
///
/// let site = FileSite { file: "performance_budgets.yaml".to_owned(), line: 3, column: 3, section: Section::Nodes };
/// assert_eq!(site.to_string(), "performance_budgets.yaml:3:3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileSite {
    /// The budgets file, as named when it was parsed.
    pub file: String,
    /// Line of the node's name.
    pub line: u32,
    /// Column of the node's name.
    pub column: u32,
    /// `nodes` or `special`.
    pub section: Section,
}

impl fmt::Display for FileSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One setting of a budget, to say which ones a file entry decided.
///
/// ```
/// use instrument_runtime::budgets::BudgetKey;
///
/// assert_eq!(BudgetKey::MinSamples.to_string(), "min_samples");
/// assert_eq!(serde_json::to_string(&BudgetKey::P95).unwrap(), "\"p95\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKey {
    /// The median's budget.
    P50,
    /// The 90th percentile's budget.
    P90,
    /// The 95th percentile's budget.
    P95,
    /// The 99th percentile's budget.
    P99,
    /// The slowest call's budget.
    Max,
    /// The tolerance.
    Tolerance,
    /// The calls needed before judging.
    MinSamples,
}

impl BudgetKey {
    fn quantile(quantile: Quantile) -> Self {
        match quantile {
            Quantile::P50 => Self::P50,
            Quantile::P90 => Self::P90,
            Quantile::P95 => Self::P95,
            Quantile::P99 => Self::P99,
            Quantile::Max => Self::Max,
        }
    }
}

impl fmt::Display for BudgetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::Max => "max",
            Self::Tolerance => "tolerance",
            Self::MinSamples => "min_samples",
        })
    }
}

/// Where a node's effective budget came from.
///
/// Serialized with a `from` tag: `{"from": "code", "file": "src/embed.rs", "line": 12}`.
///
/// ```
/// use instrument_runtime::budgets::{BudgetSource, CodeSite};
///
/// let source = BudgetSource::Code(CodeSite { file: "src/embed.rs".to_owned(), line: 12 });
/// assert_eq!(
///     serde_json::to_string(&source).unwrap(),
///     r#"{"from":"code","file":"src/embed.rs","line":12}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum BudgetSource {
    /// The `#[budget]` attribute alone: the file has no entry for the node.
    Code(CodeSite),
    /// The file alone: the function has no `#[budget]`.
    File(FileSite),
    /// The `#[budget]` attribute, with the settings in `from_file` replaced by the file's.
    Merged {
        /// The `#[budget]` attribute.
        code: CodeSite,
        /// The file entry.
        file: FileSite,
        /// The settings whose value came from the file (its entry or its top level).
        from_file: Vec<BudgetKey>,
    },
}

/// What [`BudgetsFile::resolve`] needs to know about one instrumented function.
///
/// Usually built from the registry: `nodes().into_iter().map(NodeBudgetInput::from)`.
///
/// ```
/// use instrument_runtime::budgets::NodeBudgetInput;
///
/// #[instrument_runtime::budget(name = "node_budget_input_doc", p95 = "2ms")]
/// fn step() {}
///
/// let input = instrument_runtime::record::nodes()
///     .into_iter()
///     .map(NodeBudgetInput::from)
///     .find(|node| node.name == "node_budget_input_doc")
///     .unwrap();
/// assert_eq!(input.budget.unwrap().p95_ns, Some(2_000_000));
/// assert!(input.site.file.ends_with(".rs"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeBudgetInput {
    /// The node's name.
    pub name: String,
    /// Its `#[budget]`, if it has one.
    pub budget: Option<Budget>,
    /// Where the function is defined.
    pub site: CodeSite,
}

impl From<&NodeMeta> for NodeBudgetInput {
    fn from(meta: &NodeMeta) -> Self {
        Self {
            name: meta.qualified_name().into_owned(),
            budget: meta.budget,
            site: CodeSite {
                file: meta.file.to_owned(),
                line: meta.line,
            },
        }
    }
}

/// A node's effective budget and where it came from.
///
/// ```
/// use instrument_runtime::budgets::{BudgetSource, BudgetsFile, NodeBudgetInput, CodeSite};
///
/// let file = BudgetsFile::parse("performance_budgets.yaml", "nodes:\n  embedding: { p95: 50ms }\n").unwrap();
/// let node = NodeBudgetInput {
///     name: "embedding".to_owned(),
///     budget: None,
///     site: CodeSite { file: "src/embed.rs".to_owned(), line: 3 },
/// };
/// let resolved = &file.resolve(&[node], false).budgets[0];
/// assert_eq!(resolved.budget.p95_ns, Some(50_000_000));
/// assert!(matches!(&resolved.source, BudgetSource::File(site) if site.line == 2));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedBudget {
    /// The node's name.
    pub node: String,
    /// The budget to judge it by.
    pub budget: Budget,
    /// Where the budget came from.
    pub source: BudgetSource,
}

/// Every node's effective budget, with the problems found while merging.
///
/// ```
/// use instrument_runtime::budgets::BudgetsFile;
///
/// let file = BudgetsFile::parse("performance_budgets.yaml", "nodes:\n  embeding: { p95: 50ms }\n").unwrap();
/// let resolution = file.resolve(&[], false);
/// assert!(resolution.budgets.is_empty() && resolution.errors.is_empty());
/// assert_eq!(resolution.warnings.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// One per node that has a budget, from the code, the file or both; sorted by node name.
    pub budgets: Vec<ResolvedBudget>,
    /// Entries for nodes no function has (when not strict), in file order.
    pub warnings: Vec<BudgetsFileDiagnostic>,
    /// Entries that could not be applied, in file order. A node whose entry is in error keeps its
    /// code budget (or has none), so a caller that goes on judges by the code alone.
    pub errors: Vec<BudgetsFileDiagnostic>,
}

/// Unknown nodes reported one by one, each with its suggestion; one more diagnostic counts the
/// rest, so a file of 300,000 misspelt names costs 20 suggestions, not 300,000.
const MAX_UNKNOWN_REPORTED: usize = 20;
/// Known nodes an unknown-node message lists before it only counts them.
const MAX_KNOWN_LISTED: usize = 20;

pub(super) fn resolve(file: &BudgetsFile, nodes: &[NodeBudgetInput], strict: bool) -> Resolution {
    let mut warnings = Sink::new(&file.file);
    let mut errors = Sink::new(&file.file);
    let mut known: Vec<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    let unknown: Vec<&FileEntry> = file
        .entries
        .iter()
        .filter(|entry| known.binary_search(&entry.node.as_str()).is_err())
        .collect();
    let sink = if strict { &mut errors } else { &mut warnings };
    let listed = listed(&known);
    for entry in unknown.iter().take(MAX_UNKNOWN_REPORTED) {
        let suggestion = closest(&entry.node, known.iter().copied())
            .map(|node| format!("did you mean `{node}`? "))
            .unwrap_or_default();
        sink.push(
            entry.position,
            &entry.key(),
            DiagnosticKind::UnknownNode,
            format!(
                "no instrumented function is named `{}`; {suggestion}known nodes: {listed}",
                entry.node
            ),
        );
    }
    if let Some(next) = unknown.get(MAX_UNKNOWN_REPORTED) {
        sink.push(
            next.position,
            &next.key(),
            DiagnosticKind::UnknownNode,
            format!(
                "{} more entries from here on name no instrumented function",
                unknown.len() - MAX_UNKNOWN_REPORTED
            ),
        );
    }
    // The first entry of a name, found by hashing: one lookup per node.
    let mut entries: HashMap<&str, &FileEntry> = HashMap::with_capacity(file.entries.len());
    for entry in &file.entries {
        entries.entry(entry.node.as_str()).or_insert(entry);
    }
    let mut budgets = Vec::new();
    for node in nodes {
        let entry = entries.get(node.name.as_str()).copied();
        let resolved = match (node.budget, entry) {
            (None, None) => continue,
            (Some(budget), None) => Some((budget, BudgetSource::Code(node.site.clone()))),
            (code, Some(entry)) => match merge(file, entry, code, &node.site) {
                Ok(merged) => Some(merged),
                Err((kind, message)) => {
                    errors.push(entry.position, &entry.key(), kind, message);
                    code.map(|budget| (budget, BudgetSource::Code(node.site.clone())))
                }
            },
        };
        if let Some((budget, source)) = resolved {
            budgets.push(ResolvedBudget {
                node: node.name.clone(),
                budget,
                source,
            });
        }
    }
    budgets.sort_by(|a, b| a.node.cmp(&b.node));
    Resolution {
        budgets,
        warnings: warnings.into_sorted(),
        errors: errors.into_sorted(),
    }
}

/// The precedence of the module docs: entry, then the file's top level (tolerance and
/// `min_samples` only), then the code, then [`Budget::DEFAULT`].
fn merge(
    file: &BudgetsFile,
    entry: &FileEntry,
    code: Option<Budget>,
    site: &CodeSite,
) -> Result<(Budget, BudgetSource), (DiagnosticKind, String)> {
    let base = code.unwrap_or(Budget::DEFAULT);
    let mut budget = base;
    let mut from_file = Vec::new();
    for quantile in Quantile::ALL {
        if let Some(nanos) = entry.quantile(quantile) {
            *quantile_mut(&mut budget, quantile) = Some(nanos);
            from_file.push(BudgetKey::quantile(quantile));
        }
    }
    if let Some(tolerance) = entry.tolerance.or(file.tolerance) {
        budget.tolerance = tolerance;
        from_file.push(BudgetKey::Tolerance);
    }
    if let Some(min_samples) = entry.min_samples.or(file.min_samples) {
        budget.min_samples = min_samples;
        from_file.push(BudgetKey::MinSamples);
    }
    let file_site = FileSite {
        file: file.file.clone(),
        line: entry.position.line,
        column: entry.position.column,
        section: entry.section,
    };
    let present: Vec<(Quantile, u64)> = Quantile::ALL
        .into_iter()
        .filter_map(|quantile| Some((quantile, quantile.budget_in(&budget)?)))
        .collect();
    if present.is_empty() {
        return Err((
            DiagnosticKind::NoQuantile,
            format!(
                "no quantile budget for `{}`: the function has no `#[budget]` and the entry sets \
                 none of `p50`, `p90`, `p95`, `p99`, `max`",
                entry.node
            ),
        ));
    }
    // The entry itself was checked when parsed; here a file quantile meets a code one.
    let origin = |quantile: Quantile| {
        if entry.quantile(quantile).is_some() {
            "the file".to_owned()
        } else {
            format!("`#[budget]` at {site}")
        }
    };
    for (index, &(lower, lower_ns)) in present.iter().enumerate() {
        if let Some(&(higher, higher_ns)) = present[index + 1..]
            .iter()
            .find(|&&(_, nanos)| nanos < lower_ns)
        {
            return Err((
                DiagnosticKind::DecreasingQuantiles,
                format!(
                    "`{lower}` budget ({}, from {}) is larger than `{higher}` ({}, from {}): \
                     quantile budgets must not decrease",
                    format_nanos(lower_ns),
                    origin(lower),
                    format_nanos(higher_ns),
                    origin(higher)
                ),
            ));
        }
    }
    let source = match code {
        None => BudgetSource::File(file_site),
        Some(_) => BudgetSource::Merged {
            code: site.clone(),
            file: file_site,
            from_file,
        },
    };
    Ok((budget, source))
}

fn quantile_mut(budget: &mut Budget, quantile: Quantile) -> &mut Option<u64> {
    match quantile {
        Quantile::P50 => &mut budget.p50_ns,
        Quantile::P90 => &mut budget.p90_ns,
        Quantile::P95 => &mut budget.p95_ns,
        Quantile::P99 => &mut budget.p99_ns,
        Quantile::Max => &mut budget.max_ns,
    }
}

/// The known nodes as an unknown-node message lists them: quoted, the first few only.
fn listed(known: &[&str]) -> String {
    if known.is_empty() {
        return "none".to_owned();
    }
    let mut listed: Vec<String> = known
        .iter()
        .take(MAX_KNOWN_LISTED)
        .map(|node| format!("`{node}`"))
        .collect();
    if known.len() > MAX_KNOWN_LISTED {
        listed.push(format!("and {} more", known.len() - MAX_KNOWN_LISTED));
    }
    listed.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "performance_budgets.yaml";
    const MS: u64 = 1_000_000;

    fn site(line: u32) -> CodeSite {
        CodeSite {
            file: "src/pipeline.rs".to_owned(),
            line,
        }
    }

    fn node(name: &str, budget: Option<Budget>, line: u32) -> NodeBudgetInput {
        NodeBudgetInput {
            name: name.to_owned(),
            budget,
            site: site(line),
        }
    }

    fn file_site(line: u32) -> FileSite {
        FileSite {
            file: FILE.to_owned(),
            line,
            column: 3,
            section: Section::Nodes,
        }
    }

    fn code_budget() -> Budget {
        Budget {
            p95_ns: Some(2 * MS),
            p99_ns: Some(3 * MS),
            tolerance: 0.05,
            min_samples: 50,
            ..Budget::DEFAULT
        }
    }

    fn resolve_text(text: &str, nodes: &[NodeBudgetInput], strict: bool) -> Resolution {
        BudgetsFile::parse(FILE, text)
            .unwrap()
            .resolve(nodes, strict)
    }

    /// One row of the precedence table per node.
    #[test]
    fn precedence_entry_then_file_top_level_then_code_then_default() {
        let text = "\
tolerance: 10%
nodes:
  only_p99: { p99: 4ms }
  everything: { p95: 1ms, tolerance: 1%, min_samples: 10 }
  file_only: { p50: 1ms }
";
        let nodes = [
            node("only_p99", Some(code_budget()), 10),
            node("everything", Some(code_budget()), 20),
            node("not_in_file", Some(code_budget()), 30),
            node("file_only", None, 40),
            node("no_budget", None, 50),
        ];
        let resolution = resolve_text(text, &nodes, true);
        assert!(resolution.errors.is_empty() && resolution.warnings.is_empty());
        assert_eq!(
            resolution.budgets,
            [
                ResolvedBudget {
                    node: "everything".to_owned(),
                    budget: Budget {
                        p95_ns: Some(MS),
                        p99_ns: Some(3 * MS),
                        tolerance: 0.01,
                        min_samples: 10,
                        ..Budget::DEFAULT
                    },
                    source: BudgetSource::Merged {
                        code: site(20),
                        file: file_site(4),
                        from_file: vec![
                            BudgetKey::P95,
                            BudgetKey::Tolerance,
                            BudgetKey::MinSamples
                        ],
                    },
                },
                ResolvedBudget {
                    node: "file_only".to_owned(),
                    budget: Budget {
                        p50_ns: Some(MS),
                        tolerance: 0.10,
                        min_samples: 100,
                        ..Budget::DEFAULT
                    },
                    source: BudgetSource::File(file_site(5)),
                },
                ResolvedBudget {
                    node: "not_in_file".to_owned(),
                    budget: code_budget(),
                    source: BudgetSource::Code(site(30)),
                },
                ResolvedBudget {
                    node: "only_p99".to_owned(),
                    budget: Budget {
                        p95_ns: Some(2 * MS),
                        p99_ns: Some(4 * MS),
                        tolerance: 0.10,
                        min_samples: 50,
                        ..Budget::DEFAULT
                    },
                    source: BudgetSource::Merged {
                        code: site(10),
                        file: file_site(3),
                        from_file: vec![BudgetKey::P99, BudgetKey::Tolerance],
                    },
                },
            ]
        );
    }

    #[test]
    fn without_file_defaults_the_code_keeps_tolerance_and_min_samples() {
        let resolution = resolve_text(
            "nodes:\n  a: { p99: 4ms }\n",
            &[node("a", Some(code_budget()), 1)],
            true,
        );
        let resolved = &resolution.budgets[0];
        assert_eq!(
            (resolved.budget.tolerance, resolved.budget.min_samples),
            (0.05, 50)
        );
        assert!(
            matches!(&resolved.source, BudgetSource::Merged { from_file, .. } if *from_file == [BudgetKey::P99])
        );
    }

    #[test]
    fn the_file_min_samples_is_the_default_of_its_entries() {
        let text =
            "min_samples: 20\nnodes:\n  a: { p99: 4ms }\n  b: { p99: 4ms, min_samples: 5 }\n";
        let resolution = resolve_text(
            text,
            &[node("a", Some(code_budget()), 1), node("b", None, 2)],
            true,
        );
        let min_samples: Vec<u64> = resolution
            .budgets
            .iter()
            .map(|resolved| resolved.budget.min_samples)
            .collect();
        assert_eq!(min_samples, [20, 5]);
    }

    #[test]
    fn an_entry_with_only_a_tolerance_changes_only_the_tolerance() {
        let resolution = resolve_text(
            "nodes:\n  a: { tolerance: 0.2 }\n",
            &[node("a", Some(code_budget()), 1)],
            true,
        );
        assert_eq!(
            resolution.budgets[0].budget,
            Budget {
                tolerance: 0.2,
                ..code_budget()
            }
        );
    }

    #[test]
    fn unknown_node_is_a_warning_with_a_suggestion() {
        let text = "nodes:\n  embeding: { p95: 50ms }\n";
        let nodes = [
            node("sanitization", None, 1),
            node("embedding", Some(code_budget()), 2),
        ];
        let resolution = resolve_text(text, &nodes, false);
        assert!(resolution.errors.is_empty());
        let warnings: Vec<String> = resolution
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "performance_budgets.yaml:2:3: nodes.embeding: no instrumented function is named `embeding`; did you mean `embedding`? known nodes: `embedding`, `sanitization`"
            ]
        );
        assert_eq!(resolution.warnings[0].kind, DiagnosticKind::UnknownNode);
        // The code budget is untouched by the misspelt entry.
        assert_eq!(resolution.budgets[0].source, BudgetSource::Code(site(2)));
    }

    #[test]
    fn unknown_node_is_an_error_when_strict() {
        let text = "special:\n  routing: { p95: 5ms }\n";
        let resolution = resolve_text(text, &[node("embedding", None, 1)], true);
        assert!(resolution.warnings.is_empty() && resolution.budgets.is_empty());
        let errors: Vec<String> = resolution.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "performance_budgets.yaml:2:3: special.routing: no instrumented function is named `routing`; known nodes: `embedding`"
            ]
        );
    }

    #[test]
    fn unknown_node_with_no_node_known() {
        let resolution = resolve_text("nodes:\n  a: { p95: 5ms }\n", &[], false);
        assert_eq!(
            resolution.warnings[0].message,
            "no instrumented function is named `a`; known nodes: none"
        );
    }

    #[test]
    fn a_file_quantile_above_a_code_quantile_is_an_error_and_the_code_budget_stays() {
        let text = "nodes:\n  embedding: { p95: 5ms }\n";
        let resolution = resolve_text(text, &[node("embedding", Some(code_budget()), 7)], true);
        let errors: Vec<String> = resolution.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "performance_budgets.yaml:2:3: nodes.embedding: `p95` budget (5ms, from the file) is larger than `p99` (3ms, from `#[budget]` at src/pipeline.rs:7): quantile budgets must not decrease"
            ]
        );
        assert_eq!(
            resolution.errors[0].kind,
            DiagnosticKind::DecreasingQuantiles
        );
        assert_eq!(
            resolution.budgets,
            [ResolvedBudget {
                node: "embedding".to_owned(),
                budget: code_budget(),
                source: BudgetSource::Code(site(7)),
            }]
        );
    }

    #[test]
    fn a_node_without_budget_needs_a_quantile_from_the_file() {
        let text = "nodes:\n  embedding: { tolerance: 5% }\n";
        let resolution = resolve_text(text, &[node("embedding", None, 7)], true);
        assert!(resolution.budgets.is_empty());
        assert_eq!(
            resolution.errors[0].to_string(),
            "performance_budgets.yaml:2:3: nodes.embedding: no quantile budget for `embedding`: the function has no `#[budget]` and the entry sets none of `p50`, `p90`, `p95`, `p99`, `max`"
        );
        assert_eq!(resolution.errors[0].kind, DiagnosticKind::NoQuantile);
    }

    #[test]
    fn the_source_serializes_with_a_tag() {
        let resolved = ResolvedBudget {
            node: "a".to_owned(),
            budget: Budget {
                p95_ns: Some(MS),
                ..Budget::DEFAULT
            },
            source: BudgetSource::Merged {
                code: site(3),
                file: FileSite {
                    section: Section::Special,
                    ..file_site(4)
                },
                from_file: vec![BudgetKey::P95, BudgetKey::MinSamples],
            },
        };
        let json = serde_json::to_string(&resolved.source).unwrap();
        assert_eq!(
            json,
            r#"{"from":"merged","code":{"file":"src/pipeline.rs","line":3},"file":{"file":"performance_budgets.yaml","line":4,"column":3,"section":"special"},"from_file":["p95","min_samples"]}"#
        );
        let back: ResolvedBudget =
            serde_json::from_str(&serde_json::to_string(&resolved).unwrap()).unwrap();
        assert_eq!(back, resolved);
    }
}
