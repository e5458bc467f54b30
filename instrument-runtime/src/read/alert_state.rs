//! Alerts as the engine last saw them: plain data the snapshot, the report and the endpoint read
//! without depending on the engine, which publishes here after every evaluation.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::read::alert_rule::{Figure, Severity, Subject};

/// Where an alert stands.
///
/// ```
/// assert_eq!(instrument_runtime::alert::AlertState::Firing.as_str(), "firing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds, not yet for the rule's `for` duration.
    Pending,
    /// Fired: notified once as firing.
    Firing,
    /// Resolved after firing: notified once as resolved.
    Resolved,
}

impl AlertState {
    /// `pending`, `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One alert: a rule applied to its subject, with the labels that identify it.
///
/// ```
/// use instrument_runtime::alert::{AlertRule, AlertEngine, Operator};
///
/// let rule = AlertRule::node("TooSlow", "alert_doc_node").when("max", Operator::Above, "1ms").unwrap();
/// let engine = AlertEngine::builder().rule(rule).implied_rules(false).build();
/// assert!(engine.alerts().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Alert {
    /// The rule's name, the `alertname` label.
    pub name: String,
    /// A stable identity: a hash of the labels, the same in every run and on every machine.
    pub fingerprint: String,
    /// How urgent.
    pub severity: Severity,
    /// What it watches.
    pub subject: Subject,
    /// What it looks at.
    pub figure: Figure,
    /// Every label: `alertname`, `severity`, `node` or `breaker`, `figure`, and the rule's own.
    pub labels: BTreeMap<String, String>,
    /// The rule's message, filled in.
    pub summary: String,
    /// The figure's value at the last evaluation that knew it.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// Where it stands.
    pub state: AlertState,
    /// When the condition began to hold, in milliseconds since the Unix epoch (engine clock).
    pub active_since_unix_ms: u64,
    /// When it fired.
    pub fired_at_unix_ms: Option<u64>,
    /// When it resolved.
    pub resolved_at_unix_ms: Option<u64>,
}

/// What one notifier did so far. Failures are attempts that did not get through (each retry
/// counts); `given_up` are notifications dropped after the last retry; `dropped` never entered
/// its full queue.
///
/// ```
/// let stats = instrument_runtime::alert::NotifierStats::new("log");
/// assert_eq!((stats.sent, stats.failures, stats.dropped), (0, 0, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotifierStats {
    /// `log`, `webhook`, `alertmanager`, or a custom notifier's name.
    pub notifier: String,
    /// Notifications delivered.
    pub sent: u64,
    /// Attempts that failed (refused, timed out, an error status).
    pub failures: u64,
    /// Notifications abandoned after the last retry.
    pub given_up: u64,
    /// Notifications dropped because the queue was full.
    pub dropped: u64,
}

impl NotifierStats {
    /// A notifier that did nothing yet.
    pub fn new(notifier: &str) -> Self {
        Self {
            notifier: notifier.to_owned(),
            ..Self::default()
        }
    }
}

/// The alerts of the running engine, as of its last evaluation.
///
/// ```
/// let alerts = instrument_runtime::alert::published();
/// assert!(alerts.firing().all(|alert| alert.fired_at_unix_ms.is_some()));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlertsView {
    /// When the engine last evaluated (engine clock), 0 before it did.
    pub evaluated_at_unix_ms: u64,
    /// Pending and firing alerts, by fingerprint.
    pub active: Vec<Alert>,
    /// The most recently resolved alerts, newest last (a bounded list).
    pub resolved: Vec<Alert>,
    /// Each notifier's counts.
    pub notifiers: Vec<NotifierStats>,
}

impl AlertsView {
    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        (self.active.iter()).filter(|alert| alert.state == AlertState::Firing)
    }

    /// Whether there is nothing to show: no engine ran, or it never had an alert or notifier.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.resolved.is_empty() && self.notifiers.is_empty()
    }
}

static PUBLISHED: Mutex<Option<AlertsView>> = Mutex::new(None);

/// Replaces what [`published`] returns.
pub(crate) fn publish(view: AlertsView) {
    *PUBLISHED.lock().unwrap_or_else(PoisonError::into_inner) = Some(view);
}

/// The alerts the engine published last (empty when no engine ran).
pub fn published() -> AlertsView {
    PUBLISHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default()
}
