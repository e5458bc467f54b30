//! The command line, declared with clap's derive: the help, the errors (exit code 2, with the
//! usage) and the checks between flags come from the declarations below, so a flag is spelled
//! once. `main` parses it before it arms the report, so `--help` or a typo never replaces the
//! last run's report with an empty one.

use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory, Parser};

use super::faults::{FaultPlan, Guarded};
use super::simulated_clock::{SIMULATED_COSTS, SlowNode};

/// A document-analysis pipeline under latency budgets: generated municipal development plans
/// through eleven budgeted nodes, six of them behind circuit breakers.
#[derive(Clone, Debug, Parser)]
#[command(name = "pipeline", args_override_self = true)]
pub(crate) struct Options {
    /// How many generated plans to analyse. 1000 give every node about 1000 samples, ten of them
    /// above its p99, so one scheduling hiccup cannot decide a verdict
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) documents: u64,

    /// Seed of the plan generator and of the injected faults
    #[arg(long, value_name = "S", default_value_t = 7)]
    pub(crate) seed: u64,

    /// Also print what the pipeline found in document I
    #[arg(long, value_name = "I")]
    pub(crate) show: Option<u64>,

    /// Make this share (0 to 1) of the calls to the --fault-node nodes fail
    #[arg(long, value_name = "R", value_parser = fault_rate, requires = "fault_nodes")]
    fault_rate: Option<f64>,

    #[allow(
        clippy::doc_markdown,
        reason = "clap prints this as the flag's help, where backticks would show"
    )]
    /// A node to inject faults into (repeat it, or separate names with commas): embedding,
    /// responsibility_detection, contradiction_detection, causal_detection, teoria_cambio,
    /// dag_validation
    #[arg(
        long = "fault-node",
        value_name = "NODE",
        value_delimiter = ',',
        value_parser = guarded,
        requires = "fault_rate"
    )]
    fault_nodes: Vec<Guarded>,

    /// Run on a hand-moved clock that advances U microseconds between documents and not at all
    /// inside them: breaker timeouts and recoveries then depend on the document count only, never
    /// on the machine (latencies read as 0 unless --simulated-latency)
    #[arg(long, value_name = "U")]
    pub(crate) simulated_us_per_document: Option<u64>,

    /// Run on a hand-moved clock that each node moves by a nominal cost of its own while it runs
    /// (drawn from the seed): the latencies, and so the budget verdicts, are the same on every
    /// machine
    #[arg(long)]
    pub(crate) simulated_latency: bool,

    /// With --simulated-latency, make this node's simulated cost --slow-factor times larger (any
    /// of the eleven nodes)
    #[arg(
        long,
        value_name = "NODE",
        value_parser = node_index,
        requires_all = ["slow_factor", "simulated_latency"]
    )]
    slow_node: Option<usize>,

    /// How much slower --slow-node runs, a positive number like `3`
    #[arg(long, value_name = "X", value_parser = slow_factor, requires = "slow_node")]
    slow_factor: Option<f64>,

    /// End the --slow-node slowdown after document N: documents from N on run at normal speed
    #[arg(long, value_name = "N", requires = "slow_node")]
    slow_until: Option<u64>,
}

impl Options {
    /// This process's command line. A mistake is printed with the usage and ends the process with
    /// code 2; `--help` prints the help and ends it with 0.
    pub(crate) fn from_command_line() -> Self {
        Self::try_parse().unwrap_or_else(|mut error| {
            // clap gives the usage after an unknown flag but not after an invalid value
            // (`--fault-rate 2`), where a reader needs it as much.
            if error.use_stderr() && error.get(ContextKind::Usage).is_none() {
                let usage = Self::command().render_usage();
                error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
            }
            error.exit()
        })
    }

    /// Which nodes fail and how often; nothing fails without `--fault-rate` (which clap makes
    /// come with `--fault-node`).
    pub(crate) fn faults(&self) -> FaultPlan {
        FaultPlan::new(self.fault_rate.unwrap_or(0.0), &self.fault_nodes)
    }

    /// The node made slower on the simulated clock, if any.
    pub(crate) fn slow(&self) -> Option<SlowNode> {
        Some(SlowNode {
            node: self.slow_node?,
            factor: self.slow_factor?,
            until: self.slow_until,
        })
    }
}

fn fault_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err("a share from 0 to 1 like `0.3`".to_owned()),
    }
}

/// Spaces around a comma are forgiven, as in `embedding, dag_validation`.
fn guarded(name: &str) -> Result<Guarded, String> {
    name.trim().parse()
}

/// The node's index in [`SIMULATED_COSTS`].
fn node_index(name: &str) -> Result<usize, String> {
    SIMULATED_COSTS
        .iter()
        .position(|&(node, _)| node == name)
        .ok_or_else(|| {
            let nodes = SIMULATED_COSTS.map(|(node, _)| node).join(", ");
            format!("there is no node `{name}`; the nodes are {nodes}")
        })
}

fn slow_factor(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(factor),
        _ => Err("a positive number like `3`".to_owned()),
    }
}
