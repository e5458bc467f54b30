//! Nodes created at run time are read like `#[timed]` ones: in the snapshot, judged against the
//! budgets file, in every export and in the gate, and capped.

use std::time::Duration;

use instrument_runtime::budgets::{BudgetSource, set_budgets_file};
use instrument_runtime::export::{
    ExportOptions, dashboard_html, latency_histograms_json, openmetrics_text, prometheus_text,
};
use instrument_runtime::gate::Gate;
use instrument_runtime::record::{
    DEFAULT_RUNTIME_NODE_CAP, OVERFLOW_NODE, RuntimeNodeSpec, RuntimeNodes,
};
use instrument_runtime::{ManualClock, VerdictStatus, check_budgets, snapshot};

const OUTCOMES: &[&str] = &["2xx", "5xx"];

/// One test: the process has one set of runtime nodes, and the cap is spent at the end.
#[test]
fn runtime_nodes_are_snapshot_judged_exported_gated_and_capped() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let dir = std::env::temp_dir().join(format!("runtime-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("performance_budgets.yaml");
    std::fs::write(
        &file,
        "nodes:\n  \"GET /users/{id}\": { p95: 2ms, min_samples: 10 }\n",
    )
    .unwrap();
    set_budgets_file(Some(file));

    let nodes = RuntimeNodes::global();
    let spec = RuntimeNodeSpec::new("GET /users/{id}", "http").outcomes(OUTCOMES);
    let route = nodes.node(&spec);
    for call in 0..20 {
        let timing = route.start();
        clock.advance(Duration::from_millis(3));
        timing.finish(Some(call % 2), call % 2 == 1);
    }

    let taken = snapshot();
    let node = taken.node("GET /users/{id}").unwrap();
    assert_eq!((node.calls, node.errors, node.in_flight), (20, 10, Some(0)));
    assert_eq!(
        node.outcomes,
        [("2xx".to_owned(), 10), ("5xx".to_owned(), 10)]
    );
    assert_eq!(node.budget.unwrap().p95_ns, Some(2_000_000));
    assert!(matches!(node.budget_source, Some(BudgetSource::File(_))));
    assert_eq!(
        node.verdict.as_ref().unwrap().status,
        VerdictStatus::Fail,
        "3 ms is over 2 ms"
    );
    let names: Vec<&str> = taken.nodes.iter().map(|node| node.name.as_str()).collect();
    assert!(
        names.windows(2).all(|pair| pair[0] <= pair[1]),
        "sorted with the static nodes"
    );

    let budgets = check_budgets(&taken);
    let options = ExportOptions::default();
    let text = prometheus_text(&taken, &budgets, &options);
    for line in [
        "instrument_node_calls_total{node=\"GET /users/{id}\"} 20\n",
        "instrument_node_latency_seconds_count{node=\"GET /users/{id}\"} 20\n",
        "instrument_node_outcomes_total{node=\"GET /users/{id}\",outcome=\"5xx\"} 10\n",
        "instrument_node_in_flight{node=\"GET /users/{id}\"} 0\n",
        "instrument_runtime_nodes_cap 1000\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(openmetrics_text(&taken, &budgets, &options).contains("node=\"GET /users/{id}\""));
    assert!(latency_histograms_json(&taken).contains("GET /users/{id}"));
    assert!(dashboard_html(&taken, &budgets).contains("GET /users/{id}"));
    let verdict = Gate::new(20).check(|| {
        let timing = route.start();
        clock.advance(Duration::from_millis(3));
        timing.finish(Some(0), false);
    });
    assert!(
        !verdict.is_pass(),
        "the gate fails on the route over budget"
    );
    assert!(
        verdict.table().contains("GET /users/{id}"),
        "{}",
        verdict.table()
    );
    set_budgets_file(None);

    // Ten thousand raw paths: no more nodes than the cap, the rest counted and in one node.
    for path in 0..10_000 {
        let spec = RuntimeNodeSpec::new(format!("GET /raw/{path}"), "http").outcomes(OUTCOMES);
        nodes.node(&spec).start().finish(Some(0), false);
    }
    let taken = snapshot();
    let counts = taken.runtime_nodes.unwrap();
    assert_eq!(counts.created, DEFAULT_RUNTIME_NODE_CAP as u64);
    assert_eq!(
        counts.refused,
        10_000 - (DEFAULT_RUNTIME_NODE_CAP as u64 - 1)
    );
    assert_eq!(taken.node(OVERFLOW_NODE).unwrap().calls, counts.refused);
    let text = prometheus_text(&taken, &check_budgets(&taken), &options);
    assert!(text.contains(&format!(
        "instrument_runtime_nodes_refused_total {}\n",
        counts.refused
    )));
    std::fs::remove_dir_all(&dir).unwrap();
}
