//! Snapshots built by hand, for tests and for programs that make one from elsewhere (the CI gate
//! merging several runs' reports). The snapshot types are `#[non_exhaustive]`, so a new figure
//! is added here and in [`snapshot`](crate::snapshot) only, never in every place that builds one.

use crate::read::budget::judge;
use crate::read::snapshot::{Latency, NodeSnapshot, Snapshot};
use crate::record::histogram::LatencyHistogram;
use crate::record::node::Instruments;

impl NodeSnapshot {
    /// A node that recorded nothing: no calls, no latency, no budget, no attribute, no site. Set
    /// the figures you need on it; [`with_histogram`](Self::with_histogram) sets the latency
    /// ones together, [`judged`](Self::judged) the budget's verdict.
    ///
    /// ```
    /// use instrument_runtime::{Budget, LatencyHistogram, NodeSnapshot, VerdictStatus};
    ///
    /// let mut histogram = LatencyHistogram::new();
    /// histogram.record_n(1_000_000, 100);
    /// let mut node = NodeSnapshot::new("embed");
    /// node.calls = 100;
    /// node.budget = Some(Budget { p95_ns: Some(2_000_000), ..Budget::DEFAULT });
    /// let node = node.with_histogram(histogram, 100_000_000).judged();
    /// assert_eq!(node.latency.unwrap().mean_ns, 1_000_000);
    /// assert_eq!(node.verdict.unwrap().status, VerdictStatus::Pass);
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            module_path: String::new(),
            file: String::new(),
            line: 0,
            instruments: Instruments::default(),
            budget: None,
            budget_source: None,
            calls: 0,
            errors: 0,
            panics: 0,
            cancelled: 0,
            in_flight: None,
            items_processed: 0,
            items_total: 0,
            warnings: 0,
            latency: None,
            sum_ns: 0,
            verdict: None,
            histogram: None,
            memory: None,
            outcomes: Vec::new(),
        }
    }

    /// The node with this latency histogram, whose calls took `sum_ns` in all: sets `histogram`,
    /// `latency` and `sum_ns` (an empty histogram means neither histogram nor latency, as for a
    /// node never called). `calls` is left as it is: it also counts calls that panicked.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(2_000, 3);
    /// let node = instrument_runtime::NodeSnapshot::new("step").with_histogram(histogram, 6_000);
    /// assert_eq!(node.latency.unwrap().mean_ns, 2_000);
    /// assert_eq!(node.histogram.unwrap().len(), 3);
    /// ```
    #[must_use]
    pub fn with_histogram(mut self, histogram: LatencyHistogram, sum_ns: u64) -> Self {
        let recorded = !histogram.is_empty();
        self.latency = recorded.then(|| Latency::of(&histogram, sum_ns));
        self.histogram = recorded.then_some(histogram);
        self.sum_ns = sum_ns;
        self
    }

    /// The node with its budget's verdict on its calls and latency (none without a budget).
    ///
    /// ```
    /// use instrument_runtime::{Budget, NodeSnapshot, VerdictStatus};
    ///
    /// let mut node = NodeSnapshot::new("idle");
    /// node.budget = Some(Budget { p95_ns: Some(1_000), ..Budget::DEFAULT });
    /// assert_eq!(node.judged().verdict.unwrap().status, VerdictStatus::NotExercised);
    /// ```
    #[must_use]
    pub fn judged(mut self) -> Self {
        self.verdict = self
            .budget
            .map(|budget| judge(&budget, self.calls, self.latency.as_ref()));
        self
    }
}

impl Snapshot {
    /// A snapshot of these nodes alone, sorted by name: no breaker, no budgets file, no process
    /// figures, taken at time 0 on no named host in no named run.
    ///
    /// ```
    /// use instrument_runtime::{NodeSnapshot, Snapshot};
    ///
    /// let snapshot = Snapshot::new(vec![NodeSnapshot::new("parse"), NodeSnapshot::new("embed")]);
    /// assert_eq!(snapshot.nodes[0].name, "embed");
    /// assert!(snapshot.node("parse").is_some());
    /// ```
    #[must_use]
    pub fn new(mut nodes: Vec<NodeSnapshot>) -> Self {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            taken_at_unix_ms: 0,
            host: String::new(),
            run_id: String::new(),
            nodes,
            conflicts: Vec::new(),
            breakers: Vec::new(),
            budgets_file: None,
            process: None,
            alerts: crate::read::alert_state::AlertsView::default(),
            runtime_nodes: None,
        }
    }
}
