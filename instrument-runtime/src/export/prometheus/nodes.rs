//! The families of the nodes: counts, latency histograms, quantiles, budgets and memory.

use super::family::{
    BucketBounds, Builder, Kind, Labels, NamedNode, Series, Value, buckets, node_label,
    statistic_labels,
};
use super::{NODE_CALLS, NODE_LATENCY};
use crate::export::ExportOptions;
use crate::read::budget::{BudgetReport, Quantile};
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::alloc::NodeMemory;
use crate::record::node::Budget;

/// The statistics in the order of their `statistic` label: nodes come sorted by name, so series
/// pushed in this order are already sorted, and sorting them costs one pass, not a merge sort of
/// tens of thousands of series per scrape.
pub(super) const BY_LABEL: [Quantile; 5] = [
    Quantile::Max,
    Quantile::P50,
    Quantile::P90,
    Quantile::P95,
    Quantile::P99,
];

/// A node's value for one of its count families; `None` leaves the node out of it.
pub(super) type NodeCount = fn(&NodeSnapshot) -> Option<u64>;

#[allow(
    clippy::too_many_lines,
    reason = "one flat list of families, each a few lines"
)]
pub(super) fn node_families<'a>(
    builder: &mut Builder<'a>,
    nodes: &[NamedNode<'a>],
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
        "node_outcomes_total",
        Kind::Counter,
        None,
        "Calls of a runtime node by outcome (a route's responses by status class).",
    );
    for node in nodes {
        for (outcome, count) in &node.node.outcomes {
            series.push(Series {
                labels: Labels::two(("node", node.label), ("outcome", outcome.as_str())),
                value: Value::Int(*count),
            });
        }
    }
    // A node's outcomes come in the order they were declared.
    builder.unordered();
    let series = builder.family(
        NODE_LATENCY,
        Kind::Histogram,
        Some("seconds"),
        "Latency of the node's calls, in seconds.",
    );
    let bucket_bounds = BucketBounds::new(options);
    for node in nodes.iter().filter(|node| node.instruments.timed) {
        let bounds = bucket_bounds.of(node);
        let value = buckets(node.node.histogram.as_ref(), bounds, node.sum_ns);
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
        .filter_map(|node| Some((node, node.node.budget.as_ref()?)))
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
    let verdicts = verdicts_of(budgets, &budgeted);
    for ((node, _), verdict) in budgeted.iter().zip(&verdicts) {
        series.push(Series {
            labels: node_label(node),
            value: Value::Int(u64::from(!verdict.not_exercised)),
        });
    }
    builder.subjects = subjects * Quantile::ALL.len();
    let series = builder.family(
        "node_latency_budget_violation",
        Kind::Gauge,
        None,
        "1 when a judged statistic of the node is over its budget plus tolerance, else 0.",
    );
    for ((node, budget), verdict) in budgeted.iter().zip(&verdicts) {
        for quantile in BY_LABEL {
            if quantile.budget_in(budget).is_some() {
                let violated = verdict.violated & 1 << quantile as u8 != 0;
                series.push(Series {
                    labels: statistic_labels(node, quantile),
                    value: Value::Int(u64::from(violated)),
                });
            }
        }
    }
    builder.subjects = subjects;
}

/// What the report says of each budgeted node, in their order: the report's entries sorted by
/// node (the report lists them in the snapshot's order, so sorting them is a pass), then
/// looked up once per node. A search of the report per node would make millions of name
/// comparisons per scrape, and hashing the names cost more than the sort and the lookups.
fn verdicts_of(budgets: &BudgetReport, budgeted: &[(&NamedNode<'_>, &Budget)]) -> Vec<Verdict> {
    let not_exercised = (budgets.not_exercised.iter()).map(|entry| {
        let verdict = Verdict {
            not_exercised: true,
            violated: 0,
        };
        (entry.node.as_str(), verdict)
    });
    let violations = (budgets.violations.iter()).map(|violation| {
        let verdict = Verdict {
            not_exercised: false,
            violated: 1 << violation.quantile as u8,
        };
        (violation.node.as_str(), verdict)
    });
    let mut entries: Vec<(&str, Verdict)> = not_exercised.chain(violations).collect();
    entries.sort_by_key(|&(node, _)| node);
    (budgeted.iter())
        .map(|(node, _)| {
            let name = node.name.as_str();
            let from = entries.partition_point(|&(entry, _)| entry < name);
            (entries[from..].iter())
                .take_while(|&&(entry, _)| entry == name)
                .fold(Verdict::default(), |all, (_, verdict)| Verdict {
                    not_exercised: all.not_exercised | verdict.not_exercised,
                    violated: all.violated | verdict.violated,
                })
        })
        .collect()
}

/// What the budget report says of one node.
#[derive(Clone, Copy, Default)]
struct Verdict {
    not_exercised: bool,
    /// A bit per statistic over its allowance, at the statistic's place in [`Quantile`].
    violated: u8,
}

/// What the counting allocator measured, per node (nodes without a measured call are left out),
/// and the process's peak resident memory.
pub(super) fn memory_families<'a>(
    builder: &mut Builder<'a>,
    nodes: &[NamedNode<'a>],
    snapshot: &Snapshot,
) {
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
