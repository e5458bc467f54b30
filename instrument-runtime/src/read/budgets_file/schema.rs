//! Validate: the YAML tree -> a typed [`BudgetsFile`], every mistake collected with its position.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use instrument_duration::suggest::closest;
use instrument_duration::{BudgetKey, format_nanos, parse_nanos};

use super::diagnostic::{DiagnosticKind, Position, Sink};
use super::values::{count, tolerance};
use super::yaml::{Value, Yaml};
use super::{BudgetsFile, FileEntry, Section};
use crate::read::budget::Quantile;

const TOP_KEYS: [&str; 5] = ["tolerance", "min_samples", "nodes", "special", "alerts"];
/// The keys of an entry: a budget's, the list `#[budget]` reads its arguments from too.
const ENTRY_KEYS: &[&str] = BudgetKey::NAMES;

/// What each scalar should look like, for "expected ..." when something else is there.
const DURATION: &str = "a duration like `50ms`";
const TOLERANCE: &str = "a tolerance like `10%` or `0.1`";
const COUNT: &str = "a whole number of calls like `100`";

/// Checks the document against the budgets file's schema.
pub(super) fn validate(name: &str, root: Option<&Yaml>, sink: &mut Sink<'_>) -> BudgetsFile {
    let mut file = BudgetsFile {
        file: name.to_owned(),
        tolerance: None,
        min_samples: None,
        entries: Vec::new(),
        alerts: Vec::new(),
    };
    let Some(root) = root.filter(|root| !root.is_null()) else {
        return file;
    };
    let expected = format!("a mapping with keys {}", quoted_list(&TOP_KEYS));
    let Some(entries) = mapping(root, "", &expected, sink) else {
        return file;
    };
    let mut keys = SetOnce::default();
    let mut nodes = HashMap::new();
    for (key, value) in entries {
        let Some(name) = keys.key(key, "", sink) else {
            continue;
        };
        match name {
            "tolerance" => file.tolerance = scalar(value, name, sink, tolerance, TOLERANCE),
            "min_samples" => file.min_samples = scalar(value, name, sink, count, COUNT),
            "nodes" => section(Section::Nodes, value, &mut nodes, &mut file.entries, sink),
            "special" => section(Section::Special, value, &mut nodes, &mut file.entries, sink),
            "alerts" => super::alerts::section(value, &mut file.alerts, sink),
            _ => unknown_key(key.at, "", name, &TOP_KEYS, sink),
        }
    }
    file
}

/// `nodes:` or `special:`: node names to their budgets. Empty or null is no entries.
///
/// `seen` holds the node names of both sections, each with where it was first listed, so a name
/// under both is reported on its second occurrence.
fn section<'y>(
    section: Section,
    value: &'y Yaml,
    seen: &mut HashMap<&'y str, (Section, Position)>,
    entries: &mut Vec<FileEntry>,
    sink: &mut Sink<'_>,
) {
    if value.is_null() {
        return;
    }
    let path = section.key();
    let expected = "a mapping of node names to budgets like `embedding: { p95: 50ms }`";
    let Some(nodes) = mapping(value, path, expected, sink) else {
        return;
    };
    let mut names = SetOnce::default();
    for (key, value) in nodes {
        let Some(node) = names.key(key, path, sink) else {
            continue;
        };
        let node_path = join(path, node);
        if node.trim().is_empty() {
            sink.push(
                key.at,
                &node_path,
                DiagnosticKind::InvalidValue,
                "a node name must not be empty".to_owned(),
            );
            continue;
        }
        if let Some(&(first, first_at)) = seen.get(node) {
            sink.push(
                key.at,
                &node_path,
                DiagnosticKind::InBothSections,
                format!(
                    "node `{node}` is also under `{}` (line {}); a node belongs to one section",
                    first.key(),
                    first_at.line
                ),
            );
            continue;
        }
        seen.insert(node, (section, key.at));
        if let Some(entry) = entry(section, node, key.at, value, &node_path, sink) {
            entries.push(entry);
        }
    }
}

/// One node's budgets: `{ p95: 50ms, p99: 80ms, tolerance: 5% }`.
fn entry(
    section: Section,
    node: &str,
    at: Position,
    value: &Yaml,
    path: &str,
    sink: &mut Sink<'_>,
) -> Option<FileEntry> {
    let fields = mapping(
        value,
        path,
        "a mapping of budgets like `{ p95: 50ms }`",
        sink,
    )?;
    let before = sink.diagnostics.len();
    let mut entry = FileEntry {
        node: node.to_owned(),
        section,
        position: at,
        p50_ns: None,
        p90_ns: None,
        p95_ns: None,
        p99_ns: None,
        max_ns: None,
        tolerance: None,
        min_samples: None,
    };
    let mut quantiles: Vec<(Quantile, u64, Position)> = Vec::new();
    let mut keys = SetOnce::default();
    for (key, value) in fields {
        let Some(name) = keys.key(key, path, sink) else {
            continue;
        };
        let key_path = join(path, name);
        let quantile = match BudgetKey::from_name(name) {
            Some(BudgetKey::P50) => Quantile::P50,
            Some(BudgetKey::P90) => Quantile::P90,
            Some(BudgetKey::P95) => Quantile::P95,
            Some(BudgetKey::P99) => Quantile::P99,
            Some(BudgetKey::Max) => Quantile::Max,
            Some(BudgetKey::Tolerance) => {
                entry.tolerance = scalar(value, &key_path, sink, tolerance, TOLERANCE);
                continue;
            }
            Some(BudgetKey::MinSamples) => {
                entry.min_samples = scalar(value, &key_path, sink, count, COUNT);
                continue;
            }
            None => {
                unknown_key(key.at, path, name, ENTRY_KEYS, sink);
                continue;
            }
        };
        if let Some(nanos) = scalar(value, &key_path, sink, parse_nanos, DURATION) {
            *entry.quantile_mut(quantile) = Some(nanos);
            quantiles.push((quantile, nanos, value.at));
        }
    }
    quantiles.sort_by_key(|&(quantile, _, _)| quantile);
    check_non_decreasing(&quantiles, path, sink);
    if fields.is_empty() {
        sink.push(
            at,
            path,
            DiagnosticKind::EmptyEntry,
            format!(
                "no budget for `{node}`; set at least one of {}",
                quoted_list(ENTRY_KEYS)
            ),
        );
    }
    (sink.diagnostics.len() == before).then_some(entry)
}

/// Each quantile budget present must not be larger than a higher one's; reported on the larger.
fn check_non_decreasing(quantiles: &[(Quantile, u64, Position)], path: &str, sink: &mut Sink<'_>) {
    for (index, &(quantile, nanos, at)) in quantiles.iter().enumerate() {
        if let Some(&(higher, higher_nanos, _)) = quantiles[index + 1..]
            .iter()
            .find(|&&(_, later, _)| later < nanos)
        {
            sink.push(
                at,
                &join(path, &quantile.to_string()),
                DiagnosticKind::DecreasingQuantiles,
                format!(
                    "`{quantile}` budget ({}) is larger than `{higher}` ({}): quantile budgets must not decrease",
                    format_nanos(nanos),
                    format_nanos(higher_nanos)
                ),
            );
        }
    }
}

/// The entries of a mapping, or a wrong-type error saying what should be there.
pub(super) fn mapping<'y>(
    value: &'y Yaml,
    path: &str,
    expected: &str,
    sink: &mut Sink<'_>,
) -> Option<&'y [(Yaml, Yaml)]> {
    if let Value::Mapping(entries) = &value.value {
        return Some(entries);
    }
    sink.push(
        value.at,
        path,
        DiagnosticKind::WrongType,
        format!("expected {expected}, found {}", value.describe()),
    );
    None
}

/// A scalar parsed by `parse`; a mapping, list or nothing where it belongs is a wrong type.
pub(super) fn scalar<T>(
    value: &Yaml,
    path: &str,
    sink: &mut Sink<'_>,
    parse: fn(&str) -> Result<T, String>,
    expected: &str,
) -> Option<T> {
    match &value.value {
        Value::Scalar { text, .. } if !value.is_null() => match parse(text) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                sink.push(value.at, path, DiagnosticKind::InvalidValue, message);
                None
            }
        },
        _ => {
            sink.push(
                value.at,
                path,
                DiagnosticKind::WrongType,
                format!("expected {expected}, found {}", value.describe()),
            );
            None
        }
    }
}

pub(super) fn unknown_key(
    at: Position,
    path: &str,
    name: &str,
    known: &[&str],
    sink: &mut Sink<'_>,
) {
    let suggestion = closest(name, known.iter().copied())
        .map(|key| format!("did you mean `{key}`? "))
        .unwrap_or_default();
    sink.push(
        at,
        &join(path, name),
        DiagnosticKind::UnknownKey,
        format!(
            "unknown key `{name}`; {suggestion}expected one of {}",
            quoted_list(known)
        ),
    );
}

/// Keys of one mapping: each may be set once; the second occurrence is the error. Hashed, so a
/// section of 300,000 nodes is checked in linear time.
#[derive(Default)]
pub(super) struct SetOnce<'y> {
    seen: HashMap<&'y str, Position>,
}

impl<'y> SetOnce<'y> {
    /// The key's name, or `None` (with the error pushed) for a repeated or non-scalar key.
    pub(super) fn key(
        &mut self,
        key: &'y Yaml,
        path: &str,
        sink: &mut Sink<'_>,
    ) -> Option<&'y str> {
        let Value::Scalar { text, .. } = &key.value else {
            sink.push(
                key.at,
                path,
                DiagnosticKind::WrongType,
                format!("expected a key name, found {}", key.describe()),
            );
            return None;
        };
        match self.seen.entry(text) {
            Entry::Occupied(first) => {
                sink.push(
                    key.at,
                    &join(path, text),
                    DiagnosticKind::DuplicateKey,
                    format!(
                        "duplicate key `{text}`; first set on line {}",
                        first.get().line
                    ),
                );
                None
            }
            Entry::Vacant(slot) => {
                slot.insert(key.at);
                Some(text)
            }
        }
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn quoted_list(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{BudgetsFile, DiagnosticKind};

    pub(in crate::read::budgets_file) const FILE: &str = "performance_budgets.yaml";

    /// The errors of `text` as printed, in order.
    pub(in crate::read::budgets_file) fn errors(text: &str) -> Vec<String> {
        BudgetsFile::parse(FILE, text)
            .unwrap_err()
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn kinds(text: &str) -> Vec<DiagnosticKind> {
        BudgetsFile::parse(FILE, text)
            .unwrap_err()
            .diagnostics
            .iter()
            .map(|diagnostic| diagnostic.kind)
            .collect()
    }

    #[test]
    fn malformed_duration_on_the_value() {
        let text = "tolerance: 10%\nnodes:\n  embedding: { p95: fifty, p99: 80ms }\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:3:21: nodes.embedding.p95: expected a duration like `50ms`, found `fifty`"
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::InvalidValue]);
    }

    #[test]
    fn missing_unit_negative_and_zero_durations() {
        let text = "nodes:\n  a:\n    p50: 5\n    p90: -1ms\n    p95: 0s\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:3:10: nodes.a.p50: missing unit in `5`; expected a duration like `5ms`, with one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
                "performance_budgets.yaml:4:10: nodes.a.p90: a duration must be greater than zero, found `-1ms`",
                "performance_budgets.yaml:5:10: nodes.a.p95: a duration must be greater than zero, found `0s`",
            ]
        );
    }

    #[test]
    fn durations_read_as_the_budget_attribute_reads_them() {
        let file = BudgetsFile::parse(FILE, "nodes:\n  a: { p95: 1_500us, p99: 2.5ms }\n").unwrap();
        let entry = &file.entries[0];
        assert_eq!(
            (entry.p95_ns, entry.p99_ns),
            (Some(1_500_000), Some(2_500_000))
        );
        assert_eq!(
            errors("nodes:\n  a: { p95: 2sec, max: 1h }\n"),
            [
                "performance_budgets.yaml:2:13: nodes.a.p95: unknown unit `sec` in `2sec`; write `2s`",
                "performance_budgets.yaml:2:24: nodes.a.max: unknown unit `h` in `1h`; write `60m`",
            ]
        );
    }

    #[test]
    fn decreasing_quantiles_on_the_larger_one() {
        let text = "nodes:\n  embedding: { p50: 10ms, p95: 80ms, p99: 50ms, max: 60ms }\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:2:32: nodes.embedding.p95: `p95` budget (80ms) is larger than `p99` (50ms): quantile budgets must not decrease"
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::DecreasingQuantiles]);
    }

    #[test]
    fn quantiles_are_compared_in_quantile_order_not_file_order() {
        let text = "nodes:\n  embedding:\n    max: 1ms\n    p50: 2ms\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:4:10: nodes.embedding.p50: `p50` budget (2ms) is larger than `max` (1ms): quantile budgets must not decrease"
            ]
        );
    }

    #[test]
    fn unknown_keys_with_and_without_a_suggestion() {
        let text = "tolerence: 5%\ncolour: blue\nnodes:\n  embedding: { p95: 50ms, p99s: 80ms }\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:1:1: tolerence: unknown key `tolerence`; did you mean `tolerance`? expected one of `tolerance`, `min_samples`, `nodes`, `special`, `alerts`",
                "performance_budgets.yaml:2:1: colour: unknown key `colour`; expected one of `tolerance`, `min_samples`, `nodes`, `special`, `alerts`",
                "performance_budgets.yaml:4:27: nodes.embedding.p99s: unknown key `p99s`; did you mean `p99`? expected one of `p50`, `p90`, `p95`, `p99`, `max`, `tolerance`, `min_samples`",
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::UnknownKey; 3]);
    }

    #[test]
    fn wrong_types() {
        let text =
            "tolerance: { a: 1 }\nnodes:\n  a: 50ms\n  b: { p95: [1ms], p99: }\nspecial: [x]\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:1:12: tolerance: expected a tolerance like `10%` or `0.1`, found a mapping",
                "performance_budgets.yaml:3:6: nodes.a: expected a mapping of budgets like `{ p95: 50ms }`, found `50ms`",
                "performance_budgets.yaml:4:13: nodes.b.p95: expected a duration like `50ms`, found a list",
                "performance_budgets.yaml:4:23: nodes.b.p99: expected a duration like `50ms`, found nothing",
                "performance_budgets.yaml:5:10: special: expected a mapping of node names to budgets like `embedding: { p95: 50ms }`, found a list",
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::WrongType; 5]);
    }

    #[test]
    fn a_document_that_is_not_a_mapping() {
        assert_eq!(
            errors("- embedding\n"),
            [
                "performance_budgets.yaml:1:1: expected a mapping with keys `tolerance`, `min_samples`, `nodes`, `special`, `alerts`, found a list"
            ]
        );
    }

    #[test]
    fn duplicate_keys_on_the_second_occurrence() {
        let text =
            "nodes:\n  embedding: { p95: 1ms, p95: 2ms }\n  embedding: { p99: 3ms }\nnodes: {}\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:2:26: nodes.embedding.p95: duplicate key `p95`; first set on line 2",
                "performance_budgets.yaml:3:3: nodes.embedding: duplicate key `embedding`; first set on line 2",
                "performance_budgets.yaml:4:1: nodes: duplicate key `nodes`; first set on line 1",
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::DuplicateKey; 3]);
    }

    #[test]
    fn a_node_in_both_sections() {
        let text = "special:\n  routing: { p95: 5ms }\nnodes:\n  routing: { p95: 5ms }\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:4:3: nodes.routing: node `routing` is also under `special` (line 2); a node belongs to one section"
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::InBothSections]);
    }

    #[test]
    fn yaml_syntax_error_with_the_parser_position() {
        let text = "nodes:\n  embedding: p95: 50ms\n";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:2:17: invalid YAML: mapping values are not allowed in this context"
            ]
        );
        assert_eq!(kinds(text), [DiagnosticKind::Syntax]);
    }

    #[test]
    fn an_empty_entry_and_an_empty_name() {
        assert_eq!(
            errors("nodes:\n  embedding: {}\n  \"\": { p95: 1ms }\n"),
            [
                "performance_budgets.yaml:2:3: nodes.embedding: no budget for `embedding`; set at least one of `p50`, `p90`, `p95`, `p99`, `max`, `tolerance`, `min_samples`",
                "performance_budgets.yaml:3:3: nodes.: a node name must not be empty",
            ]
        );
    }

    #[test]
    fn every_error_is_reported_in_file_order() {
        let text = "\
tolerance: 150%
min_samples: many
nodes:
  embedding: { p95: 80ms, p99: 50ms }
  sanitization: { p95: 2 ms, p99: 3ms, tolerence: 5% }
  embedding: { p95: 1ms }
  ranking: 50ms
special:
  sanitization: { p95: 1ms }
colour: blue
";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:1:12: tolerance: tolerance must be between 0% and 100%, found `150%`",
                "performance_budgets.yaml:2:14: min_samples: expected a whole number of calls like `100`, found `many`",
                "performance_budgets.yaml:4:21: nodes.embedding.p95: `p95` budget (80ms) is larger than `p99` (50ms): quantile budgets must not decrease",
                "performance_budgets.yaml:5:24: nodes.sanitization.p95: unknown unit ` ms` in `2 ms`; write `2ms`",
                "performance_budgets.yaml:5:40: nodes.sanitization.tolerence: unknown key `tolerence`; did you mean `tolerance`? expected one of `p50`, `p90`, `p95`, `p99`, `max`, `tolerance`, `min_samples`",
                "performance_budgets.yaml:6:3: nodes.embedding: duplicate key `embedding`; first set on line 4",
                "performance_budgets.yaml:7:12: nodes.ranking: expected a mapping of budgets like `{ p95: 50ms }`, found `50ms`",
                "performance_budgets.yaml:9:3: special.sanitization: node `sanitization` is also under `nodes` (line 5); a node belongs to one section",
                "performance_budgets.yaml:10:1: colour: unknown key `colour`; expected one of `tolerance`, `min_samples`, `nodes`, `special`, `alerts`",
            ]
        );
    }

    #[test]
    fn tolerance_as_percent_or_fraction_and_min_samples() {
        let text = "tolerance: 0.05\nmin_samples: 20\nnodes:\n  a: { p95: 1ms, tolerance: 5%, min_samples: 7 }\n  b: { p95: 1ms, tolerance: 0.05 }\n";
        let file = BudgetsFile::parse(FILE, text).unwrap();
        assert_eq!(file.tolerance, Some(0.05));
        assert_eq!(file.min_samples, Some(20));
        assert_eq!(file.entries[0].tolerance, Some(0.05));
        assert_eq!(file.entries[0].min_samples, Some(7));
        assert_eq!(file.entries[1].tolerance, Some(0.05));
        assert_eq!(file.entries[1].min_samples, None);
    }

    #[test]
    fn empty_sections_and_quoted_values() {
        let file = BudgetsFile::parse(FILE, "nodes:\nspecial: {}\n").unwrap();
        assert!(file.entries.is_empty());
        let file = BudgetsFile::parse(FILE, "nodes:\n  a: { p95: \"1.5ms\", min_samples: '10' }\n")
            .unwrap();
        assert_eq!(file.entries[0].p95_ns, Some(1_500_000));
        assert_eq!(file.entries[0].min_samples, Some(10));
    }
}
