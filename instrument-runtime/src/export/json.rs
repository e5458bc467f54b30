//! `phase_metrics.json` and `latency_histograms.json`: pure functions of the snapshot.
//!
//! Both are serialized from the typed structs below and nothing else; the JSON Schema files in
//! `schemas/` describe exactly these structs. Fields are declared in alphabetical order, so keys
//! come out sorted, and every number is finite by construction (each ratio checks its divisor),
//! so a file always matches its schema. Durations are in milliseconds as decimals; histograms
//! hold nanoseconds.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use flate2::{Compress, Compression, FlushCompress, Status};
use serde::Serialize;

use crate::format::rfc3339;
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::histogram::LatencyHistogram;

/// The `schema` field of `phase_metrics.json`, bumped on incompatible changes.
///
/// ```
/// let json = instrument_runtime::export::phase_metrics_json(&instrument_runtime::snapshot());
/// let metrics: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(metrics["schema"], instrument_runtime::export::PHASE_METRICS_SCHEMA);
/// ```
pub const PHASE_METRICS_SCHEMA: &str = "instrument.phase_metrics/1";
/// The `schema` field of `latency_histograms.json`, bumped on incompatible changes.
///
/// ```
/// let json = instrument_runtime::export::latency_histograms_json(&instrument_runtime::snapshot());
/// let histograms: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(histograms["schema"], instrument_runtime::export::LATENCY_HISTOGRAMS_SCHEMA);
/// ```
pub const LATENCY_HISTOGRAMS_SCHEMA: &str = "instrument.latency_histograms/1";
/// How `latency_histograms.json` encodes each histogram: `HdrHistogram`'s V2 format compressed
/// with DEFLATE (what Java's `encodeIntoCompressedByteBuffer` writes and every `HdrHistogram`
/// port reads), in standard base64 with padding. Values are nanoseconds.
///
/// ```
/// let json = instrument_runtime::export::latency_histograms_json(&instrument_runtime::snapshot());
/// let histograms: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(histograms["encoding"], instrument_runtime::export::HISTOGRAM_ENCODING);
/// ```
pub const HISTOGRAM_ENCODING: &str = "hdrhistogram-v2-deflate-base64";

#[derive(Serialize)]
struct PhaseMetrics<'a> {
    nodes: Vec<PhaseNode<'a>>,
    run_id: &'a str,
    schema: &'static str,
    taken_at: String,
    taken_at_unix_ms: u64,
}

#[derive(Serialize)]
struct PhaseNode<'a> {
    anomalies: Option<Anomalies>,
    calls: u64,
    errors: u64,
    file: &'a str,
    items_processed: u64,
    items_total: u64,
    latency_histogram: Option<Quantiles>,
    line: u32,
    module_path: &'a str,
    name: &'a str,
    panics: u64,
    progress: Option<f64>,
    throughput: Option<f64>,
    total_duration_ms: Option<f64>,
    warnings: u64,
}

#[derive(Serialize)]
#[allow(
    clippy::struct_field_names,
    reason = "the file's keys: the unit is in the name"
)]
struct Quantiles {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

/// Calls slower than a threshold: the budget's `max` when one is declared, else three times the
/// node's p99.
#[derive(Debug, PartialEq, Serialize)]
struct Anomalies {
    basis: &'static str,
    count: u64,
    threshold_ms: f64,
}

#[derive(Serialize)]
struct LatencyHistograms<'a> {
    encoding: &'static str,
    nodes: Vec<HistogramNode<'a>>,
    run_id: &'a str,
    schema: &'static str,
    taken_at: String,
    taken_at_unix_ms: u64,
}

#[derive(Serialize)]
struct HistogramNode<'a> {
    count: u64,
    duration_ms: Option<f64>,
    file: &'a str,
    hdr_histogram: Option<String>,
    items_processed: u64,
    latency_histogram: Option<FullQuantiles>,
    line: u32,
    module_path: &'a str,
    name: &'a str,
    throughput: Option<f64>,
}

#[derive(Serialize)]
#[allow(
    clippy::struct_field_names,
    reason = "the file's keys: the unit is in the name"
)]
struct FullQuantiles {
    max_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    p999_ms: f64,
    p99_ms: f64,
}

/// `phase_metrics.json`: per node its calls, errors, panics and warnings, its total duration,
/// the items it reported ([`items!`](crate::items), [`items_total!`](crate::items_total)) with
/// progress (processed / total, when a total was reported) and throughput (items per second of
/// the node's total duration, for timed nodes), its p50/p95/p99 and its anomalies: calls above
/// the budget's `max`, or above three times the p99 for a node without one, counted from the
/// histogram to its precision (0.79%). Keys sorted, two-space indented, ending in a newline.
///
/// ```
/// #[instrument_runtime::timed(name = "phase_metrics_doc_load")]
/// fn load(rows: &[u32]) -> u32 {
///     instrument_runtime::items_total!(rows.len());
///     instrument_runtime::items!(rows.len() - 1);
///     rows.iter().sum()
/// }
///
/// load(&[1, 2, 3, 4]);
/// let json = instrument_runtime::export::phase_metrics_json(&instrument_runtime::snapshot());
/// let metrics: serde_json::Value = serde_json::from_str(&json).unwrap();
/// let node = metrics["nodes"].as_array().unwrap().iter()
///     .find(|node| node["name"] == "phase_metrics_doc_load").unwrap();
/// assert_eq!(node["calls"], 1);
/// assert_eq!(node["progress"], 0.75);
/// assert!(node["throughput"].as_f64().unwrap() > 0.0);
/// assert_eq!(node["anomalies"]["basis"], "p99_x3");
/// ```
pub fn phase_metrics_json(snapshot: &Snapshot) -> String {
    let metrics = PhaseMetrics {
        nodes: snapshot.nodes.iter().map(phase_node).collect(),
        run_id: &snapshot.run_id,
        schema: PHASE_METRICS_SCHEMA,
        taken_at: taken_at(snapshot),
        taken_at_unix_ms: snapshot.taken_at_unix_ms,
    };
    to_json(&metrics)
}

/// `latency_histograms.json`: per timed node its p50/p95/p99/p99.9/max, call count, total
/// duration, items processed and throughput, and the whole merged histogram in
/// [`HISTOGRAM_ENCODING`], lossless, so runs can be merged by any `HdrHistogram` implementation.
/// Keys sorted, two-space indented, ending in a newline.
///
/// ```
/// #[instrument_runtime::timed(name = "latency_histograms_doc_step")]
/// fn step() {}
///
/// step();
/// let json = instrument_runtime::export::latency_histograms_json(&instrument_runtime::snapshot());
/// let histograms: serde_json::Value = serde_json::from_str(&json).unwrap();
/// let node = histograms["nodes"].as_array().unwrap().iter()
///     .find(|node| node["name"] == "latency_histograms_doc_step").unwrap();
/// assert_eq!(node["count"], 1);
/// // Base64 of the V2 + DEFLATE cookie, as in every HdrHistogram log.
/// assert!(node["hdr_histogram"].as_str().unwrap().starts_with("HISTF"));
/// ```
pub fn latency_histograms_json(snapshot: &Snapshot) -> String {
    let mut encoder = HistogramEncoder::new();
    let histograms = LatencyHistograms {
        encoding: HISTOGRAM_ENCODING,
        nodes: snapshot
            .nodes
            .iter()
            .filter(|node| node.instruments.timed)
            .map(|node| histogram_node(node, &mut encoder))
            .collect(),
        run_id: &snapshot.run_id,
        schema: LATENCY_HISTOGRAMS_SCHEMA,
        taken_at: taken_at(snapshot),
        taken_at_unix_ms: snapshot.taken_at_unix_ms,
    };
    to_json(&histograms)
}

pub(crate) fn to_json(value: &impl Serialize) -> String {
    // Plain structs of strings, integers and finite floats: serialization cannot fail.
    let mut json = serde_json::to_string_pretty(value).expect("the export structs serialize");
    json.push('\n');
    json
}

fn taken_at(snapshot: &Snapshot) -> String {
    rfc3339(UNIX_EPOCH + Duration::from_millis(snapshot.taken_at_unix_ms))
}

fn phase_node(node: &NodeSnapshot) -> PhaseNode<'_> {
    let total_ns = total_duration_ns(node);
    PhaseNode {
        anomalies: anomalies(node),
        calls: node.calls,
        errors: node.errors,
        file: &node.file,
        items_processed: node.items_processed,
        items_total: node.items_total,
        latency_histogram: node.latency.map(|latency| Quantiles {
            p50_ms: ms(latency.p50_ns),
            p95_ms: ms(latency.p95_ns),
            p99_ms: ms(latency.p99_ns),
        }),
        line: node.line,
        module_path: &node.module_path,
        name: &node.name,
        panics: node.panics,
        progress: ratio(node.items_processed, node.items_total),
        throughput: total_ns.and_then(|total_ns| per_second(node.items_processed, total_ns)),
        total_duration_ms: total_ns.map(ms),
        warnings: node.warnings,
    }
}

fn histogram_node<'a>(node: &'a NodeSnapshot, encoder: &mut HistogramEncoder) -> HistogramNode<'a> {
    let total_ns = total_duration_ns(node);
    HistogramNode {
        count: node.histogram.as_ref().map_or(0, LatencyHistogram::len),
        duration_ms: total_ns.map(ms),
        file: &node.file,
        hdr_histogram: node
            .histogram
            .as_ref()
            .map(|histogram| encoder.encode(histogram)),
        items_processed: node.items_processed,
        latency_histogram: node.latency.map(|latency| FullQuantiles {
            max_ms: ms(latency.max_ns),
            p50_ms: ms(latency.p50_ns),
            p95_ms: ms(latency.p95_ns),
            p999_ms: ms(latency.p999_ns),
            p99_ms: ms(latency.p99_ns),
        }),
        line: node.line,
        module_path: &node.module_path,
        name: &node.name,
        throughput: total_ns.and_then(|total_ns| per_second(node.items_processed, total_ns)),
    }
}

/// The summed latency of a timed node's calls, exact.
fn total_duration_ns(node: &NodeSnapshot) -> Option<u64> {
    node.latency.map(|_| node.sum_ns)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "durations far below 2^53 ns (104 days)"
)]
fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `numerator / denominator`, or nothing for a zero denominator.
#[allow(clippy::cast_precision_loss, reason = "a ratio for people and tools")]
fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Items per second over `total_ns`, or nothing when no time was measured.
#[allow(clippy::cast_precision_loss, reason = "a rate for people and tools")]
fn per_second(items: u64, total_ns: u64) -> Option<f64> {
    (total_ns > 0).then(|| items as f64 / (total_ns as f64 / 1e9))
}

fn anomalies(node: &NodeSnapshot) -> Option<Anomalies> {
    let histogram = node.histogram.as_ref()?;
    let latency = node.latency?;
    let (basis, threshold_ns) = match node.budget.and_then(|budget| budget.max_ns) {
        Some(max_ns) => ("budget_max", max_ns),
        None => ("p99_x3", latency.p99_ns.saturating_mul(3)),
    };
    Some(Anomalies {
        basis,
        count: histogram.count_above(threshold_ns),
        threshold_ms: ms(threshold_ns),
    })
}

/// Encodes histograms as `HdrHistogram` V2 + DEFLATE, in base64 ([`HISTOGRAM_ENCODING`]). One
/// encoder serves every node: the compressor's tables are most of what encoding allocates.
struct HistogramEncoder {
    compressor: Compress,
    uncompressed: Vec<u8>,
    compressed: Vec<u8>,
}

impl HistogramEncoder {
    fn new() -> Self {
        Self {
            compressor: Compress::new(Compression::default(), true),
            uncompressed: Vec::new(),
            compressed: Vec::new(),
        }
    }

    fn encode(&mut self, histogram: &LatencyHistogram) -> String {
        const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
        self.uncompressed.clear();
        histogram.write_v2(&mut self.uncompressed);
        self.compressed.clear();
        self.compressed
            .extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
        self.compressed.extend_from_slice(&[0; 4]); // compressed length, filled in below
        self.compressor.reset();
        loop {
            let consumed = usize::try_from(self.compressor.total_in()).expect("in memory");
            self.compressed.reserve(self.uncompressed.len() / 2 + 64);
            let status = self
                .compressor
                .compress_vec(
                    &self.uncompressed[consumed..],
                    &mut self.compressed,
                    FlushCompress::Finish,
                )
                .expect("compressing into memory cannot fail");
            if status == Status::StreamEnd {
                break;
            }
        }
        let length = u32::try_from(self.compressed.len() - 8).expect("a histogram under 4 GiB");
        self.compressed[4..8].copy_from_slice(&length.to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode(&self.compressed)
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::{Deserializer, Serializer as _};

    use super::*;
    use crate::record::node::{Budget, Instruments};

    fn histogram(values: &[(u64, u64)]) -> LatencyHistogram {
        let mut histogram = LatencyHistogram::new();
        for &(value, count) in values {
            histogram.record_n(value, count);
        }
        histogram
    }

    fn encode_histogram(histogram: &LatencyHistogram) -> String {
        HistogramEncoder::new().encode(histogram)
    }

    fn node(name: &str, budget: Option<Budget>, values: &[(u64, u64)]) -> NodeSnapshot {
        let mut node = NodeSnapshot::new(name);
        node.module_path = "app::pipeline".into();
        node.file = "src/pipeline.rs".into();
        node.line = 12;
        node.instruments = Instruments {
            timed: true,
            budget: budget.is_some(),
            ..Instruments::default()
        };
        node.budget = budget;
        node.calls = values.iter().map(|(_, count)| count).sum();
        let sum = values.iter().map(|(value, count)| value * count).sum();
        node.with_histogram(histogram(values), sum)
    }

    fn snapshot(nodes: Vec<NodeSnapshot>) -> Snapshot {
        let mut snapshot = Snapshot::new(nodes);
        snapshot.taken_at_unix_ms = 1_700_000_000_123;
        snapshot.host = "host".to_owned();
        snapshot.run_id = "0123456789abcdef".to_owned();
        snapshot
    }

    /// A budgeted node with items and warnings, an unbudgeted one, a counted-only one and a
    /// timed one never called.
    fn pipeline() -> Snapshot {
        let mut parse = node(
            "parse",
            Some(Budget {
                p95_ns: Some(2_000_000),
                max_ns: Some(4_000_000),
                ..Budget::DEFAULT
            }),
            &[(1_000_000, 90), (3_000_000, 8), (5_000_000, 2)],
        );
        parse.errors = 3;
        parse.warnings = 5;
        parse.items_processed = 150;
        parse.items_total = 200;
        let embed = node("embed", None, &[(10_000, 99), (1_000_000, 1)]);
        let mut count = node("count", None, &[]);
        count.instruments = Instruments {
            counted: true,
            ..Instruments::default()
        };
        count.calls = 7;
        count.items_processed = 7;
        let idle = node("idle", None, &[]);
        snapshot(vec![count, embed, idle, parse])
    }

    #[test]
    fn phase_metrics_golden() {
        let expected = r#"{
  "nodes": [
    {
      "anomalies": null,
      "calls": 7,
      "errors": 0,
      "file": "src/pipeline.rs",
      "items_processed": 7,
      "items_total": 0,
      "latency_histogram": null,
      "line": 12,
      "module_path": "app::pipeline",
      "name": "count",
      "panics": 0,
      "progress": null,
      "throughput": null,
      "total_duration_ms": null,
      "warnings": 0
    },
    {
      "anomalies": {
        "basis": "p99_x3",
        "count": 1,
        "threshold_ms": 0.030141
      },
      "calls": 100,
      "errors": 0,
      "file": "src/pipeline.rs",
      "items_processed": 0,
      "items_total": 0,
      "latency_histogram": {
        "p50_ms": 0.010047,
        "p95_ms": 0.010047,
        "p99_ms": 0.010047
      },
      "line": 12,
      "module_path": "app::pipeline",
      "name": "embed",
      "panics": 0,
      "progress": null,
      "throughput": 0.0,
      "total_duration_ms": 1.99,
      "warnings": 0
    },
    {
      "anomalies": null,
      "calls": 0,
      "errors": 0,
      "file": "src/pipeline.rs",
      "items_processed": 0,
      "items_total": 0,
      "latency_histogram": null,
      "line": 12,
      "module_path": "app::pipeline",
      "name": "idle",
      "panics": 0,
      "progress": null,
      "throughput": null,
      "total_duration_ms": null,
      "warnings": 0
    },
    {
      "anomalies": {
        "basis": "budget_max",
        "count": 2,
        "threshold_ms": 4.0
      },
      "calls": 100,
      "errors": 3,
      "file": "src/pipeline.rs",
      "items_processed": 150,
      "items_total": 200,
      "latency_histogram": {
        "p50_ms": 1.003519,
        "p95_ms": 3.014655,
        "p99_ms": 5.013503
      },
      "line": 12,
      "module_path": "app::pipeline",
      "name": "parse",
      "panics": 0,
      "progress": 0.75,
      "throughput": 1209.6774193548388,
      "total_duration_ms": 124.0,
      "warnings": 5
    }
  ],
  "run_id": "0123456789abcdef",
  "schema": "instrument.phase_metrics/1",
  "taken_at": "2023-11-14T22:13:20.123Z",
  "taken_at_unix_ms": 1700000000123
}
"#;
        assert_eq!(phase_metrics_json(&pipeline()), expected);
    }

    #[test]
    fn latency_histograms_list_timed_nodes_with_their_quantiles() {
        let json: serde_json::Value =
            serde_json::from_str(&latency_histograms_json(&pipeline())).unwrap();
        assert_eq!(json["encoding"], HISTOGRAM_ENCODING);
        assert_eq!(json["schema"], LATENCY_HISTOGRAMS_SCHEMA);
        let nodes = json["nodes"].as_array().unwrap();
        let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["embed", "idle", "parse"]);
        let parse = &nodes[2];
        assert_eq!(parse["count"], 100);
        assert_eq!(parse["duration_ms"], 124.0);
        assert_eq!(parse["items_processed"], 150);
        assert_eq!(parse["latency_histogram"]["p999_ms"], 5.013_503);
        assert_eq!(parse["latency_histogram"]["max_ms"], 5.013_503);
        assert_eq!(nodes[1]["hdr_histogram"], serde_json::Value::Null);
        assert_eq!(nodes[1]["count"], 0);
    }

    #[test]
    fn encoded_histograms_decode_to_the_same_counts() {
        let mut values = vec![
            (1, 1),
            (999, 3),
            (1_000_000, 12_345),
            (3_600_000_000_000, 2),
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((
                (x >> (x % 40 + 22)) % crate::record::histogram::HIGHEST_NS,
                x % 7 + 1,
            ));
        }
        let ours = histogram(&values);
        let original = ours.to_hdr();
        let encoded = encode_histogram(&ours);
        assert!(encoded.starts_with("HISTF"), "{encoded}");
        let mut reference = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(&original, &mut reference)
            .unwrap();
        assert_eq!(
            encoded,
            base64::engine::general_purpose::STANDARD.encode(reference)
        );
        // A reused encoder gives every histogram the encoding a fresh one would.
        let mut reused = HistogramEncoder::new();
        let small = histogram(&[(1_000, 10)]);
        for _ in 0..2 {
            assert_eq!(reused.encode(&ours), encoded);
            assert_eq!(reused.encode(&small), encode_histogram(&small));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .unwrap();
        let decoded: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(decoded, original);
        assert_eq!(decoded.len(), original.len());
        assert_eq!(decoded.distinct_values(), original.distinct_values());
        let counts = |histogram: &Histogram<u64>| -> Vec<(u64, u64)> {
            histogram
                .iter_all()
                .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value()))
                .collect()
        };
        assert_eq!(counts(&decoded), counts(&original));
        assert_eq!(
            (decoded.low(), decoded.high(), decoded.sigfig()),
            (original.low(), original.high(), original.sigfig())
        );
    }

    #[test]
    fn histograms_of_two_runs_merge_after_decoding() {
        let decode = |encoded: &str| -> Histogram<u64> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap();
            Deserializer::new().deserialize(&mut &bytes[..]).unwrap()
        };
        let first = histogram(&[(1_000, 10), (2_000_000, 1)]);
        let second = histogram(&[(1_000, 5), (7_000, 3)]);
        let mut merged = decode(&encode_histogram(&first));
        merged.add(decode(&encode_histogram(&second))).unwrap();
        assert_eq!(merged.len(), 19);
        assert_eq!(merged.count_at(1_000), 15);
    }

    #[test]
    fn anomalies_count_whole_buckets_above_the_threshold() {
        let budgeted = |max_ns| {
            node(
                "n",
                Some(Budget {
                    max_ns: Some(max_ns),
                    ..Budget::DEFAULT
                }),
                &[(1_000_000, 10), (2_000_000, 3), (9_000_000, 1)],
            )
        };
        let count = |node: &NodeSnapshot| anomalies(node).unwrap().count;
        assert_eq!(count(&budgeted(1_500_000)), 4);
        assert_eq!(count(&budgeted(2_000_000)), 1);
        // 1.99 ms shares its bucket with nothing recorded; 2 ms calls are above it.
        assert_eq!(count(&budgeted(1_990_000)), 4);
        assert_eq!(count(&budgeted(9_000_000)), 0);
        // A budget without `max`: three times the p99.
        let no_max = node(
            "n",
            Some(Budget {
                p95_ns: Some(1),
                ..Budget::DEFAULT
            }),
            &[(1_000, 995), (2_000, 4), (50_000, 1)],
        );
        let found = anomalies(&no_max).unwrap();
        assert_eq!(found.basis, "p99_x3");
        assert_eq!(found.count, 1);
        assert!(anomalies(&node("n", None, &[])).is_none());
    }

    #[test]
    fn ratios_need_a_divisor() {
        assert_eq!(ratio(3, 0), None);
        assert_eq!(ratio(3, 4), Some(0.75));
        assert_eq!(per_second(10, 0), None);
        assert_eq!(per_second(10, 2_000_000_000), Some(5.0));
        // The largest rate possible is still a finite number.
        assert!(per_second(u64::MAX, 1).is_some_and(f64::is_finite));
    }

    #[test]
    fn keys_are_sorted_and_output_is_deterministic() {
        let snapshot = pipeline();
        for json in [
            phase_metrics_json(&snapshot),
            latency_histograms_json(&snapshot),
        ] {
            // `serde_json::Value` keeps objects in a `BTreeMap`: re-serializing sorts every key.
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let mut sorted = serde_json::to_string_pretty(&value).unwrap();
            sorted.push('\n');
            assert_eq!(json, sorted);
        }
        assert_eq!(
            latency_histograms_json(&snapshot),
            latency_histograms_json(&snapshot.clone())
        );
    }

    #[test]
    fn an_empty_snapshot_still_makes_valid_files() {
        let empty = snapshot(vec![]);
        assert!(phase_metrics_json(&empty).contains("\"nodes\": [],"));
        assert!(latency_histograms_json(&empty).contains("\"nodes\": [],"));
    }
}
