//! Simulated latency.
//!
//! With `--simulated-latency` every node moves the hand-driven clock by a cost of its own while
//! it runs, so its latency is known in advance and equal on every machine: what the performance
//! gate's tests and CI judge. A node's nominal cost is 40% of its p95 budget; each call takes 0.8
//! to 1.2 times it, and 3% of calls (a slow path) 1.3 to 1.6 times it. So p95 lands near 48% of
//! the p95 budget and p99 near 60% (every p99 budget is at least 1.5 times the p95 one), and
//! `--slow-factor 3` puts p95 near 143% of its budget, past the 10% tolerance.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use instrument_runtime::ManualClock;

use super::rng::Rng;

/// Each node and its nominal simulated cost, in microseconds.
pub(crate) const SIMULATED_COSTS: [(&str, u64); 11] = [
    ("sanitization", 800),
    ("plan_processing", 1_200),
    ("document_segmentation", 1_600),
    ("embedding", 20_000),
    ("responsibility_detection", 4_000),
    ("contradiction_detection", 3_200),
    ("monetary_detection", 2_000),
    ("feasibility_scoring", 2_400),
    ("causal_detection", 2_800),
    ("teoria_cambio", 6_000),
    ("dag_validation", 4_000),
];

/// `--slow-node`, `--slow-factor` and `--slow-until`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlowNode {
    /// Index in [`SIMULATED_COSTS`].
    pub(crate) node: usize,
    pub(crate) factor: f64,
    /// The first document no longer slowed, if the slowdown ends.
    pub(crate) until: Option<u64>,
}

thread_local! {
    /// Set by [`start`] for the thread a run with `--simulated-latency` runs on; the nodes read it.
    /// Thread-local, like an installed `ManualClock`: a test's other threads keep real time.
    static SIMULATED_LATENCY: RefCell<Option<SimulatedLatency>> = const { RefCell::new(None) };
}

/// The clock the nodes move, and what decides how far.
struct SimulatedLatency {
    clock: ManualClock,
    seed: u64,
    slow: Option<SlowNode>,
    /// The document being analysed: a call's cost depends on it, not on the calls before.
    document: Cell<u64>,
}

impl SimulatedLatency {
    fn new(clock: ManualClock, seed: u64, slow: Option<SlowNode>) -> Self {
        Self {
            clock,
            seed,
            slow,
            document: Cell::new(0),
        }
    }

    /// What node `node` costs on the current document: one draw from a stream of its own.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a few milliseconds scaled by a small positive factor"
    )]
    fn cost(&self, node: usize) -> Duration {
        let document = self.document.get();
        let stream = (node as u64 + 1).wrapping_mul(0x8cb9_2ba7_2f3d_8dd7);
        let mut rng = Rng::new(self.seed ^ stream ^ document.wrapping_mul(0xa076_1d64_78bd_642f));
        rng.next_u64();
        let spread = rng.unit();
        let share = if rng.percent(3) {
            1.3 + 0.3 * spread
        } else {
            0.8 + 0.4 * spread
        };
        let factor = match self.slow {
            Some(slow) if slow.node == node && slow.until.is_none_or(|until| document < until) => {
                slow.factor
            }
            _ => 1.0,
        };
        let nominal_ns = SIMULATED_COSTS[node].1 as f64 * 1_000.0;
        Duration::from_nanos((nominal_ns * share * factor).round() as u64)
    }
}

/// Makes the nodes this thread calls move `clock` by their costs, until [`stop`].
pub(crate) fn start(clock: ManualClock, seed: u64, slow: Option<SlowNode>) {
    SIMULATED_LATENCY.set(Some(SimulatedLatency::new(clock, seed, slow)));
}

/// The document the next calls work on, which their costs are drawn for.
pub(crate) fn set_document(index: u64) {
    SIMULATED_LATENCY.with_borrow(|simulation| {
        if let Some(simulation) = simulation {
            simulation.document.set(index);
        }
    });
}

/// The nodes no longer move a clock.
pub(crate) fn stop() {
    SIMULATED_LATENCY.set(None);
}

/// What every node does first: with `--simulated-latency`, move the clock by its cost.
pub(crate) fn simulate_work(node: &str) {
    SIMULATED_LATENCY.with_borrow(|simulation| {
        if let Some(simulation) = simulation {
            let index = SIMULATED_COSTS
                .iter()
                .position(|&(name, _)| name == node)
                .expect("every node has a simulated cost");
            simulation.clock.advance(simulation.cost(index));
        }
    });
}
