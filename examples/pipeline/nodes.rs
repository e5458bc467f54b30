//! The eleven budgeted nodes, the only code the runtime measures. Each is a plain function: its
//! attributes are all the instrumentation there is.
//!
//! - `#[budget(p95 = .., p99 = ..)]` on every node: a latency histogram and a budget verdict;
//! - `#[counted]` on `plan_processing`, whose `Err` (an unreadable header) fills the `errors`
//!   column;
//! - `#[circuit_breaker(..)]` on the six nodes that stand for a fragile dependency, each with a
//!   fallback that answers, degraded, while its breaker is open (settings in `faults.rs`).
//!
//! A node's name is the function's name, not its module path, so moving a node between files
//! changes nothing in the report.

mod causal;
mod contradiction;
mod dag;
mod embedding;
mod feasibility;
mod monetary;
mod responsibility;
mod text;
mod theory;

pub(crate) use causal::{CausalLink, causal_detection};
pub(crate) use contradiction::{Contradiction, contradiction_detection};
pub(crate) use dag::{CycleError, DagError, DagReport, dag_validation};
pub(crate) use embedding::embedding;
pub(crate) use feasibility::{Feasibility, feasibility_scoring};
pub(crate) use monetary::{MonetaryAmount, monetary_detection};
pub(crate) use responsibility::{Responsibility, responsibility_detection};
pub(crate) use text::{
    PlanError, PlanMetadata, Segment, document_segmentation, plan_processing, sanitization,
};
pub(crate) use theory::{TheoryOfChange, teoria_cambio};

// What every node module takes from outside `nodes/`, imported once for them all (each says
// `use super::{..}`).
use super::faults::{Faults, Guarded, NodeFailure};
use super::rng::Rng;
use super::simulated_clock::simulate_work;
