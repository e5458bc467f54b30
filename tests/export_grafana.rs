//! The generated Grafana dashboard, checked for structure (Grafana itself cannot run here): one
//! latency and one error panel per node, a breaker panel, and every query naming a metric family
//! that the Prometheus exposition really has.

use instrument_runtime::{
    check_budgets,
    export::{ExportOptions, grafana_dashboard, prometheus_text},
    snapshot,
};

#[instrument_runtime::budget(name = "grafana \"quoted\" step", p95 = "5ms")]
fn budgeted() {}

#[instrument_runtime::circuit_breaker(name = "grafana_breaker")]
fn guarded() -> std::io::Result<()> {
    Ok(())
}

#[test]
fn every_panel_queries_families_the_exposition_has() {
    budgeted();
    guarded().unwrap();
    let snapshot = snapshot();
    let options = ExportOptions::default();
    let exposition = prometheus_text(&snapshot, &check_budgets(&snapshot), &options);
    let families: Vec<&str> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&grafana_dashboard(&snapshot, &options)).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 2 * snapshot.nodes.len() + 1);
    let titles: Vec<&str> = panels
        .iter()
        .map(|panel| panel["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"grafana \"quoted\" step latency"),
        "{titles:?}"
    );
    let mut ids: Vec<u64> = panels
        .iter()
        .map(|panel| panel["id"].as_u64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let metric_names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with(&options.prefix))
                .collect();
            assert!(!metric_names.is_empty(), "{expr}");
            for name in metric_names {
                let family = name.strip_suffix("_bucket").unwrap_or(name);
                assert!(
                    families.contains(&family),
                    "{expr}: `{family}` is not exported"
                );
            }
        }
    }
    let budget_panel = panels
        .iter()
        .find(|panel| panel["title"] == "grafana \"quoted\" step latency")
        .unwrap();
    let exprs: Vec<&str> = budget_panel["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|target| target["expr"].as_str().unwrap())
        .collect();
    assert!(
        exprs.iter().any(|expr| expr
            .contains("node_latency_budget_seconds{node=\"grafana \\\"quoted\\\" step\"}")),
        "the budget line is drawn, with the name escaped: {exprs:?}"
    );
}
