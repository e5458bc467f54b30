//! Nodes created while the program runs (a web route, a queue, a tenant's job type), beside the
//! static ones the attributes declare: the same [`Node`] with the same per-thread shards and
//! latency counts, so the snapshot, the budgets, every export, the gate and the dashboard read
//! them as they read a `#[timed]` function.
//!
//! Their number is capped: each costs a leaked descriptor and its shards for the rest of the
//! process, so a name taken from input (a raw URL path) must never create one per value. Past the
//! cap, calls go to one overflow node and each refused creation is counted.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::record::clock;
use crate::record::node::{Budget, Instruments, Node, NodeMeta};
use crate::record::shard::{CallEnd, LocalShard, Shard, bump, with_slot};

/// How many runtime nodes a process may create unless told otherwise
/// ([`RuntimeNodes::with_cap`]).
pub const DEFAULT_RUNTIME_NODE_CAP: usize = 1000;

/// The name calls are recorded under once the cap is reached.
pub const OVERFLOW_NODE: &str = "(runtime nodes over the cap)";

/// What a runtime node is: its name, who creates such nodes, and what it counts.
///
/// ```
/// use instrument_runtime::record::RuntimeNodeSpec;
///
/// let spec = RuntimeNodeSpec::new("GET /users/{id}", "http").outcomes(&["2xx", "4xx", "5xx"]);
/// assert_eq!(spec.name, "GET /users/{id}");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuntimeNodeSpec {
    /// The node's name in the snapshot and every export.
    pub name: String,
    /// Shown where a static node shows its module: what created the node (`http`).
    pub kind: &'static str,
    /// The latency budget the code sets; the budgets file may override it, by name.
    pub budget: Option<Budget>,
    /// Names of the outcome counters the node keeps beside its calls (a response's status class).
    pub outcomes: &'static [&'static str],
}

impl RuntimeNodeSpec {
    /// A timed node with an in-flight gauge, no budget and no outcome counters.
    pub fn new(name: impl Into<String>, kind: &'static str) -> Self {
        Self {
            name: name.into(),
            kind,
            budget: None,
            outcomes: &[],
        }
    }

    /// With this budget.
    ///
    /// ```
    /// use instrument_runtime::{Budget, record::RuntimeNodeSpec};
    ///
    /// let budget = Budget { p95_ns: Some(50_000_000), ..Budget::DEFAULT };
    /// assert_eq!(RuntimeNodeSpec::new("job", "queue").budget(budget).budget, Some(budget));
    /// ```
    #[must_use]
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// With these outcome counters (at most [`MAX_OUTCOMES`]), counted with [`Timing::finish`].
    ///
    /// # Panics
    ///
    /// With more than [`MAX_OUTCOMES`] names.
    #[must_use]
    pub fn outcomes(mut self, outcomes: &'static [&'static str]) -> Self {
        assert!(
            outcomes.len() <= MAX_OUTCOMES,
            "at most {MAX_OUTCOMES} outcomes, found {}",
            outcomes.len()
        );
        self.outcomes = outcomes;
        self
    }
}

/// The most outcome counters a runtime node keeps.
pub const MAX_OUTCOMES: usize = 8;

/// One thread's outcome counters of one node, on cache lines of their own: written with plain
/// stores by one thread at a time, like a shard, so counting an outcome takes no atomic
/// read-modify-write.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Outcomes([AtomicU64; MAX_OUTCOMES]);

/// A node's outcome counters, a set per thread that counted, pooled like the shards: a thread
/// that exits gives its set back with its counts, and the next thread to count continues it.
#[derive(Debug, Default)]
struct OutcomePool {
    all: Vec<&'static Outcomes>,
    free: Vec<&'static Outcomes>,
}

impl OutcomePool {
    fn acquire(&mut self) -> &'static Outcomes {
        self.free.pop().unwrap_or_else(|| {
            let outcomes: &'static Outcomes = Box::leak(Box::default());
            self.all.push(outcomes);
            outcomes
        })
    }
}

/// A thread's handles on one runtime node: its shard and its outcome counters, both given back
/// to the node's pools when the thread exits.
struct Local {
    shard: LocalShard,
    outcomes: Cell<Option<(&'static RuntimeNode, &'static Outcomes)>>,
}

impl Local {
    fn new() -> Self {
        Self {
            shard: LocalShard::new(),
            outcomes: Cell::new(None),
        }
    }

    fn count(&self, node: &'static RuntimeNode, index: usize) {
        let outcomes = match self.outcomes.get() {
            Some((_, outcomes)) => outcomes,
            None => crate::record::alloc::unattributed(|| {
                let outcomes = node.outcome_pool().acquire();
                self.outcomes.set(Some((node, outcomes)));
                outcomes
            }),
        };
        bump(&outcomes.0[index], 1);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some((node, outcomes)) = self.outcomes.take() {
            node.outcome_pool().free.push(outcomes);
        }
    }
}

/// A node created at run time, and its outcome counters.
#[derive(Debug)]
pub struct RuntimeNode {
    node: Node,
    /// Where this node's per-thread shard handle sits in each thread's table.
    slot: usize,
    outcome_names: &'static [&'static str],
    outcomes: Mutex<OutcomePool>,
}

impl RuntimeNode {
    fn leak(spec: &RuntimeNodeSpec, name: &str) -> &'static RuntimeNode {
        static SLOTS: AtomicUsize = AtomicUsize::new(0);
        let budget = spec.budget;
        Box::leak(Box::new(RuntimeNode {
            node: Node::new(NodeMeta {
                name: Box::leak(name.to_owned().into_boxed_str()),
                path: None,
                module_path: spec.kind,
                file: "",
                line: 0,
                instruments: Instruments {
                    timed: true,
                    counted: true,
                    in_flight: true,
                    budget: budget.is_some(),
                },
                budget,
            }),
            slot: SLOTS.fetch_add(1, Ordering::Relaxed),
            outcome_names: spec.outcomes,
            outcomes: Mutex::default(),
        }))
    }

    /// The node's descriptor.
    ///
    /// ```
    /// use instrument_runtime::record::{RuntimeNodeSpec, RuntimeNodes};
    ///
    /// let node = RuntimeNodes::global().node(&RuntimeNodeSpec::new("meta_doc", "queue"));
    /// assert_eq!((node.meta().name, node.meta().module_path), ("meta_doc", "queue"));
    /// ```
    pub fn meta(&self) -> &NodeMeta {
        self.node.meta()
    }

    pub(crate) fn node(&'static self) -> &'static Node {
        &self.node
    }

    fn outcome_pool(&self) -> MutexGuard<'_, OutcomePool> {
        // The lists stay consistent even if a holder panicked: every push is a single step.
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Each outcome counter's name and count.
    pub(crate) fn outcome_counts(&self) -> Vec<(String, u64)> {
        // Held while summing: a thread takes the lock only for its first count on the node.
        let pool = self.outcome_pool();
        (self.outcome_names.iter().enumerate())
            .map(|(index, name)| {
                let count = (pool.all.iter())
                    .map(|outcomes| outcomes.0[index].load(Ordering::Acquire))
                    .sum();
                ((*name).to_owned(), count)
            })
            .collect()
    }

    /// Starts timing one call: counted in flight until [`Timing::finish`], and as cancelled if
    /// the [`Timing`] is dropped unfinished.
    ///
    /// ```
    /// use instrument_runtime::record::{RuntimeNodeSpec, RuntimeNodes};
    ///
    /// let node = RuntimeNodes::global().node(&RuntimeNodeSpec::new("start_doc", "queue").outcomes(&["ok"]));
    /// node.start().finish(Some(0), false);
    /// let snapshot = instrument_runtime::snapshot();
    /// assert_eq!(snapshot.node("start_doc").unwrap().calls, 1);
    /// ```
    pub fn start(&'static self) -> Timing {
        self.record(None, Shard::start);
        Timing {
            node: self,
            start: clock::now(),
        }
    }

    /// Records on this thread's shard of the node, and counts the outcome at `outcome` (an index
    /// below the number of outcome names) in this thread's counters.
    fn record(&'static self, outcome: Option<usize>, record: impl FnOnce(&Shard)) {
        thread_local! {
            // One entry per runtime node this thread recorded into, indexed by its slot.
            static SLOTS: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
        }
        let node = self.node();
        let mut record = Some(record);
        let recorded = SLOTS.try_with(|slots| {
            let mut slots = slots.borrow_mut();
            if slots.len() <= self.slot {
                crate::record::alloc::unattributed(|| {
                    slots.resize_with(self.slot + 1, Local::new);
                });
            }
            let local = &slots[self.slot];
            if let Some(index) = outcome {
                local.count(self, index);
            }
            if let Some(record) = record.take() {
                with_slot(node, &local.shard, record);
            }
        });
        if let (Err(_tearing_down), Some(record)) = (recorded, record) {
            // Only reachable from a destructor running after this thread's table was dropped:
            // the writers of a free set take turns under the pool's lock.
            if let Some(index) = outcome {
                let mut pool = self.outcome_pool();
                let outcomes = pool.acquire();
                bump(&outcomes.0[index], 1);
                pool.free.push(outcomes);
            }
            node.shards.record_orphan(node, record);
        }
    }
}

/// One call of a [`RuntimeNode`] in progress.
#[derive(Debug)]
#[must_use = "dropping a timing unfinished counts the call as cancelled"]
pub struct Timing {
    node: &'static RuntimeNode,
    start: u64,
}

impl Timing {
    /// Ends the call: its latency recorded, `outcome` (an index into the node's outcome names)
    /// counted, and counted as an error if `failed`.
    pub fn finish(self, outcome: Option<usize>, failed: bool) {
        let elapsed_ns = clock::elapsed_ns(self.start, clock::now());
        let node = self.node;
        std::mem::forget(self);
        let outcome = outcome.filter(|&index| index < node.outcome_names.len());
        let end = if failed {
            CallEnd::Failed
        } else {
            CallEnd::Returned
        };
        node.record(outcome, |shard| shard.finish(end, Some(elapsed_ns)));
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        (self.node).record(None, |shard| shard.finish(CallEnd::Cancelled, None));
    }
}

/// A set of runtime nodes with a cap on how many it creates. The process's own set,
/// [`RuntimeNodes::global`], is the one snapshots read.
#[derive(Debug)]
pub struct RuntimeNodes {
    cap: usize,
    nodes: Mutex<Vec<&'static RuntimeNode>>,
    by_name: Mutex<HashMap<String, &'static RuntimeNode>>,
    overflow: OnceLock<&'static RuntimeNode>,
    refused: AtomicU64,
}

/// How many runtime nodes exist, the cap, and how many creations it refused.
///
/// ```
/// let counts = instrument_runtime::record::RuntimeNodes::global().counts();
/// assert_eq!(counts.cap, instrument_runtime::record::DEFAULT_RUNTIME_NODE_CAP as u64);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RuntimeNodeCounts {
    /// Nodes created (the overflow node not included).
    pub created: u64,
    /// The most that may be created.
    pub cap: u64,
    /// Creations refused because the cap was reached: their calls went to [`OVERFLOW_NODE`].
    pub refused: u64,
}

impl RuntimeNodes {
    /// An empty set that creates at most `cap` nodes.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            cap,
            nodes: Mutex::new(Vec::new()),
            by_name: Mutex::new(HashMap::new()),
            overflow: OnceLock::new(),
            refused: AtomicU64::new(0),
        }
    }

    /// The process's runtime nodes, capped at [`DEFAULT_RUNTIME_NODE_CAP`].
    pub fn global() -> &'static RuntimeNodes {
        static GLOBAL: OnceLock<RuntimeNodes> = OnceLock::new();
        GLOBAL.get_or_init(|| RuntimeNodes::with_cap(DEFAULT_RUNTIME_NODE_CAP))
    }

    /// The node named `spec.name`, created on first use; past the cap, the overflow node, and the
    /// refusal counted. Takes a lock: callers on a hot path keep what it returns.
    ///
    /// ```
    /// use instrument_runtime::record::{OVERFLOW_NODE, RuntimeNodeSpec, RuntimeNodes};
    ///
    /// let nodes = RuntimeNodes::with_cap(1);
    /// let first = nodes.node(&RuntimeNodeSpec::new("first", "doc"));
    /// assert!(std::ptr::eq(first, nodes.node(&RuntimeNodeSpec::new("first", "doc"))));
    /// assert_eq!(nodes.node(&RuntimeNodeSpec::new("second", "doc")).meta().name, OVERFLOW_NODE);
    /// assert_eq!((nodes.counts().created, nodes.counts().refused), (1, 1));
    /// ```
    pub fn node(&self, spec: &RuntimeNodeSpec) -> &'static RuntimeNode {
        let mut by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(node) = by_name.get(&spec.name) {
            return node;
        }
        if by_name.len() >= self.cap {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return self.overflow(spec);
        }
        let node = RuntimeNode::leak(spec, &spec.name);
        by_name.insert(spec.name.clone(), node);
        self.push(node);
        node
    }

    fn overflow(&self, spec: &RuntimeNodeSpec) -> &'static RuntimeNode {
        self.overflow.get_or_init(|| {
            let node = RuntimeNode::leak(
                &RuntimeNodeSpec {
                    budget: None,
                    ..spec.clone()
                },
                OVERFLOW_NODE,
            );
            self.push(node);
            node
        })
    }

    fn push(&self, node: &'static RuntimeNode) {
        (self.nodes.lock().unwrap_or_else(PoisonError::into_inner)).push(node);
    }

    /// Every node created so far, and the overflow node once used, in creation order.
    pub(crate) fn all(&self) -> Vec<&'static RuntimeNode> {
        self.nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many nodes exist, the cap, and the refusals.
    pub fn counts(&self) -> RuntimeNodeCounts {
        let created = self
            .by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        RuntimeNodeCounts {
            created: created as u64,
            cap: self.cap as u64,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(node: &'static RuntimeNode) -> [u64; 4] {
        let totals = node.node().shards.totals();
        [
            totals.calls,
            totals.errors,
            totals.cancelled,
            totals.in_flight,
        ]
    }

    #[test]
    fn a_call_is_timed_counted_and_its_outcome_kept() {
        let nodes = RuntimeNodes::with_cap(4);
        let node = nodes.node(&RuntimeNodeSpec::new("unit", "test").outcomes(&["ok", "bad"]));
        node.start().finish(Some(0), false);
        node.start().finish(Some(1), true);
        let running = node.start();
        assert_eq!(calls(node), [2, 1, 0, 1]);
        drop(running);
        assert_eq!(calls(node), [2, 1, 1, 0]);
        assert_eq!(
            node.outcome_counts(),
            [("ok".to_owned(), 1), ("bad".to_owned(), 1)]
        );
        assert_eq!(node.node().shards.totals().latency.unwrap().len(), 2);
    }

    #[test]
    fn past_the_cap_calls_go_to_one_overflow_node_and_refusals_are_counted() {
        let nodes = RuntimeNodes::with_cap(3);
        for path in 0..100 {
            let spec = RuntimeNodeSpec::new(format!("/raw/{path}"), "test");
            nodes.node(&spec).start().finish(None, false);
        }
        let counts = nodes.counts();
        assert_eq!((counts.created, counts.refused), (3, 97));
        let all = nodes.all();
        assert_eq!(all.len(), 4, "three nodes and the overflow node");
        let overflow = all
            .iter()
            .find(|node| node.meta().name == OVERFLOW_NODE)
            .unwrap();
        assert_eq!(calls(overflow)[0], 97);
    }

    #[test]
    fn a_call_may_end_on_another_thread_than_it_started() {
        let nodes = RuntimeNodes::with_cap(1);
        let node = nodes.node(&RuntimeNodeSpec::new("moved", "test"));
        let timing = node.start();
        std::thread::spawn(move || timing.finish(None, false))
            .join()
            .unwrap();
        assert_eq!(calls(node), [1, 0, 0, 0]);
    }

    #[test]
    fn threads_that_come_and_go_reuse_shards_and_lose_no_call_or_outcome() {
        let nodes: &'static RuntimeNodes = Box::leak(Box::new(RuntimeNodes::with_cap(8)));
        for round in 0..50 {
            let workers: Vec<_> = (0..4)
                .map(|worker| {
                    std::thread::spawn(move || {
                        for route in 0..8 {
                            let name = format!("/churn/{}", (route + worker + round) % 8);
                            let spec = RuntimeNodeSpec::new(name, "test").outcomes(&["ok", "bad"]);
                            nodes.node(&spec).start().finish(Some(route % 2), false);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
        }
        let all = nodes.all();
        assert_eq!(all.len(), 8);
        let total: u64 = all.iter().map(|node| calls(node)[0]).sum();
        assert_eq!(total, 50 * 4 * 8);
        let outcomes: u64 = (all.iter())
            .flat_map(|node| node.outcome_counts())
            .map(|(_, count)| count)
            .sum();
        assert_eq!(outcomes, 50 * 4 * 8);
        for node in all {
            // At most the four threads that ran at once ever held a shard or counters of it.
            let shards = node.node().shards.count();
            assert!(shards <= 4, "{} shards of {}", shards, node.meta().name);
            let counters = node.outcome_pool().all.len();
            assert!(
                counters <= 4,
                "{counters} counter sets of {}",
                node.meta().name
            );
        }
    }
}
