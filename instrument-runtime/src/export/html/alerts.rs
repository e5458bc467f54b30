//! The alerts section: the alert engine's pending and firing alerts and the ones it resolved
//! lately, with their times, and its notifiers' counts. Absent when no engine ran.

use std::fmt::{self, Write as _};

use super::tables::{Column, column, write_cell, write_table_head};
use super::text::{Escaped, UtcTime};
use crate::read::alert_state::{Alert, AlertsView};

const ALERT_COLUMNS: [Column; 7] = [
    column("alert", "alert", false, "alert name"),
    column(
        "alert-severity",
        "severity",
        false,
        "CRITICAL, WARNING, INFO",
    ),
    column("alert-subject", "subject", false, "node or breaker"),
    column("alert-state", "state", false, "pending, firing, resolved"),
    column(
        "alert-since",
        "since",
        false,
        "when its condition began to hold (UTC)",
    ),
    column("alert-fired", "fired", false, "when it fired (UTC)"),
    column(
        "alert-resolved",
        "resolved",
        false,
        "when it resolved (UTC)",
    ),
];

pub(super) fn write_alerts(out: &mut String, alerts: &AlertsView) -> fmt::Result {
    if alerts.active.is_empty() && alerts.resolved.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2>Alerts</h2>")?;
    write_table_head(out, "alerts", "Alerts", &ALERT_COLUMNS)?;
    for (index, alert) in alerts
        .active
        .iter()
        .chain(alerts.resolved.iter().rev())
        .enumerate()
    {
        write_alert_row(out, index, alert)?;
    }
    writeln!(out, "</tbody>\n</table>\n</div>")?;
    for stats in &alerts.notifiers {
        writeln!(
            out,
            "<p class=\"notifier\">{}: {} sent, {} failed attempts, {} given up, {} dropped</p>",
            Escaped(&stats.notifier),
            stats.sent,
            stats.failures,
            stats.given_up,
            stats.dropped
        )?;
    }
    Ok(())
}

fn write_alert_row(out: &mut String, index: usize, alert: &Alert) -> fmt::Result {
    writeln!(out, "<tr data-index=\"{index}\">")?;
    let subject = format!("{} {}", alert.subject.kind(), alert.subject.name());
    write_cell(out, "text name", &alert.name, &alert.name)?;
    write_cell(
        out,
        "text",
        alert.severity.as_str(),
        alert.severity.as_str(),
    )?;
    write_cell(out, "text", &subject, &subject)?;
    write_cell(out, "text", alert.state.as_str(), alert.state.as_str())?;
    for time in [
        Some(alert.active_since_unix_ms),
        alert.fired_at_unix_ms,
        alert.resolved_at_unix_ms,
    ] {
        let text = time.map(|ms| UtcTime(ms).to_string()).unwrap_or_default();
        write_cell(out, "text", &text, &text)?;
    }
    writeln!(out, "</tr>")?;
    writeln!(
        out,
        "<tr class=\"summary\"><td colspan=\"7\">{}</td></tr>",
        Escaped(&alert.summary)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::alert_rule::{Figure, Severity, Subject};
    use crate::read::alert_state::{AlertState, NotifierStats};
    use crate::read::budget::check_budgets;
    use crate::read::snapshot::Snapshot;

    #[test]
    fn the_section_lists_firing_and_resolved_alerts_with_their_times() {
        let alert = |state, resolved_at_unix_ms| Alert {
            name: "<Slow>".to_owned(),
            fingerprint: "f".to_owned(),
            severity: Severity::Critical,
            subject: Subject::Node("embedding".to_owned()),
            figure: Figure::ErrorRate,
            labels: std::collections::BTreeMap::new(),
            summary: "too slow & failing".to_owned(),
            value: 1.0,
            threshold: 0.5,
            state,
            active_since_unix_ms: 1_700_000_000_000,
            fired_at_unix_ms: Some(1_700_000_010_000),
            resolved_at_unix_ms,
        };
        let mut snapshot = Snapshot::new(vec![]);
        let page = super::super::dashboard_html(&snapshot, &check_budgets(&snapshot));
        assert!(!page.contains("<h2>Alerts</h2>"));
        snapshot.alerts = AlertsView {
            evaluated_at_unix_ms: 1,
            active: vec![alert(AlertState::Firing, None)],
            resolved: vec![alert(AlertState::Resolved, Some(1_700_000_020_000))],
            notifiers: vec![NotifierStats::new("webhook")],
        };
        let page = super::super::dashboard_html(&snapshot, &check_budgets(&snapshot));
        assert_eq!(page.matches("<h2>Alerts</h2>").count(), 1);
        assert!(page.contains("&lt;Slow&gt;"), "{page}");
        assert!(
            page.contains(">firing<") && page.contains(">resolved<"),
            "{page}"
        );
        assert!(page.contains("2023-11-14 22:13:40.000 UTC"), "{page}");
        assert!(page.contains("too slow &amp; failing"), "{page}");
        assert!(page.contains("webhook: 0 sent"), "{page}");
    }
}
