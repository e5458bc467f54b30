//! Guarded nodes and injected faults.
//!
//! The six nodes that stand for a fragile dependency carry the same breaker settings:
//!
//! - `failure_threshold = 3`: at `--fault-rate 0.3`, three failures in a row happen about twenty
//!   times in 1000 calls, so even a short run opens the breaker; a fault-free run never fails
//!   three times in a row (a circular theory of change is a finding, not a failure).
//! - `timeout = "20ms"`: the default run takes about half a second (0.5 ms a document), so a
//!   20 ms outage answers about 40 documents from the fallback and a run sees several outages,
//!   each probed and closed again well within the run. A production timeout would be seconds.
//! - `recovery = "2s"`: the SLA from opening to closing again; an outage lasts at least one
//!   timeout, plus one more for each failed probe.

use std::fmt;
use std::str::FromStr;

use super::rng::Rng;

/// The nodes guarded by a circuit breaker, which `--fault-node` can make fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Guarded {
    Embedding,
    ResponsibilityDetection,
    ContradictionDetection,
    CausalDetection,
    TeoriaCambio,
    DagValidation,
}

/// The nodes without a breaker, named so that `--fault-node sanitization` says why it is refused.
const UNGUARDED: &[&str] = &[
    "sanitization",
    "plan_processing",
    "document_segmentation",
    "monetary_detection",
    "feasibility_scoring",
];

impl Guarded {
    const ALL: [Self; 6] = [
        Self::Embedding,
        Self::ResponsibilityDetection,
        Self::ContradictionDetection,
        Self::CausalDetection,
        Self::TeoriaCambio,
        Self::DagValidation,
    ];

    /// The node's name, which is also its breaker's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Embedding => "embedding",
            Self::ResponsibilityDetection => "responsibility_detection",
            Self::ContradictionDetection => "contradiction_detection",
            Self::CausalDetection => "causal_detection",
            Self::TeoriaCambio => "teoria_cambio",
            Self::DagValidation => "dag_validation",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// What `--fault-node` reads; the error is what clap prints after the flag and the value.
impl FromStr for Guarded {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        if let Some(node) = Self::ALL.into_iter().find(|node| node.name() == name) {
            return Ok(node);
        }
        let guarded = Self::ALL.map(Self::name).join(", ");
        Err(if UNGUARDED.contains(&name) {
            format!("`{name}` has no circuit breaker; faults go into {guarded}")
        } else {
            format!("there is no node `{name}`; faults go into {guarded}")
        })
    }
}

/// Which nodes fail, and how often: `--fault-rate` and `--fault-node`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultPlan {
    /// Share of calls that fail, from 0 to 1.
    rate: f64,
    /// One bit per [`Guarded`] node.
    nodes: u8,
}

impl FaultPlan {
    /// `rate` of the calls to each of `nodes` fail.
    pub(crate) fn new(rate: f64, nodes: &[Guarded]) -> Self {
        Self {
            rate,
            nodes: nodes.iter().fold(0, |bits, node| bits | node.bit()),
        }
    }

    /// The faults of document `index`: one draw per node from a stream of its own, so the same
    /// seed fails the same calls whatever `--documents` says or which other nodes fail.
    pub(crate) fn for_document(self, seed: u64, index: u64) -> Faults {
        let mut failing = 0;
        for node in Guarded::ALL {
            if self.nodes & node.bit() == 0 {
                continue;
            }
            let stream = u64::from(node.bit()).wrapping_mul(0x9fb2_1c65_1e98_df25);
            let mut rng = Rng::new(seed ^ stream ^ index.wrapping_mul(0x2545_f491_4f6c_dd1d));
            if rng.unit() < self.rate {
                failing |= node.bit();
            }
        }
        Faults {
            failing,
            document: index,
        }
    }
}

/// The guarded nodes that fail on one document.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Faults {
    failing: u8,
    document: u64,
}

impl Faults {
    /// What a guarded node calls first: the failure of the dependency it stands for, if any.
    pub(crate) fn check(self, node: Guarded) -> Result<(), NodeFailure> {
        if self.failing & node.bit() == 0 {
            Ok(())
        } else {
            Err(NodeFailure {
                node,
                document: self.document,
            })
        }
    }
}

/// A guarded node failed (an injected fault). Its `Display` is what the breaker's
/// `last_failure` shows.
#[derive(Debug)]
pub(crate) struct NodeFailure {
    node: Guarded,
    document: u64,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` failed on document {} (injected fault)",
            self.node.name(),
            self.document
        )
    }
}
