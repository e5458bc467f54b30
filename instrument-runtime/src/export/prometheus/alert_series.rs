//! The alert engine's series: its pending and firing alerts as Prometheus's own `ALERTS` series
//! are (one series per alert, valued 1, labelled with the alert's labels and `alertstate`), and
//! its notifiers' counts. Written apart from the families because an alert carries any number of
//! labels, where every other series has at most two; the names sort before every other family's,
//! so the block goes first and the output stays sorted.

use std::collections::BTreeMap;

use super::Format;
use super::text::{escape_help, push_float, write_escaped_label_value, write_metadata};
use crate::read::alert_state::AlertsView;

const ALERTS_HELP: &str = "Pending and firing alerts of the in-process alert engine, as Prometheus's ALERTS: one series per alert, valued 1.";
const NOTIFICATIONS_HELP: &str = "Notifications of the in-process alert engine, by notifier and outcome: sent, failed (attempts), given_up (after the last retry), dropped (queue full).";

/// The block, empty when no engine published anything.
pub(super) fn alert_series(alerts: &AlertsView, prefix: &str, format: Format) -> String {
    let mut out = String::new();
    if !alerts.active.is_empty() {
        let name = format!("{prefix}alerts");
        write_metadata(&mut out, "HELP", &name, &escape_help(ALERTS_HELP, format));
        write_metadata(&mut out, "TYPE", &name, "gauge");
        let mut lines: Vec<String> = alerts
            .active
            .iter()
            .map(|alert| {
                let mut labels: BTreeMap<String, &str> = (alert.labels.iter())
                    .map(|(key, value)| (label_name(key), value.as_str()))
                    .collect();
                labels.insert("alertstate".to_owned(), alert.state.as_str());
                let mut line = format!("{name}{{");
                for (index, (key, value)) in labels.iter().enumerate() {
                    if index > 0 {
                        line.push(',');
                    }
                    line.push_str(key);
                    line.push_str("=\"");
                    write_escaped_label_value(&mut line, value);
                    line.push('"');
                }
                line.push_str("} 1\n");
                line
            })
            .collect();
        lines.sort();
        lines.dedup();
        out.extend(lines);
    }
    if !alerts.notifiers.is_empty() {
        let name = format!("{prefix}alert_notifications_total");
        let family = match format {
            Format::OpenMetrics => name.strip_suffix("_total").unwrap_or(&name),
            Format::Prometheus => &name,
        };
        write_metadata(
            &mut out,
            "HELP",
            family,
            &escape_help(NOTIFICATIONS_HELP, format),
        );
        write_metadata(&mut out, "TYPE", family, "counter");
        let mut notifiers: Vec<_> = alerts.notifiers.iter().collect();
        notifiers.sort_by(|a, b| a.notifier.cmp(&b.notifier));
        notifiers.dedup_by(|a, b| a.notifier == b.notifier);
        for stats in notifiers {
            for (outcome, count) in [
                ("dropped", stats.dropped),
                ("failed", stats.failures),
                ("given_up", stats.given_up),
                ("sent", stats.sent),
            ] {
                out.push_str(&name);
                out.push_str("{notifier=\"");
                write_escaped_label_value(&mut out, &stats.notifier);
                out.push_str("\",outcome=\"");
                out.push_str(outcome);
                out.push_str("\"} ");
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "counts of notifications, far below 2^53"
                )]
                push_float(&mut out, count as f64);
                out.push('\n');
            }
        }
    }
    out
}

/// A label name Prometheus accepts: other characters become `_`, a leading digit gets one.
fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::alert_rule::{Figure, Severity, Subject};
    use crate::read::alert_state::{Alert, AlertState, NotifierStats};

    #[test]
    fn alerts_and_notifier_counts_in_both_formats() {
        let alert = Alert {
            name: "Slow".to_owned(),
            fingerprint: "f".to_owned(),
            severity: Severity::Critical,
            subject: Subject::Node("a\"b".to_owned()),
            figure: Figure::ErrorRate,
            labels: [("alertname", "Slow"), ("node", "a\"b"), ("team-name", "x")]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            summary: String::new(),
            value: 1.0,
            threshold: 0.5,
            state: AlertState::Firing,
            active_since_unix_ms: 0,
            fired_at_unix_ms: Some(0),
            resolved_at_unix_ms: None,
        };
        let mut stats = NotifierStats::new("webhook");
        stats.sent = 2;
        stats.dropped = 1;
        let view = AlertsView {
            evaluated_at_unix_ms: 1,
            active: vec![alert],
            resolved: vec![],
            notifiers: vec![stats],
        };
        let text = alert_series(&view, "instrument_", Format::Prometheus);
        assert_eq!(
            text,
            "# HELP instrument_alerts Pending and firing alerts of the in-process alert engine, as Prometheus's ALERTS: one series per alert, valued 1.\n\
             # TYPE instrument_alerts gauge\n\
             instrument_alerts{alertname=\"Slow\",alertstate=\"firing\",node=\"a\\\"b\",team_name=\"x\"} 1\n\
             # HELP instrument_alert_notifications_total Notifications of the in-process alert engine, by notifier and outcome: sent, failed (attempts), given_up (after the last retry), dropped (queue full).\n\
             # TYPE instrument_alert_notifications_total counter\n\
             instrument_alert_notifications_total{notifier=\"webhook\",outcome=\"dropped\"} 1\n\
             instrument_alert_notifications_total{notifier=\"webhook\",outcome=\"failed\"} 0\n\
             instrument_alert_notifications_total{notifier=\"webhook\",outcome=\"given_up\"} 0\n\
             instrument_alert_notifications_total{notifier=\"webhook\",outcome=\"sent\"} 2\n"
        );
        let open = alert_series(&view, "instrument_", Format::OpenMetrics);
        assert!(
            open.contains("# TYPE instrument_alert_notifications counter\n"),
            "{open}"
        );
        assert!(alert_series(&AlertsView::default(), "x_", Format::Prometheus).is_empty());
    }
}
