//! What happened between two snapshots: per node, the calls, outcomes and latency of the
//! interval alone. Live consumers (a streaming sink, an alert rule over the last interval) read
//! activity this way instead of the totals since start, and a consumer that adds the intervals
//! back up gets the totals exactly: every figure is a difference of monotonic counters.

use std::collections::HashMap;

use serde::Serialize;

use crate::read::snapshot::{Latency, NodeSnapshot, Snapshot};
use crate::record::histogram::LatencyHistogram;

/// One node's activity between two snapshots.
///
/// ```
/// #[instrument_runtime::timed(name = "interval_doc_step")]
/// fn step() {}
///
/// step();
/// let first = instrument_runtime::snapshot();
/// step();
/// step();
/// let second = instrument_runtime::snapshot();
/// let intervals = instrument_runtime::interval::node_intervals(Some(&first), &second);
/// let step = intervals.iter().find(|node| node.name == "interval_doc_step").unwrap();
/// assert_eq!((step.calls, step.histogram.len()), (2, 2));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NodeInterval {
    /// The node's name, as in the snapshot.
    pub name: String,
    /// When the interval began: the earlier snapshot's time (0 for the first interval of a run,
    /// which begins with the run).
    pub from_unix_ms: u64,
    /// When the interval ended: the later snapshot's time.
    pub to_unix_ms: u64,
    /// Calls that completed in the interval.
    pub calls: u64,
    /// Of those, calls that returned an error.
    pub errors: u64,
    /// Calls that panicked in the interval.
    pub panics: u64,
    /// Futures dropped before completing in the interval.
    pub cancelled: u64,
    /// Calls running when the later snapshot was taken, for nodes that count them.
    pub in_flight: Option<u64>,
    /// Total time of the interval's calls.
    pub sum_ns: u64,
    /// The interval's latencies; adding the intervals' histograms gives the run's exactly.
    pub histogram: LatencyHistogram,
    /// Quantiles of `histogram`; `None` when no call was timed in the interval.
    pub latency: Option<Latency>,
}

/// The nodes with activity between `previous` and `current` (two snapshots of one process, the
/// earlier first; `None`: since the run began), in `current`'s order. A node absent from
/// `previous` (created since) counts from zero.
///
/// ```
/// use instrument_runtime::interval::node_intervals;
///
/// #[instrument_runtime::timed(name = "interval_quiet_doc_step")]
/// fn step() {}
///
/// step();
/// let first = instrument_runtime::snapshot();
/// let second = instrument_runtime::snapshot();
/// let quiet = node_intervals(Some(&first), &second);
/// assert!(quiet.iter().all(|node| node.name != "interval_quiet_doc_step"));
/// assert!(node_intervals(None, &second).iter().any(|node| node.name == "interval_quiet_doc_step"));
/// ```
pub fn node_intervals(previous: Option<&Snapshot>, current: &Snapshot) -> Vec<NodeInterval> {
    let earlier: HashMap<&str, &NodeSnapshot> = previous
        .map(|snapshot| {
            (snapshot.nodes.iter())
                .map(|node| (node.name.as_str(), node))
                .collect()
        })
        .unwrap_or_default();
    let from_unix_ms = previous.map_or(0, |snapshot| snapshot.taken_at_unix_ms);
    current
        .nodes
        .iter()
        .filter_map(|node| {
            let interval = NodeInterval::between(earlier.get(node.name.as_str()).copied(), node);
            let active = interval.calls + interval.panics + interval.cancelled > 0;
            active.then_some(NodeInterval {
                from_unix_ms,
                to_unix_ms: current.taken_at_unix_ms,
                ..interval
            })
        })
        .collect()
}

impl NodeInterval {
    fn between(earlier: Option<&NodeSnapshot>, now: &NodeSnapshot) -> Self {
        let since =
            |field: fn(&NodeSnapshot) -> u64| field(now).saturating_sub(earlier.map_or(0, field));
        let histogram = match (
            &now.histogram,
            earlier.and_then(|node| node.histogram.as_ref()),
        ) {
            (Some(now), Some(before)) => now.since(before),
            (Some(now), None) => now.clone(),
            (None, _) => LatencyHistogram::new(),
        };
        let sum_ns = since(|node| node.sum_ns);
        Self {
            name: now.name.clone(),
            from_unix_ms: 0,
            to_unix_ms: 0,
            calls: since(|node| node.calls),
            errors: since(|node| node.errors),
            panics: since(|node| node.panics),
            cancelled: since(|node| node.cancelled),
            in_flight: now.in_flight,
            sum_ns,
            latency: (!histogram.is_empty()).then(|| Latency::of(&histogram, sum_ns)),
            histogram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, calls: u64, latencies_ns: &[u64]) -> NodeSnapshot {
        let mut histogram = LatencyHistogram::new();
        for &latency in latencies_ns {
            histogram.record(latency);
        }
        let mut node = NodeSnapshot::new(name).with_histogram(histogram, latencies_ns.iter().sum());
        node.calls = calls;
        node
    }

    fn at(unix_ms: u64, nodes: Vec<NodeSnapshot>) -> Snapshot {
        let mut snapshot = Snapshot::new(nodes);
        snapshot.taken_at_unix_ms = unix_ms;
        snapshot
    }

    #[test]
    fn an_interval_holds_only_the_calls_between_its_snapshots() {
        let first = at(1_000, vec![node("parse", 2, &[1_000, 2_000])]);
        let second = at(
            2_000,
            vec![node("parse", 5, &[1_000, 2_000, 4_000, 4_000, 8_000])],
        );
        let intervals = node_intervals(Some(&first), &second);
        assert_eq!(intervals.len(), 1);
        let parse = &intervals[0];
        assert_eq!((parse.from_unix_ms, parse.to_unix_ms), (1_000, 2_000));
        assert_eq!(
            (parse.calls, parse.sum_ns, parse.histogram.len()),
            (3, 16_000, 3)
        );
        assert!(parse.histogram.min() >= 3_990, "{}", parse.histogram.min());
        assert!(parse.latency.unwrap().max_ns >= 7_990);
    }

    #[test]
    fn intervals_add_back_up_to_the_totals() {
        let snapshots = [
            at(1, vec![node("a", 1, &[10_000])]),
            at(2, vec![node("a", 1, &[10_000]), node("b", 2, &[5, 6])]),
            at(
                3,
                vec![
                    node("a", 3, &[10_000, 20_000, 30_000]),
                    node("b", 2, &[5, 6]),
                ],
            ),
        ];
        let mut calls = HashMap::new();
        let mut histograms: HashMap<String, LatencyHistogram> = HashMap::new();
        let mut previous = None;
        for snapshot in &snapshots {
            for interval in node_intervals(previous, snapshot) {
                *calls.entry(interval.name.clone()).or_insert(0) += interval.calls;
                histograms
                    .entry(interval.name)
                    .or_default()
                    .add(&interval.histogram);
            }
            previous = Some(snapshot);
        }
        let last = &snapshots[2];
        for node in &last.nodes {
            assert_eq!(calls[&node.name], node.calls);
            assert_eq!(Some(&histograms[&node.name]), node.histogram.as_ref());
        }
    }

    #[test]
    fn a_quiet_node_has_no_interval_and_a_new_one_counts_from_zero() {
        let first = at(1, vec![node("quiet", 4, &[100; 4])]);
        let second = at(2, vec![node("quiet", 4, &[100; 4]), node("new", 1, &[7])]);
        let intervals = node_intervals(Some(&first), &second);
        let names: Vec<&str> = intervals.iter().map(|node| node.name.as_str()).collect();
        assert_eq!(names, ["new"]);
        assert_eq!(intervals[0].from_unix_ms, 1);
    }
}
