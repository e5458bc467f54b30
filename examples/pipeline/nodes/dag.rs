//! Node 11, `dag_validation`: the theory must be acyclic; guarded by a breaker whose
//! `is_failure` keeps a cycle (a finding about the plan) from counting as a failure.

use std::fmt;

use super::theory::{Stage, TheoryOfChange, adjacency};
use super::{Faults, Guarded, NodeFailure, Rng, simulate_work};

/// A valid theory of change: acyclic, with its longest chain and how well its outcomes survive
/// losing links.
#[derive(Debug)]
pub(crate) struct DagReport {
    /// The concepts in a topological order.
    pub(crate) order: Vec<usize>,
    /// Links on the longest path.
    pub(crate) longest_path: usize,
    /// Mean share of outcomes and impacts still reachable from an input when each link fails
    /// with probability `LINK_FAILURE`; 1 when the graph has none.
    pub(crate) robustness: f64,
    /// False for the fallback's answer: nothing was checked.
    pub(crate) validated: bool,
}

/// A theory of change that reasons in a circle.
#[derive(Debug)]
pub(crate) struct CycleError {
    /// The concepts on one cycle, in order.
    nodes: Vec<String>,
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "it reasons in a circle: {}", self.nodes.join(" -> "))?;
        if let Some(first) = self.nodes.first() {
            write!(f, " -> {first}")?;
        }
        Ok(())
    }
}

const MONTE_CARLO_TRIALS: usize = 200;
/// Chance, in percent, that a link fails in one Monte-Carlo trial.
const LINK_FAILURE: u32 = 20;

/// Why `dag_validation` returned no report.
#[derive(Debug)]
pub(crate) enum DagError {
    /// The theory reasons in a circle: a finding, counted in the node's `errors` but not by its
    /// breaker.
    Cycle(CycleError),
    /// The validator failed.
    Failed(NodeFailure),
}

impl DagError {
    /// What counts against the breaker: the validator failing, not the plan being circular.
    fn is_outage(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

impl From<NodeFailure> for DagError {
    fn from(failure: NodeFailure) -> Self {
        Self::Failed(failure)
    }
}

impl fmt::Display for DagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cycle(cycle) => cycle.fmt(f),
            Self::Failed(failure) => failure.fmt(f),
        }
    }
}

/// Topologically sorts the graph (Kahn's algorithm), failing with a cycle if there is one, then
/// estimates by deterministic Monte-Carlo how robust the chains to outcomes are to failing
/// links.
#[instrument_runtime::budget(p95 = "10ms", p99 = "18ms")]
#[instrument_runtime::circuit_breaker(
    name = "dag_validation",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    is_failure = DagError::is_outage,
    fallback = dag_validation_fallback
)]
pub(crate) fn dag_validation(
    theory: &TheoryOfChange,
    seed: u64,
    faults: Faults,
) -> Result<DagReport, DagError> {
    simulate_work("dag_validation");
    faults.check(Guarded::DagValidation)?;
    let nodes = theory.concepts.len();
    let successors = adjacency(nodes, &theory.edges);
    let mut indegree = vec![0_usize; nodes];
    for &(_, to) in &theory.edges {
        indegree[to] += 1;
    }
    let mut ready: Vec<usize> = (0..nodes).filter(|&at| indegree[at] == 0).collect();
    let mut order = Vec::with_capacity(nodes);
    while let Some(at) = ready.pop() {
        order.push(at);
        for &next in &successors[at] {
            indegree[next] -= 1;
            if indegree[next] == 0 {
                ready.push(next);
            }
        }
    }
    if order.len() < nodes {
        return Err(DagError::Cycle(CycleError {
            nodes: find_cycle(&theory.edges, &indegree)
                .into_iter()
                .map(|at| theory.concepts[at].clone())
                .collect(),
        }));
    }

    let mut depth = vec![0_usize; nodes];
    for &at in &order {
        for &next in &successors[at] {
            depth[next] = depth[next].max(depth[at] + 1);
        }
    }
    let longest_path = depth.iter().copied().max().unwrap_or(0);

    let is_target = |at: usize| matches!(theory.stages[at], Stage::Outcome | Stage::Impact);
    let targets = (0..nodes).filter(|&at| is_target(at)).count();
    let robustness = if targets == 0 {
        1.0
    } else {
        let mut rng = Rng::new(seed);
        let mut reached = vec![false; nodes];
        let mut total = 0;
        for _ in 0..MONTE_CARLO_TRIALS {
            for &at in &order {
                reached[at] = theory.stages[at] == Stage::Input;
            }
            // In topological order a node is final before any of its successors is read.
            for &at in &order {
                for &next in &successors[at] {
                    if !rng.percent(LINK_FAILURE) && reached[at] {
                        reached[next] = true;
                    }
                }
            }
            total += (0..nodes)
                .filter(|&at| reached[at] && is_target(at))
                .count();
        }
        ratio(total, targets * MONTE_CARLO_TRIALS)
    };
    Ok(DagReport {
        order,
        longest_path,
        robustness,
        validated: true,
    })
}

/// While `dag_validation`'s breaker is open: the conservative answer, a theory not validated and
/// credited with no robustness (and left out of the run's mean).
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn dag_validation_fallback(
    _theory: &TheoryOfChange,
    _seed: u64,
    _faults: Faults,
) -> Result<DagReport, DagError> {
    Ok(DagReport {
        order: Vec::new(),
        longest_path: 0,
        robustness: 0.0,
        validated: false,
    })
}

/// One cycle among the nodes Kahn's algorithm could not order, those whose in-degree is still
/// positive. Each of them has a predecessor that was not ordered either, so walking back along
/// such predecessors must reach a node already seen.
fn find_cycle(edges: &[(usize, usize)], indegree: &[usize]) -> Vec<usize> {
    let mut predecessor = vec![None; indegree.len()];
    for &(from, to) in edges {
        if indegree[from] > 0 && indegree[to] > 0 {
            predecessor[to] = Some(from);
        }
    }
    let Some(mut at) = (0..indegree.len()).find(|&at| indegree[at] > 0) else {
        return Vec::new();
    };
    let mut position = vec![None; indegree.len()];
    let mut path = Vec::new();
    while position[at].is_none() {
        position[at] = Some(path.len());
        path.push(at);
        let Some(previous) = predecessor[at] else {
            return Vec::new();
        };
        at = previous;
    }
    let mut cycle = path.split_off(position[at].unwrap_or_default());
    cycle.reverse();
    cycle
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
pub(crate) fn ratio(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}
