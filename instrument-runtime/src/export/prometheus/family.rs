//! What is exported: the snapshot as a sorted list of metric families, each with its series.

use std::collections::HashSet;
use std::ops::Deref;

use super::Format;
use super::breakers::breaker_families;
use super::nodes::{memory_families, node_families};
use super::stream::{StreamFigures, stream_families};
use super::text::needs_escaping;
use crate::breaker::snapshot::BreakerSnapshot;
use crate::export::ExportOptions;
use crate::read::budget::{BudgetReport, Quantile};
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::histogram::LatencyHistogram;
use crate::record::procfs::{cpu_time_and_threads, kib_field};
use crate::record::runtime_node::RuntimeNodeCounts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
    /// Constant 1, its labels the information; a gauge in 0.0.4, which has no info type.
    Info,
}

impl Kind {
    pub(super) fn as_str(self, format: Format) -> &'static str {
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
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) help: &'static str,
    /// The unit, for `OpenMetrics`; the name ends with it.
    pub(super) unit: Option<&'static str>,
    pub(super) series: Vec<Series<'a>>,
    /// Whether the series were pushed in label order, so that they need no sort: sorting forty
    /// thousand series that are already in order cost a twentieth of a scrape.
    pub(super) in_label_order: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Series<'a> {
    pub(super) labels: Labels<'a>,
    pub(super) value: Value<'a>,
}

/// A label value, borrowed from the snapshot, and whether it holds a character to escape:
/// known when the value is made, so that a node's name is checked once per render rather than
/// once for each of its thirty series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LabelValue<'a> {
    pub(super) text: &'a str,
    pub(super) needs_escaping: bool,
}

impl<'a> From<&'a str> for LabelValue<'a> {
    fn from(text: &'a str) -> Self {
        Self {
            text,
            needs_escaping: needs_escaping(text.as_bytes()),
        }
    }
}

impl<'a> From<&'a String> for LabelValue<'a> {
    fn from(text: &'a String) -> Self {
        text.as_str().into()
    }
}

/// A series' labels: every family has at most two, filled from the first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Labels<'a>([Option<(&'static str, LabelValue<'a>)>; 2]);

impl<'a> Labels<'a> {
    pub(super) const NONE: Self = Self([None, None]);

    pub(super) fn one(key: &'static str, value: impl Into<LabelValue<'a>>) -> Self {
        Self([Some((key, value.into())), None])
    }

    pub(super) fn two(
        (first, first_value): (&'static str, impl Into<LabelValue<'a>>),
        (second, second_value): (&'static str, impl Into<LabelValue<'a>>),
    ) -> Self {
        Self([
            Some((first, first_value.into())),
            Some((second, second_value.into())),
        ])
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&'static str, LabelValue<'a>)> + '_ {
        self.0.iter().flatten().copied()
    }

    /// The keys, which the lines of a family mostly share.
    pub(super) fn keys(&self) -> [Option<&'static str>; 2] {
        self.0.map(|label| label.map(|(key, _)| key))
    }

    /// The values, unescaped, in the order series are sorted by.
    fn sort_key(&self) -> [Option<&'a str>; 2] {
        self.0.map(|label| label.map(|(_, value)| value.text))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value<'a> {
    /// A count.
    Int(u64),
    /// A duration in nanoseconds, written in seconds.
    Seconds(u64),
    Float(f64),
    /// Boxed: a scrape holds tens of thousands of series, one in twenty a histogram.
    Histogram(Box<Buckets<'a>>),
}

/// A latency histogram in the Prometheus layout: its bounds, and the histogram the writer counts
/// the calls at each from, so that no list of counts is built per node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Buckets<'a> {
    /// Upper bounds in nanoseconds, increasing.
    pub(crate) bounds_ns: Vec<u64>,
    pub(crate) histogram: &'a LatencyHistogram,
    /// Sum of the recorded latencies, in nanoseconds.
    pub(crate) sum_ns: u64,
    /// Calls recorded: the `+Inf` bucket and `_count`.
    pub(crate) count: u64,
}

impl Buckets<'_> {
    /// Each upper bound in nanoseconds with the cumulative count at it.
    pub(crate) fn cumulative(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.histogram.counts_at_or_below(&self.bounds_ns)
    }

    /// Asks the cache for the chunks [`cumulative`](Self::cumulative) will read.
    pub(super) fn prefetch_chunks(&self) {
        self.histogram.prefetch_chunks_at(&self.bounds_ns);
    }
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

/// The bucket bounds of every node of one render: the default bounds are converted to
/// nanoseconds once, not once per node.
pub(super) struct BucketBounds<'o> {
    options: &'o ExportOptions,
    default_ns: Vec<u64>,
}

impl<'o> BucketBounds<'o> {
    pub(super) fn new(options: &'o ExportOptions) -> Self {
        Self {
            options,
            default_ns: configured_ns(&options.buckets_ms),
        }
    }

    /// The bucket bounds of `node`, in nanoseconds: its configured bounds (milliseconds,
    /// rounded to the nanosecond; non-positive and non-finite ones dropped) plus the allowance of
    /// each of its budgets, sorted and without repeats.
    pub(super) fn of(&self, node: &NodeSnapshot) -> Vec<u64> {
        let configured = self.options.buckets_for(&node.name);
        let mut bounds = if std::ptr::eq(configured, self.options.buckets_ms.as_slice()) {
            // Room for the allowances, so that adding them does not move the bounds.
            let mut bounds = Vec::with_capacity(self.default_ns.len() + Quantile::ALL.len());
            bounds.extend_from_slice(&self.default_ns);
            bounds
        } else {
            configured_ns(configured)
        };
        add_allowances(node, &mut bounds);
        bounds
    }
}

/// Bounds in milliseconds as nanoseconds, non-positive and non-finite ones dropped, with room
/// for a node's allowances.
fn configured_ns(configured_ms: &[f64]) -> Vec<u64> {
    // A vector sorted once: a scrape sizes a thousand of these, a tree would allocate each node.
    let mut bounds = Vec::with_capacity(configured_ms.len() + Quantile::ALL.len());
    bounds.extend(
        (configured_ms.iter())
            .filter(|ms| ms.is_finite() && **ms > 0.0)
            .map(|ms| ms_to_ns(*ms)),
    );
    bounds.sort_unstable();
    bounds.dedup();
    bounds
}

/// Adds the allowance of each of the node's budgets to its sorted `bounds`, keeping them sorted
/// and without repeats.
fn add_allowances(node: &NodeSnapshot, bounds: &mut Vec<u64>) {
    if let Some(budget) = &node.budget {
        for quantile in Quantile::ALL {
            if let Some(budget_ns) = quantile.budget_in(budget) {
                let allowance = budget.allowed_ns(budget_ns).max(1);
                // A few allowances into a dozen bounds: an insertion each, not a sort.
                if let Err(at) = bounds.binary_search(&allowance) {
                    bounds.insert(at, allowance);
                }
            }
        }
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a positive, finite bound; the cast saturates above 584 years"
)]
pub(super) fn ms_to_ns(ms: f64) -> u64 {
    ((ms * 1e6).round() as u64).max(1)
}

/// Cumulative counts at each bound: a recorded value counts under a bound when the histogram
/// cannot tell it from a value at or below the bound, that is when the lowest value of its
/// HDR slot is at or below it (`Histogram::count_between(0, bound)`). So a call of exactly 1 ms
/// is in the `le="0.001"` bucket; the error is the histogram's, below 0.79%. A node without a
/// histogram has no calls, and every count is 0.
pub(crate) fn buckets(
    histogram: Option<&LatencyHistogram>,
    bounds_ns: Vec<u64>,
    sum_ns: u64,
) -> Buckets<'_> {
    static NO_CALLS: LatencyHistogram = LatencyHistogram::new();
    match histogram {
        Some(histogram) => Buckets {
            bounds_ns,
            histogram,
            sum_ns,
            count: histogram.len(),
        },
        None => Buckets {
            bounds_ns,
            histogram: &NO_CALLS,
            sum_ns: 0,
            count: 0,
        },
    }
}

/// Node names claimed by several functions are exported once, for the first one; and whether
/// the items come sorted by name.
pub(super) fn unique_by_name<T>(items: &[T], name: impl Fn(&T) -> &str) -> (Vec<&T>, bool) {
    // A snapshot's items come sorted by name, so repeats are neighbours: comparing each name
    // with the one before costs a fraction of hashing every name, per scrape.
    if items.is_sorted_by(|a, b| name(a) <= name(b)) {
        let mut unique: Vec<&T> = Vec::with_capacity(items.len());
        for item in items {
            if unique.last().is_none_or(|last| name(last) != name(item)) {
                unique.push(item);
            }
        }
        return (unique, true);
    }
    let mut seen = HashSet::with_capacity(items.len());
    let unique = (items.iter())
        .filter(|item| seen.insert(name(item)))
        .collect();
    (unique, false)
}

/// A node and its name as a label value, checked for characters to escape once per render.
/// Derefs to the node.
#[derive(Clone, Copy)]
pub(super) struct NamedNode<'a> {
    pub(super) node: &'a NodeSnapshot,
    /// The node's name, as a label value.
    pub(super) label: LabelValue<'a>,
}

impl Deref for NamedNode<'_> {
    type Target = NodeSnapshot;

    fn deref(&self) -> &NodeSnapshot {
        self.node
    }
}

pub(super) struct Builder<'a> {
    pub(super) prefix: String,
    pub(super) families: Vec<Family<'a>>,
    /// Nodes or breakers the next families describe: the usual number of series in each.
    pub(super) subjects: usize,
    /// Whether the subjects come sorted by name, each once: then a family that pushes their
    /// series subject by subject, each subject's in label order, is sorted as built.
    pub(super) subjects_sorted: bool,
}

impl<'a> Builder<'a> {
    pub(super) fn family(
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
            in_label_order: self.subjects_sorted,
        });
        &mut self.families.last_mut().expect("just pushed").series
    }

    /// Marks the family built last as pushed out of label order, to be sorted.
    pub(super) fn unordered(&mut self) {
        self.families.last_mut().expect("a family").in_label_order = false;
    }
}

/// The nodes created at run time against their cap: a cap reached shows here, not as an
/// ever-growing number of series.
fn runtime_node_families(builder: &mut Builder<'_>, runtime: &RuntimeNodeCounts) {
    let families = [
        (
            "runtime_nodes",
            Kind::Gauge,
            "Nodes the program created at run time.",
            runtime.created,
        ),
        (
            "runtime_nodes_cap",
            Kind::Gauge,
            "The most nodes the program may create at run time.",
            runtime.cap,
        ),
        (
            "runtime_nodes_refused_total",
            Kind::Counter,
            "Runtime nodes not created because the cap was reached; their calls are in the overflow node.",
            runtime.refused,
        ),
    ];
    for (name, kind, help, value) in families {
        builder.family(name, kind, None, help).push(Series {
            labels: Labels::NONE,
            value: Value::Int(value),
        });
    }
}

pub(super) fn node_label<'a>(node: &NamedNode<'a>) -> Labels<'a> {
    Labels::one("node", node.label)
}

pub(super) fn statistic_labels<'a>(node: &NamedNode<'a>, quantile: Quantile) -> Labels<'a> {
    Labels::two(("node", node.label), ("statistic", quantile.as_str()))
}

pub(super) fn breaker_label(breaker: &BreakerSnapshot) -> Labels<'_> {
    Labels::one("breaker", &breaker.name)
}

/// What is exported of the snapshot: [`families_with`] without the stream's figures, as the
/// tests compare it.
#[cfg(test)]
pub(crate) fn families<'a>(
    snapshot: &'a Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
    process: Option<&ProcessMetrics>,
) -> Vec<Family<'a>> {
    families_with(snapshot, budgets, options, process, None)
}

/// What is exported: every family, sorted by name, each with its series sorted by label values.
/// Families without series are left out.
pub(crate) fn families_with<'a>(
    snapshot: &'a Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
    process: Option<&ProcessMetrics>,
    stream: Option<&'a StreamFigures>,
) -> Vec<Family<'a>> {
    let (nodes, nodes_sorted) = unique_by_name(&snapshot.nodes, |node| &node.name);
    let nodes: Vec<NamedNode<'a>> = (nodes.into_iter())
        .map(|node| NamedNode {
            node,
            label: node.name.as_str().into(),
        })
        .collect();
    let (breakers, breakers_sorted) = unique_by_name(&snapshot.breakers, |breaker| &breaker.name);
    let mut builder = Builder {
        prefix: sanitize_prefix(&options.prefix),
        families: Vec::new(),
        subjects: nodes.len(),
        subjects_sorted: nodes_sorted,
    };
    node_families(&mut builder, &nodes, budgets, options);
    memory_families(&mut builder, &nodes, snapshot);
    builder.subjects = breakers.len();
    builder.subjects_sorted = breakers_sorted;
    breaker_families(&mut builder, &breakers);
    // The rest hold a series or two each, or series in the order of their source.
    builder.subjects_sorted = false;
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
    if let Some(runtime) = &snapshot.runtime_nodes {
        runtime_node_families(&mut builder, runtime);
    }
    if let Some(stream) = stream {
        stream_families(&mut builder, stream);
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
        if !family.in_label_order {
            family.series.sort_by_key(|series| series.labels.sort_key());
        }
        debug_assert!(
            (family.series).is_sorted_by_key(|series| series.labels.sort_key()),
            "{} built out of label order",
            family.name
        );
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    families
}
