//! The JSON artifacts: items and warnings reported from every kind of instrumented function,
//! `phase_metrics.json` and `latency_histograms.json` checked against the shipped JSON Schemas,
//! and the resource sampler writing `resource_usage.jsonl` for real.

use std::path::PathBuf;
use std::time::Duration;

use instrument_runtime::{
    ManualClock, budget, check_budgets, counted,
    export::{export_all, latency_histograms_json, phase_metrics_json},
    items, items_total, snapshot, timed, warning,
};
use serde_json::Value;

const PHASE_METRICS_SCHEMA: &str = include_str!("../schemas/phase_metrics.schema.json");
const LATENCY_HISTOGRAMS_SCHEMA: &str = include_str!("../schemas/latency_histograms.schema.json");
const RESOURCE_USAGE_SCHEMA: &str = include_str!("../schemas/resource_usage.schema.json");
const STREAM_RECORD_SCHEMA: &str = include_str!("../schemas/stream_record.schema.json");

mod common;

use common::schema;

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn assert_valid(schema: &str, json: &str) -> Value {
    let value = parse(json);
    let violations = schema::violations(&parse(schema), &value);
    assert!(violations.is_empty(), "{violations:#?}\n{json}");
    value
}

fn node<'a>(file: &'a Value, name: &str) -> &'a Value {
    file["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == name)
        .unwrap_or_else(|| panic!("no node `{name}`"))
}

#[test]
fn the_schema_check_finds_missing_extra_mistyped_and_malformed_values() {
    let schema = parse(RESOURCE_USAGE_SCHEMA);
    let line = |timestamp: &str| {
        parse(&format!(
            r#"{{"cpu_percent": 1.5, "memory_percent": 0.1, "rss_mb": 10.0, "threads": 2,
                "timestamp": "{timestamp}"}}"#
        ))
    };
    assert_eq!(
        schema::violations(&schema, &line("2024-01-01T00:00:00.000Z")),
        Vec::<String>::new()
    );
    let bad = parse(
        r#"{"cpu_percent": "high", "memory_percent": -1, "rss_mb": 10.0, "threads": 2.5,
            "worker_budget": 8}"#,
    );
    let mut violations = schema::violations(&schema, &bad);
    violations.sort();
    assert_eq!(
        violations,
        [
            r#"/cpu_percent: "high" is not of type "number""#,
            "/memory_percent: -1 is less than the minimum of 0",
            r#"/threads: 2.5 is not of type "integer""#,
            r#": "timestamp" is a required property"#,
            ": Additional properties are not allowed ('worker_budget' was unexpected)",
        ]
    );
    // What a check without `pattern` and `format` let through: a timestamp without its
    // milliseconds (the pattern), and one with a thirteenth month (the date-time format).
    for timestamp in ["2024-01-01T00:00:00Z", "2024-13-01T00:00:00.000Z"] {
        let violations = schema::violations(&schema, &line(timestamp));
        assert_eq!(violations.len(), 1, "{timestamp}: {violations:?}");
        assert!(violations[0].starts_with("/timestamp: "), "{violations:?}");
    }
    let phase = parse(PHASE_METRICS_SCHEMA);
    let wrong_node = parse(
        r#"{"nodes": [{"name": 3}], "schema": "instrument.phase_metrics/2",
            "taken_at": "", "taken_at_unix_ms": 0}"#,
    );
    let violations = schema::violations(&phase, &wrong_node);
    for start in [
        "/nodes/0: \"calls\" is a required",
        "/nodes/0/name: 3 is not of type",
        "/schema: ",
        "/taken_at: ",
    ] {
        assert!(
            violations.iter().any(|v| v.starts_with(start)),
            "{start}: {violations:#?}"
        );
    }
}

#[test]
fn every_shipped_schema_is_a_valid_schema_checked_against_real_artifacts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut shipped: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    // A new schema is added to `SHIPPED` with the test that validates its artifact.
    assert_eq!(shipped, schema::SHIPPED);
    for name in schema::SHIPPED {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        // Checked against the 2020-12 meta-schema on the way.
        schema::validator(&parse(&text));
    }
}

#[timed(name = "json_stream_interval_step")]
fn stream_interval_step() {}

#[test]
fn every_kind_of_stream_record_is_a_valid_cloudevent() {
    use instrument_runtime::alert::{AlertState, Severity};
    use instrument_runtime::breaker::{Transition, TransitionCause};
    use instrument_runtime::stream::{AlertRecord, Event, Origin, RecordData, cloudevent};
    use instrument_runtime::{BreakerState, VerdictStatus, interval::node_intervals};

    stream_interval_step();
    let interval = node_intervals(None, &snapshot())
        .into_iter()
        .find(|node| node.name == "json_stream_interval_step")
        .unwrap();
    let transition = Transition {
        from: BreakerState::Closed,
        to: BreakerState::Open,
        cause: TransitionCause::ConsecutiveFailures { failures: 5 },
        at_ns: 1,
        at_unix_ms: 1_700_000_000_000,
    };
    let mut records = vec![
        Event::timing("parse", Duration::from_millis(3))
            .tag("type", "yaml")
            .into_record(),
        Event::counter("cache_hits", 2)
            .correlation_id("request-7")
            .into_record(),
        Event::gauge("cache_size", 512.0, "entries").into_record(),
        Event::rate("cache_hit_rate", 95.5).into_record(),
    ];
    for data in [
        RecordData::Interval(Box::new(interval)),
        RecordData::Transition(transition),
        RecordData::Verdict {
            from: Some(VerdictStatus::Pass),
            to: VerdictStatus::Fail,
            calls: 120,
        },
        RecordData::Alert(Box::new(AlertRecord {
            state: AlertState::Resolved,
            severity: Severity::Critical,
            fingerprint: "0123456789abcdef".to_owned(),
            labels: [("alertname", "EmbeddingSlow"), ("severity", "critical")]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            summary: "embedding too slow: 72ms (> 60ms)".to_owned(),
            value: 72_000_000.0,
            threshold: 60_000_000.0,
            active_since_unix_ms: 1_700_000_000_000,
            fired_at_unix_ms: Some(1_700_000_010_000),
            resolved_at_unix_ms: Some(1_700_000_020_000),
        })),
    ] {
        let mut record = Event::counter("node", 1).into_record();
        record.data = data;
        records.push(record);
    }
    let origin = Origin::of_this_process("json-artifacts");
    for (sequence, mut record) in records.into_iter().enumerate() {
        record.id = format!("{}-{sequence:x}", origin.run_id);
        let event = cloudevent(&record, &origin).to_string();
        assert_valid(STREAM_RECORD_SCHEMA, &event);
    }
}

// Items and warnings from every kind of function body.

#[timed]
fn json_sync_tail(batch: &[u32]) -> u32 {
    items_total!(batch.len());
    items!(batch.len());
    batch.iter().sum()
}

/// Counted with a value to judge: the body runs as a closure.
#[counted]
fn json_sync_closure(text: &str) -> Result<u32, std::num::ParseIntError> {
    items_total!(1_u8);
    let parsed = text.parse::<u32>();
    if parsed.is_err() {
        warning!();
        return parsed;
    }
    items!(1);
    parsed
}

#[timed]
async fn json_async(batch: Vec<u64>) -> u64 {
    items_total!(batch.len());
    let mut sum = 0;
    for value in batch {
        std::future::ready(()).await;
        items!(1_u64);
        sum += value;
    }
    sum
}

struct Indexer {
    seen: usize,
}

impl Indexer {
    #[timed(name = "json_method")]
    fn index(&mut self, documents: &[&str]) {
        items_total!(documents.len());
        documents
            .iter()
            .filter(|document| {
                let empty = document.is_empty();
                if empty {
                    warning!();
                }
                !empty
            })
            .for_each(|_| {
                self.seen += 1;
                items!(1);
            });
    }
}

trait Stage {
    fn run(&self, batch: &[u8]) -> usize;
}

impl Stage for Indexer {
    #[counted(name = "json_trait_method")]
    fn run(&self, batch: &[u8]) -> usize {
        // Items counted on other threads go to those threads' shards of the node.
        std::thread::scope(|scope| {
            for chunk in batch.chunks(2) {
                scope.spawn(move || items!(chunk.len()));
            }
        });
        batch.len()
    }
}

#[async_trait::async_trait]
trait AsyncStage {
    async fn fetch(&self, count: u32) -> u32;
}

#[async_trait::async_trait]
impl AsyncStage for Indexer {
    #[timed(name = "json_async_trait")]
    async fn fetch(&self, count: u32) -> u32 {
        items!(count);
        warning!();
        count
    }
}

#[test]
fn items_and_warnings_reach_the_node_from_every_kind_of_body() {
    json_sync_tail(&[1, 2, 3]);
    json_sync_closure("7").unwrap();
    json_sync_closure("seven").unwrap_err();
    assert_eq!(
        futures::executor::block_on(json_async(vec![1, 2, 3, 4])),
        10
    );
    let mut indexer = Indexer { seen: 0 };
    indexer.index(&["a", "", "b"]);
    assert_eq!(indexer.run(&[1, 2, 3, 4, 5]), 5);
    assert_eq!(futures::executor::block_on(indexer.fetch(6)), 6);

    let snapshot = snapshot();
    let counts = |name: &str| {
        let node = snapshot.node(name).unwrap();
        (node.items_processed, node.items_total, node.warnings)
    };
    assert_eq!(counts("json_sync_tail"), (3, 3, 0));
    assert_eq!(counts("json_sync_closure"), (1, 2, 1));
    assert_eq!(counts("json_async"), (4, 4, 0));
    assert_eq!(counts("json_method"), (2, 3, 1));
    assert_eq!(counts("json_trait_method"), (5, 0, 0));
    assert_eq!(counts("json_async_trait"), (6, 0, 1));
    assert_eq!(snapshot.node("json_sync_closure").unwrap().errors, 1);

    let metrics = assert_valid(PHASE_METRICS_SCHEMA, &phase_metrics_json(&snapshot));
    let method = node(&metrics, "json_method");
    assert_eq!(method["warnings"], 1);
    assert_eq!(method["items_processed"], 2);
    assert!((method["progress"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    let closure = node(&metrics, "json_sync_closure");
    assert_eq!(closure["progress"], 0.5);
    // Counted only: no duration, so no throughput.
    assert_eq!(closure["throughput"], Value::Null);
    assert!(node(&metrics, "json_async")["throughput"].as_f64().unwrap() > 0.0);
}

#[budget(max = "4ms", p99 = "4ms", min_samples = 1)]
fn json_budgeted(clock: &ManualClock, millis: u64) {
    items!(10);
    clock.advance(Duration::from_millis(millis));
}

#[timed]
fn json_unbudgeted(clock: &ManualClock, micros: u64) {
    clock.advance(Duration::from_micros(micros));
}

#[test]
fn phase_metrics_count_anomalies_against_the_budget_or_three_times_the_p99() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for millis in [1, 1, 1, 2, 2, 3, 5, 6] {
        json_budgeted(&clock, millis);
    }
    for _ in 0..1_000 {
        json_unbudgeted(&clock, 10);
    }
    json_unbudgeted(&clock, 20);
    json_unbudgeted(&clock, 50);

    let metrics = assert_valid(PHASE_METRICS_SCHEMA, &phase_metrics_json(&snapshot()));
    let budgeted = node(&metrics, "json_budgeted");
    assert_eq!(budgeted["calls"], 8);
    assert_eq!(budgeted["total_duration_ms"], 21.0);
    assert_eq!(budgeted["items_processed"], 80);
    // 80 items in 21 ms.
    assert!((budgeted["throughput"].as_f64().unwrap() - 80.0 / 0.021).abs() < 1e-6);
    assert_eq!(
        budgeted["anomalies"],
        serde_json::json!({"basis": "budget_max", "count": 2, "threshold_ms": 4.0})
    );
    let unbudgeted = node(&metrics, "json_unbudgeted");
    assert_eq!(unbudgeted["anomalies"]["basis"], "p99_x3");
    // p99 is 10 µs (to 0.1%): only the 50 µs call is above 30 µs.
    assert_eq!(unbudgeted["anomalies"]["count"], 1);
    assert!(unbudgeted["latency_histogram"]["p99_ms"].as_f64().unwrap() < 0.0101);
}

/// Called by the tests below only, so the other tests' counts stay exact.
#[timed]
fn json_histogram_step() {}

#[test]
fn latency_histograms_match_their_schema_and_carry_the_whole_histogram() {
    json_histogram_step();
    let snapshot = snapshot();
    let json = latency_histograms_json(&snapshot);
    let histograms = assert_valid(LATENCY_HISTOGRAMS_SCHEMA, &json);
    let nodes = histograms["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    for node in nodes {
        let name = node["name"].as_str().unwrap();
        assert!(snapshot.node(name).unwrap().instruments.timed, "{name}");
        // The encoding's form (base64 of the V2 + DEFLATE cookie) is the schema's `pattern`.
        match node["hdr_histogram"].as_str() {
            Some(_) => assert!(node["count"].as_u64().unwrap() > 0),
            None => assert_eq!(node["count"], 0),
        }
    }
    assert!(
        node(&histograms, "json_histogram_step")["count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // Not timed: not in the histograms.
    assert!(nodes.iter().all(|node| node["name"] != "json_sync_closure"));
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("instrument-{name}-{}", std::process::id()))
}

#[test]
fn export_all_writes_both_files_and_rewriting_replaces_them() {
    json_histogram_step();
    let dir = temp_dir("json-export");
    let _ = std::fs::remove_dir_all(&dir);
    for _ in 0..2 {
        let written = export_all(&dir).unwrap();
        for (file, schema) in [
            ("phase_metrics.json", PHASE_METRICS_SCHEMA),
            ("latency_histograms.json", LATENCY_HISTOGRAMS_SCHEMA),
        ] {
            let path = dir.join(file);
            assert!(written.contains(&path), "{written:?}");
            let contents = std::fs::read_to_string(&path).unwrap();
            assert!(contents.ends_with("}\n"));
            assert_valid(schema, &contents);
        }
    }
    // Written atomically: no temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_artifacts_are_the_pure_functions_of_the_snapshot() {
    let snapshot = snapshot();
    let artifacts = instrument_runtime::export::artifacts(
        &snapshot,
        &check_budgets(&snapshot),
        &instrument_runtime::export::ExportOptions::default(),
    );
    let contents = |name: &str| {
        artifacts
            .iter()
            .find(|artifact| artifact.file_name == name)
            .map(|artifact| artifact.contents.clone())
    };
    assert_eq!(
        contents("phase_metrics.json"),
        Some(phase_metrics_json(&snapshot))
    );
    assert_eq!(
        contents("latency_histograms.json"),
        Some(latency_histograms_json(&snapshot))
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_sampler_writes_a_valid_line_each_period() {
    let path = temp_dir("resources").join("resource_usage.jsonl");
    let sampler =
        instrument_runtime::report::sample_resources_into(&path, Duration::from_millis(10))
            .expect("sampler starts");
    // Some CPU work for the sampler to see, until it has written three lines: how long that
    // takes is up to the scheduler, so the deadline is only there to end a broken run.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut spins = 0_u64;
    while std::fs::read_to_string(&path).map_or(0, |written| written.lines().count()) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than 3 samples in 30 s"
        );
        for _ in 0..100_000 {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    }
    sampler.stop().unwrap();
    let contents = std::fs::read_to_string(&path).unwrap();
    assert!(contents.ends_with('\n'));
    let lines: Vec<&str> = contents.lines().collect();
    assert!(lines.len() >= 3, "{} lines:\n{contents}", lines.len());
    let schema = parse(RESOURCE_USAGE_SCHEMA);
    let mut previous_timestamp = String::new();
    for line in &lines {
        let value = parse(line);
        let violations = schema::violations(&schema, &value);
        assert!(violations.is_empty(), "{violations:?}: {line}");
        let timestamp = value["timestamp"].as_str().unwrap();
        assert!(*timestamp >= *previous_timestamp, "timestamps go forward");
        previous_timestamp = timestamp.to_owned();
        assert!(value["rss_mb"].as_f64().unwrap() > 0.0);
        assert!(
            value["threads"].as_u64().unwrap() >= 2,
            "main thread and sampler"
        );
    }
    // The process was busy: some interval saw CPU time.
    assert!(
        lines
            .iter()
            .any(|line| parse(line)["cpu_percent"].as_f64().unwrap() > 0.0)
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
