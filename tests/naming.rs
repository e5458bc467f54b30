//! Default node names: a method is named after its type (`Store::get`), so same-named methods of
//! different types stay apart in every export; names shared on purpose are told apart by site.

mod common;

use instrument_runtime::export::{ExportOptions, artifacts, prometheus_text};
use instrument_runtime::record::NameConflict;
use instrument_runtime::{Snapshot, check_budgets, snapshot};

struct Store(u32);
struct Cache(u32);
struct Index(u32);

impl Store {
    #[instrument_runtime::timed]
    fn get(&self) -> u32 {
        self.0
    }
}

impl Cache {
    #[instrument_runtime::timed]
    fn get(&self) -> u32 {
        self.0
    }
}

impl Index {
    #[instrument_runtime::timed]
    fn get(&self) -> u32 {
        self.0
    }
}

mod first {
    #[instrument_runtime::counted(name = "naming_shared")]
    pub(crate) fn step() {}
}

mod second {
    #[instrument_runtime::counted(name = "naming_shared")]
    pub(crate) fn step() {}
}

const GETS: [&str; 3] = ["Cache::get", "Index::get", "Store::get"];

#[test]
fn reproduces_same_named_methods_of_three_types_collapsing_into_one_series() {
    assert_eq!(Store(1).get() + Cache(2).get() + Index(3).get(), 6);
    let snapshot = snapshot();
    for name in GETS {
        assert_eq!(
            snapshot.node(name).map(|node| node.calls),
            Some(1),
            "{name}"
        );
    }
    let budgets = check_budgets(&snapshot);
    let text = prometheus_text(&snapshot, &budgets, &ExportOptions::default());
    for name in GETS {
        let series = format!("instrument_node_calls_total{{node=\"{name}\"}} 1\n");
        assert!(text.contains(&series), "{series} missing from\n{text}");
    }
    common::assert_promtool_accepts(&text);
    // Every export names each of them; the alert rules cover budgeted nodes only.
    for artifact in artifacts(&snapshot, &budgets, &ExportOptions::default()) {
        if artifact.file_name.contains("alert") {
            continue;
        }
        for name in GETS {
            assert!(
                artifact.contents.contains(name),
                "{name} missing from {}",
                artifact.file_name
            );
        }
    }
}

#[test]
fn a_name_two_functions_share_is_told_apart_by_site_in_every_export() {
    first::step();
    second::step();
    let snapshot = snapshot();
    let conflict = conflict(&snapshot, "naming_shared");
    assert_eq!(conflict.sites.len(), 2);
    let shared: Vec<&str> = snapshot
        .nodes
        .iter()
        .map(|node| node.name.as_str())
        .filter(|name| name.starts_with("naming_shared"))
        .collect();
    assert_eq!(
        shared,
        [
            "naming_shared (tests/naming.rs:37)",
            "naming_shared (tests/naming.rs:42)"
        ]
    );
    let budgets = check_budgets(&snapshot);
    let text = prometheus_text(&snapshot, &budgets, &ExportOptions::default());
    for name in shared {
        assert!(text.contains(&format!("node=\"{name}\"")), "{name}");
    }
    common::assert_promtool_accepts(&text);
}

#[instrument_runtime::timed(name = "naming_also_a_route")]
fn also_a_route() {}

#[test]
fn a_node_created_at_run_time_under_a_function_s_name_is_told_apart_too() {
    use instrument_runtime::record::{RuntimeNodeSpec, RuntimeNodes};

    also_a_route();
    let route = RuntimeNodes::global().node(&RuntimeNodeSpec::new("naming_also_a_route", "http"));
    for _ in 0..2 {
        route.start().finish(None, false);
    }
    let snapshot = snapshot();
    assert_eq!(
        conflict(&snapshot, "naming_also_a_route").sites,
        ["naming (tests/naming.rs:109)", "http (created at run time)"]
    );
    let calls: Vec<(&str, u64)> = (snapshot.nodes.iter())
        .filter(|node| node.name.starts_with("naming_also_a_route"))
        .map(|node| (node.name.as_str(), node.calls))
        .collect();
    assert_eq!(
        calls,
        [
            ("naming_also_a_route (http)", 2),
            ("naming_also_a_route (tests/naming.rs:109)", 1)
        ]
    );
    let budgets = check_budgets(&snapshot);
    let text = prometheus_text(&snapshot, &budgets, &ExportOptions::default());
    for (name, calls) in calls {
        let series = format!("instrument_node_calls_total{{node=\"{name}\"}} {calls}\n");
        assert!(text.contains(&series), "{series}");
    }
    common::assert_promtool_accepts(&text);
}

/// The conflict the snapshot reports for `name`.
fn conflict<'s>(snapshot: &'s Snapshot, name: &str) -> &'s NameConflict {
    (snapshot.conflicts.iter())
        .find(|conflict| conflict.name == name)
        .unwrap_or_else(|| panic!("the shared name {name} is reported"))
}
