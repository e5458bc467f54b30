//! Node 10, `teoria_cambio`: the theory-of-change graph, guarded by a breaker.

use std::collections::HashMap;

use super::{CausalLink, Faults, Guarded, NodeFailure, simulate_work};

/// Where a concept sits in a theory of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Money, staff, resources.
    Input,
    /// What the plan produces or delivers.
    Output,
    /// A change in an indicator.
    Outcome,
    /// A lasting change in people's lives.
    Impact,
    /// A cause outside the plan: rain, prices.
    Context,
}

const INPUT_CUES: &[&str] = &["funding", "investment", "budget", "resources", "staff"];
const OUTPUT_CUES: &[&str] = &[
    "construction",
    "purchase",
    "training",
    "delivery",
    "installation",
    "rehabilitation",
    "maintenance",
    "restoration",
    "improvement",
];
const IMPACT_CUES: &[&str] = &["quality", "poverty", "well", "peace"];
const OUTCOME_CUES: &[&str] = &[
    "coverage",
    "rate",
    "access",
    "enrolment",
    "income",
    "incidence",
    "connectivity",
    "time",
    "losses",
    "cover",
    "deficit",
    "households",
    "victims",
];

impl Stage {
    /// Classifies a concept by its words; the first matching stage in this order wins, so
    /// `construction of a peace house` is an output, not an impact.
    fn of(concept: &str) -> Self {
        let has = |cues: &[&str]| {
            concept
                .split(' ')
                .any(|word| cues.iter().any(|cue| word.starts_with(cue)))
        };
        if has(INPUT_CUES) {
            Self::Input
        } else if has(OUTPUT_CUES) {
            Self::Output
        } else if has(IMPACT_CUES) {
            Self::Impact
        } else if has(OUTCOME_CUES) {
            Self::Outcome
        } else {
            Self::Context
        }
    }
}

/// The plan's theory of change: concepts joined by the causal links between them.
#[derive(Debug)]
pub(crate) struct TheoryOfChange {
    pub(crate) concepts: Vec<String>,
    pub(crate) stages: Vec<Stage>,
    /// Sorted, without duplicates.
    pub(crate) edges: Vec<(usize, usize)>,
    /// Inputs from which an outcome or impact can be reached through an output.
    pub(crate) complete_chains: usize,
}

/// Builds the graph of concepts (inputs -> outputs -> outcomes -> impacts) from the causal
/// links and counts the inputs that reach an outcome through an output.
#[instrument_runtime::budget(p95 = "15ms", p99 = "25ms")]
#[instrument_runtime::circuit_breaker(
    name = "teoria_cambio",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = teoria_cambio_fallback
)]
pub(crate) fn teoria_cambio(
    links: &[CausalLink],
    faults: Faults,
) -> Result<TheoryOfChange, NodeFailure> {
    simulate_work("teoria_cambio");
    faults.check(Guarded::TeoriaCambio)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut concepts: Vec<String> = Vec::new();
    let mut edges: Vec<(usize, usize)> = Vec::with_capacity(links.len());
    for link in links {
        let [cause, effect] = [&link.cause, &link.effect].map(|concept| {
            *index.entry(concept.as_str()).or_insert_with(|| {
                concepts.push(concept.clone());
                concepts.len() - 1
            })
        });
        edges.push((cause, effect));
    }
    edges.sort_unstable();
    edges.dedup();
    let stages: Vec<Stage> = concepts.iter().map(|concept| Stage::of(concept)).collect();
    let successors = adjacency(concepts.len(), &edges);

    let mut seen = vec![false; concepts.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut complete_chains = 0;
    for input in (0..concepts.len()).filter(|&at| stages[at] == Stage::Input) {
        seen.fill(false);
        stack.clear();
        stack.extend(
            successors[input]
                .iter()
                .filter(|&&next| stages[next] == Stage::Output),
        );
        while let Some(at) = stack.pop() {
            if std::mem::replace(&mut seen[at], true) {
                continue;
            }
            if matches!(stages[at], Stage::Outcome | Stage::Impact) {
                complete_chains += 1;
                break;
            }
            stack.extend(&successors[at]);
        }
    }
    Ok(TheoryOfChange {
        concepts,
        stages,
        edges,
        complete_chains,
    })
}

/// While `teoria_cambio`'s breaker is open: an empty theory, claiming no chain rather than
/// guessing one.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn teoria_cambio_fallback(
    _links: &[CausalLink],
    _faults: Faults,
) -> Result<TheoryOfChange, NodeFailure> {
    Ok(TheoryOfChange {
        concepts: Vec::new(),
        stages: Vec::new(),
        edges: Vec::new(),
        complete_chains: 0,
    })
}

pub(crate) fn adjacency(nodes: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut successors = vec![Vec::new(); nodes];
    for &(from, to) in edges {
        successors[from].push(to);
    }
    successors
}
