//! A document-analysis pipeline under latency budgets: the project's main example.
//!
//! It generates municipal development plans (deterministically, from a seed and each document's
//! index) and runs every plan through eleven nodes, from text sanitization to the validation of
//! the plan's theory of change. Each node is an ordinary function carrying
//! `#[instrument_runtime::budget]`. The six nodes that stand for fragile dependencies (a model, a
//! detector, a validator) also carry `#[instrument_runtime::circuit_breaker]`, which counts their
//! failed calls in the `errors` column and, after failures in a row, answers with a degraded
//! fallback until probes show the node works again. `--fault-rate` and `--fault-node` inject
//! failures into them, deterministically from `--seed`, to watch that happen. At exit the runtime
//! writes `target/instrument/report.json` and prints the summary tables to stderr.
//! `--simulated-latency` runs it on a hand-moved clock that each node advances by a cost drawn
//! from the seed, so the latencies are the same on every machine; `--slow-node` and
//! `--slow-factor` make one node slower on it. That is how CI gates the budgets.
//!
//! ```text
//! cargo run --release --example pipeline -- --documents 1000 --seed 7 --show 3
//! cargo run --release --example pipeline -- --fault-rate 0.3 --fault-node embedding
//! cargo run --release --example pipeline -- --simulated-latency --slow-node embedding --slow-factor 3
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use instrument_runtime::{
    BreakerState, ManualClock, Snapshot,
    breaker::TransitionCounts,
    format::{TableStyle, format_duration},
    record::ManualClockGuard,
};

fn main() -> ExitCode {
    // The command line is read before the report is armed, so `--help` or a typo does not
    // overwrite the last run's report with an empty one.
    let options = match Command::parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("pipeline: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The main job writes where the CI gate reads by default, `target/instrument/`, rather than
    // in a directory of its own like other binaries.
    if let Some(target) = instrument_runtime::report::build_target_dir() {
        instrument_runtime::report::set_report_dir(target.join("instrument"));
    }
    instrument_runtime::report_at_exit();

    let mut run = Run::start(options.clone());
    let started = Instant::now();
    let mut totals = Totals::default();
    for _ in 0..options.documents {
        run.next_document(|index, findings| {
            if options.show == Some(index) {
                match findings {
                    Ok(findings) => print!("document {index}: {findings}"),
                    Err(error) => println!("document {index}: {error}"),
                }
            }
            totals.add(findings);
        });
    }
    println!("{}", totals.summary(&options, started.elapsed()));
    for line in breaker_summary(&instrument_runtime::snapshot()) {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

/// A run of the pipeline as its options describe it, one document at a time: what `main` loops
/// over, and what a test hands to the in-test performance gate.
///
/// With `--simulated-us-per-document` or `--simulated-latency` it installs a `ManualClock` on the
/// thread that started it, and with `--simulated-latency` makes this thread's node calls move
/// that clock, until it is dropped.
pub(crate) struct Run {
    options: Options,
    clock: Option<ManualClock>,
    _installed: Option<ManualClockGuard>,
    next_index: u64,
}

impl Run {
    /// Sets up the clock and the simulation the options ask for; the first document is 0.
    pub(crate) fn start(options: Options) -> Self {
        let clock = (options.simulated_us_per_document.is_some() || options.simulated_latency)
            .then(ManualClock::new);
        let installed = clock.as_ref().map(ManualClock::install);
        if let (Some(clock), true) = (&clock, options.simulated_latency) {
            let simulation = SimulatedLatency::new(clock.clone(), options.seed, options.slow);
            SIMULATED_LATENCY.set(Some(simulation));
        }
        Self {
            options,
            clock,
            _installed: installed,
            next_index: 0,
        }
    }

    /// Generates the next document, runs it through all eleven nodes and hands its index and
    /// what the nodes found to `inspect`.
    pub(crate) fn next_document<T>(
        &mut self,
        inspect: impl FnOnce(u64, &Result<Findings<'_>, DocumentError>) -> T,
    ) -> T {
        let (seed, index) = (self.options.seed, self.next_index);
        self.next_index += 1;
        if let Some(clock) = &self.clock {
            clock.advance(Duration::from_micros(
                self.options.simulated_us_per_document.unwrap_or(0),
            ));
        }
        SIMULATED_LATENCY.with_borrow(|simulation| {
            if let Some(simulation) = simulation {
                simulation.document.set(index);
            }
        });
        let raw = generate_plan(seed, index);
        let text = sanitization(&raw);
        let faults = self.options.faults.for_document(seed, index);
        inspect(
            index,
            &analyse(&text, monte_carlo_seed(seed, index), faults),
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.options.simulated_latency {
            SIMULATED_LATENCY.set(None);
        }
    }
}

/// One sanitized document through the other ten nodes, in order. A plan whose header cannot be
/// read is rejected by `plan_processing`; a guarded node that fails (with its breaker still
/// closed) fails the document; otherwise every node runs, some perhaps answered by a fallback.
fn analyse(
    text: &str,
    monte_carlo_seed: u64,
    faults: Faults,
) -> Result<Findings<'_>, DocumentError> {
    let metadata = plan_processing(text)?;
    let segments = document_segmentation(text);
    let embeddings = embedding(&segments, faults)?;
    let responsibilities = responsibility_detection(&segments, faults)?;
    let contradictions = contradiction_detection(&segments, &embeddings, faults)?;
    let amounts = monetary_detection(&segments);
    let feasibility = feasibility_scoring(
        &metadata,
        &segments,
        &responsibilities,
        &amounts,
        &contradictions,
    );
    let links = causal_detection(&segments, faults)?;
    let theory = teoria_cambio(&links, faults)?;
    let validation = match dag_validation(&theory, monte_carlo_seed, faults) {
        Ok(report) => Ok(report),
        // A circular theory is a finding about the plan, not a failure of the pipeline.
        Err(DagError::Cycle(cycle)) => Err(cycle),
        Err(DagError::Failed(failure)) => return Err(failure.into()),
    };
    Ok(Findings {
        metadata,
        segments,
        responsibilities,
        contradictions,
        amounts,
        feasibility,
        links,
        theory,
        validation,
    })
}

/// Why a document did not go through the pipeline.
#[derive(Debug)]
pub(crate) enum DocumentError {
    /// `plan_processing` could not read it.
    Rejected(PlanError),
    /// A guarded node failed on it.
    Failed(NodeFailure),
}

impl From<PlanError> for DocumentError {
    fn from(error: PlanError) -> Self {
        Self::Rejected(error)
    }
}

impl From<NodeFailure> for DocumentError {
    fn from(failure: NodeFailure) -> Self {
        Self::Failed(failure)
    }
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(error) => write!(f, "rejected: {error}"),
            Self::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

/// One line per breaker that changed state during the run (opened, half-opened, closed,
/// fallbacks served, recoveries against the SLA), or one line saying none did.
fn breaker_summary(snapshot: &Snapshot) -> Vec<String> {
    let duration = |ns| format_duration(ns, TableStyle::Ascii);
    let lines: Vec<String> = snapshot
        .breakers
        .iter()
        .filter(|breaker| breaker.transitions != TransitionCounts::default())
        .map(|breaker| {
            let transitions = &breaker.transitions;
            let recoveries = &breaker.recoveries;
            let longest = if recoveries.count == 0 {
                String::new()
            } else {
                format!("max {}, ", duration(recoveries.longest_ns))
            };
            let still = match breaker.state {
                BreakerState::Closed => String::new(),
                state => format!("; still {} at the end", state.as_str()),
            };
            format!(
                "{}: opened {}, half-opened {}, closed {}, fallbacks {}, recoveries {} \
                 ({longest}SLA {}: {} violations){still}",
                breaker.name,
                transitions.opened,
                transitions.half_opened,
                transitions.closed,
                breaker.fallbacks,
                recoveries.count,
                duration(recoveries.sla_ns),
                recoveries.sla_violations,
            )
        })
        .collect();
    if lines.is_empty() {
        vec![format!(
            "breakers: {} closed, none changed state",
            snapshot.breakers.len()
        )]
    } else {
        lines
    }
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const USAGE: &str = "\
usage: pipeline [--documents N] [--seed S] [--show I] [--fault-rate R --fault-node NODE]
                [--simulated-us-per-document U]
                [--simulated-latency [--slow-node NODE --slow-factor X]]

  --documents N      how many generated plans to analyse (default 1000)
  --seed S           seed of the plan generator and of the injected faults (default 7)
  --show I           also print what the pipeline found in document I
  --fault-rate R     make this share (0 to 1) of the calls to the --fault-node nodes fail
  --fault-node NODE  a node to inject faults into (repeat it, or separate names with commas):
                     embedding, responsibility_detection, contradiction_detection,
                     causal_detection, teoria_cambio, dag_validation
  --simulated-us-per-document U
                     run on a hand-moved clock that advances U microseconds between documents
                     and not at all inside them: breaker timeouts and recoveries then depend on
                     the document count only, never on the machine (latencies read as 0
                     unless --simulated-latency)
  --simulated-latency
                     run on a hand-moved clock that each node moves by a nominal cost of its
                     own while it runs (drawn from the seed): the latencies, and so the budget
                     verdicts, are the same on every machine
  --slow-node NODE   with --simulated-latency, make this node's simulated cost --slow-factor
                     times larger (any of the eleven nodes)
  --slow-factor X    how much slower --slow-node runs, a positive number like `3`
  -h, --help         print this help";

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Options),
    Help,
}

/// How to run the pipeline.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    documents: u64,
    seed: u64,
    show: Option<u64>,
    faults: FaultPlan,
    /// With a value, time is a `ManualClock` moved this much between documents.
    simulated_us_per_document: Option<u64>,
    /// Time is a `ManualClock` that each node moves by its simulated cost.
    simulated_latency: bool,
    /// A node whose simulated cost is multiplied by a factor.
    slow: Option<SlowNode>,
}

impl Default for Options {
    fn default() -> Self {
        // 1000 documents give every node about 1000 samples, ten of them above its p99, so one
        // scheduling hiccup cannot decide a verdict.
        Self {
            documents: 1000,
            seed: 7,
            show: None,
            faults: FaultPlan::NONE,
            simulated_us_per_document: None,
            simulated_latency: false,
            slow: None,
        }
    }
}

/// Why the command line was not understood.
#[derive(Debug)]
pub(crate) enum UsageError {
    UnknownFlag(String),
    MissingValue(String),
    InvalidValue { flag: String, value: String },
    FaultRate(String),
    UnknownNode(String),
    Unguarded(String),
    RateWithoutNode,
    NodeWithoutRate,
    NoSuchNode(String),
    SlowFactor(String),
    SlowNodeWithoutFactor,
    SlowFactorWithoutNode,
    SlowWithoutSimulation,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guarded = || Guarded::ALL.map(Guarded::name).join(", ");
        match self {
            Self::UnknownFlag(flag) => write!(f, "unknown argument `{flag}`"),
            Self::MissingValue(flag) => write!(f, "`{flag}` needs a value"),
            Self::InvalidValue { flag, value } => write!(f, "invalid value `{value}` for `{flag}`"),
            Self::FaultRate(value) => write!(
                f,
                "`--fault-rate` takes a share from 0 to 1 like `0.3`, found `{value}`"
            ),
            Self::UnknownNode(name) => write!(
                f,
                "`--fault-node`: there is no node `{name}`; faults go into {}",
                guarded()
            ),
            Self::Unguarded(name) => write!(
                f,
                "`--fault-node`: `{name}` has no circuit breaker; faults go into {}",
                guarded()
            ),
            Self::RateWithoutNode => f.write_str("`--fault-rate` needs `--fault-node`"),
            Self::NodeWithoutRate => f.write_str("`--fault-node` needs `--fault-rate`"),
            Self::NoSuchNode(name) => write!(
                f,
                "`--slow-node`: there is no node `{name}`; the nodes are {}",
                SIMULATED_COSTS.map(|(node, _)| node).join(", ")
            ),
            Self::SlowFactor(value) => write!(
                f,
                "`--slow-factor` takes a positive number like `3`, found `{value}`"
            ),
            Self::SlowNodeWithoutFactor => f.write_str("`--slow-node` needs `--slow-factor`"),
            Self::SlowFactorWithoutNode => f.write_str("`--slow-factor` needs `--slow-node`"),
            Self::SlowWithoutSimulation => f.write_str(
                "`--slow-node` needs `--simulated-latency`: only simulated time can be slowed",
            ),
        }
    }
}

impl Command {
    /// Parses the arguments after the program name: `--flag value` or `--flag=value`.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, UsageError> {
        let mut options = Options::default();
        let mut fault_rate = None;
        let (mut slow_node, mut slow_factor) = (None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| UsageError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--documents" => options.documents = parse_value(&flag, value()?)?,
                "--seed" => options.seed = parse_value(&flag, value()?)?,
                "--show" => options.show = Some(parse_value(&flag, value()?)?),
                "--simulated-us-per-document" => {
                    options.simulated_us_per_document = Some(parse_value(&flag, value()?)?);
                }
                "--simulated-latency" => match inline {
                    None => options.simulated_latency = true,
                    Some(value) => return Err(UsageError::InvalidValue { flag, value }),
                },
                "--slow-node" => slow_node = Some(parse_slow_node(&value()?)?),
                "--slow-factor" => slow_factor = Some(parse_slow_factor(value()?)?),
                "--fault-rate" => fault_rate = Some(parse_fault_rate(value()?)?),
                "--fault-node" => {
                    for name in value()?.split(',').map(str::trim) {
                        options.faults.nodes |= name.parse::<Guarded>()?.bit();
                    }
                }
                "-h" | "--help" => return Ok(Self::Help),
                _ => return Err(UsageError::UnknownFlag(flag)),
            }
        }
        match (fault_rate, options.faults.nodes) {
            (None, 0) => {}
            (Some(_), 0) => return Err(UsageError::RateWithoutNode),
            (None, _) => return Err(UsageError::NodeWithoutRate),
            (Some(rate), _) => options.faults.rate = rate,
        }
        options.slow = match (slow_node, slow_factor) {
            (None, None) => None,
            (Some(_), None) => return Err(UsageError::SlowNodeWithoutFactor),
            (None, Some(_)) => return Err(UsageError::SlowFactorWithoutNode),
            (Some(_), Some(_)) if !options.simulated_latency => {
                return Err(UsageError::SlowWithoutSimulation);
            }
            (Some(node), Some(factor)) => Some(SlowNode { node, factor }),
        };
        Ok(Self::Run(options))
    }
}

fn parse_fault_rate(value: String) -> Result<f64, UsageError> {
    match value.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(UsageError::FaultRate(value)),
    }
}

/// The node's index in [`SIMULATED_COSTS`].
fn parse_slow_node(name: &str) -> Result<usize, UsageError> {
    SIMULATED_COSTS
        .iter()
        .position(|&(node, _)| node == name)
        .ok_or_else(|| UsageError::NoSuchNode(name.to_owned()))
}

fn parse_slow_factor(value: String) -> Result<f64, UsageError> {
    match value.parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(factor),
        _ => Err(UsageError::SlowFactor(value)),
    }
}

fn parse_value<T: FromStr>(flag: &str, value: String) -> Result<T, UsageError> {
    value.parse().map_err(|_| UsageError::InvalidValue {
        flag: flag.to_owned(),
        value,
    })
}

// ---------------------------------------------------------------------------------------------
// Simulated latency
// ---------------------------------------------------------------------------------------------
//
// With `--simulated-latency` every node moves the hand-driven clock by a cost of its own while
// it runs, so its latency is known in advance and equal on every machine: what the performance
// gate's tests and CI judge. A node's nominal cost is 40% of its p95 budget; each call takes 0.8
// to 1.2 times it, and 3% of calls (a slow path) 1.3 to 1.6 times it. So p95 lands near 48% of
// the p95 budget and p99 near 60% (every p99 budget is at least 1.5 times the p95 one), and
// `--slow-factor 3` puts p95 near 143% of its budget, past the 10% tolerance.

/// Each node and its nominal simulated cost, in microseconds.
const SIMULATED_COSTS: [(&str, u64); 11] = [
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

/// `--slow-node` and `--slow-factor`.
#[derive(Clone, Copy, Debug)]
struct SlowNode {
    /// Index in [`SIMULATED_COSTS`].
    node: usize,
    factor: f64,
}

thread_local! {
    /// Set by a [`Run`] with `--simulated-latency`, for the thread it runs on; the nodes read it.
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
            Some(slow) if slow.node == node => slow.factor,
            _ => 1.0,
        };
        let nominal_ns = SIMULATED_COSTS[node].1 as f64 * 1_000.0;
        Duration::from_nanos((nominal_ns * share * factor).round() as u64)
    }
}

/// What every node does first: with `--simulated-latency`, move the clock by its cost.
fn simulate_work(node: &str) {
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

// ---------------------------------------------------------------------------------------------
// Guarded nodes and injected faults
// ---------------------------------------------------------------------------------------------
//
// The six nodes that stand for a fragile dependency carry the same breaker settings:
//
// - `failure_threshold = 3`: at `--fault-rate 0.3`, three failures in a row happen about twenty
//   times in 1000 calls, so even a short run opens the breaker; a fault-free run never fails
//   three times in a row (a circular theory of change is a finding, not a failure).
// - `timeout = "20ms"`: the default run takes about half a second (0.5 ms a document), so a
//   20 ms outage answers about 40 documents from the fallback and a run sees several outages,
//   each probed and closed again well within the run. A production timeout would be seconds.
// - `recovery = "2s"`: the SLA from opening to closing again; an outage lasts at least one
//   timeout, plus one more for each failed probe.

/// The nodes guarded by a circuit breaker, which `--fault-node` can make fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guarded {
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
    fn name(self) -> &'static str {
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

impl FromStr for Guarded {
    type Err = UsageError;

    fn from_str(name: &str) -> Result<Self, UsageError> {
        if let Some(node) = Self::ALL.into_iter().find(|node| node.name() == name) {
            Ok(node)
        } else if UNGUARDED.contains(&name) {
            Err(UsageError::Unguarded(name.to_owned()))
        } else {
            Err(UsageError::UnknownNode(name.to_owned()))
        }
    }
}

/// Which nodes fail, and how often: `--fault-rate` and `--fault-node`.
#[derive(Clone, Copy, Debug)]
struct FaultPlan {
    /// Share of calls that fail, from 0 to 1.
    rate: f64,
    /// One bit per [`Guarded`] node.
    nodes: u8,
}

impl FaultPlan {
    const NONE: Self = Self {
        rate: 0.0,
        nodes: 0,
    };

    /// The faults of document `index`: one draw per node from a stream of its own, so the same
    /// seed fails the same calls whatever `--documents` says or which other nodes fail.
    fn for_document(self, seed: u64, index: u64) -> Faults {
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
struct Faults {
    failing: u8,
    document: u64,
}

impl Faults {
    /// What a guarded node calls first: the failure of the dependency it stands for, if any.
    fn check(self, node: Guarded) -> Result<(), NodeFailure> {
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

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// Everything the nodes found in one document.
pub(crate) struct Findings<'a> {
    metadata: PlanMetadata,
    segments: Vec<Segment<'a>>,
    responsibilities: Vec<Responsibility>,
    contradictions: Vec<Contradiction>,
    amounts: Vec<MonetaryAmount>,
    feasibility: Feasibility,
    links: Vec<CausalLink>,
    theory: TheoryOfChange,
    validation: Result<DagReport, CycleError>,
}

/// What `--show` prints: a readable account of one document.
impl fmt::Display for Findings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = &self.metadata;
        let quote = |segment: usize| -> String {
            let words: Vec<&str> = self.segments[segment].text.split_whitespace().collect();
            words.join(" ")
        };
        writeln!(
            f,
            "{} ({}), {}-{}, mayor {}; {} segments",
            plan.municipality,
            plan.department,
            plan.period.0,
            plan.period.1,
            plan.mayor.as_deref().unwrap_or("not named"),
            self.segments.len()
        )?;
        writeln!(f, "  feasibility {:.2}", self.feasibility.overall)?;
        for (name, score) in plan.axes.iter().zip(&self.feasibility.axes) {
            writeln!(f, "    {score:.2}  {name}")?;
        }
        writeln!(f, "  responsibilities")?;
        for found in &self.responsibilities {
            writeln!(
                f,
                "    {} ({}): {}",
                found.entity,
                found.verb,
                quote(found.segment)
            )?;
        }
        writeln!(f, "  money")?;
        for amount in &self.amounts {
            writeln!(
                f,
                "    {} pesos (in {:?}): {}",
                grouped(amount.pesos),
                amount.currency,
                quote(amount.segment)
            )?;
        }
        writeln!(f, "  contradictions")?;
        for found in &self.contradictions {
            writeln!(
                f,
                "    {:?} on `{}` (similarity {:.2}):\n      {}\n      {}",
                found.kind,
                found.subject,
                found.similarity,
                quote(found.first),
                quote(found.second)
            )?;
        }
        writeln!(f, "  causal links")?;
        for link in &self.links {
            writeln!(
                f,
                "    `{}` -> `{}` ({})",
                link.cause, link.effect, link.connective
            )?;
        }
        let theory = &self.theory;
        writeln!(
            f,
            "  theory of change: {} concepts, {} links, {} complete input-to-outcome chains",
            theory.concepts.len(),
            theory.edges.len(),
            theory.complete_chains
        )?;
        match &self.validation {
            Ok(report) if !report.validated => {
                writeln!(f, "  not validated: `dag_validation` was unavailable")
            }
            Ok(report) => {
                writeln!(
                    f,
                    "  valid: longest chain {} links, robustness {:.2}; in topological order:",
                    report.longest_path, report.robustness
                )?;
                for &at in &report.order {
                    writeln!(f, "    {:?} `{}`", theory.stages[at], theory.concepts[at])?;
                }
                Ok(())
            }
            Err(cycle) => writeln!(f, "  invalid: {cycle}"),
        }
    }
}

/// The whole run, added up.
#[derive(Default)]
struct Totals {
    documents: u64,
    rejected: u64,
    failed: u64,
    circular: u64,
    unvalidated: u64,
    segments: usize,
    responsibilities: usize,
    contradictions: usize,
    amounts: usize,
    pesos: u128,
    complete_chains: usize,
    feasibility: f64,
    robustness: f64,
    longest_chain: usize,
}

impl Totals {
    fn add(&mut self, findings: &Result<Findings<'_>, DocumentError>) {
        self.documents += 1;
        let findings = match findings {
            Ok(findings) => findings,
            Err(DocumentError::Rejected(_)) => {
                self.rejected += 1;
                return;
            }
            Err(DocumentError::Failed(_)) => {
                self.failed += 1;
                return;
            }
        };
        self.segments += findings.segments.len();
        self.responsibilities += findings.responsibilities.len();
        self.contradictions += findings.contradictions.len();
        self.amounts += findings.amounts.len();
        self.pesos += findings
            .amounts
            .iter()
            .map(|amount| u128::from(amount.pesos))
            .sum::<u128>();
        self.complete_chains += findings.theory.complete_chains;
        self.feasibility += findings.feasibility.overall;
        match &findings.validation {
            Ok(report) if !report.validated => self.unvalidated += 1,
            Ok(report) => {
                self.robustness += report.robustness;
                self.longest_chain = self.longest_chain.max(report.longest_path);
            }
            Err(_) => self.circular += 1,
        }
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "averages and totals, printed to a few significant figures"
    )]
    fn summary(&self, options: &Options, elapsed: Duration) -> String {
        let analysed = self.documents - self.rejected - self.failed;
        let validated = analysed - self.circular - self.unvalidated;
        let mean = |sum: f64, count: u64| if count == 0 { 0.0 } else { sum / count as f64 };
        format!(
            "pipeline: {} plans (seed {}) in {:.2}s: {analysed} analysed, {} rejected, {} failed; \
             {} segments, {} responsibilities, {} contradictions, {} amounts \
             (COP {:.1} trillion), {} complete input-to-outcome chains (longest {} links), \
             {} circular and {} unvalidated theories of change; mean feasibility {:.2}, \
             mean robustness {:.2}",
            self.documents,
            options.seed,
            elapsed.as_secs_f64(),
            self.rejected,
            self.failed,
            self.segments,
            self.responsibilities,
            self.contradictions,
            self.amounts,
            self.pesos as f64 / 1e12,
            self.complete_chains,
            self.longest_chain,
            self.circular,
            self.unvalidated,
            mean(self.feasibility, analysed),
            mean(self.robustness, validated),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Node 1: sanitization
// ---------------------------------------------------------------------------------------------

/// Normalizes raw text: line endings, odd spaces, zero-width and control characters, typographic
/// quotes and dashes. Runs of spaces become one space, spaces at line ends go, and blank lines
/// collapse to one, so that a paragraph break is always exactly `"\n\n"`.
#[instrument_runtime::budget(p95 = "2ms", p99 = "3ms")]
fn sanitization(raw: &str) -> String {
    simulate_work("sanitization");
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    // Newlines just written; starting at 2 drops leading blank lines and spaces.
    let mut newlines = 2_u8;
    let mut after_cr = false;
    for c in raw.chars() {
        if c == '\n' && after_cr {
            after_cr = false;
            continue;
        }
        after_cr = c == '\r';
        let c = match c {
            '\r' | '\n' | '\u{c}' => '\n',
            '\u{200b}'..='\u{200d}' | '\u{feff}' => continue,
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            c if c.is_whitespace() => ' ',
            c if c.is_control() => continue,
            c => c,
        };
        match c {
            '\n' => {
                pending_space = false;
                if newlines < 2 {
                    out.push('\n');
                    newlines += 1;
                }
            }
            ' ' => pending_space = newlines == 0,
            c => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
                newlines = 0;
            }
        }
    }
    out.truncate(out.trim_end().len());
    out
}

// ---------------------------------------------------------------------------------------------
// Node 2: plan_processing
// ---------------------------------------------------------------------------------------------

/// What the plan's header says about it.
#[derive(Debug)]
struct PlanMetadata {
    municipality: String,
    department: String,
    mayor: Option<String>,
    /// First and last year of the four-year term.
    period: (u16, u16),
    /// The names of the strategic axes, in order.
    axes: Vec<String>,
}

/// Why a plan was rejected.
#[derive(Debug)]
pub(crate) enum PlanError {
    NotAPlan,
    MissingField(&'static str),
    InvalidPeriod(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAPlan => f.write_str("not a municipal development plan"),
            Self::MissingField(field) => write!(f, "the header has no `{field}`"),
            Self::InvalidPeriod(period) => {
                write!(f, "`{period}` is not a four-year term like `2024-2027`")
            }
        }
    }
}

/// Reads the header (`Key: value` lines up to the first blank line) and the axis headings.
#[instrument_runtime::budget(p95 = "3ms", p99 = "5ms")]
#[instrument_runtime::counted]
fn plan_processing(text: &str) -> Result<PlanMetadata, PlanError> {
    simulate_work("plan_processing");
    let (header, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = header.lines();
    if !lines
        .next()
        .is_some_and(|title| title.starts_with("MUNICIPAL DEVELOPMENT PLAN"))
    {
        return Err(PlanError::NotAPlan);
    }
    let (mut municipality, mut department, mut mayor, mut period) = (None, None, None, None);
    for line in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = Some(value.trim());
        match key.trim() {
            "Municipality" => municipality = value,
            "Department" => department = value,
            "Mayor" => mayor = value,
            "Period" => period = value,
            _ => {}
        }
    }
    let axes = body
        .lines()
        .filter_map(|line| line.strip_prefix("Strategic axis "))
        .filter_map(|heading| heading.split_once(": "))
        .map(|(_, name)| name.to_owned())
        .collect();
    Ok(PlanMetadata {
        municipality: municipality
            .ok_or(PlanError::MissingField("Municipality"))?
            .to_owned(),
        department: department
            .ok_or(PlanError::MissingField("Department"))?
            .to_owned(),
        mayor: mayor.map(str::to_owned),
        period: parse_period(period.ok_or(PlanError::MissingField("Period"))?)?,
        axes,
    })
}

/// `2024-2027`: a municipal term is four calendar years.
fn parse_period(period: &str) -> Result<(u16, u16), PlanError> {
    let invalid = || PlanError::InvalidPeriod(period.to_owned());
    let (start, end) = period.split_once('-').ok_or_else(invalid)?;
    let start: u16 = start.trim().parse().map_err(|_| invalid())?;
    let end: u16 = end.trim().parse().map_err(|_| invalid())?;
    if (2000..2100).contains(&start) && end == start + 3 {
        Ok((start, end))
    } else {
        Err(invalid())
    }
}

// ---------------------------------------------------------------------------------------------
// Node 3: document_segmentation
// ---------------------------------------------------------------------------------------------

/// One sentence of the plan's body, borrowed from the sanitized text.
#[derive(Clone, Copy, Debug)]
struct Segment<'a> {
    /// Index of the strategic axis it belongs to; `None` for the introduction.
    axis: Option<usize>,
    text: &'a str,
}

/// Splits the body into paragraphs and the paragraphs into sentences, tracking the axis each
/// sentence belongs to. Paragraphs are hard-wrapped, so a sentence may span lines.
#[instrument_runtime::budget(p95 = "4ms", p99 = "6ms")]
fn document_segmentation(text: &str) -> Vec<Segment<'_>> {
    simulate_work("document_segmentation");
    let body = text.split_once("\n\n").map_or("", |(_, body)| body);
    let mut segments = Vec::new();
    let mut axis = None;
    for paragraph in body.split("\n\n") {
        if paragraph.starts_with("Strategic axis ") {
            axis = Some(axis.map_or(0, |axis| axis + 1));
            continue;
        }
        let mut start = 0;
        let bytes = paragraph.as_bytes();
        for (at, byte) in bytes.iter().enumerate() {
            // A full stop ends a sentence only before whitespace: `2.5` and `US$1.2` stay whole.
            let ends_sentence = matches!(byte, b'.' | b'!' | b'?')
                && bytes.get(at + 1).is_none_or(u8::is_ascii_whitespace);
            if ends_sentence {
                push_segment(&mut segments, axis, &paragraph[start..=at]);
                start = at + 1;
            }
        }
        push_segment(&mut segments, axis, &paragraph[start..]);
    }
    segments
}

fn push_segment<'a>(segments: &mut Vec<Segment<'a>>, axis: Option<usize>, text: &'a str) {
    let text = text.trim();
    if !text.is_empty() {
        segments.push(Segment { axis, text });
    }
}

// ---------------------------------------------------------------------------------------------
// Node 4: embedding
// ---------------------------------------------------------------------------------------------

/// Width of a segment vector (that of the small sentence-embedding models).
const EMBEDDING_DIM: usize = 384;
/// Segments embedded together: one token buffer and one block of rows per batch.
const EMBEDDING_BATCH: usize = 32;

/// One unit-length vector per segment, row after row.
struct Embeddings {
    vectors: Vec<f32>,
}

impl Embeddings {
    fn row(&self, segment: usize) -> &[f32] {
        &self.vectors[segment * EMBEDDING_DIM..(segment + 1) * EMBEDDING_DIM]
    }

    /// Cosine similarity of two segments (rows are unit vectors, or zero for empty segments).
    fn similarity(&self, a: usize, b: usize) -> f32 {
        self.row(a)
            .iter()
            .zip(self.row(b))
            .map(|(x, y)| x * y)
            .sum()
    }
}

/// Embeds every segment by signed feature hashing of its unigrams and bigrams, in batches.
#[instrument_runtime::budget(p95 = "50ms", p99 = "80ms")]
#[instrument_runtime::circuit_breaker(
    name = "embedding",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = embedding_fallback
)]
fn embedding(segments: &[Segment<'_>], faults: Faults) -> Result<Embeddings, NodeFailure> {
    simulate_work("embedding");
    faults.check(Guarded::Embedding)?;
    let mut vectors = vec![0.0; segments.len() * EMBEDDING_DIM];
    let mut tokens = Vec::new();
    for (batch, rows) in segments
        .chunks(EMBEDDING_BATCH)
        .zip(vectors.chunks_mut(EMBEDDING_BATCH * EMBEDDING_DIM))
    {
        for (segment, row) in batch.iter().zip(rows.chunks_exact_mut(EMBEDDING_DIM)) {
            tokens.clear();
            tokens.extend(words(segment.text).map(hash_lowercase));
            for (at, &token) in tokens.iter().enumerate() {
                add_feature(row, token);
                if let Some(&next) = tokens.get(at + 1) {
                    add_feature(row, token.rotate_left(21) ^ next);
                }
            }
        }
        for row in rows.chunks_exact_mut(EMBEDDING_DIM) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                for x in row.iter_mut() {
                    *x /= norm;
                }
            }
        }
    }
    Ok(Embeddings { vectors })
}

/// While `embedding`'s breaker is open: zero vectors, as for empty segments. No two segments are
/// then similar, so `contradiction_detection` reports no contradiction rather than an unconfirmed
/// one.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn embedding_fallback(
    segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Embeddings, NodeFailure> {
    Ok(Embeddings {
        vectors: vec![0.0; segments.len() * EMBEDDING_DIM],
    })
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the remainder is below EMBEDDING_DIM"
)]
fn add_feature(row: &mut [f32], hash: u64) {
    let index = (hash % EMBEDDING_DIM as u64) as usize;
    row[index] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
}

/// FNV-1a of the word, ASCII letters lowercased.
fn hash_lowercase(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Words: runs of letters, digits and apostrophes.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|word| !word.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Node 5: responsibility_detection
// ---------------------------------------------------------------------------------------------

/// An institution named as responsible for something.
#[derive(Debug)]
struct Responsibility {
    segment: usize,
    entity: String,
    verb: String,
}

/// Words that make a capitalized name an institution.
const ENTITY_HEADS: &[&str] = &[
    "Secretariat",
    "Office",
    "Council",
    "Utility",
    "Institute",
    "Agency",
    "Committee",
    "Government",
    "Ministry",
    "Directorate",
    "Ombudsman",
];
/// Lower-case words allowed inside a name: `Office of the Municipal Ombudsman`.
const NAME_CONNECTORS: &[&str] = &["of", "for", "the", "de"];
const MODALS: &[&str] = &["will", "shall", "must"];
const RESPONSIBILITY_VERBS: &[&str] = &[
    "coordinates",
    "leads",
    "oversees",
    "manages",
    "supervises",
    "finances",
];

/// Finds institutions (capitalized names with an institutional head word, possibly several
/// joined by `and`) followed by an obligation: a modal and a verb, `is responsible for`, or a
/// managing verb.
#[instrument_runtime::budget(p95 = "10ms", p99 = "15ms")]
#[instrument_runtime::circuit_breaker(
    name = "responsibility_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = responsibility_detection_fallback
)]
fn responsibility_detection(
    segments: &[Segment<'_>],
    faults: Faults,
) -> Result<Vec<Responsibility>, NodeFailure> {
    simulate_work("responsibility_detection");
    faults.check(Guarded::ResponsibilityDetection)?;
    let mut found = Vec::new();
    let mut tokens = Vec::new();
    let mut names = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        tokens.clear();
        tokens.extend(
            segment
                .text
                .split_whitespace()
                .map(|token| token.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
                .filter(|token| !token.is_empty()),
        );
        let mut at = 0;
        while at < tokens.len() {
            if !is_capitalized(tokens[at]) {
                at += 1;
                continue;
            }
            names.clear();
            let mut end = name_end(&tokens, at);
            names.push(at..end);
            // `The Secretariat of Health and the Office of Planning must ...`
            while tokens.get(end) == Some(&"and") {
                let next = end + 1 + usize::from(tokens.get(end + 1) == Some(&"the"));
                if !tokens.get(next).is_some_and(|token| is_capitalized(token)) {
                    break;
                }
                end = name_end(&tokens, next);
                names.push(next..end);
            }
            if let Some(verb) = obligation(&tokens[end..]) {
                for name in &names {
                    let name = &tokens[name.clone()];
                    if name.iter().any(|word| ENTITY_HEADS.contains(word)) {
                        let name = name.strip_prefix(&["The"]).unwrap_or(name);
                        found.push(Responsibility {
                            segment: index,
                            entity: name.join(" "),
                            verb: verb.to_owned(),
                        });
                    }
                }
            }
            at = end;
        }
    }
    Ok(found)
}

/// While `responsibility_detection`'s breaker is open: no institution found, so no axis earns
/// the feasibility points of a responsible one.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn responsibility_detection_fallback(
    _segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Vec<Responsibility>, NodeFailure> {
    Ok(Vec::new())
}

fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// The end of the capitalized name starting at `start`.
fn name_end(tokens: &[&str], start: usize) -> usize {
    let mut end = start + 1;
    loop {
        let mut next = end;
        while tokens
            .get(next)
            .is_some_and(|token| NAME_CONNECTORS.contains(token))
        {
            next += 1;
        }
        match tokens.get(next) {
            Some(token) if is_capitalized(token) => end = next + 1,
            _ => return end,
        }
    }
}

/// The verb of an obligation at the start of `rest`, if there is one.
fn obligation<'a>(rest: &[&'a str]) -> Option<&'a str> {
    match rest {
        [modal, verb, ..] if MODALS.contains(modal) => {
            // `must jointly monitor`: skip one adverb.
            let verb = if verb.ends_with("ly") {
                rest.get(2).copied()?
            } else {
                verb
            };
            (verb != "not").then_some(verb)
        }
        ["is" | "are", "responsible", ..] => Some("responsible"),
        [verb, ..] if RESPONSIBILITY_VERBS.contains(verb) => Some(verb),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Node 6: contradiction_detection
// ---------------------------------------------------------------------------------------------

/// Two statements about the same indicator that cannot both hold.
#[derive(Debug)]
struct Contradiction {
    first: usize,
    second: usize,
    subject: String,
    kind: ContradictionKind,
    similarity: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContradictionKind {
    /// One says it rises, the other that it falls.
    OpposingDirection,
    /// One says it rises, the other that it will not.
    Negation,
    /// Both say it rises, to targets far apart for the same year.
    InconsistentTarget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// A quantitative statement: `<subject> will [not] <increase|decrease> [... to N%] [by YEAR]`.
#[derive(Debug)]
struct Claim {
    segment: usize,
    subject: String,
    direction: Direction,
    negated: bool,
    target: Option<u32>,
    year: Option<u16>,
}

/// Targets closer than this (percentage points) are the same target, rounded differently.
const TARGET_GAP: u32 = 10;
/// Below this similarity two sentences are not about the same thing, whatever their subject.
const TOPIC_SIMILARITY: f32 = 0.2;

/// Extracts quantitative claims and compares the claims about the same subject; the segments'
/// embeddings confirm that the two sentences are about the same topic.
#[instrument_runtime::budget(p95 = "8ms", p99 = "12ms")]
#[instrument_runtime::circuit_breaker(
    name = "contradiction_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = contradiction_detection_fallback
)]
fn contradiction_detection(
    segments: &[Segment<'_>],
    embeddings: &Embeddings,
    faults: Faults,
) -> Result<Vec<Contradiction>, NodeFailure> {
    simulate_work("contradiction_detection");
    faults.check(Guarded::ContradictionDetection)?;
    let mut claims: Vec<Claim> = segments
        .iter()
        .enumerate()
        .filter_map(|(index, segment)| claim(index, segment.text))
        .collect();
    claims.sort_by(|a, b| a.subject.cmp(&b.subject).then(a.segment.cmp(&b.segment)));
    let mut found = Vec::new();
    for group in claims.chunk_by(|a, b| a.subject == b.subject) {
        for (at, first) in group.iter().enumerate() {
            for second in &group[at + 1..] {
                let Some(kind) = conflict(first, second) else {
                    continue;
                };
                let similarity = embeddings.similarity(first.segment, second.segment);
                if similarity >= TOPIC_SIMILARITY {
                    found.push(Contradiction {
                        first: first.segment,
                        second: second.segment,
                        subject: first.subject.clone(),
                        kind,
                        similarity,
                    });
                }
            }
        }
    }
    Ok(found)
}

/// While `contradiction_detection`'s breaker is open: no contradiction found.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn contradiction_detection_fallback(
    _segments: &[Segment<'_>],
    _embeddings: &Embeddings,
    _faults: Faults,
) -> Result<Vec<Contradiction>, NodeFailure> {
    Ok(Vec::new())
}

fn claim(segment: usize, text: &str) -> Option<Claim> {
    let lower = flat_lowercase(text);
    let will = lower.find(" will ")?;
    // `Thanks to the new aqueducts, drinking water coverage will increase.`
    let subject_start = lower[..will].rfind(',').map_or(0, |comma| comma + 1);
    let subject = concept_key(&lower[subject_start..will]);
    if subject.is_empty() {
        return None;
    }
    let mut rest = lower[will + " will ".len()..]
        .split_whitespace()
        .map(|word| word.trim_end_matches(['.', ',', ';']));
    let mut verb = rest.next()?;
    let negated = verb == "not";
    if negated {
        verb = rest.next()?;
    }
    let direction = match verb {
        "increase" | "rise" | "grow" | "expand" => Direction::Up,
        "decrease" | "fall" | "decline" | "drop" | "reduce" => Direction::Down,
        _ => return None,
    };
    let (mut target, mut year, mut previous) = (None, None, "");
    for word in rest {
        match previous {
            "to" => target = target.or(word.strip_suffix('%').and_then(|n| n.parse().ok())),
            "by" => year = year.or(word.parse().ok().filter(|year| (2000..2100).contains(year))),
            _ => {}
        }
        previous = word;
    }
    Some(Claim {
        segment,
        subject,
        direction,
        negated,
        target,
        year,
    })
}

fn conflict(a: &Claim, b: &Claim) -> Option<ContradictionKind> {
    if a.negated && b.negated {
        return None;
    }
    if a.direction != b.direction {
        // `will not increase` and `will decrease` agree.
        return (!a.negated && !b.negated).then_some(ContradictionKind::OpposingDirection);
    }
    if a.negated != b.negated {
        return Some(ContradictionKind::Negation);
    }
    match (a.target, b.target) {
        (Some(x), Some(y)) if x.abs_diff(y) >= TARGET_GAP && a.year == b.year => {
            Some(ContradictionKind::InconsistentTarget)
        }
        _ => None,
    }
}

/// Words that carry no identity in a concept: articles, connectors, modals, comparatives,
/// directions and currency words. `Higher vaccination coverage` and `vaccination coverage will
/// increase` are the same concept.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "with",
    "and",
    "or",
    "from",
    "into",
    "its",
    "their",
    "this",
    "that",
    "which",
    "will",
    "shall",
    "must",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "more",
    "less",
    "higher",
    "lower",
    "greater",
    "better",
    "increase",
    "increases",
    "increased",
    "improve",
    "improves",
    "improved",
    "rise",
    "reduce",
    "reduced",
    "decrease",
    "cop",
    "usd",
    "us",
    "pesos",
    "million",
    "billion",
    "thousand",
    "several",
    "new",
];

/// The text in lower case, each run of whitespace (a wrapped line's break included) made one
/// space, so that phrases match across the lines of a paragraph.
fn flat_lowercase(text: &str) -> String {
    let mut flat = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !flat.is_empty() {
            flat.push(' ');
        }
        flat.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
    flat
}

/// A comparable key for a phrase: its lower-case content words; numbers and amounts left out.
fn concept_key(phrase: &str) -> String {
    let mut key = String::new();
    for word in words(phrase) {
        let word = word.to_ascii_lowercase();
        if word.bytes().any(|byte| byte.is_ascii_digit()) || STOP_WORDS.contains(&word.as_str()) {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&word);
    }
    key
}

// ---------------------------------------------------------------------------------------------
// Node 7: monetary_detection
// ---------------------------------------------------------------------------------------------

/// Pesos to the dollar, fixed so that runs are comparable.
const PESOS_PER_DOLLAR: u128 = 4_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Currency {
    Pesos,
    Dollars,
}

/// An amount of money found in a segment, converted to pesos.
#[derive(Debug)]
struct MonetaryAmount {
    segment: usize,
    currency: Currency,
    pesos: u64,
}

/// Scans for amounts: `$1,250,000,000`, `$ 850 million`, `COP 1,250 million`,
/// `USD 2.5 million`, `US$75,000`, `850 million pesos`. Percentages, years and counts are not
/// money.
#[instrument_runtime::budget(p95 = "5ms", p99 = "8ms")]
fn monetary_detection(segments: &[Segment<'_>]) -> Vec<MonetaryAmount> {
    simulate_work("monetary_detection");
    let mut found = Vec::new();
    let mut tokens = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        tokens.clear();
        tokens.extend(segment.text.split_whitespace().map(|token| {
            token
                .trim_start_matches('(')
                .trim_end_matches(['.', ',', ';', ':', ')'])
        }));
        let mut at = 0;
        while at < tokens.len() {
            match amount_at(&tokens, at) {
                Some((currency, pesos, next)) => {
                    found.push(MonetaryAmount {
                        segment: index,
                        currency,
                        pesos,
                    });
                    at = next;
                }
                None => at += 1,
            }
        }
    }
    found
}

/// The amount starting at token `at`: its currency, its value in pesos, and the token after it.
fn amount_at(tokens: &[&str], at: usize) -> Option<(Currency, u64, usize)> {
    let token = tokens[at];
    let (prefix, attached) = if let Some(rest) = token.strip_prefix("US$") {
        (Some(Currency::Dollars), rest)
    } else if let Some(rest) = token.strip_prefix('$') {
        (Some(Currency::Pesos), rest)
    } else if token == "COP" {
        (Some(Currency::Pesos), "")
    } else if token == "USD" {
        (Some(Currency::Dollars), "")
    } else {
        (None, token)
    };
    // `$ 850 million`, `COP 1,250 million`: the number is the next token.
    let (number, mut next) = if attached.is_empty() {
        (*tokens.get(at + 1)?, at + 2)
    } else {
        (attached, at + 1)
    };
    let (mantissa, decimals) = parse_number(number)?;
    let scale: u128 = match tokens.get(next).copied() {
        Some("thousand") => 1_000,
        Some("million" | "millones") => 1_000_000,
        Some("billion") => 1_000_000_000,
        _ => 1,
    };
    if scale > 1 {
        next += 1;
    }
    // Without a prefix, only a currency word after the number makes it money.
    let currency = match (prefix, tokens.get(next).copied()) {
        (Some(currency), _) => currency,
        (None, Some("pesos" | "COP")) => Currency::Pesos,
        (None, Some("dollars" | "USD")) => Currency::Dollars,
        (None, _) => return None,
    };
    if prefix.is_none() {
        next += 1;
    }
    let rate = match currency {
        Currency::Pesos => 1,
        Currency::Dollars => PESOS_PER_DOLLAR,
    };
    let pesos = mantissa * scale * rate / 10_u128.pow(decimals);
    Some((currency, u64::try_from(pesos).unwrap_or(u64::MAX), next))
}

/// `1,250,000.5` -> `(12500005, 1)`: digits, optionally grouped by thousands, and decimals.
fn parse_number(text: &str) -> Option<(u128, u32)> {
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut groups = integer.split(',');
    let first = groups.next()?;
    if first.is_empty() || (first.len() > 3 && integer.contains(',')) {
        return None;
    }
    let mut digits = String::with_capacity(text.len());
    digits.push_str(first);
    for group in groups {
        if group.len() != 3 {
            return None;
        }
        digits.push_str(group);
    }
    digits.push_str(fraction);
    if digits.len() > 30 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let decimals = u32::try_from(fraction.len()).ok()?;
    Some((digits.parse().ok()?, decimals))
}

// ---------------------------------------------------------------------------------------------
// Node 8: feasibility_scoring
// ---------------------------------------------------------------------------------------------

/// How implementable each axis looks, from 0 to 1, and the plan's mean.
#[derive(Debug)]
struct Feasibility {
    axes: Vec<f64>,
    overall: f64,
}

/// What an axis shows of being implementable.
#[derive(Clone, Copy, Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one axis, each weighted in `score`"
)]
struct Evidence {
    funded: bool,
    responsible: bool,
    target: bool,
    baseline: bool,
    dated: bool,
    contradictions: u8,
}

impl Evidence {
    fn score(self) -> f64 {
        let found = [
            (self.funded, 0.30),
            (self.responsible, 0.25),
            (self.target, 0.25),
            (self.baseline, 0.10),
            (self.dated, 0.10),
        ];
        let score: f64 = found
            .iter()
            .filter(|(present, _)| *present)
            .map(|(_, weight)| weight)
            .sum();
        (score - 0.1 * f64::from(self.contradictions.min(3))).clamp(0.0, 1.0)
    }
}

/// Scores each axis on what makes a commitment implementable: money, a responsible
/// institution, a measurable target, a baseline and a date within the term; each contradiction
/// costs a tenth.
#[instrument_runtime::budget(p95 = "6ms", p99 = "10ms")]
fn feasibility_scoring(
    metadata: &PlanMetadata,
    segments: &[Segment<'_>],
    responsibilities: &[Responsibility],
    amounts: &[MonetaryAmount],
    contradictions: &[Contradiction],
) -> Feasibility {
    simulate_work("feasibility_scoring");
    let mut evidence = vec![Evidence::default(); metadata.axes.len()];
    let axis_count = evidence.len();
    let axis_of = |segment: usize| segments[segment].axis.filter(|&axis| axis < axis_count);
    for axis in amounts.iter().filter_map(|amount| axis_of(amount.segment)) {
        evidence[axis].funded = true;
    }
    for axis in responsibilities
        .iter()
        .filter_map(|found| axis_of(found.segment))
    {
        evidence[axis].responsible = true;
    }
    for axis in contradictions
        .iter()
        .filter_map(|found| axis_of(found.first))
    {
        evidence[axis].contradictions = evidence[axis].contradictions.saturating_add(1);
    }
    let (first_year, last_year) = metadata.period;
    for (index, segment) in segments.iter().enumerate() {
        let Some(axis) = axis_of(index) else {
            continue;
        };
        let axis = &mut evidence[axis];
        axis.target |= segment.text.contains('%');
        axis.baseline |= segment.text.contains("baseline");
        axis.dated |= words(segment.text)
            .filter_map(|word| word.parse::<u16>().ok())
            .any(|year| (first_year..=last_year).contains(&year));
    }
    let axes: Vec<f64> = evidence.iter().map(|axis| axis.score()).collect();
    let overall = if axes.is_empty() {
        0.0
    } else {
        axes.iter().sum::<f64>() / ratio(axes.len(), 1)
    };
    Feasibility { axes, overall }
}

// ---------------------------------------------------------------------------------------------
// Node 9: causal_detection
// ---------------------------------------------------------------------------------------------

/// `cause -> effect`, as concept keys.
#[derive(Debug)]
struct CausalLink {
    cause: String,
    effect: String,
    connective: &'static str,
}

/// Which side of the connective the cause is on.
#[derive(Clone, Copy, Debug)]
enum CauseSide {
    /// `cause leads to effect`
    Before,
    /// `effect because of cause`
    After,
}

/// Longer connectives first, so that `because of` wins over `because` at the same position.
const CONNECTIVES: &[(&str, CauseSide)] = &[
    ("as a result of", CauseSide::After),
    ("contributes to", CauseSide::Before),
    ("in order to", CauseSide::Before),
    ("because of", CauseSide::After),
    ("results in", CauseSide::Before),
    ("thanks to", CauseSide::After),
    ("therefore", CauseSide::Before),
    ("leads to", CauseSide::Before),
    ("lead to", CauseSide::Before),
    ("because", CauseSide::After),
    ("so that", CauseSide::Before),
    ("due to", CauseSide::After),
];

/// Finds the first causal connective of each sentence and the clauses on either side of it.
#[instrument_runtime::budget(p95 = "7ms", p99 = "11ms")]
#[instrument_runtime::circuit_breaker(
    name = "causal_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = causal_detection_fallback
)]
fn causal_detection(
    segments: &[Segment<'_>],
    faults: Faults,
) -> Result<Vec<CausalLink>, NodeFailure> {
    simulate_work("causal_detection");
    faults.check(Guarded::CausalDetection)?;
    let mut found = Vec::new();
    for segment in segments {
        let lower = flat_lowercase(segment.text);
        let sentence = lower.trim_end_matches(['.', '!', '?']);
        let Some((at, connective, side)) = first_connective(sentence) else {
            continue;
        };
        let before = &sentence[..at];
        let after = &sentence[at + connective.len()..];
        let (cause, effect) = if before.trim().is_empty() {
            // `Because of heavy rains, the works were delayed.`
            let Some((cause, effect)) = after.split_once(',') else {
                continue;
            };
            (cause, effect)
        } else {
            let left = before.rsplit([',', ';']).next().unwrap_or(before);
            let right = after.split([',', ';']).next().unwrap_or(after);
            match side {
                CauseSide::Before => (left, right),
                CauseSide::After => (right, left),
            }
        };
        let (cause, effect) = (concept_key(cause), concept_key(effect));
        if !cause.is_empty() && !effect.is_empty() && cause != effect {
            found.push(CausalLink {
                cause,
                effect,
                connective,
            });
        }
    }
    Ok(found)
}

/// While `causal_detection`'s breaker is open: no causal link, so the theory of change is empty.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn causal_detection_fallback(
    _segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Vec<CausalLink>, NodeFailure> {
    Ok(Vec::new())
}

/// The earliest connective standing as whole words: where, which, and where its cause is.
fn first_connective(sentence: &str) -> Option<(usize, &'static str, CauseSide)> {
    let bytes = sentence.as_bytes();
    CONNECTIVES
        .iter()
        .filter_map(|&(connective, side)| {
            sentence
                .match_indices(connective)
                .map(|(at, _)| at)
                .find(|&at| {
                    let end = at + connective.len();
                    (at == 0 || bytes[at - 1] == b' ')
                        && bytes
                            .get(end)
                            .is_none_or(|&byte| byte == b' ' || byte == b',')
                })
                .map(|at| (at, connective, side))
        })
        .min_by_key(|&(at, _, _)| at)
}

// ---------------------------------------------------------------------------------------------
// Node 10: teoria_cambio
// ---------------------------------------------------------------------------------------------

/// Where a concept sits in a theory of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
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
struct TheoryOfChange {
    concepts: Vec<String>,
    stages: Vec<Stage>,
    /// Sorted, without duplicates.
    edges: Vec<(usize, usize)>,
    /// Inputs from which an outcome or impact can be reached through an output.
    complete_chains: usize,
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
fn teoria_cambio(links: &[CausalLink], faults: Faults) -> Result<TheoryOfChange, NodeFailure> {
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

fn adjacency(nodes: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut successors = vec![Vec::new(); nodes];
    for &(from, to) in edges {
        successors[from].push(to);
    }
    successors
}

// ---------------------------------------------------------------------------------------------
// Node 11: dag_validation
// ---------------------------------------------------------------------------------------------

/// A valid theory of change: acyclic, with its longest chain and how well its outcomes survive
/// losing links.
#[derive(Debug)]
struct DagReport {
    /// The concepts in a topological order.
    order: Vec<usize>,
    /// Links on the longest path.
    longest_path: usize,
    /// Mean share of outcomes and impacts still reachable from an input when each link fails
    /// with probability `LINK_FAILURE`; 1 when the graph has none.
    robustness: f64,
    /// False for the fallback's answer: nothing was checked.
    validated: bool,
}

/// A theory of change that reasons in a circle.
#[derive(Debug)]
struct CycleError {
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
enum DagError {
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
fn dag_validation(
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
fn ratio(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

// ---------------------------------------------------------------------------------------------
// The plan generator (not measured)
// ---------------------------------------------------------------------------------------------

/// `SplitMix64`: small, fast and good enough to vary documents; a seed always gives the same
/// plans.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the remainder is below n, a usize"
    )]
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high - low) + 1;
        low + u32::try_from(self.next_u64() % span).expect("the remainder is below the span")
    }

    /// Uniform in `0..1`.
    #[allow(clippy::cast_precision_loss, reason = "53 bits convert to f64 exactly")]
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn percent(&mut self, chance: u32) -> bool {
        self.between(0, 99) < chance
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Each document has its own stream, so document `i` is the same whatever `--documents` says.
fn document_rng(seed: u64, index: u64) -> Rng {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    rng.next_u64();
    rng
}

fn monte_carlo_seed(seed: u64, index: u64) -> u64 {
    document_rng(seed, index).next_u64() ^ 0x6d6f_6e74_6563_6172
}

/// A strategic axis of a plan: its theme, who runs it, what it measures and what it delivers.
struct Axis {
    name: &'static str,
    entity: &'static str,
    programme: &'static str,
    indicators: &'static [Indicator],
    outputs: &'static [&'static str],
}

/// An indicator, and whether the plan wants it to rise.
struct Indicator {
    name: &'static str,
    rises: bool,
}

const fn up(name: &'static str) -> Indicator {
    Indicator { name, rises: true }
}

const fn down(name: &'static str) -> Indicator {
    Indicator { name, rises: false }
}

const AXES: &[Axis] = &[
    Axis {
        name: "Health and social protection",
        entity: "Secretariat of Health",
        programme: "Healthy Territory",
        indicators: &[
            up("vaccination coverage"),
            down("infant mortality rate"),
            up("access to primary care"),
        ],
        outputs: &[
            "construction of health posts",
            "purchase of ambulances",
            "training of community health workers",
        ],
    },
    Axis {
        name: "Quality education",
        entity: "Secretariat of Education",
        programme: "Learning Without Borders",
        indicators: &[
            up("school enrolment"),
            down("school dropout rate"),
            up("secondary completion rate"),
        ],
        outputs: &[
            "construction of classrooms",
            "delivery of school meals",
            "training of rural teachers",
        ],
    },
    Axis {
        name: "Water and basic sanitation",
        entity: "Municipal Water Utility",
        programme: "Water for Everyone",
        indicators: &[
            up("drinking water coverage"),
            up("sewerage coverage"),
            down("waterborne disease incidence"),
        ],
        outputs: &[
            "construction of rural aqueducts",
            "installation of water treatment plants",
            "rehabilitation of sewer networks",
        ],
    },
    Axis {
        name: "Roads and connectivity",
        entity: "Secretariat of Infrastructure",
        programme: "Roads for Peace",
        indicators: &[
            up("rural road connectivity"),
            down("travel time to markets"),
        ],
        outputs: &[
            "rehabilitation of tertiary roads",
            "construction of footbridges",
            "maintenance of rural roads",
        ],
    },
    Axis {
        name: "Rural development",
        entity: "Secretariat of Rural Development",
        programme: "Thriving Countryside",
        indicators: &[
            up("farm household income"),
            up("land formalisation rate"),
            down("post-harvest losses"),
        ],
        outputs: &[
            "delivery of productive projects",
            "installation of irrigation districts",
            "training of farmer associations",
        ],
    },
    Axis {
        name: "Peace and coexistence",
        entity: "Secretariat of Government",
        programme: "Living Together",
        indicators: &[down("homicide rate"), up("victims with reparation")],
        outputs: &[
            "training of community mediators",
            "construction of a peace house",
            "delivery of reparation programmes",
        ],
    },
    Axis {
        name: "Environment and climate",
        entity: "Environmental Management Office",
        programme: "Green Territory",
        indicators: &[up("forest cover"), down("deforestation rate")],
        outputs: &[
            "restoration of degraded watersheds",
            "delivery of environmental brigades",
            "installation of early warning systems",
        ],
    },
    Axis {
        name: "Housing and energy",
        entity: "Municipal Housing Institute",
        programme: "A Home for Everyone",
        indicators: &[down("housing deficit"), up("households with electricity")],
        outputs: &[
            "construction of rural homes",
            "installation of solar panels",
            "improvement of existing homes",
        ],
    },
];

const MUNICIPALITIES: &[&str] = &[
    "San Rafael",
    "El Carmen",
    "Santa Rosa",
    "La Esperanza",
    "Puerto Nuevo",
    "Villa del Río",
    "San Vicente",
    "Tierralta",
    "Río Claro",
    "Mesetas",
    "Belén de los Andaquíes",
    "Ovejas",
];
const DEPARTMENTS: &[&str] = &[
    "Antioquia",
    "Caquetá",
    "Cauca",
    "Meta",
    "Nariño",
    "Putumayo",
    "Chocó",
    "Bolívar",
    "Sucre",
];
const MAYORS: &[&str] = &[
    "Ana María Rojas",
    "Luis Fernando Gómez",
    "Claudia Patricia Ruiz",
    "Jorge Eliécer Martínez",
    "Diana Marcela Peña",
    "Óscar Iván Torres",
];
const MOTTOS: &[&str] = &[
    "Together we build the future",
    "A territory of opportunities",
    "Peace, progress and people",
    "Our land, our commitment",
];
const IMPACTS: &[&str] = &[
    "better quality of life in rural areas",
    "less extreme poverty",
    "greater well-being of vulnerable households",
    "lasting territorial peace",
];

/// Writes one municipal development plan: a header, an introduction and four to seven axes of
/// hard-wrapped paragraphs, then the noise of real documents (odd spaces, CRLF, typographic
/// quotes, page breaks). About 2% of plans have a broken header, 4% reason in a circle, and one
/// axis in four contradicts itself.
fn generate_plan(seed: u64, index: u64) -> String {
    let mut rng = document_rng(seed, index);
    let mut plan = PlanWriter::default();
    let municipality = *rng.pick(MUNICIPALITIES);
    let start = if rng.percent(50) { 2020 } else { 2024 };
    let end = start + 3;

    plan.line(&format!("MUNICIPAL DEVELOPMENT PLAN {start}-{end}"));
    plan.line(&format!("\u{201c}{}\u{201d}", rng.pick(MOTTOS)));
    plan.line(&format!("Municipality: {municipality}"));
    if !rng.percent(1) {
        plan.line(&format!("Department: {}", rng.pick(DEPARTMENTS)));
    }
    plan.line(&match rng.below(100) {
        0 => format!("Period: {start}-2O{}", end % 100), // a letter O read for a zero
        1..=30 => format!("Period: {start}\u{2013}{end}"),
        _ => format!("Period: {start}-{end}"),
    });
    if rng.percent(90) {
        plan.line(&format!("Mayor: {}", rng.pick(MAYORS)));
    }
    plan.blank();

    plan.sentence(&format!(
        "This plan was built with the participation of {} community workshops held in the {} \
         veredas of {municipality}.",
        rng.between(12, 60),
        rng.between(8, 40)
    ));
    plan.sentence(
        "It is aligned with the National Development Plan and the Sustainable Development Goals.",
    );
    if rng.percent(70) {
        plan.sentence(&format!(
            "The total investment of the plan amounts to {}.",
            money(&mut rng, 20_000, 150_000)
        ));
    }
    plan.sentence(&format!(
        "The diagnosis covers the period {}-{}.",
        start - 4,
        start - 1
    ));
    plan.end_paragraph(&mut rng);

    let mut order: Vec<usize> = (0..AXES.len()).collect();
    for at in (1..order.len()).rev() {
        order.swap(at, rng.below(at + 1));
    }
    let axis_count = 4 + rng.below(4);
    let circular_axis = rng.percent(4).then(|| rng.below(axis_count));
    for (number, &theme) in order[..axis_count].iter().enumerate() {
        if rng.percent(30) {
            plan.text.push_str("\u{c}\n"); // a page break
        }
        plan.line(&format!(
            "Strategic axis {}: {}",
            number + 1,
            AXES[theme].name
        ));
        plan.blank();
        let draft = AxisDraft::new(&mut rng, &AXES[theme], end);
        draft.diagnosis(&mut plan, &mut rng);
        draft.strategy(&mut plan, &mut rng, circular_axis == Some(number), start);
        draft.governance(&mut plan, &mut rng);
        if rng.percent(25) {
            draft.contradiction(&mut plan, &mut rng);
        }
    }
    add_noise(&plan.text, &mut rng)
}

/// What one axis of a plan commits to: the indicators it targets and the outputs it delivers.
struct AxisDraft<'a> {
    axis: &'a Axis,
    indicators: &'a [Indicator],
    outputs: &'a [&'static str],
    /// Baseline and target of each indicator, in percent.
    targets: Vec<(u32, u32)>,
    end: u32,
}

impl<'a> AxisDraft<'a> {
    fn new(rng: &mut Rng, axis: &'a Axis, end: u32) -> Self {
        let indicators = &axis.indicators[..=rng.below(axis.indicators.len().min(2))];
        let outputs = &axis.outputs[..=rng.below(axis.outputs.len())];
        let targets = indicators
            .iter()
            .map(|indicator| {
                if indicator.rises {
                    let baseline = rng.between(20, 70);
                    (baseline, (baseline + rng.between(5, 25)).min(99))
                } else {
                    let baseline = rng.between(10, 60);
                    (baseline, baseline - rng.between(3, baseline / 2))
                }
            })
            .collect();
        Self {
            axis,
            indicators,
            outputs,
            targets,
            end,
        }
    }

    fn diagnosis(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        plan.sentence(&format!(
            "The diagnosis identified {} priority needs in this area.",
            rng.between(3, 15)
        ));
        for (indicator, (baseline, target)) in self.indicators.iter().zip(&self.targets) {
            plan.sentence(&format!(
                "{} will {} from a baseline of {baseline}% to {target}% by {}.",
                capitalize(indicator.name),
                if indicator.rises {
                    "increase"
                } else {
                    "decrease"
                },
                self.end
            ));
        }
        plan.end_paragraph(rng);
    }

    /// Inputs -> outputs -> outcomes -> impacts, in the words plans use; a circular plan also
    /// claims that an outcome pays for its own input.
    fn strategy(&self, plan: &mut PlanWriter, rng: &mut Rng, circular: bool, start: u32) {
        for (at, output) in self.outputs.iter().enumerate() {
            let indicator = &self.indicators[at % self.indicators.len()];
            let funded_in_a_circle = circular && at == 0;
            plan.sentence(&if funded_in_a_circle || rng.percent(50) {
                format!("Funding for the {output} leads to the {output}.")
            } else {
                format!(
                    "An investment of {} in the {output} results in the {output}.",
                    money(rng, 300, 9_500)
                )
            });
            let (comparative, verb) = if indicator.rises {
                ("higher", "increase")
            } else {
                ("lower", "decrease")
            };
            plan.sentence(&match rng.below(3) {
                0 => format!(
                    "The {output} contributes to {comparative} {}.",
                    indicator.name
                ),
                1 => format!(
                    "{} will improve as a result of the {output}.",
                    capitalize(indicator.name)
                ),
                _ => format!("Thanks to the {output}, {} will {verb}.", indicator.name),
            });
            if rng.percent(60) {
                plan.sentence(&format!(
                    "{} {} {} {}.",
                    capitalize(comparative),
                    indicator.name,
                    rng.pick(&["leads to", "results in", "contributes to"]),
                    rng.pick(IMPACTS)
                ));
            }
            if funded_in_a_circle {
                plan.sentence(&format!(
                    "{} {} leads to more funding for the {output}.",
                    capitalize(comparative),
                    indicator.name
                ));
            }
        }
        if rng.percent(60) {
            plan.sentence(&format!(
                "The \u{201c}{}\u{201d} programme has a total budget of {}.",
                self.axis.programme,
                money(rng, 1_000, 30_000)
            ));
        }
        if rng.percent(25) {
            plan.sentence(&format!(
                "Because of heavy rains in {}, several works were delayed.",
                start - 1
            ));
        }
        plan.end_paragraph(rng);
    }

    fn governance(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        let entity = self.axis.entity;
        if rng.percent(85) {
            plan.sentence(&match rng.below(3) {
                0 => format!(
                    "The {entity} will coordinate the \u{201c}{}\u{201d} programme.",
                    self.axis.programme
                ),
                1 => format!("The {entity} is responsible for the {}.", self.outputs[0]),
                _ => format!(
                    "The {entity} and the Office of Planning must jointly monitor {}.",
                    self.indicators[0].name
                ),
            });
        }
        if rng.percent(40) {
            plan.sentence(
                "The Mayor\u{2019}s Office shall report progress to the Municipal Council every \
                 semester.",
            );
        }
        let closing = *rng.pick(&[
            "The community will participate in the monitoring committees.",
            "Local leaders will validate the annual action plan.",
            "Progress will be published on the municipal website.",
        ]);
        plan.sentence(closing);
        plan.end_paragraph(rng);
    }

    /// A later statement that contradicts the first target: the opposite direction, a denial,
    /// or a different target for the same year.
    fn contradiction(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        let indicator = &self.indicators[0];
        let (_, target) = self.targets[0];
        let (same, opposite) = if indicator.rises {
            ("increase", "decrease")
        } else {
            ("decrease", "increase")
        };
        let name = capitalize(indicator.name);
        let end = self.end;
        plan.sentence(&match rng.below(3) {
            0 => format!(
                "{name} will {opposite} to {}% by {end}.",
                rng.between(5, 40)
            ),
            1 => format!("{name} will not {same} during the period."),
            _ => {
                let other = if target > 50 {
                    target - rng.between(15, 30)
                } else {
                    target + rng.between(15, 30)
                };
                format!("{name} will {same} to {other}% by {end}.")
            }
        });
        plan.end_paragraph(rng);
    }
}

/// An amount between `low` and `high` million pesos, written one of the ways plans write money.
fn money(rng: &mut Rng, low: u32, high: u32) -> String {
    let millions = rng.between(low, high);
    match rng.below(5) {
        0 => format!("COP {} million", grouped(millions)),
        1 => format!("${},000,000", grouped(millions)),
        2 => format!("{} million pesos", grouped(millions)),
        3 => {
            let tenths = (millions / 400).max(1);
            format!("USD {}.{} million", tenths / 10, tenths % 10)
        }
        _ => format!("$ {} million", grouped(millions)),
    }
}

/// `1250` -> `1,250`.
fn grouped(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Accumulates the clean text of a plan, paragraph by paragraph.
#[derive(Default)]
struct PlanWriter {
    text: String,
    paragraph: Vec<String>,
}

impl PlanWriter {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn sentence(&mut self, sentence: &str) {
        self.paragraph.push(sentence.to_owned());
    }

    /// Writes the paragraph hard-wrapped at 72 to 96 columns, then a blank line.
    fn end_paragraph(&mut self, rng: &mut Rng) {
        if self.paragraph.is_empty() {
            return;
        }
        let width = 72 + rng.below(25);
        let mut column = 0;
        for word in self
            .paragraph
            .iter()
            .flat_map(|sentence| sentence.split(' '))
        {
            if column > 0 && column + 1 + word.len() > width {
                self.text.push('\n');
                column = 0;
            } else if column > 0 {
                self.text.push(' ');
                column += 1;
            }
            self.text.push_str(word);
            column += word.len();
        }
        self.text.push_str("\n\n");
        self.paragraph.clear();
    }
}

/// What scanned and converted documents look like: doubled spaces, tabs, no-break and
/// zero-width spaces, trailing spaces, and Windows line endings in some documents.
fn add_noise(clean: &str, rng: &mut Rng) -> String {
    let crlf = rng.percent(25);
    let mut noisy = String::with_capacity(clean.len() + clean.len() / 8);
    for c in clean.chars() {
        match c {
            ' ' => noisy.push_str(match rng.below(200) {
                0..=5 => "  ",
                6 | 7 => "\t",
                8 => "\u{a0}",
                9 => " \u{200b}",
                _ => " ",
            }),
            '\n' => {
                if rng.percent(5) {
                    noisy.push_str("  ");
                }
                noisy.push_str(if crlf { "\r\n" } else { "\n" });
            }
            c => noisy.push(c),
        }
    }
    noisy
}
