//! The HTTP notifiers (feature `alerts-http`): a webhook (JSON, or Slack's payload) and
//! Prometheus Alertmanager's v2 API. Each request has a whole-request timeout; the notifier's
//! thread retries a failed one with backoff ([`NotifierOptions`](crate::alert::NotifierOptions)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::alert::notify::{AlertStatus, Notification, Notifier};
use crate::format::rfc3339;
use crate::read::alert_state::Alert;

/// Default time one request may take, connecting included: 5 s.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a webhook is sent.
///
/// ```
/// use instrument_runtime::alert::WebhookFormat;
///
/// assert_eq!(WebhookFormat::for_url("https://hooks.slack.com/services/T/B/X"), WebhookFormat::Slack);
/// assert_eq!(WebhookFormat::for_url("http://127.0.0.1:9000/alerts"), WebhookFormat::Json);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The [`Notification`] as JSON: `{"status": "firing", "alert": {...}}`.
    Json,
    /// Slack's incoming-webhook payload, `{"text": "..."}`.
    Slack,
}

impl WebhookFormat {
    /// Slack for a Slack incoming-webhook URL, JSON otherwise.
    pub fn for_url(url: &str) -> Self {
        if url.contains("://hooks.slack.com/") {
            Self::Slack
        } else {
            Self::Json
        }
    }
}

/// POSTs each notification to a URL, once.
///
/// ```
/// use instrument_runtime::alert::{AlertEngine, WebhookNotifier};
///
/// let webhook = WebhookNotifier::new("http://127.0.0.1:9/alerts");
/// let engine = AlertEngine::builder().notifier(webhook).build();
/// assert_eq!(engine.view().notifiers[0].notifier, "webhook");
/// ```
pub struct WebhookNotifier {
    url: String,
    format: WebhookFormat,
    agent: ureq::Agent,
}

impl WebhookNotifier {
    /// A webhook at `url`, its format guessed from it ([`WebhookFormat::for_url`]), with the
    /// default timeout.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            format: WebhookFormat::for_url(url),
            agent: agent(DEFAULT_HTTP_TIMEOUT),
        }
    }

    /// Sets the payload's format.
    #[must_use]
    pub fn format(mut self, format: WebhookFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the time one request may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }
}

impl Notifier for WebhookNotifier {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn notify(&mut self, notification: &Notification) -> Result<(), String> {
        let body = match self.format {
            WebhookFormat::Json => serde_json::to_value(notification).unwrap_or(Value::Null),
            WebhookFormat::Slack => json!({ "text": slack_text(notification) }),
        };
        post(&self.agent, &self.url, &body)
    }
}

/// `[FIRING] CRITICAL LatencyOverBudget node=embedding: ...`.
fn slack_text(notification: &Notification) -> String {
    let alert = &notification.alert;
    format!(
        "[{}] {} {} {}={}: {}",
        notification.status.as_str().to_ascii_uppercase(),
        alert.severity,
        alert.name,
        alert.subject.kind(),
        alert.subject.name(),
        alert.summary
    )
}

/// Sends alerts to Prometheus Alertmanager (`POST /api/v2/alerts`), and the firing ones again
/// every `resend` until they resolve, as Alertmanager expects of a client
/// (<https://prometheus.io/docs/alerting/latest/clients/>).
///
/// A firing alert's `endsAt` is four resends ahead, so Alertmanager expires it if this process
/// dies; a resolved one's `endsAt` is the moment it is sent. Times are the wall clock's, whatever
/// clock the engine evaluates on, so a simulation's alert still resolves in Alertmanager.
///
/// ```
/// use instrument_runtime::alert::AlertmanagerNotifier;
///
/// let notifier = AlertmanagerNotifier::new("http://127.0.0.1:9093");
/// assert_eq!(notifier.endpoint(), "http://127.0.0.1:9093/api/v2/alerts");
/// ```
pub struct AlertmanagerNotifier {
    endpoint: String,
    generator_url: String,
    resend: Duration,
    agent: ureq::Agent,
}

impl AlertmanagerNotifier {
    /// Alertmanager at `base_url` (`http://host:9093`), resending every minute.
    pub fn new(base_url: &str) -> Self {
        Self {
            endpoint: format!("{}/api/v2/alerts", base_url.trim_end_matches('/')),
            generator_url: "http://localhost/alerts".to_owned(),
            resend: Duration::from_secs(60),
            agent: agent(DEFAULT_HTTP_TIMEOUT),
        }
    }

    /// The URL alerts are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sets the `generatorURL` of every alert: where a reader finds more (the process's
    /// `GET /alerts`, say).
    #[must_use]
    pub fn generator_url(mut self, url: &str) -> Self {
        url.clone_into(&mut self.generator_url);
        self
    }

    /// Sets how often firing alerts are sent again.
    #[must_use]
    pub fn resend(mut self, every: Duration) -> Self {
        self.resend = every.max(Duration::from_millis(10));
        self
    }

    /// Sets the time one request may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }

    fn payload(&self, notification: &Notification, now: SystemTime) -> Value {
        let alert = &notification.alert;
        let ends_at = match notification.status {
            AlertStatus::Firing => now + self.resend * 4,
            AlertStatus::Resolved => now,
        };
        // An engine on a simulated clock may be ahead of the wall clock: never start after the end.
        let starts_at =
            unix_ms(alert.fired_at_unix_ms.unwrap_or(alert.active_since_unix_ms)).min(now);
        json!([{
            "labels": alert.labels,
            "annotations": annotations(alert),
            "startsAt": rfc3339(starts_at),
            "endsAt": rfc3339(ends_at),
            "generatorURL": self.generator_url,
        }])
    }
}

impl Notifier for AlertmanagerNotifier {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn notify(&mut self, notification: &Notification) -> Result<(), String> {
        post(
            &self.agent,
            &self.endpoint,
            &self.payload(notification, SystemTime::now()),
        )
    }

    fn resend_interval(&self) -> Option<Duration> {
        Some(self.resend)
    }
}

fn annotations(alert: &Alert) -> Value {
    json!({
        "summary": alert.summary,
        "description": format!(
            "{} of {} {} is {} (threshold {})",
            alert.figure,
            alert.subject.kind(),
            alert.subject.name(),
            alert.figure.format(alert.value),
            alert.figure.format(alert.threshold),
        ),
        "fingerprint": alert.fingerprint,
    })
}

fn unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// An agent whose every request ends within `timeout`, connecting included, and that treats an
/// error status as a failure (so it is retried and counted).
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(true)
        .build()
        .new_agent()
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Result<(), String> {
    agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .map(drop)
        .map_err(|error| format!("POST {url}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::alert_rule::{Figure, Severity, Subject};
    use crate::read::alert_state::AlertState;
    use crate::read::budget::Quantile;

    fn alert(fired_at_unix_ms: u64) -> Alert {
        Alert {
            name: "Slow".to_owned(),
            fingerprint: "0123456789abcdef".to_owned(),
            severity: Severity::Critical,
            subject: Subject::Node("embedding".to_owned()),
            figure: Figure::Latency(Quantile::P95),
            labels: [("alertname", "Slow"), ("severity", "critical")]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            summary: "embedding too slow".to_owned(),
            value: 72e6,
            threshold: 60e6,
            state: AlertState::Firing,
            active_since_unix_ms: fired_at_unix_ms,
            fired_at_unix_ms: Some(fired_at_unix_ms),
            resolved_at_unix_ms: None,
        }
    }

    #[test]
    fn alertmanager_payload_firing_and_resolved() {
        let notifier =
            AlertmanagerNotifier::new("http://127.0.0.1:9093/").resend(Duration::from_secs(1));
        let now = unix_ms(1_700_000_010_000);
        let firing = notifier.payload(&Notification::firing(alert(1_700_000_000_000)), now);
        assert_eq!(firing[0]["labels"]["alertname"], "Slow");
        assert_eq!(firing[0]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(firing[0]["endsAt"], "2023-11-14T22:13:34.000Z");
        assert_eq!(
            firing[0]["annotations"]["description"],
            "p95 of node embedding is 72.0ms (threshold 60.0ms)"
        );
        // an engine clock ahead of the wall clock: started no later than now
        let ahead = notifier.payload(&Notification::resolved(alert(1_700_000_099_000)), now);
        assert_eq!(ahead[0]["startsAt"], ahead[0]["endsAt"]);
    }

    #[test]
    fn slack_text_names_status_severity_and_subject() {
        let text = slack_text(&Notification::firing(alert(0)));
        assert_eq!(
            text,
            "[FIRING] CRITICAL Slow node=embedding: embedding too slow"
        );
    }
}
