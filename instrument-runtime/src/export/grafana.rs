//! `grafana_dashboard.json`: a Grafana dashboard over the metrics of `performance_metrics.prom`,
//! one row per node (latency quantiles with the budget lines, error rate) and one panel of
//! breaker states.

use serde_json::{Value, json};

use crate::export::ExportOptions;
use crate::export::prometheus::{BREAKER_STATE, NODE_CALLS, NODE_LATENCY};
use crate::snapshot::Snapshot;

/// The file name the dashboard is written under.
pub(crate) const FILE_NAME: &str = "grafana_dashboard.json";

const PANEL_WIDTH: u64 = 12;
const PANEL_HEIGHT: u64 = 8;

/// A Grafana dashboard (schema version 39) for the snapshot's nodes and breakers, importable as
/// is; the data source is the `${datasource}` variable, chosen on import.
///
/// ```
/// let snapshot = instrument_runtime::snapshot();
/// let dashboard = instrument_runtime::grafana_dashboard(&snapshot, &Default::default());
/// let json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
/// assert_eq!(json["title"], "instrument");
/// ```
pub fn grafana_dashboard(snapshot: &Snapshot, options: &ExportOptions) -> String {
    let prefix = &options.prefix;
    let mut panels = Vec::new();
    let mut row = 0;
    for node in &snapshot.nodes {
        let selector = format!("node=\"{}\"", escape_label(&node.name));
        let quantile = |q: &str| {
            target(
                &format!(
                    "histogram_quantile({q}, sum by (le) (rate({prefix}{NODE_LATENCY}_bucket{{{selector}}}[5m])))"
                ),
                &format!("p{}", q.trim_start_matches("0.")),
            )
        };
        let mut latency_targets = vec![quantile("0.5"), quantile("0.95"), quantile("0.99")];
        if node.budget.is_some() {
            latency_targets.push(target(
                &format!("{prefix}node_latency_budget_seconds{{{selector}}}"),
                "budget {{quantile}}",
            ));
        }
        panels.push(panel(
            panels.len(),
            &format!("{} latency", node.name),
            "s",
            &latency_targets,
            (0, row),
        ));
        panels.push(panel(
            panels.len(),
            &format!("{} errors per call", node.name),
            "percentunit",
            &[target(
                &format!(
                    "rate({prefix}node_errors_total{{{selector}}}[5m]) / rate({prefix}{NODE_CALLS}{{{selector}}}[5m])"
                ),
                "errors",
            )],
            (PANEL_WIDTH, row),
        ));
        row += PANEL_HEIGHT;
    }
    if !snapshot.breakers.is_empty() {
        panels.push(panel(
            panels.len(),
            "circuit breakers (0 closed, 1 half-open, 2 open)",
            "none",
            &[target(&format!("{prefix}{BREAKER_STATE}"), "{{breaker}}")],
            (0, row),
        ));
    }
    let dashboard = json!({
        "title": "instrument",
        "uid": "instrument",
        "schemaVersion": 39,
        "time": { "from": "now-1h", "to": "now" },
        "refresh": "30s",
        "templating": { "list": [{
            "name": "datasource",
            "type": "datasource",
            "query": "prometheus",
        }]},
        "panels": panels,
    });
    // A `Value` always serializes; the fallback only keeps the signature free of a panic.
    let mut text = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    text.push('\n');
    text
}

fn panel(id: usize, title: &str, unit: &str, targets: &[Value], (x, y): (u64, u64)) -> Value {
    json!({
        "id": id + 1,
        "type": "timeseries",
        "title": title,
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "gridPos": { "x": x, "y": y, "w": PANEL_WIDTH, "h": PANEL_HEIGHT },
        "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
        "targets": targets,
    })
}

fn target(expr: &str, legend: &str) -> Value {
    json!({
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "expr": expr,
        "legendFormat": legend,
    })
}

/// A label value inside a `PromQL` string literal.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_escaped_inside_queries() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
