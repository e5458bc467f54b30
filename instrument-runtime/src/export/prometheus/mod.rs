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

mod alert_series;
mod breakers;
mod family;
mod nodes;
mod stream;
#[cfg(test)]
mod tests;
mod text;

pub(crate) use family::{ProcessMetrics, families_with, sanitize_prefix};
pub(crate) use stream::StreamFigures;
pub(crate) use text::{render_after, seconds};

use crate::export::ExportOptions;
use crate::read::budget::BudgetReport;
use crate::read::snapshot::Snapshot;

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
/// Linux, the process's resident memory, its peak and CPU seconds. With the alert engine
/// running, its pending and firing alerts as `alerts` (like Prometheus's `ALERTS`) and its
/// notifiers' counts as `alert_notifications_total`.
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
    text(snapshot, budgets, options, Format::Prometheus)
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
    text(snapshot, budgets, options, Format::OpenMetrics)
}

/// The alert series, then every family, in `format`.
fn text(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
    format: Format,
) -> String {
    let process = ProcessMetrics::current();
    let stream = StreamFigures::current();
    let prefix = sanitize_prefix(&options.prefix);
    // The alerts first, in the same allocation as the families after them.
    let alerts = alert_series::alert_series(&snapshot.alerts, &prefix, format);
    render_after(
        alerts,
        &families_with(
            snapshot,
            budgets,
            options,
            process.as_ref(),
            stream.as_ref(),
        ),
        format,
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
