//! A plain, sorted copy of every node's statistics: the only input of the budget check, the
//! report and the exporters.

use serde::{Deserialize, Serialize};

use crate::breaker::snapshot::BreakerSnapshot;
use crate::read::alert_state::AlertsView;
use crate::read::budget::{BudgetVerdict, judge};
use crate::read::budgets_file::{Applied, BudgetSource, BudgetsFileUse, CodeSite, applied};
use crate::record::alloc::{NodeMemory, ProcessMemory};
use crate::record::histogram::LatencyHistogram;
use crate::record::node::{Budget, Instruments, Node};
use crate::record::registry::{NameConflict, Registry, registry, site_of};
use crate::record::runtime_node::{RuntimeNodeCounts, RuntimeNodes};

/// Every node's statistics at one moment, sorted by node name (then module and line).
///
/// ```
/// let snapshot = instrument_runtime::snapshot();
/// let names: Vec<&str> = snapshot.nodes.iter().map(|node| node.name.as_str()).collect();
/// assert!(names.windows(2).all(|pair| pair[0] <= pair[1]));
/// let json = serde_json::to_string(&snapshot).unwrap();
/// let back: instrument_runtime::Snapshot = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.nodes.len(), snapshot.nodes.len());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// When the snapshot was taken, in milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// The machine it was taken on (its host name; empty where the system does not say).
    #[serde(default)]
    pub host: String,
    /// The process it was taken in: [`run_id`](crate::record::run_id), the same in every file one run writes (empty in
    /// a report from an older runtime, and in one merged from several runs).
    #[serde(default)]
    pub run_id: String,
    /// One entry per registered node, including nodes never called.
    pub nodes: Vec<NodeSnapshot>,
    /// Node names claimed by more than one function.
    pub conflicts: Vec<NameConflict>,
    /// One entry per circuit breaker, sorted by name.
    #[serde(default)]
    pub breakers: Vec<BreakerSnapshot>,
    /// The budgets file applied over the code's budgets, if any, with its problems.
    #[serde(default)]
    pub budgets_file: Option<BudgetsFileUse>,
    /// The process's resident memory when the snapshot was taken (Linux only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessMemory>,
    /// The alert engine's alerts and notifier counts as of its last evaluation (empty when no
    /// engine ran; see [`alert`](crate::alert)).
    #[serde(default, skip_serializing_if = "AlertsView::is_empty")]
    pub alerts: AlertsView,
    /// How many nodes the program created at run time ([`RuntimeNodes`]), against their cap,
    /// when it created any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_nodes: Option<RuntimeNodeCounts>,
}

#[cfg(test)]
impl Snapshot {
    /// [`Snapshot::new`] with these breakers, taken on `host`.
    pub(crate) fn of(nodes: Vec<NodeSnapshot>, breakers: Vec<BreakerSnapshot>) -> Self {
        Self {
            host: "host".to_owned(),
            breakers,
            ..Self::new(nodes)
        }
    }
}

/// One node's descriptor and statistics.
///
/// ```
/// #[instrument_runtime::timed(name = "node_snapshot_doc")]
/// fn step() {}
///
/// step();
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("node_snapshot_doc").unwrap();
/// assert_eq!((node.calls, node.errors, node.panics, node.cancelled), (1, 0, 0, 0));
/// assert_eq!(node.histogram.as_ref().unwrap().len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeSnapshot {
    /// Node name.
    pub name: String,
    /// Module the function is defined in.
    pub module_path: String,
    /// Source file of the function.
    pub file: String,
    /// Line of the function in `file`.
    pub line: u32,
    /// Which attributes the function carries.
    pub instruments: Instruments,
    /// The latency budget in force: the `#[budget]` attribute, merged with the budgets file.
    pub budget: Option<Budget>,
    /// Where `budget` came from: the code, the budgets file, or both.
    #[serde(default)]
    pub budget_source: Option<BudgetSource>,
    /// Calls that ended: returned (with or without an error) or panicked.
    pub calls: u64,
    /// Calls whose return value was a failure (see [`Outcome`](crate::Outcome) and `is_failure`).
    pub errors: u64,
    /// Calls that panicked. Counted in `calls`, not in the latency: the panic still propagated.
    pub panics: u64,
    /// Async calls dropped before completing: not in `calls`, not in the latency.
    pub cancelled: u64,
    /// Calls running right now (with `#[counted(in_flight)]`).
    pub in_flight: Option<u64>,
    /// Items the node reported processed with [`items!`](crate::items).
    #[serde(default)]
    pub items_processed: u64,
    /// Items the node reported expecting with [`items_total!`](crate::items_total).
    #[serde(default)]
    pub items_total: u64,
    /// Warnings the node reported with [`warning!`](crate::warning).
    #[serde(default)]
    pub warnings: u64,
    /// Latency summary, for timed nodes that have been called.
    pub latency: Option<Latency>,
    /// The exact sum of the recorded latencies, in nanoseconds (0 for untimed nodes).
    #[serde(default)]
    pub sum_ns: u64,
    /// The budget's verdict, for nodes with a budget.
    pub verdict: Option<BudgetVerdict>,
    /// The merged latency histogram, for timed nodes that have been called. In JSON, the
    /// buckets that hold calls as `[lowest value in ns, count]` pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<LatencyHistogram>,
    /// What the node allocated, when a [`CountingAllocator`](crate::CountingAllocator) is the
    /// global allocator and measured a call of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<NodeMemory>,
    /// A runtime node's outcome counters, by name (a route's responses by status class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<(String, u64)>,
}

/// Latency of a node's calls, in nanoseconds, to the histogram's precision (each quantile is the
/// highest value equivalent to the recorded ones: at most 0.79% above the exact one).
///
/// ```
/// #[instrument_runtime::timed(name = "latency_doc")]
/// fn step() {}
///
/// step();
/// let latency = instrument_runtime::snapshot().node("latency_doc").unwrap().latency.unwrap();
/// assert!(latency.min_ns <= latency.p50_ns && latency.p50_ns <= latency.max_ns);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Latency {
    /// Fastest call.
    pub min_ns: u64,
    /// Mean over all calls (exact).
    pub mean_ns: u64,
    /// Slowest call.
    pub max_ns: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
}

impl Latency {
    /// The summary of a non-empty histogram whose calls took `sum_ns` in all.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(2_000, 3);
    /// let latency = instrument_runtime::Latency::of(&histogram, 6_030);
    /// assert_eq!((latency.mean_ns, latency.p50_ns, latency.max_ns), (2_010, 2_007, 2_007));
    /// ```
    pub fn of(histogram: &LatencyHistogram, sum_ns: u64) -> Self {
        let quantiles = histogram.values_at_quantiles([0.50, 0.90, 0.95, 0.99, 0.999]);
        Self {
            min_ns: histogram.min(),
            mean_ns: sum_ns / histogram.len().max(1),
            max_ns: histogram.max(),
            p50_ns: quantiles[0],
            p90_ns: quantiles[1],
            p95_ns: quantiles[2],
            p99_ns: quantiles[3],
            p999_ns: quantiles[4],
        }
    }
}

/// Takes a snapshot of every registered node, and of the nodes created at run time
/// ([`RuntimeNodes`]), sorted together by name.
///
/// Calls still running are not in it. Taken while other threads record, the totals are a close
/// but not atomic view; taken once they are quiet (joined), every count is exact.
///
/// ```
/// #[instrument_runtime::timed(name = "snapshot_doc_step")]
/// fn step() {}
///
/// step();
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("snapshot_doc_step").unwrap().calls, 1);
/// ```
pub fn snapshot() -> Snapshot {
    let registry = registry();
    let applied = applied();
    let mut conflicts = registry.conflicts.clone();
    let runtime = RuntimeNodes::global();
    let runtime_nodes = runtime.all();
    let mut nodes: Vec<NodeSnapshot> = (registry.nodes.iter().zip(&registry.names))
        .map(|(node, name)| NodeSnapshot::of(node, name, &applied))
        .collect();
    if !runtime_nodes.is_empty() {
        for runtime_node in runtime_nodes {
            let mut node =
                NodeSnapshot::of(runtime_node.node(), runtime_node.meta().name, &applied);
            node.outcomes = runtime_node.outcome_counts();
            claimed_by_both(&mut conflicts, registry, runtime_node.node());
            nodes.push(node);
        }
        // Stable: a static node keeps its place before a runtime node of the same name.
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Snapshot {
        host: host_name(),
        run_id: crate::record::run::run_id().to_owned(),
        taken_at_unix_ms: crate::record::clock::unix_ms_now(),
        nodes: told_apart(nodes, &conflicts),
        conflicts,
        breakers: {
            let now_ns = crate::record::clock::breaker_now_ns();
            crate::breaker::table::all()
                .iter()
                .map(|breaker| breaker.snapshot(now_ns))
                .collect()
        },
        budgets_file: applied.use_.clone(),
        process: ProcessMemory::read(),
        alerts: crate::read::alert_state::published(),
        runtime_nodes: Some(runtime.counts()).filter(|counts| counts.created > 0),
    }
}

/// Records a conflict when `runtime_node` has the name of a static node: a series per name would
/// keep one of them and drop the other silently.
fn claimed_by_both(conflicts: &mut Vec<NameConflict>, registry: &Registry, runtime_node: &Node) {
    let meta = runtime_node.meta();
    let name = meta.name;
    if registry
        .names
        .binary_search_by(|other| other.as_str().cmp(name))
        .is_err()
    {
        return;
    }
    if let Some(conflict) = conflicts.iter_mut().find(|conflict| conflict.name == name) {
        conflict.sites.push(site_of(meta));
        return;
    }
    let sites = (registry.nodes.iter().zip(&registry.names))
        .filter(|(_, other)| *other == name)
        .map(|(node, _)| site_of(node.meta()))
        .chain([site_of(meta)])
        .collect();
    conflicts.push(NameConflict {
        name: name.to_owned(),
        sites,
    });
    conflicts.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Nodes sharing a name get their site added to it (`step (src/a.rs:12)`), so that every export
/// shows each of them: a series per name would keep one and drop the others silently.
fn told_apart(mut nodes: Vec<NodeSnapshot>, conflicts: &[NameConflict]) -> Vec<NodeSnapshot> {
    if conflicts.is_empty() {
        return nodes;
    }
    for node in &mut nodes {
        if conflicts.iter().any(|conflict| conflict.name == node.name) {
            node.name = if node.file.is_empty() {
                format!("{} ({})", node.name, node.module_path)
            } else {
                format!("{} ({}:{})", node.name, node.file, node.line)
            };
        }
    }
    // Sorted again by the names as shown: a site's line compares as text in them, so
    // `step (a.rs:229)` comes after `step (a.rs:1118)` although line 229 came first.
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The host name, read once: from the kernel on Linux, else `HOSTNAME` / `COMPUTERNAME`.
pub(crate) fn host_name() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|name| name.trim().to_owned())
            .unwrap_or_default()
    })
    .clone()
}

impl NodeSnapshot {
    fn of(node: &'static Node, name: &str, applied: &Applied) -> Self {
        let meta = node.meta();
        let (budget, budget_source) = if let Some((budget, source)) = applied.budgets.get(name) {
            (Some(*budget), Some(source.clone()))
        } else {
            let site = || CodeSite {
                file: meta.file.to_owned(),
                line: meta.line,
            };
            (meta.budget, meta.budget.map(|_| BudgetSource::Code(site())))
        };
        let totals = node.shards.totals();
        let histogram = totals.latency;
        let latency = histogram
            .as_ref()
            .map(|histogram| Latency::of(histogram, totals.sum_ns));
        Self {
            name: name.to_owned(),
            module_path: meta.module_path.to_owned(),
            file: meta.file.to_owned(),
            line: meta.line,
            instruments: meta.instruments,
            budget,
            budget_source,
            calls: totals.calls,
            errors: totals.errors,
            panics: totals.panics,
            cancelled: totals.cancelled,
            in_flight: meta.instruments.in_flight.then_some(totals.in_flight),
            items_processed: totals.items,
            items_total: totals.items_total,
            warnings: totals.warnings,
            verdict: budget.map(|budget| judge(&budget, totals.calls, latency.as_ref())),
            latency,
            sum_ns: totals.sum_ns,
            histogram,
            memory: NodeMemory::from_totals(&totals.memory),
            outcomes: Vec::new(),
        }
    }
}

impl Snapshot {
    /// The first node with this name.
    ///
    /// ```
    /// assert!(instrument_runtime::snapshot().node("no such node").is_none());
    /// ```
    pub fn node(&self, name: &str) -> Option<&NodeSnapshot> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// The circuit breaker with this name.
    ///
    /// ```
    /// assert!(instrument_runtime::snapshot().breaker("no such breaker").is_none());
    /// ```
    pub fn breaker(&self, name: &str) -> Option<&BreakerSnapshot> {
        self.breakers.iter().find(|breaker| breaker.name == name)
    }
}
