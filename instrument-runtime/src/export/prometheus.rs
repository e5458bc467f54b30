//! The snapshot as Prometheus metrics: the text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>) and
//! `OpenMetrics` 1.0 (<https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>).
//!
//! Rendering is two steps: the snapshot becomes a sorted list of [`Family`]s (what is exported),
//! then one writer prints them in either format (how it is spelled). Every family has HELP and
//! TYPE; families are sorted by name and series by label values, so the same snapshot always
//! renders to the same bytes. A node name claimed by two functions (a conflict, see
//! [`conflicts`](crate::record::conflicts)) is told apart in the snapshot, each named with its site, so
//! each is exported; a snapshot built by hand that still repeats a name is exported once, for
//! the first node, as [`Snapshot::node`] finds it: two series with one label set would be
//! silently merged by every Prometheus reader.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::breaker::snapshot::BreakerSnapshot;
use crate::export::ExportOptions;
use crate::read::budget::{BudgetReport, Quantile};
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::alloc::NodeMemory;
use crate::record::histogram::LatencyHistogram;
use crate::record::procfs::{cpu_time_and_threads, kib_field};

/// The latency histogram family; its samples are `_bucket`, `_sum` and `_count`.
pub(crate) const NODE_LATENCY: &str = "node_latency_seconds";
/// Calls that ended, per node.
pub(crate) const NODE_CALLS: &str = "node_calls_total";
/// A breaker's state: 0 closed, 1 half-open, 2 open.
pub(crate) const BREAKER_STATE: &str = "breaker_state";
/// A breaker's state changes, by `transition`.
pub(crate) const BREAKER_TRANSITIONS: &str = "breaker_transitions_total";
/// Recoveries (probing allowed to closed) that took longer than the breaker's recovery SLA.
pub(crate) const BREAKER_SLA_VIOLATIONS: &str = "breaker_recovery_sla_violations_total";

/// Renders the snapshot in the Prometheus text exposition format 0.0.4, the content of
/// `performance_metrics.prom`.
///
/// Per node: calls, errors, panics and cancellations as `_total`
/// counters; the in-flight gauge (with `#[counted(in_flight)]`); for timed nodes the latency
/// histogram `node_latency_seconds` (buckets of [`ExportOptions::buckets_for`], plus each
/// budget's allowance so that the generated alerts compare against a bucket bound), and the
/// observed `p50`, `p90`, `p95`, `p99` and `max` as the gauge `node_latency_quantile_seconds`
/// with a `statistic` label; for budgeted nodes each budget, the tolerance, whether the node was
/// judged and a 0/1 violation gauge per budgeted statistic. Per circuit breaker: the state
/// gauge (0 closed, 1 half-open, 2 open), transitions by `transition`, calls, failures, slow
/// calls, rejections, fallbacks, recoveries and recovery-SLA violations as counters, the SLA and
/// the health gauge. Per node measured by the [`CountingAllocator`](crate::CountingAllocator):
/// allocations and allocated bytes as counters, the peak live bytes of a call as a gauge. On
/// Linux, the process's resident memory, its peak and CPU seconds.
///
/// Every name starts with [`ExportOptions::prefix`], with characters a metric name cannot hold
/// replaced by `_`. A pure function of its arguments, except for the two process metrics, read
/// when it is called.
///
/// ```
/// use instrument_runtime::{check_budgets, export::{ExportOptions, prometheus_text}, snapshot};
///
/// #[instrument_runtime::timed(name = "prometheus_text_doc")]
/// fn step() {}
///
/// step();
/// let snapshot = snapshot();
/// let text = prometheus_text(&snapshot, &check_budgets(&snapshot), &ExportOptions::default());
/// assert!(text.contains("# TYPE instrument_node_latency_seconds histogram\n"));
/// assert!(text.contains("instrument_node_calls_total{node=\"prometheus_text_doc\"} 1\n"));
/// assert!(text.contains("instrument_node_latency_seconds_count{node=\"prometheus_text_doc\"} 1\n"));
/// ```
pub fn prometheus_text(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
) -> String {
    let process = ProcessMetrics::current();
    render(
        &families(snapshot, budgets, options, process.as_ref()),
        Format::Prometheus,
    )
}

/// Renders the snapshot in the `OpenMetrics` 1.0 text format: the metrics of
/// [`prometheus_text`], with counter families named without `_total`, a `UNIT` line on
/// families that carry a unit, and the closing `# EOF`.
///
/// ```
/// use instrument_runtime::{check_budgets, export::{ExportOptions, openmetrics_text}, snapshot};
///
/// #[instrument_runtime::counted(name = "openmetrics_text_doc")]
/// fn step() {}
///
/// step();
/// let snapshot = snapshot();
/// let text = openmetrics_text(&snapshot, &check_budgets(&snapshot), &ExportOptions::default());
/// assert!(text.contains("# TYPE instrument_node_calls counter\n"));
/// assert!(text.contains("instrument_node_calls_total{node=\"openmetrics_text_doc\"} 1\n"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub fn openmetrics_text(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
) -> String {
    let process = ProcessMetrics::current();
    render(
        &families(snapshot, budgets, options, process.as_ref()),
        Format::OpenMetrics,
    )
}

/// The two text formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Text exposition format 0.0.4.
    Prometheus,
    /// `OpenMetrics` 1.0.
    OpenMetrics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    /// Constant 1, its labels the information; a gauge in 0.0.4, which has no info type.
    Info,
}

impl Kind {
    fn as_str(self, format: Format) -> &'static str {
        match (self, format) {
            (Self::Counter, _) => "counter",
            (Self::Gauge, _) | (Self::Info, Format::Prometheus) => "gauge",
            (Self::Histogram, _) => "histogram",
            (Self::Info, Format::OpenMetrics) => "info",
        }
    }
}

/// One metric family: a name, what it means, and its series.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family<'a> {
    /// The full name as in the 0.0.4 format (counters end with `_total`).
    name: String,
    kind: Kind,
    help: &'static str,
    /// The unit, for `OpenMetrics`; the name ends with it.
    unit: Option<&'static str>,
    series: Vec<Series<'a>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Series<'a> {
    labels: Labels<'a>,
    value: Value,
}

/// A series' labels, borrowed from the snapshot: every family has at most two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Labels<'a>([Option<(&'static str, &'a str)>; 2]);

impl<'a> Labels<'a> {
    const NONE: Self = Self([None, None]);

    fn one(key: &'static str, value: &'a str) -> Self {
        Self([Some((key, value)), None])
    }

    fn two(first: (&'static str, &'a str), second: (&'static str, &'a str)) -> Self {
        Self([Some(first), Some(second)])
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &'a str)> + '_ {
        self.0.iter().flatten().copied()
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    /// A count.
    Int(u64),
    /// A duration in nanoseconds, written in seconds.
    Seconds(u64),
    Float(f64),
    /// Boxed: a scrape holds tens of thousands of series, one in twenty a histogram.
    Histogram(Box<Buckets>),
}

/// A latency histogram in the Prometheus layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Buckets {
    /// Upper bounds in nanoseconds, increasing, with the cumulative count at each.
    pub(crate) cumulative: Vec<(u64, u64)>,
    /// Sum of the recorded latencies, in nanoseconds.
    pub(crate) sum_ns: u64,
    /// Calls recorded: the `+Inf` bucket and `_count`.
    pub(crate) count: u64,
}

/// The resource use of this process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ProcessMetrics {
    pub(crate) resident_memory_bytes: u64,
    pub(crate) cpu_seconds: f64,
}

impl ProcessMetrics {
    /// Reads `/proc/self/status` and `/proc/self/stat`; `None` where they are not available.
    pub(crate) fn current() -> Option<Self> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let (cpu, _) = cpu_time_and_threads().ok()?;
        Some(Self {
            resident_memory_bytes: kib_field(&status, "VmRSS:")?.checked_mul(1024)?,
            cpu_seconds: cpu.as_secs_f64(),
        })
    }
}

/// The metric name prefix, sanitized: every character outside `[a-zA-Z0-9_]` becomes `_`
/// (colons are valid but reserved for recording rules), and a leading digit gets a `_` before it.
pub(crate) fn sanitize_prefix(prefix: &str) -> String {
    let mut sanitized: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if sanitized.starts_with(|c: char| c.is_ascii_digit()) {
        sanitized.insert(0, '_');
    }
    sanitized
}

/// Appends a label value, escaped: backslash, double quote and line feed.
fn write_escaped_label_value(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(at) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Escapes HELP text: backslash and line feed (and, for `OpenMetrics`, double quote).
fn escape_help(help: &str, format: Format) -> String {
    let mut escaped = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if format == Format::OpenMetrics => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Nanoseconds as an exact decimal number of seconds: `1500000` is `0.0015`.
pub(crate) fn seconds(ns: u64) -> String {
    let mut text = String::new();
    push_seconds(&mut text, ns);
    text
}

/// Appends nanoseconds as an exact decimal number of seconds. Integers are written with `itoa`
/// rather than `fmt`: a scrape of a thousand nodes writes some forty thousand numbers.
fn push_seconds(out: &mut String, ns: u64) {
    let (whole, mut fraction) = (ns / 1_000_000_000, ns % 1_000_000_000);
    out.push_str(itoa::Buffer::new().format(whole));
    if fraction == 0 {
        return;
    }
    let mut digits = 9;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    let mut buffer = itoa::Buffer::new();
    let fraction = buffer.format(fraction);
    out.push('.');
    out.extend(std::iter::repeat_n('0', digits - fraction.len()));
    out.push_str(fraction);
}

/// Appends a float as Prometheus spells it.
fn push_float(out: &mut String, value: f64) {
    match value {
        value if value.is_nan() => out.push_str("NaN"),
        value if value.is_infinite() => out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" }),
        // Writing into a `String` cannot fail.
        value => drop(write!(out, "{value}")),
    }
}

/// The bucket bounds of one node, in nanoseconds: its configured bounds (milliseconds, rounded
/// to the nanosecond; non-positive and non-finite ones dropped) plus the allowance of each of its
/// budgets, sorted and without repeats.
pub(crate) fn bucket_bounds_ns(node: &NodeSnapshot, options: &ExportOptions) -> Vec<u64> {
    let configured = options.buckets_for(&node.name);
    // A vector sorted once: a scrape sizes a thousand of these, a tree would allocate each node.
    let mut bounds = Vec::with_capacity(configured.len() + Quantile::ALL.len());
    bounds.extend(
        (configured.iter())
            .filter(|ms| ms.is_finite() && **ms > 0.0)
            .map(|ms| ms_to_ns(*ms)),
    );
    if let Some(budget) = &node.budget {
        for quantile in Quantile::ALL {
            if let Some(budget_ns) = quantile.budget_in(budget) {
                bounds.push(budget.allowed_ns(budget_ns).max(1));
            }
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    bounds
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a positive, finite bound; the cast saturates above 584 years"
)]
fn ms_to_ns(ms: f64) -> u64 {
    ((ms * 1e6).round() as u64).max(1)
}

/// Cumulative counts at each bound: a recorded value counts under a bound when the histogram
/// cannot tell it from a value at or below the bound, that is when the lowest value of its
/// HDR slot is at or below it (`Histogram::count_between(0, bound)`). So a call of exactly 1 ms
/// is in the `le="0.001"` bucket; the error is the histogram's, below 0.79%.
pub(crate) fn buckets(histogram: &LatencyHistogram, bounds_ns: &[u64], sum_ns: u64) -> Buckets {
    Buckets {
        cumulative: histogram.counts_at_or_below(bounds_ns),
        sum_ns,
        count: histogram.len(),
    }
}

/// Node names claimed by several functions are exported once, for the first one.
fn unique_by_name<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .filter(|item| seen.insert(name(item)))
        .collect()
}

struct Builder<'a> {
    prefix: String,
    families: Vec<Family<'a>>,
    /// Nodes or breakers the next families describe: the usual number of series in each.
    subjects: usize,
}

impl<'a> Builder<'a> {
    fn family(
        &mut self,
        name: &str,
        kind: Kind,
        unit: Option<&'static str>,
        help: &'static str,
    ) -> &mut Vec<Series<'a>> {
        self.families.push(Family {
            name: format!("{}{name}", self.prefix),
            kind,
            help,
            unit,
            series: Vec::with_capacity(self.subjects),
        });
        &mut self.families.last_mut().expect("just pushed").series
    }
}

fn node_label(node: &NodeSnapshot) -> Labels<'_> {
    Labels::one("node", &node.name)
}

fn statistic_labels(node: &NodeSnapshot, quantile: Quantile) -> Labels<'_> {
    Labels::two(("node", &node.name), ("statistic", quantile.as_str()))
}

fn breaker_label(breaker: &BreakerSnapshot) -> Labels<'_> {
    Labels::one("breaker", &breaker.name)
}

/// What is exported: every family, sorted by name, each with its series sorted by label values.
/// Families without series are left out.
pub(crate) fn families<'a>(
    snapshot: &'a Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
    process: Option<&ProcessMetrics>,
) -> Vec<Family<'a>> {
    let nodes = unique_by_name(&snapshot.nodes, |node| &node.name);
    let breakers = unique_by_name(&snapshot.breakers, |breaker| &breaker.name);
    let mut builder = Builder {
        prefix: sanitize_prefix(&options.prefix),
        families: Vec::new(),
        subjects: nodes.len(),
    };
    node_families(&mut builder, &nodes, budgets, options);
    memory_families(&mut builder, &nodes, snapshot);
    builder.subjects = breakers.len();
    breaker_families(&mut builder, &breakers);
    if !snapshot.run_id.is_empty() {
        builder
            .family(
                "run_info",
                Kind::Info,
                None,
                "The run the figures come from: the run_id of its report.json and exports.",
            )
            .push(Series {
                labels: Labels::one("run_id", &snapshot.run_id),
                value: Value::Int(1),
            });
    }
    if let Some(process) = process {
        builder
            .family(
                "process_resident_memory_bytes",
                Kind::Gauge,
                Some("bytes"),
                "Resident memory size of the process, in bytes.",
            )
            .push(Series {
                labels: Labels::NONE,
                value: Value::Int(process.resident_memory_bytes),
            });
        builder
            .family(
                "process_cpu_seconds_total",
                Kind::Counter,
                Some("seconds"),
                "User and system CPU time spent by the process, in seconds.",
            )
            .push(Series {
                labels: Labels::NONE,
                value: Value::Float(process.cpu_seconds),
            });
    }
    let mut families = builder.families;
    families.retain(|family| !family.series.is_empty());
    for family in &mut families {
        // Labels fill from the first, so comparing the pairs compares the value lists.
        family
            .series
            .sort_by_key(|series| series.labels.0.map(|label| label.map(|(_, value)| value)));
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    families
}

/// The statistics in the order of their `statistic` label: nodes come sorted by name, so series
/// pushed in this order are already sorted, and sorting them costs one pass, not a merge sort of
/// tens of thousands of series per scrape.
const BY_LABEL: [Quantile; 5] = [
    Quantile::Max,
    Quantile::P50,
    Quantile::P90,
    Quantile::P95,
    Quantile::P99,
];

/// A node's value for one of its count families; `None` leaves the node out of it.
type NodeCount = fn(&NodeSnapshot) -> Option<u64>;

#[allow(
    clippy::too_many_lines,
    reason = "one flat list of families, each a few lines"
)]
fn node_families<'a>(
    builder: &mut Builder<'a>,
    nodes: &[&'a NodeSnapshot],
    budgets: &BudgetReport,
    options: &ExportOptions,
) {
    // The per-node counts: a node gets a series where its value is `Some`.
    let counts: [(&str, Kind, &str, NodeCount); 5] = [
        (
            NODE_CALLS,
            Kind::Counter,
            "Calls of the node that ended: returned, with or without an error, or panicked.",
            |node| Some(node.calls),
        ),
        (
            "node_errors_total",
            Kind::Counter,
            "Calls of the node whose return value was a failure.",
            |node| Some(node.errors),
        ),
        (
            "node_panics_total",
            Kind::Counter,
            "Calls of the node that panicked.",
            |node| Some(node.panics),
        ),
        (
            "node_cancellations_total",
            Kind::Counter,
            "Async calls of the node dropped before completing.",
            |node| Some(node.cancelled),
        ),
        (
            "node_in_flight",
            Kind::Gauge,
            "Calls of the node running now (nodes with #[counted(in_flight)]).",
            |node| node.in_flight,
        ),
    ];
    for (name, kind, help, count) in counts {
        let series = builder.family(name, kind, None, help);
        for node in nodes {
            if let Some(value) = count(node) {
                series.push(Series {
                    labels: node_label(node),
                    value: Value::Int(value),
                });
            }
        }
    }
    let series = builder.family(
        NODE_LATENCY,
        Kind::Histogram,
        Some("seconds"),
        "Latency of the node's calls, in seconds.",
    );
    for node in nodes.iter().filter(|node| node.instruments.timed) {
        let bounds = bucket_bounds_ns(node, options);
        let value = match &node.histogram {
            Some(histogram) => buckets(histogram, &bounds, node.sum_ns),
            None => Buckets {
                cumulative: bounds.iter().map(|&bound| (bound, 0)).collect(),
                sum_ns: 0,
                count: 0,
            },
        };
        series.push(Series {
            labels: node_label(node),
            value: Value::Histogram(Box::new(value)),
        });
    }
    // The next three families hold a series per statistic of each node.
    let subjects = builder.subjects;
    builder.subjects = subjects * Quantile::ALL.len();
    let series = builder.family(
        "node_latency_quantile_seconds",
        Kind::Gauge,
        Some("seconds"),
        "Latency of the node's calls at a statistic (p50, p90, p95, p99, max) since the start, in seconds.",
    );
    for node in nodes {
        if let Some(latency) = &node.latency {
            for quantile in BY_LABEL {
                series.push(Series {
                    labels: statistic_labels(node, quantile),
                    value: Value::Seconds(quantile.observed_in(latency)),
                });
            }
        }
    }
    let budgeted: Vec<_> = nodes
        .iter()
        .filter_map(|node| Some((*node, node.budget.as_ref()?)))
        .collect();
    let series = builder.family(
        "node_latency_budget_seconds",
        Kind::Gauge,
        Some("seconds"),
        "Latency budget declared for a statistic of the node, before tolerance, in seconds.",
    );
    for (node, budget) in &budgeted {
        for quantile in BY_LABEL {
            if let Some(budget_ns) = quantile.budget_in(budget) {
                series.push(Series {
                    labels: statistic_labels(node, quantile),
                    value: Value::Seconds(budget_ns),
                });
            }
        }
    }
    builder.subjects = subjects;
    let series = builder.family(
        "node_latency_budget_tolerance_ratio",
        Kind::Gauge,
        Some("ratio"),
        "How far over budget a statistic of the node may go before it fails, as a fraction.",
    );
    for (node, budget) in &budgeted {
        series.push(Series {
            labels: node_label(node),
            value: Value::Float(budget.tolerance),
        });
    }
    let series = builder.family(
        "node_latency_budget_judged",
        Kind::Gauge,
        None,
        "1 when the node had enough calls for its budget to be judged, 0 when not exercised.",
    );
    // Sets, not a search of the report per node: a thousand budgeted nodes would make that
    // millions of name comparisons per scrape.
    let not_exercised: HashSet<&str> = (budgets.not_exercised.iter())
        .map(|entry| entry.node.as_str())
        .collect();
    let violations: HashSet<(&str, Quantile)> = (budgets.violations.iter())
        .map(|violation| (violation.node.as_str(), violation.quantile))
        .collect();
    for (node, _) in &budgeted {
        let judged = !not_exercised.contains(node.name.as_str());
        series.push(Series {
            labels: node_label(node),
            value: Value::Int(u64::from(judged)),
        });
    }
    builder.subjects = subjects * Quantile::ALL.len();
    let series = builder.family(
        "node_latency_budget_violation",
        Kind::Gauge,
        None,
        "1 when a judged statistic of the node is over its budget plus tolerance, else 0.",
    );
    for (node, budget) in &budgeted {
        for quantile in BY_LABEL {
            if quantile.budget_in(budget).is_some() {
                let violated = violations.contains(&(node.name.as_str(), quantile));
                series.push(Series {
                    labels: statistic_labels(node, quantile),
                    value: Value::Int(u64::from(violated)),
                });
            }
        }
    }
    builder.subjects = subjects;
}

/// What the counting allocator measured, per node (nodes without a measured call are left out),
/// and the process's peak resident memory.
fn memory_families<'a>(builder: &mut Builder<'a>, nodes: &[&'a NodeSnapshot], snapshot: &Snapshot) {
    type MemoryFamily = (
        &'static str,
        Kind,
        Option<&'static str>,
        &'static str,
        fn(&NodeMemory) -> u64,
    );
    let families: [MemoryFamily; 3] = [
        (
            "node_allocations_total",
            Kind::Counter,
            None,
            "Heap allocations made by the node's own code (a realloc counts as one), with the counting allocator.",
            |memory| memory.allocations,
        ),
        (
            "node_allocated_bytes_total",
            Kind::Counter,
            Some("bytes"),
            "Bytes the node's own heap allocations asked for, with the counting allocator.",
            |memory| memory.bytes,
        ),
        (
            "node_peak_live_bytes",
            Kind::Gauge,
            Some("bytes"),
            "The most the thread's heap grew during one call of the node, nested calls included, in bytes.",
            |memory| memory.peak_live_bytes,
        ),
    ];
    for (name, kind, unit, help, value) in families {
        let series = builder.family(name, kind, unit, help);
        for node in nodes {
            if let Some(memory) = &node.memory {
                series.push(Series {
                    labels: node_label(node),
                    value: Value::Int(value(memory)),
                });
            }
        }
    }
    if let Some(process) = &snapshot.process {
        builder
            .family(
                "process_peak_resident_memory_bytes",
                Kind::Gauge,
                Some("bytes"),
                "The largest resident memory size of the process so far, in bytes.",
            )
            .push(Series {
                labels: Labels::NONE,
                value: Value::Int(process.peak_rss_bytes),
            });
    }
}

/// A counter of every breaker: its name, its help and how to read it.
type BreakerCounter = (&'static str, &'static str, fn(&BreakerSnapshot) -> u64);

#[allow(
    clippy::too_many_lines,
    reason = "one flat list of families, each a few lines"
)]
fn breaker_families<'a>(builder: &mut Builder<'a>, breakers: &[&'a BreakerSnapshot]) {
    let series = builder.family(
        BREAKER_STATE,
        Kind::Gauge,
        None,
        "State of the circuit breaker: 0 closed, 1 half-open, 2 open.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Int(u64::from(breaker.state_gauge)),
        });
    }
    let series = builder.family(
        BREAKER_TRANSITIONS,
        Kind::Counter,
        None,
        "State changes of the circuit breaker, by transition: opened, half_opened, closed.",
    );
    for breaker in breakers {
        let counts = breaker.transitions;
        for (transition, count) in [
            ("closed", counts.closed),
            ("half_opened", counts.half_opened),
            ("opened", counts.opened),
        ] {
            series.push(Series {
                labels: Labels::two(("breaker", &breaker.name), ("transition", transition)),
                value: Value::Int(count),
            });
        }
    }
    let counters: [BreakerCounter; 7] = [
        (
            "breaker_calls_total",
            "Calls the circuit breaker let through that ended, probes included.",
            |b| b.calls,
        ),
        (
            "breaker_failures_total",
            "Calls the circuit breaker counted as failures: errors, panics and slow calls.",
            |b| b.failures,
        ),
        (
            "breaker_slow_calls_total",
            "Calls the circuit breaker counted as failures for being slow.",
            |b| b.slow_calls,
        ),
        (
            "breaker_rejections_total",
            "Calls the circuit breaker refused while open or half-open.",
            |b| b.rejected,
        ),
        (
            "breaker_fallbacks_total",
            "Refused calls the fallback served.",
            |b| b.fallbacks,
        ),
        (
            "breaker_recoveries_total",
            "Outages of the circuit breaker that ended: it closed again after opening.",
            |b| b.recoveries.count,
        ),
        (
            BREAKER_SLA_VIOLATIONS,
            "Recoveries of the circuit breaker (from when probing was allowed to closed) that took longer than its recovery SLA.",
            |b| b.recoveries.sla_violations,
        ),
    ];
    for (name, help, value) in counters {
        let series = builder.family(name, Kind::Counter, None, help);
        for breaker in breakers {
            series.push(Series {
                labels: breaker_label(breaker),
                value: Value::Int(value(breaker)),
            });
        }
    }
    let series = builder.family(
        "breaker_recovery_sla_seconds",
        Kind::Gauge,
        Some("seconds"),
        "The recovery SLA of the circuit breaker: the longest it should take to close once probing is allowed, in seconds.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Seconds(breaker.recoveries.sla_ns),
        });
    }
    let series = builder.family(
        "breaker_health",
        Kind::Gauge,
        None,
        "Health of the circuit breaker: 1 healthy, 0.5 degraded, 0 failing.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Float(breaker.health.status.gauge()),
        });
    }
}

/// Prints families in one of the two formats.
pub(crate) fn render(families: &[Family<'_>], format: Format) -> String {
    // Sized from what the lines hold, so that the text is written into one allocation: a
    // thousand nodes make a few megabytes, and every doubling on the way would copy them again.
    let size: usize = families.iter().map(Family::text_size).sum();
    let mut out = String::with_capacity(size + 16);
    // One series' labels, escaped once for all the lines of its histogram.
    let mut labels = String::new();
    for family in families {
        // `OpenMetrics` names a family without the suffix its samples carry.
        let family_name = match (format, family.kind) {
            (Format::OpenMetrics, Kind::Counter) => {
                family.name.strip_suffix("_total").unwrap_or(&family.name)
            }
            (Format::OpenMetrics, Kind::Info) => {
                family.name.strip_suffix("_info").unwrap_or(&family.name)
            }
            _ => &family.name,
        };
        write_metadata(
            &mut out,
            "HELP",
            family_name,
            &escape_help(family.help, format),
        );
        write_metadata(&mut out, "TYPE", family_name, family.kind.as_str(format));
        if let (Format::OpenMetrics, Some(unit)) = (format, family.unit) {
            write_metadata(&mut out, "UNIT", family_name, unit);
        }
        for series in &family.series {
            labels.clear();
            for (key, value) in series.labels.iter() {
                if !labels.is_empty() {
                    labels.push(',');
                }
                labels.push_str(key);
                labels.push_str("=\"");
                write_escaped_label_value(&mut labels, value);
                labels.push('"');
            }
            write_series(&mut out, &family.name, &labels, &series.value, format);
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn write_metadata(out: &mut String, keyword: &str, name: &str, text: &str) {
    out.push_str("# ");
    out.push_str(keyword);
    out.push(' ');
    out.push_str(name);
    out.push(' ');
    out.push_str(text);
    out.push('\n');
}

/// A sample's value, or a bucket's bound.
#[derive(Clone, Copy)]
enum Number {
    Int(u64),
    /// Nanoseconds, written in seconds.
    Seconds(u64),
    Float(f64),
    /// A bucket bound in nanoseconds, written in seconds; `OpenMetrics` writes bounds as floats,
    /// as its reference clients do (`1.0`).
    Bound(u64, Format),
    PlusInf,
}

impl Number {
    /// Characters it is written in: exact for counts and seconds, at most for a bound (which
    /// gets `.0` only in `OpenMetrics`), a guess of 24 for a float (a wrong guess only costs the
    /// buffer one growth).
    fn len(self) -> usize {
        let digits = |value: u64| value.checked_ilog10().map_or(1, |log| log as usize + 1);
        let seconds = |ns: u64| {
            let mut fraction = ns % 1_000_000_000;
            // A point and the digits up to the last non-zero one.
            let mut decimals = if fraction == 0 { 0 } else { 10 };
            while fraction != 0 && fraction.is_multiple_of(10) {
                fraction /= 10;
                decimals -= 1;
            }
            digits(ns / 1_000_000_000) + decimals
        };
        match self {
            Self::Int(value) => digits(value),
            Self::Seconds(ns) => seconds(ns),
            Self::Float(_) => 24,
            Self::Bound(ns, _) => seconds(ns) + 2,
            Self::PlusInf => 4,
        }
    }

    fn push_to(self, out: &mut String) {
        match self {
            Self::Int(value) => out.push_str(itoa::Buffer::new().format(value)),
            Self::Seconds(ns) => push_seconds(out, ns),
            Self::Float(value) => push_float(out, value),
            Self::Bound(ns, format) => {
                push_seconds(out, ns);
                if format == Format::OpenMetrics && ns.is_multiple_of(1_000_000_000) {
                    out.push_str(".0");
                }
            }
            Self::PlusInf => out.push_str("+Inf"),
        }
    }
}

/// `labels` is the series' label pairs, escaped and comma-separated, without braces.
fn write_series(out: &mut String, name: &str, labels: &str, value: &Value, format: Format) {
    match value {
        Value::Int(value) => write_sample(out, name, "", labels, None, Number::Int(*value)),
        Value::Seconds(ns) => write_sample(out, name, "", labels, None, Number::Seconds(*ns)),
        Value::Float(value) => write_sample(out, name, "", labels, None, Number::Float(*value)),
        Value::Histogram(buckets) => {
            for &(bound, count) in &buckets.cumulative {
                let le = Number::Bound(bound, format);
                write_sample(out, name, "_bucket", labels, Some(le), Number::Int(count));
            }
            let count = Number::Int(buckets.count);
            write_sample(out, name, "_bucket", labels, Some(Number::PlusInf), count);
            let sum = Number::Seconds(buckets.sum_ns);
            write_sample(out, name, "_sum", labels, None, sum);
            write_sample(out, name, "_count", labels, None, count);
        }
    }
}

impl Family<'_> {
    /// The bytes its lines take, HELP and TYPE included: exact but for floats, taken as 24.
    fn text_size(&self) -> usize {
        // HELP (escaping at most doubles the text), TYPE and UNIT lines.
        let metadata = 3 * (9 + self.name.len()) + 2 * self.help.len() + 9 + 7;
        let series: usize = (self.series.iter())
            .map(|series| {
                let labels: usize = (series.labels.iter())
                    .map(|(key, value)| key.len() + escaped_len(value) + 4)
                    .sum();
                // The name, the labels in braces, a space and a line feed.
                let line = self.name.len() + labels + 4;
                match &series.value {
                    Value::Int(value) => line + Number::Int(*value).len(),
                    Value::Seconds(ns) => line + Number::Seconds(*ns).len(),
                    Value::Float(value) => line + Number::Float(*value).len(),
                    Value::Histogram(buckets) => {
                        let le = ",le=\"\"".len() + "_bucket".len();
                        // No bucket's count has more digits than the total.
                        let count = Number::Int(buckets.count).len();
                        (buckets.cumulative.iter())
                            .map(|&(bound, _)| {
                                line + le + Number::Bound(bound, Format::OpenMetrics).len() + count
                            })
                            .sum::<usize>()
                            + (line + le + 4 + count)
                            + (line + 4 + Number::Seconds(buckets.sum_ns).len())
                            + (line + 6 + count)
                    }
                }
            })
            .sum();
        metadata + series
    }
}

#[cfg(test)]
impl Family<'_> {
    /// What `text_size` may count above the text for its series' floats and bounds.
    fn rounding(&self) -> usize {
        (self.series.iter())
            .map(|series| match &series.value {
                Value::Float(_) => 24,
                Value::Histogram(buckets) => 2 * buckets.cumulative.len(),
                _ => 0,
            })
            .sum()
    }
}

/// The length of a label value once escaped.
fn escaped_len(value: &str) -> usize {
    value.len()
        + (value.bytes())
            .filter(|byte| matches!(byte, b'\\' | b'"' | b'\n'))
            .count()
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    le: Option<Number>,
    value: Number,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            le.push_to(out);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    value.push_to(out);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::budget::{NotExercised, Violation};
    use crate::read::snapshot::Latency;
    use crate::record::node::Budget;

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
        assert_eq!(bucket_bounds_ns(&custom, &options), [1, 250_000, 5_000_000]);
        let budget = Budget {
            p95_ns: Some(50_000_000),
            p99_ns: Some(100_000_000),
            ..Budget::DEFAULT
        };
        let budgeted = node("budgeted", true, Some(budget), &[]);
        let bounds = bucket_bounds_ns(&budgeted, &options);
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
        let buckets = buckets(&histogram, &bounds, 42);
        for &(bound, count) in &buckets.cumulative {
            assert_eq!(count, reference.count_between(0, bound), "le {bound}");
        }
        assert_eq!(buckets.count, values.len() as u64);
        assert_eq!(buckets.sum_ns, 42);
        // A value exactly on a bound is in its bucket; one a slot above it is not.
        let on_bound = histogram_of_one(1_000_000);
        assert_eq!(
            crate::export::prometheus::buckets(&on_bound, &[1_000_000], 0).cumulative,
            [(1_000_000, 1)]
        );
        let above = histogram_of_one(1_004_000);
        assert_eq!(
            crate::export::prometheus::buckets(&above, &[1_000_000], 0).cumulative,
            [(1_000_000, 0)]
        );
    }

    fn histogram_of_one(value: u64) -> LatencyHistogram {
        histogram(&[value])
    }

    #[test]
    fn bucket_counts_are_cumulative_and_end_at_the_count() {
        let ms = 1_000_000;
        let histogram = histogram(&[ms, ms, 3 * ms, 30 * ms, 30 * ms, 7_000 * ms]);
        let bounds: Vec<u64> = [1, 2, 5, 10, 50, 5000].map(|b| b * ms).to_vec();
        let buckets = buckets(&histogram, &bounds, 0);
        let counts: Vec<u64> = buckets.cumulative.iter().map(|(_, count)| *count).collect();
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
    fn the_text_is_sized_beforehand_to_within_its_help_lines_and_floats() {
        let budget = Budget {
            p95_ns: Some(2_000_000),
            p99_ns: Some(1_500_000_000),
            ..Budget::DEFAULT
        };
        let values = [1, 999, 1_000_000, 3_000_000, 2_500_000_000, 70_000_000_000];
        let snapshot = Snapshot::of(
            vec![
                node("a\"b\\c\nd", true, Some(budget), &values),
                node("plain", true, None, &[]),
                node("counted", false, None, &[]),
            ],
            Vec::new(),
        );
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let families = families(&snapshot, &empty_report(), &ExportOptions::default(), None);
            let text = render(&families, format);
            let size: usize = families.iter().map(Family::text_size).sum();
            // Sized above: HELP text counted twice (escaping), a UNIT line in either format, 24
            // characters per float, `.0` after each bucket bound.
            let slack: usize = (families.iter())
                .map(|family| family.help.len() + family.name.len() + 48 + family.rounding())
                .sum();
            assert!(
                text.len() <= size && size <= text.len() + slack,
                "{format:?}: {} bytes, sized {size}",
                text.len()
            );
        }
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
        assert!(text.contains(
            "instrument_node_latency_budget_violation{node=\"slow\",statistic=\"p50\"} 0\n"
        ));
        assert!(text.contains(
            "instrument_node_latency_budget_violation{node=\"slow\",statistic=\"p99\"} 1\n"
        ));
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
        assert!(
            text.contains("instrument_node_latency_seconds_bucket{node=\"idle\",le=\"5\"} 0\n")
        );
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
}
