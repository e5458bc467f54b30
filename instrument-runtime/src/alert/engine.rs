//! The engine: rules evaluated against successive snapshots on a clock the caller gives, each
//! alert a small state machine (inactive, pending, firing), notifications handed to the
//! notifiers' queues without waiting.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::alert::figures::{self, History, Interval};
use crate::alert::implied::{implied_rules, merge};
use crate::alert::notify::{Dispatcher, Notification, Notifier, NotifierOptions};
use crate::read::alert_rule::{AlertRule, Subject};
use crate::read::alert_state::{Alert, AlertState, AlertsView, publish};
use crate::read::budgets_file::applied;
use crate::read::interval::node_intervals;
use crate::read::snapshot::Snapshot;
use crate::stream::{LatestValues, latest_values};

/// Default share of the threshold a firing alert's figure must move back past before the alert
/// resolves: 10%.
pub const DEFAULT_HYSTERESIS: f64 = 0.10;
/// Default time between evaluations: 10 s.
pub const DEFAULT_INTERVAL_MS: u64 = 10_000;
/// Resolved alerts kept for the surfaces.
const RESOLVED_KEPT: usize = 50;

/// Builds an [`AlertEngine`]: rules, notifiers, settings.
///
/// ```
/// use instrument_runtime::alert::{AlertEngine, AlertRule, Operator, Severity};
///
/// let engine = AlertEngine::builder()
///     .rule(AlertRule::node("Slow", "builder_doc").when("p99", Operator::Above, "100ms").unwrap())
///     .hysteresis(0.2)
///     .build();
/// assert_eq!(engine.rules().len(), 1);
/// ```
#[must_use]
pub struct AlertEngineBuilder {
    rules: Vec<AlertRule>,
    implied: bool,
    file_rules: bool,
    hysteresis: f64,
    interval_ms: u64,
    notifiers: Vec<Box<dyn Notifier>>,
    notifier_options: NotifierOptions,
}

impl AlertEngineBuilder {
    /// Adds a rule. A rule with an implied rule's name and subject replaces it.
    pub fn rule(mut self, rule: AlertRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds rules.
    pub fn rules(mut self, rules: impl IntoIterator<Item = AlertRule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// Whether budgets and breakers imply rules (default yes; see [`implied_rules`]).
    pub fn implied_rules(mut self, on: bool) -> Self {
        self.implied = on;
        self
    }

    /// Whether the budgets file's `alerts:` rules apply (default yes). A file rule replaces a
    /// rule of the code, or an implied one, with its name and subject.
    pub fn budgets_file_rules(mut self, on: bool) -> Self {
        self.file_rules = on;
        self
    }

    /// Sets the hysteresis: the share of the threshold (default 10%) a firing alert's figure
    /// must come back past before it resolves, so a value hovering at the threshold does not flap.
    pub fn hysteresis(mut self, share: f64) -> Self {
        self.hysteresis = share.clamp(0.0, 1.0);
        self
    }

    /// Sets the time between evaluations of [`AlertEngine::start`] (default 10 s).
    pub fn interval_ms(mut self, interval_ms: u64) -> Self {
        self.interval_ms = interval_ms.max(1);
        self
    }

    /// Adds a notifier: it gets every firing and resolved notification, on a thread of its own.
    pub fn notifier(mut self, notifier: impl Notifier + 'static) -> Self {
        self.notifiers.push(Box::new(notifier));
        self
    }

    /// Sets the notifiers' queue size, retries and backoff.
    pub fn notifier_options(mut self, options: NotifierOptions) -> Self {
        self.notifier_options = options;
        self
    }

    /// The engine, its notifiers' threads started.
    pub fn build(self) -> AlertEngine {
        AlertEngine {
            rules: self.rules,
            implied: self.implied,
            file_rules: self.file_rules,
            hysteresis: self.hysteresis,
            interval_ms: self.interval_ms,
            dispatcher: Dispatcher::start(self.notifiers, &self.notifier_options),
            alerts: BTreeMap::new(),
            resolved: VecDeque::new(),
            history: History::default(),
            previous: None,
            evaluated_at_ms: None,
        }
    }
}

/// The in-process alert engine. [`evaluate`](Self::evaluate) takes a snapshot and the time, so
/// tests and simulations drive it on their own clock; [`start`](Self::start) evaluates in the
/// background at the set interval, on the wall clock. Neither touches the instrumented calls.
pub struct AlertEngine {
    rules: Vec<AlertRule>,
    implied: bool,
    file_rules: bool,
    hysteresis: f64,
    interval_ms: u64,
    dispatcher: Dispatcher,
    /// Pending and firing alerts, by fingerprint.
    alerts: BTreeMap<String, Alert>,
    resolved: VecDeque<Alert>,
    history: History,
    previous: Option<Snapshot>,
    evaluated_at_ms: Option<u64>,
}

impl AlertEngine {
    /// A builder with no rule but the implied ones, 10% hysteresis, a 10 s interval, no notifier.
    pub fn builder() -> AlertEngineBuilder {
        AlertEngineBuilder {
            rules: Vec::new(),
            implied: true,
            file_rules: true,
            hysteresis: DEFAULT_HYSTERESIS,
            interval_ms: DEFAULT_INTERVAL_MS,
            notifiers: Vec::new(),
            notifier_options: NotifierOptions::default(),
        }
    }

    /// The rules written (code and budgets file), without the implied ones.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// The time between background evaluations.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// Pending and firing alerts, by fingerprint.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.values().cloned().collect()
    }

    /// Evaluates every rule on `snapshot`, taken at `now_unix_ms` on the engine's clock (any
    /// clock that moves forward: the wall clock, a simulation's). The last interval is the
    /// activity since the previous evaluation's snapshot. Returns the notifications it queued:
    /// each alert's firing once, its resolution once.
    ///
    /// A figure that cannot be known (a node not called in the window, fewer calls than the
    /// rule's `min_calls`, a subject that does not exist) leaves its alert as it is.
    ///
    /// ```
    /// use instrument_runtime::alert::{AlertEngine, AlertRule, AlertStatus, Operator};
    /// use instrument_runtime::ManualClock;
    ///
    /// #[instrument_runtime::timed(name = "evaluate_doc_step")]
    /// fn step(clock: &ManualClock, ms: u64) {
    ///     clock.advance(std::time::Duration::from_millis(ms));
    /// }
    ///
    /// let clock = ManualClock::new();
    /// let _installed = clock.install();
    /// let rule = AlertRule::node("StepSlow", "evaluate_doc_step").when("max", Operator::Above, "10ms").unwrap();
    /// let mut engine = AlertEngine::builder().rule(rule).implied_rules(false).build();
    /// step(&clock, 50);
    /// let fired = engine.evaluate(instrument_runtime::snapshot(), 1_000);
    /// assert_eq!(fired[0].status, AlertStatus::Firing);
    /// step(&clock, 1);
    /// let resolved = engine.evaluate(instrument_runtime::snapshot(), 2_000);
    /// assert_eq!(resolved[0].status, AlertStatus::Resolved);
    /// ```
    pub fn evaluate(&mut self, snapshot: Snapshot, now_unix_ms: u64) -> Vec<Notification> {
        let span_ms = self.evaluated_at_ms.map_or(self.interval_ms, |before| {
            now_unix_ms.saturating_sub(before)
        });
        let nodes: HashMap<String, _> = node_intervals(self.previous.as_ref(), &snapshot)
            .into_iter()
            .map(|interval| (interval.name.clone(), interval))
            .collect();
        let mut rules = self.rules.clone();
        if self.file_rules {
            rules = merge(&applied().alerts, rules);
        }
        if self.implied {
            rules = merge(&rules, implied_rules(&snapshot));
        }
        let keep_ms = (rules.iter().filter_map(|rule| rule.window_ms))
            .max()
            .unwrap_or(0);
        self.history.push(
            Interval {
                at_ms: now_unix_ms,
                span_ms,
                nodes,
            },
            keep_ms,
        );
        // The table of explicit events is copied only when a rule reads it.
        let latest = if (rules.iter()).any(|rule| matches!(rule.subject, Subject::Event(_))) {
            latest_values()
        } else {
            LatestValues::default()
        };
        let mut notifications = Vec::new();
        for rule in &rules {
            let previous = self.previous.as_ref();
            let value = figures::value(rule, &self.history, &snapshot, previous, &latest);
            if let Some(notification) = self.step(rule, value, now_unix_ms) {
                notifications.push(notification);
            }
        }
        self.previous = Some(snapshot);
        self.evaluated_at_ms = Some(now_unix_ms);
        self.dispatcher.send(&notifications);
        self.publish(now_unix_ms);
        notifications
    }

    /// One rule's alert through one evaluation: the state machine.
    fn step(&mut self, rule: &AlertRule, value: Option<f64>, now: u64) -> Option<Notification> {
        let fingerprint = fingerprint(&labels(rule));
        let Some(value) = value else {
            return None; // unknown: the alert keeps its state
        };
        let holds = rule.operator.holds(value, rule.threshold);
        let Some(alert) = self.alerts.get_mut(&fingerprint) else {
            if holds {
                let mut alert = new_alert(rule, fingerprint.clone(), value, now);
                let fired = rule.for_ms == 0;
                if fired {
                    alert.state = AlertState::Firing;
                    alert.fired_at_unix_ms = Some(now);
                }
                self.alerts.insert(fingerprint, alert.clone());
                return fired.then_some(Notification::firing(alert));
            }
            return None;
        };
        alert.value = value;
        alert.summary = summary(rule, value);
        match alert.state {
            AlertState::Pending if !holds => {
                self.alerts.remove(&fingerprint);
                None
            }
            AlertState::Pending => {
                if now.saturating_sub(alert.active_since_unix_ms) < rule.for_ms {
                    return None;
                }
                alert.state = AlertState::Firing;
                alert.fired_at_unix_ms = Some(now);
                Some(Notification::firing(alert.clone()))
            }
            AlertState::Firing | AlertState::Resolved => {
                if rule.operator.holds(value, relaxed(rule, self.hysteresis)) {
                    return None;
                }
                let mut alert = self.alerts.remove(&fingerprint)?;
                alert.state = AlertState::Resolved;
                alert.resolved_at_unix_ms = Some(now);
                if self.resolved.len() == RESOLVED_KEPT {
                    self.resolved.pop_front();
                }
                self.resolved.push_back(alert.clone());
                Some(Notification::resolved(alert))
            }
        }
    }

    /// The engine's alerts and notifier counts, as the surfaces show them.
    pub fn view(&self) -> AlertsView {
        AlertsView {
            evaluated_at_unix_ms: self.evaluated_at_ms.unwrap_or(0),
            active: self.alerts(),
            resolved: self.resolved.iter().cloned().collect(),
            notifiers: self.dispatcher.stats(),
        }
    }

    fn publish(&self, now: u64) {
        let mut view = self.view();
        view.evaluated_at_unix_ms = now;
        publish(view);
    }

    /// Lets the notifiers deliver what is queued, waiting at most `deadline` in all, and stops
    /// their threads; returns their final counts.
    pub fn shutdown(mut self, deadline: std::time::Duration) -> AlertsView {
        self.dispatcher.close(deadline);
        let view = self.view();
        publish(view.clone());
        view
    }
}

/// The threshold a firing alert's figure must pass back over to resolve: moved by the
/// hysteresis share away from the firing side.
fn relaxed(rule: &AlertRule, hysteresis: f64) -> f64 {
    let band = rule.threshold.abs() * hysteresis;
    if rule.operator.rising() {
        rule.threshold - band
    } else {
        rule.threshold + band
    }
}

fn new_alert(rule: &AlertRule, fingerprint: String, value: f64, now: u64) -> Alert {
    Alert {
        name: rule.name.clone(),
        fingerprint,
        severity: rule.severity,
        subject: rule.subject.clone(),
        figure: rule.figure,
        labels: labels(rule),
        summary: summary(rule, value),
        value,
        threshold: rule.threshold,
        state: AlertState::Pending,
        active_since_unix_ms: now,
        fired_at_unix_ms: None,
        resolved_at_unix_ms: None,
    }
}

/// The labels that identify an alert: the rule's own, then `alertname`, `severity`, `figure`
/// and `node` or `breaker` (which win over a rule label of the same name).
fn labels(rule: &AlertRule) -> BTreeMap<String, String> {
    let mut labels = rule.labels.clone();
    labels.insert("alertname".to_owned(), rule.name.clone());
    labels.insert("severity".to_owned(), rule.severity.label().to_owned());
    labels.insert("figure".to_owned(), rule.figure.name().to_owned());
    labels.insert(
        rule.subject.kind().to_owned(),
        rule.subject.name().to_owned(),
    );
    labels
}

/// FNV-1a (64 bits) over the sorted labels, as 16 hex digits: the same labels give the same
/// fingerprint in every run, on every machine and in every version (std's hasher promises none
/// of that).
pub(super) fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, value) in labels {
        for byte in key.bytes().chain([0xff]).chain(value.bytes()).chain([0xfe]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// The rule's message with its placeholders filled in.
fn summary(rule: &AlertRule, value: f64) -> String {
    let subject = rule.subject.name();
    let (node, breaker) = match &rule.subject {
        Subject::Node(_) => (subject, ""),
        Subject::Breaker(_) => ("", subject),
        Subject::Event(_) => ("", ""),
    };
    let mut out = String::with_capacity(rule.message.len() + 32);
    let mut rest = rule.message.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let filled = match &after[..close] {
            "value" => rule.figure.format(value),
            "threshold" => rule.figure.format(rule.threshold),
            "operator" => rule.operator.as_str().to_owned(),
            "figure" => rule.figure.name().to_owned(),
            "subject" => subject.to_owned(),
            "node" => node.to_owned(),
            "breaker" => breaker.to_owned(),
            "alert" => rule.name.clone(),
            "severity" => rule.severity.as_str().to_owned(),
            other => format!("{{{other}}}"),
        };
        out.push_str(&filled);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
