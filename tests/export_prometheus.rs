//! The Prometheus exposition checked by the real `promtool check metrics` (no errors, no lint
//! warnings), on a snapshot with many nodes, odd names and every metric kind, breakers in all
//! three states; plus what promtool does not check: duplicate series, determinism, the values.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;
use std::task::{Context, Waker};
use std::time::Duration;

use instrument_runtime::{
    BreakerState, ManualClock, Snapshot, breaker, check_budgets,
    export::{ExportOptions, artifacts, openmetrics_text, prometheus_text},
};

const MS: Duration = Duration::from_millis(1);

#[instrument_runtime::budget(
    name = "prom_budgeted_fast",
    p95 = "2ms",
    p99 = "5ms",
    min_samples = 10
)]
fn budgeted_fast(clock: &ManualClock) {
    clock.advance(MS);
}

#[instrument_runtime::budget(name = "prom_budgeted_slow", p95 = "2ms", min_samples = 10)]
fn budgeted_slow(clock: &ManualClock) {
    clock.advance(30 * MS);
}

#[instrument_runtime::budget(
    name = "prom_not_exercised",
    p50 = "1ms",
    p90 = "2ms",
    p95 = "3ms",
    p99 = "4ms",
    max = "10ms"
)]
fn not_exercised() {}

#[instrument_runtime::timed(name = "prom_mixed")]
fn mixed(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

#[instrument_runtime::counted(name = "prom_counted", in_flight)]
fn counted(fail: bool) -> Result<(), String> {
    if fail {
        Err("failed".to_owned())
    } else {
        Ok(())
    }
}

#[instrument_runtime::timed(name = "prom_panics")]
#[instrument_runtime::counted]
fn panics(clock: &ManualClock, panic: bool) {
    clock.advance(2 * MS);
    assert!(!panic, "asked to panic");
}

#[instrument_runtime::timed(name = "prom_cancelled")]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[instrument_runtime::timed(name = "prom_never_called")]
fn never_called() {}

#[instrument_runtime::circuit_breaker(name = "prom_breaker_closed")]
fn closed_breaker(fail: bool) -> std::io::Result<u32> {
    if fail {
        Err(std::io::Error::other("down"))
    } else {
        Ok(1)
    }
}

#[instrument_runtime::circuit_breaker(name = "prom_breaker_open", failure_threshold = 1, fallback = served_from_cache)]
fn open_breaker(fail: bool) -> std::io::Result<u32> {
    if fail {
        Err(std::io::Error::other("down"))
    } else {
        Ok(1)
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn served_from_cache(_fail: bool) -> std::io::Result<u32> {
    Ok(0)
}

#[instrument_runtime::circuit_breaker(
    name = "prom_breaker_half_open",
    failure_threshold = 1,
    timeout = "1s"
)]
fn half_open_breaker(fail: bool) -> std::io::Result<u32> {
    if fail {
        Err(std::io::Error::other("down"))
    } else {
        Ok(1)
    }
}

#[instrument_runtime::circuit_breaker(
    name = "prom_breaker_sla",
    failure_threshold = 1,
    success_threshold = 1,
    timeout = "1s",
    recovery = "1s"
)]
fn slow_recovery(fail: bool) -> std::io::Result<u32> {
    if fail {
        Err(std::io::Error::other("down"))
    } else {
        Ok(1)
    }
}

/// Names a node or breaker may have that the format must escape, or that look like trouble.
const ODD_NAMES: [&str; 9] = [
    "quote \"inside\"",
    "back\\slash",
    "trailing backslash\\",
    "new\nline",
    "ünïcødé ✓ 名前",
    "9starts_with_a_digit",
    "",
    "tab\tand {braces}, comma=equals # hash",
    "prom_budgeted_fast", // a second function claiming a name: a conflict, exported once
];

/// Every kind of node and breaker, driven by a hand-moved clock, once per test binary.
fn recorded() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let clock = ManualClock::new();
        let _installed = clock.install();
        for _ in 0..20 {
            budgeted_fast(&clock);
            budgeted_slow(&clock);
        }
        for (calls, took) in [(10, MS), (10, 3 * MS), (5, 30 * MS), (1, 7_000 * MS)] {
            for _ in 0..calls {
                mixed(&clock, took);
            }
        }
        counted(false).unwrap();
        counted(false).unwrap();
        counted(true).unwrap_err();
        panics(&clock, false);
        std::panic::catch_unwind(|| panics(&clock, true)).unwrap_err();
        let mut future = Box::pin(never_finishes());
        assert!(
            future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        drop(future);

        closed_breaker(false).unwrap();
        closed_breaker(true).unwrap_err();
        open_breaker(true).unwrap_err();
        assert_eq!(
            open_breaker(false).unwrap(),
            0,
            "open: the fallback answers"
        );
        half_open_breaker(true).unwrap_err();
        clock.advance(Duration::from_secs(1));
        half_open_breaker(false).unwrap(); // one probe of the two needed
        slow_recovery(true).unwrap_err();
        clock.advance(Duration::from_secs(3));
        slow_recovery(false).unwrap(); // closes, 3 s after opening: over the 1 s SLA

        let mut snapshot = instrument_runtime::snapshot();
        assert_eq!(
            breaker("prom_breaker_half_open").unwrap().state(),
            BreakerState::HalfOpen
        );
        let template = snapshot.node("prom_mixed").unwrap().clone();
        let breaker_template = snapshot.breaker("prom_breaker_open").unwrap().clone();
        for name in ODD_NAMES {
            let mut node = template.clone();
            name.clone_into(&mut node.name);
            "odd".clone_into(&mut node.module_path);
            snapshot.nodes.push(node);
            let mut breaker = breaker_template.clone();
            name.clone_into(&mut breaker.name);
            snapshot.breakers.push(breaker);
        }
        for i in 0..300 {
            let mut node = template.clone();
            node.name = format!("bulk_node_{i:03}");
            snapshot.nodes.push(node);
        }
        snapshot.nodes.sort_by(|a, b| {
            (&a.name, &a.module_path, a.line).cmp(&(&b.name, &b.module_path, b.line))
        });
        snapshot.breakers.sort_by(|a, b| a.name.cmp(&b.name));
        let _ = never_called;
        let _ = not_exercised;
        snapshot
    })
}

fn text(options: &ExportOptions) -> String {
    let snapshot = recorded();
    prometheus_text(snapshot, &check_budgets(snapshot), options)
}

/// The samples of an exposition: series (name and labels, as written) to value.
fn samples(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.rsplit_once(' ').expect("a sample is `series value`"))
        .collect()
}

#[allow(clippy::cast_precision_loss, reason = "a latency in nanoseconds")]
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The value of one series, as written.
fn raw<'a>(text: &'a str, series: &str) -> &'a str {
    let found: Vec<_> = samples(text)
        .into_iter()
        .filter(|(s, _)| *s == series)
        .collect();
    assert_eq!(found.len(), 1, "{series} in\n{text}");
    found[0].1
}

fn value(text: &str, series: &str) -> f64 {
    raw(text, series).parse().unwrap()
}

#[test]
fn promtool_accepts_every_metric_kind_without_lint_warnings() {
    let text = text(&ExportOptions::default());
    for family in [
        "instrument_node_calls_total",
        "instrument_node_errors_total",
        "instrument_node_panics_total",
        "instrument_node_cancellations_total",
        "instrument_node_in_flight",
        "instrument_node_latency_seconds",
        "instrument_node_latency_quantile_seconds",
        "instrument_node_latency_budget_seconds",
        "instrument_node_latency_budget_tolerance_ratio",
        "instrument_node_latency_budget_judged",
        "instrument_node_latency_budget_violation",
        "instrument_breaker_state",
        "instrument_breaker_transitions_total",
        "instrument_breaker_rejections_total",
        "instrument_breaker_fallbacks_total",
        "instrument_breaker_recovery_sla_violations_total",
        "instrument_breaker_recovery_sla_seconds",
        "instrument_breaker_health",
        "instrument_process_resident_memory_bytes",
        "instrument_process_cpu_seconds_total",
    ] {
        assert!(
            text.contains(&format!("\n# TYPE {family} ")),
            "{family} missing"
        );
    }
    assert!(samples(&text).len() > 5_000, "many nodes");
    common::assert_promtool_accepts(&text);
}

#[test]
fn promtool_accepts_a_sanitized_prefix_and_custom_buckets() {
    let mut options = ExportOptions {
        prefix: "9my-app.v2:".to_owned(),
        buckets_ms: vec![0.05, 0.5, 5.0, 50.0, 500.0, 5_000.0, 60_000.0],
        ..ExportOptions::default()
    };
    options
        .node_buckets_ms
        .insert("prom_mixed".to_owned(), vec![3.0, 1.0, 3.0, 7_000.0]);
    let text = text(&options);
    assert!(text.contains("\n# TYPE _9my_app_v2_node_calls_total counter\n"));
    assert!(text.contains(
        "_9my_app_v2_node_latency_seconds_bucket{node=\"prom_mixed\",le=\"0.003\"} 20\n"
    ));
    common::assert_promtool_accepts(&text);
}

#[test]
fn no_series_appears_twice_and_every_family_has_help_and_type() {
    // promtool, the text parser and the Prometheus server all accept duplicate series and keep
    // one value: this test is the only guard.
    for (format, text) in [
        ("prometheus", text(&ExportOptions::default())),
        (
            "openmetrics",
            openmetrics_text(
                recorded(),
                &check_budgets(recorded()),
                &ExportOptions::default(),
            ),
        ),
    ] {
        let mut seen = BTreeSet::new();
        for (series, _) in samples(&text) {
            assert!(seen.insert(series), "{format}: {series} appears twice");
        }
        let mut help = BTreeSet::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            let words: Vec<&str> = line.splitn(4, ' ').collect();
            match words.as_slice() {
                ["#", "HELP", name, _] => assert!(help.insert(*name), "{format}: two HELP"),
                ["#", "TYPE", name, kind] => {
                    assert!(help.contains(name), "{format}: TYPE before HELP for {name}");
                    assert!(types.insert(*name, *kind).is_none(), "{format}: two TYPE");
                }
                ["#", ..] => {}
                _ => {
                    let name = line.split(['{', ' ']).next().unwrap();
                    let family = ["_bucket", "_sum", "_count", "_total", "_info"]
                        .iter()
                        .filter_map(|suffix| name.strip_suffix(suffix))
                        .find(|family| types.contains_key(family))
                        .unwrap_or(name);
                    assert!(types.contains_key(family), "{format}: {name} has no TYPE");
                }
            }
        }
    }
}

#[test]
fn the_exposition_is_deterministic_and_sorted() {
    let without_process = |text: String| -> String {
        text.lines()
            .filter(|line| !line.contains("instrument_process_"))
            .flat_map(|line| [line, "\n"])
            .collect()
    };
    let first = without_process(text(&ExportOptions::default()));
    assert_eq!(first, without_process(text(&ExportOptions::default())));
    let families: Vec<&str> = first
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| rest.split(' ').next().unwrap())
        .collect();
    assert!(
        families.windows(2).all(|pair| pair[0] < pair[1]),
        "{families:?}"
    );
    let calls: Vec<&str> = samples(&first)
        .into_iter()
        .filter_map(|(series, _)| series.strip_prefix("instrument_node_calls_total{node=\""))
        .collect();
    let mut sorted = calls.clone();
    sorted.sort_unstable();
    assert_eq!(calls, sorted);
}

#[test]
fn odd_names_are_escaped() {
    let text = text(&ExportOptions::default());
    for escaped in [
        r#"{node="quote \"inside\""}"#,
        r#"{node="back\\slash"}"#,
        r#"{node="trailing backslash\\"}"#,
        r#"{node="new\nline"}"#,
        r#"{node="ünïcødé ✓ 名前"}"#,
        r#"{node="9starts_with_a_digit"}"#,
        r#"{node=""}"#,
        "{node=\"tab\tand {braces}, comma=equals # hash\"}",
        r#"{breaker="quote \"inside\""}"#,
    ] {
        assert!(
            text.contains(&format!("instrument_node_calls_total{escaped} "))
                || text.contains(&format!("instrument_breaker_state{escaped} ")),
            "{escaped} missing"
        );
    }
    assert!(!text.contains("new\nline"));
}

#[test]
fn histogram_buckets_count_what_the_node_recorded() {
    let text = text(&ExportOptions::default());
    // 10 calls of 1 ms, 10 of 3 ms, 5 of 30 ms and one of 7 s.
    let series = |le: &str| {
        format!("instrument_node_latency_seconds_bucket{{node=\"prom_mixed\",le=\"{le}\"}}")
    };
    for (le, count) in [
        ("0.001", "10"),
        ("0.002", "10"),
        ("0.005", "20"),
        ("0.02", "20"),
        ("0.05", "25"),
        ("5", "25"),
        ("+Inf", "26"),
    ] {
        assert_eq!(raw(&text, &series(le)), count, "le {le}");
    }
    let buckets = samples(&text)
        .into_iter()
        .filter(|(series, _)| {
            series.starts_with("instrument_node_latency_seconds_bucket{node=\"prom_mixed\",")
        })
        .count();
    assert_eq!(buckets, 13, "12 default bounds and +Inf");
    assert_eq!(
        raw(
            &text,
            "instrument_node_latency_seconds_count{node=\"prom_mixed\"}"
        ),
        "26"
    );
    // The sum is the mean (whole nanoseconds) times the count: within 26 ns of 7.19 s.
    let sum = value(
        &text,
        "instrument_node_latency_seconds_sum{node=\"prom_mixed\"}",
    );
    assert!((sum - 7.19).abs() < 26e-9, "{sum}");
    let latency = recorded().node("prom_mixed").unwrap().latency.unwrap();
    for (statistic, ns) in [
        ("p50", latency.p50_ns),
        ("p99", latency.p99_ns),
        ("max", latency.max_ns),
    ] {
        let exported = value(
            &text,
            &format!(
                "instrument_node_latency_quantile_seconds{{node=\"prom_mixed\",statistic=\"{statistic}\"}}"
            ),
        );
        assert!((exported - seconds(ns)).abs() < 1e-12, "{statistic}");
    }
    // The budget's allowance (2 ms + 10%) is a bound of the budgeted node's histogram.
    assert_eq!(
        raw(
            &text,
            "instrument_node_latency_seconds_bucket{node=\"prom_budgeted_fast\",le=\"0.0022\"}"
        ),
        "20"
    );
    assert_eq!(
        raw(
            &text,
            "instrument_node_latency_seconds_bucket{node=\"prom_never_called\",le=\"+Inf\"}"
        ),
        "0"
    );
}

/// Series of the recorded snapshot and their values, as written.
const EXPECTED: &[(&str, &str)] = &[
    ("instrument_node_calls_total{node=\"prom_counted\"}", "3"),
    ("instrument_node_errors_total{node=\"prom_counted\"}", "1"),
    ("instrument_node_in_flight{node=\"prom_counted\"}", "0"),
    ("instrument_node_calls_total{node=\"prom_panics\"}", "2"),
    ("instrument_node_panics_total{node=\"prom_panics\"}", "1"),
    (
        "instrument_node_cancellations_total{node=\"prom_cancelled\"}",
        "1",
    ),
    (
        "instrument_node_latency_budget_seconds{node=\"prom_budgeted_fast\",statistic=\"p95\"}",
        "0.002",
    ),
    (
        "instrument_node_latency_budget_seconds{node=\"prom_not_exercised\",statistic=\"max\"}",
        "0.01",
    ),
    (
        "instrument_node_latency_budget_tolerance_ratio{node=\"prom_budgeted_fast\"}",
        "0.1",
    ),
    (
        "instrument_node_latency_budget_judged{node=\"prom_budgeted_fast\"}",
        "1",
    ),
    (
        "instrument_node_latency_budget_judged{node=\"prom_not_exercised\"}",
        "0",
    ),
    (
        "instrument_node_latency_budget_violation{node=\"prom_budgeted_fast\",statistic=\"p95\"}",
        "0",
    ),
    (
        "instrument_node_latency_budget_violation{node=\"prom_budgeted_slow\",statistic=\"p95\"}",
        "1",
    ),
    (
        "instrument_breaker_state{breaker=\"prom_breaker_closed\"}",
        "0",
    ),
    (
        "instrument_breaker_state{breaker=\"prom_breaker_half_open\"}",
        "1",
    ),
    (
        "instrument_breaker_state{breaker=\"prom_breaker_open\"}",
        "2",
    ),
    (
        "instrument_breaker_transitions_total{breaker=\"prom_breaker_half_open\",transition=\"opened\"}",
        "1",
    ),
    (
        "instrument_breaker_transitions_total{breaker=\"prom_breaker_half_open\",transition=\"half_opened\"}",
        "1",
    ),
    (
        "instrument_breaker_transitions_total{breaker=\"prom_breaker_sla\",transition=\"closed\"}",
        "1",
    ),
    (
        "instrument_breaker_rejections_total{breaker=\"prom_breaker_open\"}",
        "1",
    ),
    (
        "instrument_breaker_fallbacks_total{breaker=\"prom_breaker_open\"}",
        "1",
    ),
    (
        "instrument_breaker_recovery_sla_violations_total{breaker=\"prom_breaker_sla\"}",
        "1",
    ),
    (
        "instrument_breaker_recovery_sla_violations_total{breaker=\"prom_breaker_open\"}",
        "0",
    ),
    (
        "instrument_breaker_recovery_sla_seconds{breaker=\"prom_breaker_sla\"}",
        "1",
    ),
    (
        "instrument_breaker_health{breaker=\"prom_breaker_open\"}",
        "0",
    ),
];

#[test]
fn counters_gauges_and_budgets_carry_the_snapshot_values() {
    let text = text(&ExportOptions::default());
    for (series, expected) in EXPECTED {
        assert_eq!(raw(&text, series), *expected, "{series}");
    }
    // The same node name claimed twice is exported once, for the first function.
    assert_eq!(
        raw(
            &text,
            "instrument_node_calls_total{node=\"prom_budgeted_fast\"}"
        ),
        "20"
    );
    if cfg!(target_os = "linux") {
        assert!(value(&text, "instrument_process_resident_memory_bytes") > 0.0);
        assert!(value(&text, "instrument_process_cpu_seconds_total") >= 0.0);
    }
}

#[test]
fn openmetrics_renders_the_same_metrics_with_its_own_spelling() {
    let snapshot = recorded();
    let text = openmetrics_text(
        snapshot,
        &check_budgets(snapshot),
        &ExportOptions::default(),
    );
    assert!(text.ends_with("\n# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
    for line in text.lines().filter(|line| line.starts_with('#')) {
        assert!(
            ["# HELP ", "# TYPE ", "# UNIT ", "# EOF"]
                .iter()
                .any(|start| line.starts_with(start)),
            "{line}"
        );
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            if kind == "counter" {
                assert!(!name.ends_with("_total"), "{line}");
                assert!(text.contains(&format!("\n{name}_total")), "{line}");
            }
        }
        if let Some(rest) = line.strip_prefix("# UNIT ") {
            let (name, unit) = rest.split_once(' ').unwrap();
            assert!(name.ends_with(&format!("_{unit}")), "{line}");
        }
    }
    assert!(text.contains("# UNIT instrument_node_latency_seconds seconds\n"));
    assert!(
        text.contains(
            "instrument_node_latency_seconds_bucket{node=\"prom_mixed\",le=\"5.0\"} 25\n"
        )
    );
    // The same series as the 0.0.4 text, apart from the process's own, read at each call.
    let series = |text: &str| -> BTreeSet<String> {
        samples(text)
            .into_iter()
            .filter(|(series, _)| !series.contains("process_"))
            .map(|(series, _)| {
                series
                    .replace("le=\"5.0\"", "le=\"5\"")
                    .replace("le=\"1.0\"", "le=\"1\"")
                    .replace("le=\"2.0\"", "le=\"2\"")
            })
            .collect()
    };
    assert_eq!(
        series(&text),
        series(&prometheus_text(
            snapshot,
            &check_budgets(snapshot),
            &ExportOptions::default()
        ))
    );
}

/// The strict `OpenMetrics` parser of the Python reference client (`prometheus_client`), which
/// rejects what promtool lets through: a missing `# EOF`, unordered or missing buckets, a
/// `_count` that differs from the `+Inf` bucket. Prints the families it read, one per line.
fn strict_openmetrics_families(text: &str) -> Result<String, String> {
    const PARSE: &str = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   print(family.name, family.type, len(family.samples))\n";
    let output = common::run_with_input(
        Command::new("python3").args(["-c", PARSE]),
        text,
        "python3 is needed: run scripts/test-all, which installs prometheus-client",
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "prometheus_client is needed: run scripts/test-all, which installs it\n{stderr}"
    );
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(stderr)
    }
}

#[test]
fn the_strict_openmetrics_parser_accepts_every_family() {
    let snapshot = recorded();
    let text = openmetrics_text(
        snapshot,
        &check_budgets(snapshot),
        &ExportOptions::default(),
    );
    let families = strict_openmetrics_families(&text).unwrap_or_else(|error| panic!("{error}"));
    let declared = text
        .lines()
        .filter(|line| line.starts_with("# TYPE "))
        .count();
    assert_eq!(families.lines().count(), declared, "{families}");
    assert!(
        families.contains("instrument_node_latency_seconds histogram "),
        "{families}"
    );
    assert!(
        families.contains("instrument_node_calls counter "),
        "{families}"
    );

    // The parser is strict indeed: the same text without its `# EOF` is refused.
    let truncated = text.strip_suffix("# EOF\n").unwrap();
    assert!(strict_openmetrics_families(truncated).is_err());
}

#[test]
fn the_report_writes_the_exposition_as_performance_metrics_prom() {
    let snapshot = recorded();
    let budgets = check_budgets(snapshot);
    let artifacts = artifacts(snapshot, &budgets, &ExportOptions::default());
    let prom = artifacts
        .iter()
        .find(|artifact| artifact.file_name == "performance_metrics.prom")
        .expect("performance_metrics.prom is an artifact");
    common::assert_promtool_accepts(&prom.contents);
    assert!(
        artifacts
            .iter()
            .any(|artifact| artifact.file_name == "prometheus_alerting_rules.yaml")
    );
}
