//! The budgets file's `alerts:` section: alert rules by name, checked like the rest of the file
//! (every mistake collected, each at its `file:line:column`).
//!
//! ```yaml
//! alerts:
//!   EmbeddingTooSlow:
//!     node: embedding
//!     when: p95 > 60ms
//!     severity: CRITICAL
//!     for: 20s
//!     message: "embedding too slow: {value} (> {threshold})"
//!     labels: { team: search }
//!   CacheCold:
//!     event: cache_hit_rate
//!     when: rate < 90%
//!     for: 1m
//! ```

use instrument_duration::parse_nanos;

use super::diagnostic::{DiagnosticKind, Position, Sink};
use super::schema::{SetOnce, join, mapping, quoted_list, scalar, unknown_key};
use super::yaml::{Value, Yaml};
use crate::read::alert_rule::{AlertRule, Figure, Operator, RuleOrigin, Severity, Subject};

/// The keys of one alert.
const ALERT_KEYS: [&str; 10] = [
    "node",
    "breaker",
    "event",
    "when",
    "severity",
    "for",
    "window",
    "min_calls",
    "message",
    "labels",
];

const WHEN: &str = "a condition like `p95 > 100ms`";
const SEVERITY: &str = "a severity `CRITICAL`, `WARNING` or `INFO`";
const DURATION: &str = "a duration like `30s`";
const COUNT: &str = "a whole number of calls like `10`";
const TEXT: &str = "a text";

/// `alerts:`: alert names to rules. Empty or null is no rules.
pub(super) fn section(value: &Yaml, rules: &mut Vec<AlertRule>, sink: &mut Sink<'_>) {
    if value.is_null() {
        return;
    }
    let expected = "a mapping of alert names to rules like `EmbeddingSlow: { node: embedding, when: p95 > 60ms }`";
    let Some(alerts) = mapping(value, "alerts", expected, sink) else {
        return;
    };
    let mut names = SetOnce::default();
    for (key, value) in alerts {
        let Some(name) = names.key(key, "alerts", sink) else {
            continue;
        };
        let path = join("alerts", name);
        if name.trim().is_empty() {
            let message = "an alert name must not be empty".to_owned();
            sink.push(key.at, &path, DiagnosticKind::InvalidValue, message);
            continue;
        }
        if let Some(rule) = alert(name, key.at, value, &path, sink) {
            rules.push(rule);
        }
    }
}

/// What one alert's mapping sets, before the rule is assembled.
#[derive(Default)]
struct Fields<'y> {
    subject: Option<Subject>,
    when: Option<&'y Yaml>,
    severity: Option<Severity>,
    for_ns: Option<u64>,
    window_ns: Option<u64>,
    min_calls: Option<u64>,
    message: Option<String>,
    labels: Vec<(String, String)>,
}

fn alert(
    name: &str,
    at: Position,
    value: &Yaml,
    path: &str,
    sink: &mut Sink<'_>,
) -> Option<AlertRule> {
    let entries = mapping(
        value,
        path,
        "a mapping like `{ node: embedding, when: p95 > 60ms, severity: CRITICAL }`",
        sink,
    )?;
    let before = sink.diagnostics.len();
    let mut fields = Fields::default();
    let mut keys = SetOnce::default();
    for (key, value) in entries {
        let Some(key_name) = keys.key(key, path, sink) else {
            continue;
        };
        let key_path = join(path, key_name);
        match key_name {
            "node" | "breaker" | "event" => {
                let Some(subject) = scalar(value, &key_path, sink, text, TEXT) else {
                    continue;
                };
                if fields.subject.is_some() {
                    let message = "an alert watches one node, breaker or event; two of `node`, `breaker` and `event` are set".to_owned();
                    sink.push(key.at, &key_path, DiagnosticKind::InvalidValue, message);
                    continue;
                }
                fields.subject = Some(match key_name {
                    "node" => Subject::Node(subject),
                    "breaker" => Subject::Breaker(subject),
                    _ => Subject::Event(subject),
                });
            }
            "when" => fields.when = Some(value),
            "severity" => {
                fields.severity = scalar(value, &key_path, sink, str::parse, SEVERITY);
            }
            "for" => fields.for_ns = scalar(value, &key_path, sink, parse_nanos, DURATION),
            "window" => fields.window_ns = scalar(value, &key_path, sink, parse_nanos, DURATION),
            "min_calls" => fields.min_calls = scalar(value, &key_path, sink, count, COUNT),
            "message" => fields.message = scalar(value, &key_path, sink, text, TEXT),
            "labels" => labels(value, &key_path, &mut fields.labels, sink),
            _ => unknown_key(key.at, path, key_name, &ALERT_KEYS, sink),
        }
    }
    let Some(subject) = fields.subject.clone() else {
        let message = format!("alert `{name}` watches nothing; set `node`, `breaker` or `event`");
        sink.push(at, path, DiagnosticKind::MissingKey, message);
        return None;
    };
    let Some(when) = fields.when else {
        let message = format!("alert `{name}` has no condition; set `when`, {WHEN}");
        sink.push(at, path, DiagnosticKind::MissingKey, message);
        return None;
    };
    let rule = condition(
        AlertRule::watching(name, &subject),
        when,
        &join(path, "when"),
        sink,
    )?;
    if sink.diagnostics.len() != before {
        return None;
    }
    let ms = |ns: u64| ns / 1_000_000;
    let mut rule = rule
        .severity(fields.severity.unwrap_or(Severity::Warning))
        .for_ms(fields.for_ns.map_or(0, ms))
        .min_calls(fields.min_calls.unwrap_or(1))
        .origin(RuleOrigin::BudgetsFile);
    if let Some(window) = fields.window_ns {
        rule = rule.window_ms(ms(window));
    }
    if let Some(message) = &fields.message {
        rule = rule.message(message);
    }
    for (key, value) in &fields.labels {
        rule = rule.label(key, value);
    }
    Some(rule)
}

/// `when: p95 > 100ms`: a figure, an operator and a threshold, each error on its own word.
fn condition(rule: AlertRule, when: &Yaml, path: &str, sink: &mut Sink<'_>) -> Option<AlertRule> {
    let Value::Scalar { text, plain } = &when.value else {
        let message = format!("expected {WHEN}, found {}", when.describe());
        sink.push(when.at, path, DiagnosticKind::WrongType, message);
        return None;
    };
    // Columns inside a one-line scalar: after the opening quote when quoted.
    let start = when.at.column + u32::from(!plain);
    let at = |offset: usize| Position {
        line: when.at.line,
        column: start + u32::try_from(text[..offset].chars().count()).unwrap_or(0),
    };
    let figure_end = text.find(|c: char| c.is_whitespace() || "<>=".contains(c));
    let figure_text = &text[..figure_end.unwrap_or(text.len())];
    let rest_at = figure_end.unwrap_or(text.len());
    let rest = text[rest_at..].trim_start();
    let op_at = text.len() - rest.len();
    let operator = Operator::ALL
        .into_iter()
        .find(|operator| rest.starts_with(operator.as_str()));
    let Ok(figure) = figure_text.parse::<Figure>() else {
        let names: Vec<&str> = Figure::NAMES.iter().map(|&(name, _)| name).collect();
        let suggestion = instrument_duration::suggest::closest(figure_text, names.iter().copied())
            .map(|name| format!("did you mean `{name}`? "))
            .unwrap_or_default();
        let message = format!(
            "unknown figure `{figure_text}` in `{text}`; {suggestion}expected one of {}",
            quoted_list(&names)
        );
        sink.push(at(0), path, DiagnosticKind::InvalidValue, message);
        return None;
    };
    let Some(operator) = operator else {
        let message = format!(
            "expected an operator `>`, `>=`, `<` or `<=` after `{figure_text}`, found `{rest}`"
        );
        sink.push(at(op_at), path, DiagnosticKind::InvalidValue, message);
        return None;
    };
    let threshold = rest[operator.as_str().len()..].trim_start();
    let threshold_at = text.len() - threshold.len();
    if threshold.is_empty() {
        let message = format!("`{text}` has no threshold after `{operator}`");
        sink.push(
            at(threshold_at),
            path,
            DiagnosticKind::InvalidValue,
            message,
        );
        return None;
    }
    match rule.when(figure.name(), operator, threshold) {
        Ok(rule) => Some(rule),
        Err(message) => {
            // A breaker figure on a node (or the reverse) is about the figure; a bad threshold
            // about the threshold.
            let on = if message.starts_with("figure") {
                0
            } else {
                threshold_at
            };
            sink.push(at(on), path, DiagnosticKind::InvalidValue, message);
            None
        }
    }
}

/// `labels: { team: search }`: text keys to text values.
fn labels(value: &Yaml, path: &str, labels: &mut Vec<(String, String)>, sink: &mut Sink<'_>) {
    let Some(entries) = mapping(value, path, "a mapping of label names to values", sink) else {
        return;
    };
    let mut keys = SetOnce::default();
    for (key, value) in entries {
        let Some(name) = keys.key(key, path, sink) else {
            continue;
        };
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let message = format!(
                "label name `{name}` is not a Prometheus label name (letters, digits and `_`, not starting with a digit)"
            );
            sink.push(
                key.at,
                &join(path, name),
                DiagnosticKind::InvalidValue,
                message,
            );
            continue;
        }
        if let Some(text) = scalar(value, &join(path, name), sink, text, TEXT) {
            labels.push((name.to_owned(), text));
        }
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "the shape `scalar` takes: any text is valid"
)]
fn text(text: &str) -> Result<String, String> {
    Ok(text.to_owned())
}

fn count(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("expected {COUNT}, found `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::super::{BudgetsFile, DiagnosticKind};
    use crate::read::alert_rule::{Figure, Operator, RuleOrigin, Severity, Subject};
    use crate::read::budget::Quantile;

    use super::super::schema::tests::{FILE, errors};

    #[test]
    fn an_alerts_section_parses_into_rules() {
        let text = "\
nodes:
  embedding: { p95: 50ms }
alerts:
  EmbeddingTooSlow:
    node: embedding
    when: p95 > 60ms
    severity: CRITICAL
    for: 20s
    window: 1m
    message: \"embedding too slow: {value} (> {threshold})\"
    labels: { team: search }
  RankerOpen: { breaker: ranker, when: breaker_state >= open }
  CacheCold: { event: cache_hit_rate, when: rate < 90%, for: 1m }
";
        let file = BudgetsFile::parse(FILE, text).unwrap();
        let [slow, open, cold] = &file.alerts[..] else {
            panic!("{:?}", file.alerts)
        };
        assert_eq!(slow.name, "EmbeddingTooSlow");
        assert_eq!(slow.subject, Subject::Node("embedding".to_owned()));
        assert_eq!(
            (slow.figure, slow.operator, slow.threshold),
            (
                Figure::Latency(Quantile::P95),
                Operator::Above,
                60_000_000.0
            )
        );
        assert_eq!(
            (slow.severity, slow.for_ms, slow.window_ms),
            (Severity::Critical, 20_000, Some(60_000))
        );
        assert_eq!(slow.message, "embedding too slow: {value} (> {threshold})");
        assert_eq!(slow.labels["team"], "search");
        assert_eq!(slow.origin, RuleOrigin::BudgetsFile);
        assert_eq!(open.subject, Subject::Breaker("ranker".to_owned()));
        assert_eq!(
            (open.operator, open.threshold, open.severity),
            (Operator::AtLeast, 2.0, Severity::Warning)
        );
        assert_eq!(cold.subject, Subject::Event("cache_hit_rate".to_owned()));
        assert_eq!(
            (cold.figure, cold.operator, cold.threshold, cold.for_ms),
            (Figure::Rate, Operator::Below, 90.0, 60_000)
        );
    }

    #[test]
    fn each_mistake_in_a_condition_is_on_its_word() {
        let text = "\
alerts:
  A: { node: x, when: p96 > 1ms }
  B: { node: x, when: p95 => 1ms }
  C: { node: x, when: \"p95 > fifty\" }
  D: { node: x, when: p95 > }
  E: { node: x, when: breaker_state > 1 }
  F: { node: x, when: error_rate > 150% }
  G: { event: x, when: p95 > 1ms }
  H: { node: x, when: gauge > 1 }
  I: { event: x, when: rate < 150% }
";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:2:23: alerts.A.when: unknown figure `p96` in `p96 > 1ms`; did you mean `p90`? expected one of `p50`, `p90`, `p95`, `p99`, `max`, `error_rate`, `success_rate`, `calls_per_second`, `in_flight`, `breaker_state`, `recovery_sla_violations`, `gauge`, `rate`",
                "performance_budgets.yaml:3:27: alerts.B.when: expected an operator `>`, `>=`, `<` or `<=` after `p95`, found `=> 1ms`",
                "performance_budgets.yaml:4:30: alerts.C.when: expected a duration like `50ms`, found `fifty`",
                "performance_budgets.yaml:5:28: alerts.D.when: `p95 >` has no threshold after `>`",
                "performance_budgets.yaml:6:23: alerts.E.when: figure `breaker_state` is not one of a node",
                "performance_budgets.yaml:7:36: alerts.F.when: expected a rate like `80%` or `0.8`, found `150%`",
                "performance_budgets.yaml:8:24: alerts.G.when: figure `p95` is not one of an event",
                "performance_budgets.yaml:9:23: alerts.H.when: figure `gauge` is not one of a node",
                "performance_budgets.yaml:10:31: alerts.I.when: expected a rate in percent like `90%` or `90`, found `150%`",
            ]
        );
    }

    #[test]
    fn missing_unknown_and_mistyped_keys() {
        let text = "\
alerts:
  NoSubject: { when: p95 > 1ms }
  NoCondition: { node: x }
  Both: { node: x, breaker: y, when: p95 > 1ms }
  Twice: { event: x, breaker: y, when: rate < 1 }
  Typo: { node: x, when: p95 > 1ms, severty: CRITICAL, severity: urgent, for: soon }
  Labels: { node: x, when: p95 > 1ms, labels: { 1team: a, team: [b] } }
  NotAMapping: p95 > 1ms
";
        assert_eq!(
            errors(text),
            [
                "performance_budgets.yaml:2:3: alerts.NoSubject: alert `NoSubject` watches nothing; set `node`, `breaker` or `event`",
                "performance_budgets.yaml:3:3: alerts.NoCondition: alert `NoCondition` has no condition; set `when`, a condition like `p95 > 100ms`",
                "performance_budgets.yaml:4:20: alerts.Both.breaker: an alert watches one node, breaker or event; two of `node`, `breaker` and `event` are set",
                "performance_budgets.yaml:5:22: alerts.Twice.breaker: an alert watches one node, breaker or event; two of `node`, `breaker` and `event` are set",
                "performance_budgets.yaml:6:37: alerts.Typo.severty: unknown key `severty`; did you mean `severity`? expected one of `node`, `breaker`, `event`, `when`, `severity`, `for`, `window`, `min_calls`, `message`, `labels`",
                "performance_budgets.yaml:6:66: alerts.Typo.severity: expected a severity `CRITICAL`, `WARNING` or `INFO`, found `urgent`",
                "performance_budgets.yaml:6:79: alerts.Typo.for: expected a duration like `50ms`, found `soon`",
                "performance_budgets.yaml:7:49: alerts.Labels.labels.1team: label name `1team` is not a Prometheus label name (letters, digits and `_`, not starting with a digit)",
                "performance_budgets.yaml:7:65: alerts.Labels.labels.team: expected a text, found a list",
                "performance_budgets.yaml:8:16: alerts.NotAMapping: expected a mapping like `{ node: embedding, when: p95 > 60ms, severity: CRITICAL }`, found `p95 > 1ms`",
            ]
        );
        assert!(matches!(
            BudgetsFile::parse(FILE, "alerts:\n  A: { when: p95 > 1ms }\n")
                .unwrap_err()
                .diagnostics[0]
                .kind,
            DiagnosticKind::MissingKey
        ));
    }

    #[test]
    fn an_alert_named_twice_and_an_alerts_list() {
        assert_eq!(
            errors(
                "alerts:\n  A: { node: x, when: p95 > 1ms }\n  A: { node: y, when: p95 > 1ms }\n"
            ),
            ["performance_budgets.yaml:3:3: alerts.A: duplicate key `A`; first set on line 2"]
        );
        assert_eq!(
            errors("alerts: [a]\n"),
            [
                "performance_budgets.yaml:1:9: alerts: expected a mapping of alert names to rules like `EmbeddingSlow: { node: embedding, when: p95 > 60ms }`, found a list"
            ]
        );
    }
}
