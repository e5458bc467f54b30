use super::family::*;
use super::nodes::BY_LABEL;
use super::text::*;
use super::*;
use crate::read::budget::{NotExercised, Quantile, Violation};
use crate::read::snapshot::Latency;
use crate::read::snapshot::NodeSnapshot;
use crate::record::alloc::NodeMemory;
use crate::record::histogram::LatencyHistogram;
use crate::record::node::Budget;

fn render(families: &[Family<'_>], format: Format) -> String {
    render_after(String::new(), families, format)
}

fn histogram(values: &[u64]) -> LatencyHistogram {
    let mut histogram = LatencyHistogram::new();
    for &value in values {
        histogram.record(value);
    }
    histogram
}

/// A node built through its serialized form, so new fields with defaults do not break it.
fn node(name: &str, timed: bool, budget: Option<Budget>, values: &[u64]) -> NodeSnapshot {
    let histogram = (!values.is_empty()).then(|| histogram(values));
    let sum: u64 = values.iter().sum();
    let latency = histogram
        .as_ref()
        .map(|histogram| Latency::of(histogram, sum));
    let mut node: NodeSnapshot = serde_json::from_value(serde_json::json!({
        "name": name, "module_path": "app::steps", "file": "src/steps.rs", "line": 7,
        "instruments": { "timed": timed, "counted": true, "in_flight": false, "budget": budget.is_some() },
        "budget": budget, "calls": values.len(), "errors": 1, "panics": 0, "cancelled": 2,
        "in_flight": null, "latency": latency, "verdict": null, "sum_ns": sum,
    }))
    .unwrap();
    node.histogram = histogram;
    node
}

fn empty_report() -> BudgetReport {
    BudgetReport {
        judged: 0,
        passed: 0,
        failed: 0,
        violations: Vec::new(),
        not_exercised: Vec::new(),
    }
}

#[test]
fn statistics_are_listed_in_label_order() {
    let labels = BY_LABEL.map(Quantile::as_str);
    assert!(labels.is_sorted(), "{labels:?}");
    let mut all = BY_LABEL;
    all.sort_unstable();
    assert_eq!(all, Quantile::ALL);
}

#[test]
fn prefixes_are_sanitized_into_metric_names() {
    for (prefix, sanitized) in [
        ("instrument_", "instrument_"),
        ("", ""),
        ("my-app.v2:", "my_app_v2_"),
        ("9lives_", "_9lives_"),
        ("ünï ", "_n__"),
        ("_ok", "_ok"),
    ] {
        assert_eq!(sanitize_prefix(prefix), sanitized, "{prefix:?}");
    }
}

#[test]
fn label_values_escape_backslash_quote_and_newline_only() {
    for (value, escaped) in [
        ("plain", "plain"),
        (r#"say "hi""#, r#"say \"hi\""#),
        (r"C:\path", r"C:\\path"),
        ("two\nlines", r"two\nlines"),
        ("tab\there ünï ✓", "tab\there ünï ✓"),
        ("\\\"\n", r#"\\\"\n"#),
    ] {
        let mut written = String::from("before ");
        write_escaped_label_value(&mut written, value);
        assert_eq!(written, format!("before {escaped}"), "{value:?}");
    }
    assert_eq!(
        escape_help("a \\ \"b\"\nc", Format::Prometheus),
        "a \\\\ \"b\"\\nc"
    );
    assert_eq!(escape_help("\"b\"", Format::OpenMetrics), "\\\"b\\\"");
}

#[test]
fn seconds_are_exact_decimals() {
    for (ns, text) in [
        (0, "0"),
        (1, "0.000000001"),
        (1_000_000, "0.001"),
        (1_500_000, "0.0015"),
        (55_000_000, "0.055"),
        (2_000_000_000, "2"),
        (3_600_000_000_123, "3600.000000123"),
    ] {
        assert_eq!(seconds(ns), text);
    }
    let float = |value| {
        let mut text = String::new();
        push_float(&mut text, value);
        text
    };
    assert_eq!(float(0.5), "0.5");
    assert_eq!(float(f64::INFINITY), "+Inf");
    assert_eq!(float(f64::NEG_INFINITY), "-Inf");
    assert_eq!(float(f64::NAN), "NaN");
}

#[test]
fn bounds_are_rounded_sorted_deduplicated_and_include_budget_allowances() {
    let mut options = ExportOptions::default();
    options.node_buckets_ms.insert(
        "custom".to_owned(),
        vec![
            5.0,
            0.25,
            5.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            0.000_000_4,
            1e-7,
        ],
    );
    let custom = node("custom", true, None, &[]);
    assert_eq!(
        BucketBounds::new(&options).of(&custom),
        [1, 250_000, 5_000_000]
    );
    let budget = Budget {
        p95_ns: Some(50_000_000),
        p99_ns: Some(100_000_000),
        ..Budget::DEFAULT
    };
    let budgeted = node("budgeted", true, Some(budget), &[]);
    let bounds = BucketBounds::new(&options).of(&budgeted);
    // 50 ms + 10% = 55 ms is added; 100 ms + 10% = 110 ms too.
    assert!(bounds.contains(&55_000_000) && bounds.contains(&110_000_000));
    assert!(bounds.contains(&100_000_000));
    assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(bounds.len(), options.buckets_ms.len() + 2);
}

#[test]
fn bucket_counts_match_the_histogram_exactly() {
    // Values on, just below and just above bounds, over many octaves.
    let values: Vec<u64> = [
        1, 999, 1_000, 1_001, 999_999, 1_000_000, 1_000_600, 1_999_999,
    ]
    .into_iter()
    .chain((0..500).map(|i| 1 + i * i * 7_919))
    .chain([5_000_000_000, 3_600_000_000_000])
    .collect();
    let histogram = histogram(&values);
    let reference = histogram.to_hdr();
    let bounds: Vec<u64> = [1, 2, 1_000, 100_000, 1_000_000, 2_000_000, 1_000_000_000]
        .into_iter()
        .chain(
            ExportOptions::default()
                .buckets_ms
                .iter()
                .map(|ms| ms_to_ns(*ms)),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let buckets = buckets(Some(&histogram), bounds, 42);
    for (bound, count) in buckets.cumulative() {
        assert_eq!(count, reference.count_between(0, bound), "le {bound}");
    }
    assert_eq!(buckets.count, values.len() as u64);
    assert_eq!(buckets.sum_ns, 42);
    // A value exactly on a bound is in its bucket; one a slot above it is not.
    let on_bound = histogram_of_one(1_000_000);
    assert_eq!(
        cumulative(&super::family::buckets(Some(&on_bound), vec![1_000_000], 0)),
        [(1_000_000, 1)]
    );
    let above = histogram_of_one(1_004_000);
    assert_eq!(
        cumulative(&super::family::buckets(Some(&above), vec![1_000_000], 0)),
        [(1_000_000, 0)]
    );
}

fn cumulative(buckets: &Buckets<'_>) -> Vec<(u64, u64)> {
    buckets.cumulative().collect()
}

fn histogram_of_one(value: u64) -> LatencyHistogram {
    histogram(&[value])
}

#[test]
fn bucket_counts_are_cumulative_and_end_at_the_count() {
    let ms = 1_000_000;
    let histogram = histogram(&[ms, ms, 3 * ms, 30 * ms, 30 * ms, 7_000 * ms]);
    let bounds: Vec<u64> = [1, 2, 5, 10, 50, 5000].map(|b| b * ms).to_vec();
    let buckets = buckets(Some(&histogram), bounds, 0);
    let counts: Vec<u64> = buckets.cumulative().map(|(_, count)| count).collect();
    assert_eq!(counts, [2, 2, 3, 3, 5, 5]);
    assert_eq!(buckets.count, 6);
}

const GOLDEN: &str = r#"# HELP p_node_calls_total Calls of the node that ended: returned, with or without an error, or panicked.
# TYPE p_node_calls_total counter
p_node_calls_total{node="a\"b"} 3
# HELP p_node_cancellations_total Async calls of the node dropped before completing.
# TYPE p_node_cancellations_total counter
p_node_cancellations_total{node="a\"b"} 2
# HELP p_node_errors_total Calls of the node whose return value was a failure.
# TYPE p_node_errors_total counter
p_node_errors_total{node="a\"b"} 1
# HELP p_node_latency_budget_judged 1 when the node had enough calls for its budget to be judged, 0 when not exercised.
# TYPE p_node_latency_budget_judged gauge
p_node_latency_budget_judged{node="a\"b"} 0
# HELP p_node_latency_budget_seconds Latency budget declared for a statistic of the node, before tolerance, in seconds.
# TYPE p_node_latency_budget_seconds gauge
p_node_latency_budget_seconds{node="a\"b",statistic="p95"} 0.002
# HELP p_node_latency_budget_tolerance_ratio How far over budget a statistic of the node may go before it fails, as a fraction.
# TYPE p_node_latency_budget_tolerance_ratio gauge
p_node_latency_budget_tolerance_ratio{node="a\"b"} 0.1
# HELP p_node_latency_budget_violation 1 when a judged statistic of the node is over its budget plus tolerance, else 0.
# TYPE p_node_latency_budget_violation gauge
p_node_latency_budget_violation{node="a\"b",statistic="p95"} 0
# HELP p_node_latency_quantile_seconds Latency of the node's calls at a statistic (p50, p90, p95, p99, max) since the start, in seconds.
# TYPE p_node_latency_quantile_seconds gauge
p_node_latency_quantile_seconds{node="a\"b",statistic="max"} 0.003014655
p_node_latency_quantile_seconds{node="a\"b",statistic="p50"} 0.001003519
p_node_latency_quantile_seconds{node="a\"b",statistic="p90"} 0.003014655
p_node_latency_quantile_seconds{node="a\"b",statistic="p95"} 0.003014655
p_node_latency_quantile_seconds{node="a\"b",statistic="p99"} 0.003014655
# HELP p_node_latency_seconds Latency of the node's calls, in seconds.
# TYPE p_node_latency_seconds histogram
p_node_latency_seconds_bucket{node="a\"b",le="0.001"} 2
p_node_latency_seconds_bucket{node="a\"b",le="0.0022"} 2
p_node_latency_seconds_bucket{node="a\"b",le="0.005"} 3
p_node_latency_seconds_bucket{node="a\"b",le="+Inf"} 3
p_node_latency_seconds_sum{node="a\"b"} 0.005
p_node_latency_seconds_count{node="a\"b"} 3
# HELP p_node_panics_total Calls of the node that panicked.
# TYPE p_node_panics_total counter
p_node_panics_total{node="a\"b"} 0
"#;

/// The `_sum` is the snapshot's mean (whole nanoseconds) times the count: 5 ms over 3 calls
/// loses 2 ns.
#[test]
fn golden_prometheus_text() {
    let budget = Budget {
        p95_ns: Some(2_000_000),
        ..Budget::DEFAULT
    };
    let ms = 1_000_000;
    let options = ExportOptions {
        prefix: "p-".to_owned(),
        buckets_ms: vec![1.0, 5.0],
        ..ExportOptions::default()
    };
    let snapshot = Snapshot::of(
        vec![node("a\"b", true, Some(budget), &[ms, ms, 3 * ms])],
        Vec::new(),
    );
    let report = BudgetReport {
        not_exercised: vec![NotExercised {
            node: "a\"b".to_owned(),
            calls: 3,
            min_samples: 100,
        }],
        ..empty_report()
    };
    let text = render(
        &families(&snapshot, &report, &options, None),
        Format::Prometheus,
    );
    assert_eq!(text, GOLDEN);
}

#[test]
fn openmetrics_names_counters_without_total_and_gives_units() {
    let snapshot = Snapshot::of(vec![node("n", true, None, &[1_000_000_000])], Vec::new());
    let process = ProcessMetrics {
        resident_memory_bytes: 4096,
        cpu_seconds: 1.5,
    };
    let text = render(
        &families(
            &snapshot,
            &empty_report(),
            &ExportOptions::default(),
            Some(&process),
        ),
        Format::OpenMetrics,
    );
    for line in [
        "# TYPE instrument_node_calls counter\n",
        "instrument_node_calls_total{node=\"n\"} 1\n",
        "# TYPE instrument_process_cpu_seconds counter\n# UNIT instrument_process_cpu_seconds seconds\n",
        "instrument_process_cpu_seconds_total 1.5\n",
        "# UNIT instrument_process_resident_memory_bytes bytes\n",
        "# UNIT instrument_node_latency_seconds seconds\n",
        "instrument_node_latency_seconds_bucket{node=\"n\",le=\"1.0\"} 1\n",
        "instrument_node_latency_seconds_bucket{node=\"n\",le=\"0.001\"} 0\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    assert!(text.ends_with("\n# EOF\n"));
    assert!(!text.contains("# TYPE instrument_node_calls_total"));
}

#[test]
fn the_run_is_an_info_metric_a_gauge_in_the_older_format() {
    let mut snapshot = Snapshot::of(Vec::new(), Vec::new());
    snapshot.run_id = "0123456789abcdef".to_owned();
    let text = |format| {
        let families = families(&snapshot, &empty_report(), &ExportOptions::default(), None);
        render(&families, format)
    };
    let help = "The run the figures come from: the run_id of its report.json and exports.";
    assert_eq!(
        text(Format::Prometheus),
        format!(
            "# HELP instrument_run_info {help}\n# TYPE instrument_run_info gauge\n\
             instrument_run_info{{run_id=\"0123456789abcdef\"}} 1\n"
        )
    );
    assert_eq!(
        text(Format::OpenMetrics),
        format!(
            "# HELP instrument_run {help}\n# TYPE instrument_run info\n\
             instrument_run_info{{run_id=\"0123456789abcdef\"}} 1\n# EOF\n"
        )
    );
}

#[test]
fn a_name_claimed_twice_is_exported_once_for_the_first_function() {
    let mut second = node("same", true, None, &[5]);
    second.module_path = "zzz".to_owned();
    second.calls = 99;
    let snapshot = Snapshot::of(vec![node("same", true, None, &[1, 2]), second], Vec::new());
    let text = render(
        &families(&snapshot, &empty_report(), &ExportOptions::default(), None),
        Format::Prometheus,
    );
    assert!(text.contains("instrument_node_calls_total{node=\"same\"} 2\n"));
    assert!(!text.contains(" 99\n"));
    // Out of order (a snapshot built by hand), the repeat is found all the same.
    let mut third = node("same", true, None, &[7]);
    third.calls = 77;
    let snapshot = Snapshot::of(
        vec![
            node("same", true, None, &[1, 2]),
            node("other", true, None, &[3]),
            third,
        ],
        Vec::new(),
    );
    let text = render(
        &families(&snapshot, &empty_report(), &ExportOptions::default(), None),
        Format::Prometheus,
    );
    assert!(text.contains("instrument_node_calls_total{node=\"same\"} 2\n"));
    assert!(!text.contains(" 77\n"));
}

#[test]
fn violations_come_from_the_budget_report() {
    let budget = Budget {
        p50_ns: Some(1),
        p99_ns: Some(2),
        ..Budget::DEFAULT
    };
    let snapshot = Snapshot::of(vec![node("slow", true, Some(budget), &[10])], Vec::new());
    let report = BudgetReport {
        failed: 1,
        judged: 1,
        violations: vec![Violation {
            node: "slow".to_owned(),
            quantile: Quantile::P99,
            observed_ns: 10,
            budget_ns: 2,
            allowed_ns: 2,
            overage_ns: 8,
        }],
        ..empty_report()
    };
    let text = render(
        &families(&snapshot, &report, &ExportOptions::default(), None),
        Format::Prometheus,
    );
    assert!(
        text.contains(
            "instrument_node_latency_budget_violation{node=\"slow\",statistic=\"p50\"} 0\n"
        )
    );
    assert!(
        text.contains(
            "instrument_node_latency_budget_violation{node=\"slow\",statistic=\"p99\"} 1\n"
        )
    );
    assert!(text.contains("instrument_node_latency_budget_judged{node=\"slow\"} 1\n"));
}

#[test]
fn an_untimed_node_has_no_histogram_and_a_timed_one_never_called_has_zeros() {
    let mut counted = node("counted", false, None, &[]);
    counted.calls = 4;
    let idle = node("idle", true, None, &[]);
    let text = render(
        &families(
            &Snapshot::of(vec![counted, idle], Vec::new()),
            &empty_report(),
            &ExportOptions::default(),
            None,
        ),
        Format::Prometheus,
    );
    assert!(!text.contains("_bucket{node=\"counted\""));
    assert!(text.contains("instrument_node_latency_seconds_bucket{node=\"idle\",le=\"5\"} 0\n"));
    assert!(text.contains("instrument_node_latency_seconds_count{node=\"idle\"} 0\n"));
    assert!(!text.contains("quantile_seconds{node=\"idle\""));
}

#[test]
fn memory_figures_are_exported_for_measured_nodes_only() {
    let mut measured = node("measured", true, None, &[1_000]);
    measured.memory = Some(NodeMemory::of(4, 4, 4_000, 3_000));
    let mut snapshot = Snapshot::of(
        vec![measured, node("unmeasured", true, None, &[1_000])],
        Vec::new(),
    );
    snapshot.process = Some(crate::record::alloc::ProcessMemory {
        rss_bytes: 1 << 20,
        peak_rss_bytes: 3 << 20,
    });
    let families = families(&snapshot, &empty_report(), &ExportOptions::default(), None);
    let text = render(&families, Format::Prometheus);
    for line in [
        "# TYPE instrument_node_allocations_total counter\n",
        "instrument_node_allocations_total{node=\"measured\"} 4\n",
        "instrument_node_allocated_bytes_total{node=\"measured\"} 4000\n",
        "# TYPE instrument_node_peak_live_bytes gauge\n",
        "instrument_node_peak_live_bytes{node=\"measured\"} 3000\n",
        "instrument_process_peak_resident_memory_bytes 3145728\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    assert!(!text.contains("{node=\"unmeasured\"} 4"));
    assert!(!text.contains("allocations_total{node=\"unmeasured\""));
    let text = render(&families, Format::OpenMetrics);
    assert!(text.contains(
        "# TYPE instrument_node_allocated_bytes counter\n# UNIT instrument_node_allocated_bytes bytes\n"
    ));
}

#[test]
fn process_metrics_are_read_on_linux() {
    let process = ProcessMetrics::current();
    assert_eq!(process.is_some(), cfg!(target_os = "linux"));
    if let Some(process) = process {
        assert!(process.resident_memory_bytes > 0);
    }
}

#[test]
fn a_label_value_needs_escaping_exactly_when_a_byte_of_it_does() {
    // Each byte value, alone and at every place of values up to 20 bytes long, among bytes
    // that never need it: the word-wise test must agree with the byte-wise one.
    for byte in 0..=u8::MAX {
        for len in 1..=20 {
            for at in 0..len {
                let mut value = vec![b'a'; len];
                value[at] = byte;
                let expected = matches!(byte, b'\\' | b'"' | b'\n');
                assert_eq!(
                    super::text::needs_escaping(&value),
                    expected,
                    "{byte:#x} at {at} of {len}"
                );
            }
        }
    }
    assert!(!super::text::needs_escaping(b""));
    assert!(!super::text::needs_escaping(
        "é€ the quick brown fox".as_bytes()
    ));
}

/// Nodes out of name order (the writer sorts them), one whose name needs escaping, outcomes
/// declared out of label order, a timed node without calls, an untimed one, and a budget
/// violated: the whole `OpenMetrics` text, the same whichever order the snapshot lists them in.
#[test]
fn golden_openmetrics_text_whatever_the_order_of_the_nodes() {
    let budget = Budget {
        p50_ns: Some(1_000_000),
        p99_ns: Some(2_000_000),
        ..Budget::DEFAULT
    };
    let ms = 1_000_000;
    let mut routed = node("route", true, Some(budget), &[ms, 2 * ms, 40 * ms]);
    routed.outcomes = vec![("5xx".to_owned(), 1), ("2xx".to_owned(), 2)];
    let nodes = vec![
        node("untimed", false, None, &[]),
        routed,
        node("a\\b\n", true, None, &[7_000]),
        node("idle", true, None, &[]),
    ];
    let report = BudgetReport {
        violations: vec![Violation {
            node: "route".to_owned(),
            quantile: Quantile::P99,
            observed_ns: 40 * ms,
            budget_ns: 2 * ms,
            allowed_ns: 2 * ms,
            overage_ns: 38 * ms,
        }],
        ..empty_report()
    };
    let options = ExportOptions {
        buckets_ms: vec![0.005, 1.0, 1000.0],
        ..ExportOptions::default()
    };
    let sorted = Snapshot::of(nodes, Vec::new());
    let mut unsorted = sorted.clone();
    unsorted.nodes.reverse();
    for snapshot in [sorted, unsorted] {
        let text = render(
            &families(&snapshot, &report, &options, None),
            Format::OpenMetrics,
        );
        assert_eq!(text, GOLDEN_OPENMETRICS);
    }
}

const GOLDEN_OPENMETRICS: &str = r#"# HELP instrument_node_calls Calls of the node that ended: returned, with or without an error, or panicked.
# TYPE instrument_node_calls counter
instrument_node_calls_total{node="a\\b\n"} 1
instrument_node_calls_total{node="idle"} 0
instrument_node_calls_total{node="route"} 3
instrument_node_calls_total{node="untimed"} 0
# HELP instrument_node_cancellations Async calls of the node dropped before completing.
# TYPE instrument_node_cancellations counter
instrument_node_cancellations_total{node="a\\b\n"} 2
instrument_node_cancellations_total{node="idle"} 2
instrument_node_cancellations_total{node="route"} 2
instrument_node_cancellations_total{node="untimed"} 2
# HELP instrument_node_errors Calls of the node whose return value was a failure.
# TYPE instrument_node_errors counter
instrument_node_errors_total{node="a\\b\n"} 1
instrument_node_errors_total{node="idle"} 1
instrument_node_errors_total{node="route"} 1
instrument_node_errors_total{node="untimed"} 1
# HELP instrument_node_latency_budget_judged 1 when the node had enough calls for its budget to be judged, 0 when not exercised.
# TYPE instrument_node_latency_budget_judged gauge
instrument_node_latency_budget_judged{node="route"} 1
# HELP instrument_node_latency_budget_seconds Latency budget declared for a statistic of the node, before tolerance, in seconds.
# TYPE instrument_node_latency_budget_seconds gauge
# UNIT instrument_node_latency_budget_seconds seconds
instrument_node_latency_budget_seconds{node="route",statistic="p50"} 0.001
instrument_node_latency_budget_seconds{node="route",statistic="p99"} 0.002
# HELP instrument_node_latency_budget_tolerance_ratio How far over budget a statistic of the node may go before it fails, as a fraction.
# TYPE instrument_node_latency_budget_tolerance_ratio gauge
# UNIT instrument_node_latency_budget_tolerance_ratio ratio
instrument_node_latency_budget_tolerance_ratio{node="route"} 0.1
# HELP instrument_node_latency_budget_violation 1 when a judged statistic of the node is over its budget plus tolerance, else 0.
# TYPE instrument_node_latency_budget_violation gauge
instrument_node_latency_budget_violation{node="route",statistic="p50"} 0
instrument_node_latency_budget_violation{node="route",statistic="p99"} 1
# HELP instrument_node_latency_quantile_seconds Latency of the node's calls at a statistic (p50, p90, p95, p99, max) since the start, in seconds.
# TYPE instrument_node_latency_quantile_seconds gauge
# UNIT instrument_node_latency_quantile_seconds seconds
instrument_node_latency_quantile_seconds{node="a\\b\n",statistic="max"} 0.000007007
instrument_node_latency_quantile_seconds{node="a\\b\n",statistic="p50"} 0.000007007
instrument_node_latency_quantile_seconds{node="a\\b\n",statistic="p90"} 0.000007007
instrument_node_latency_quantile_seconds{node="a\\b\n",statistic="p95"} 0.000007007
instrument_node_latency_quantile_seconds{node="a\\b\n",statistic="p99"} 0.000007007
instrument_node_latency_quantile_seconds{node="route",statistic="max"} 0.040108031
instrument_node_latency_quantile_seconds{node="route",statistic="p50"} 0.002007039
instrument_node_latency_quantile_seconds{node="route",statistic="p90"} 0.040108031
instrument_node_latency_quantile_seconds{node="route",statistic="p95"} 0.040108031
instrument_node_latency_quantile_seconds{node="route",statistic="p99"} 0.040108031
# HELP instrument_node_latency_seconds Latency of the node's calls, in seconds.
# TYPE instrument_node_latency_seconds histogram
# UNIT instrument_node_latency_seconds seconds
instrument_node_latency_seconds_bucket{node="a\\b\n",le="0.000005"} 0
instrument_node_latency_seconds_bucket{node="a\\b\n",le="0.001"} 1
instrument_node_latency_seconds_bucket{node="a\\b\n",le="1.0"} 1
instrument_node_latency_seconds_bucket{node="a\\b\n",le="+Inf"} 1
instrument_node_latency_seconds_sum{node="a\\b\n"} 0.000007
instrument_node_latency_seconds_count{node="a\\b\n"} 1
instrument_node_latency_seconds_bucket{node="idle",le="0.000005"} 0
instrument_node_latency_seconds_bucket{node="idle",le="0.001"} 0
instrument_node_latency_seconds_bucket{node="idle",le="1.0"} 0
instrument_node_latency_seconds_bucket{node="idle",le="+Inf"} 0
instrument_node_latency_seconds_sum{node="idle"} 0
instrument_node_latency_seconds_count{node="idle"} 0
instrument_node_latency_seconds_bucket{node="route",le="0.000005"} 0
instrument_node_latency_seconds_bucket{node="route",le="0.001"} 1
instrument_node_latency_seconds_bucket{node="route",le="0.0011"} 1
instrument_node_latency_seconds_bucket{node="route",le="0.0022"} 2
instrument_node_latency_seconds_bucket{node="route",le="1.0"} 3
instrument_node_latency_seconds_bucket{node="route",le="+Inf"} 3
instrument_node_latency_seconds_sum{node="route"} 0.043
instrument_node_latency_seconds_count{node="route"} 3
# HELP instrument_node_outcomes Calls of a runtime node by outcome (a route's responses by status class).
# TYPE instrument_node_outcomes counter
instrument_node_outcomes_total{node="route",outcome="2xx"} 2
instrument_node_outcomes_total{node="route",outcome="5xx"} 1
# HELP instrument_node_panics Calls of the node that panicked.
# TYPE instrument_node_panics counter
instrument_node_panics_total{node="a\\b\n"} 0
instrument_node_panics_total{node="idle"} 0
instrument_node_panics_total{node="route"} 0
instrument_node_panics_total{node="untimed"} 0
# EOF
"#;
