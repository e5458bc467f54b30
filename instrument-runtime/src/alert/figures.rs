//! A rule's figure from the evaluations so far: the last interval's activity (or a window of
//! intervals added up), the snapshot, and the explicit events' last values.

use std::collections::{HashMap, VecDeque};

use crate::read::alert_rule::{AlertRule, Figure, Subject};
use crate::read::budget::Quantile;
use crate::read::interval::NodeInterval;
use crate::read::snapshot::Snapshot;
use crate::record::histogram::LatencyHistogram;
use crate::stream::{LatestKind, LatestValues};

/// One evaluation's interval: when it ended, how long it was, and each active node's activity.
pub(super) struct Interval {
    pub(super) at_ms: u64,
    pub(super) span_ms: u64,
    pub(super) nodes: HashMap<String, NodeInterval>,
}

/// The evaluations' intervals, newest last, kept as long as the longest window needs.
#[derive(Default)]
pub(super) struct History {
    intervals: VecDeque<Interval>,
}

/// A node's activity over a window: the intervals it spans added up.
struct Activity {
    calls: u64,
    failed: u64,
    histogram: LatencyHistogram,
    span_ms: u64,
}

impl History {
    pub(super) fn push(&mut self, interval: Interval, keep_ms: u64) {
        let now = interval.at_ms;
        self.intervals.push_back(interval);
        // The newest interval always stays: it is the "last interval" of rules without a window.
        // An older one stays while it ended inside the longest window, as `activity` counts it.
        while self.intervals.len() > 1 && self.intervals[0].at_ms.saturating_add(keep_ms) <= now {
            self.intervals.pop_front();
        }
    }

    /// The node's activity over the rule's window (the last interval without one).
    fn activity(&self, node: &str, window_ms: Option<u64>) -> Option<Activity> {
        let last = self.intervals.back()?;
        let mut activity = Activity {
            calls: 0,
            failed: 0,
            histogram: LatencyHistogram::new(),
            span_ms: 0,
        };
        for (index, interval) in self.intervals.iter().rev().enumerate() {
            // An interval belongs to the window when it ended inside it; without a window only
            // the last one does.
            let inside =
                index == 0 || window_ms.is_some_and(|window| interval.at_ms + window > last.at_ms);
            if !inside {
                break;
            }
            activity.span_ms += interval.span_ms;
            if let Some(node) = interval.nodes.get(node) {
                activity.calls += node.calls;
                activity.failed += node.errors + node.panics;
                activity.histogram.add(&node.histogram);
            }
        }
        Some(activity)
    }
}

/// The rule's figure now, or `None` when it cannot be known (no such subject, too few calls).
#[allow(
    clippy::cast_precision_loss,
    reason = "counts and nanoseconds far below 2^53"
)]
pub(super) fn value(
    rule: &AlertRule,
    history: &History,
    snapshot: &Snapshot,
    previous: Option<&Snapshot>,
    latest: &LatestValues,
) -> Option<f64> {
    match (&rule.subject, rule.figure) {
        (Subject::Node(node), Figure::InFlight) => snapshot.node(node)?.in_flight.map(|n| n as f64),
        (Subject::Node(node), figure) => {
            snapshot.node(node)?;
            let activity = history.activity(node, rule.window_ms)?;
            if figure == Figure::CallsPerSecond {
                return (activity.span_ms > 0)
                    .then(|| activity.calls as f64 * 1_000.0 / activity.span_ms as f64);
            }
            if activity.calls < rule.min_calls.max(1) {
                return None;
            }
            let rate = activity.failed as f64 / activity.calls as f64;
            match figure {
                Figure::Latency(quantile) => latency(&activity.histogram, quantile),
                Figure::ErrorRate => Some(rate),
                Figure::SuccessRate => Some(1.0 - rate),
                _ => None,
            }
        }
        (Subject::Breaker(name), Figure::BreakerState) => {
            Some(f64::from(snapshot.breaker(name)?.state_gauge))
        }
        (Subject::Breaker(name), Figure::RecoverySlaViolations) => {
            let violations = |snapshot: &Snapshot| {
                (snapshot.breaker(name)).map(|breaker| breaker.recoveries.sla_violations)
            };
            let before = previous.and_then(violations).unwrap_or(0);
            Some(violations(snapshot)?.saturating_sub(before) as f64)
        }
        (Subject::Breaker(_), _) => None,
        (Subject::Event(name), figure) => {
            let kind = match figure {
                Figure::Gauge => LatestKind::Gauge,
                Figure::Rate => LatestKind::Rate,
                _ => return None,
            };
            (latest.values.iter())
                .find(|latest| latest.kind == kind && latest.name == *name)
                .map(|latest| latest.value)
        }
    }
}

#[allow(clippy::cast_precision_loss, reason = "nanoseconds far below 2^53")]
fn latency(histogram: &LatencyHistogram, quantile: Quantile) -> Option<f64> {
    if histogram.is_empty() {
        return None;
    }
    let ns = match quantile {
        Quantile::P50 => histogram.value_at_quantile(0.50),
        Quantile::P90 => histogram.value_at_quantile(0.90),
        Quantile::P95 => histogram.value_at_quantile(0.95),
        Quantile::P99 => histogram.value_at_quantile(0.99),
        Quantile::Max => histogram.max(),
    };
    Some(ns as f64)
}
