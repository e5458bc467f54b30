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
//! `--slow-factor` make one node slower on it (until document `--slow-until`, if given). That is
//! how CI gates the budgets. The alert engine watches the run, on that clock when there is one,
//! and notifies the log, plus Alertmanager and a webhook when `INSTRUMENT_ALERTMANAGER_URL` and
//! `INSTRUMENT_ALERT_WEBHOOK_URL` are set.
//!
//! Built with `--features kafka,postgres`, it streams its measurements while it runs when
//! `INSTRUMENT_KAFKA_BOOTSTRAP_SERVERS` or `INSTRUMENT_POSTGRES_URL` is set: every node's activity
//! each second, breaker transitions and verdict changes, and a document counter.
//!
//! ```text
//! cargo run --release --example pipeline -- --documents 1000 --seed 7 --show 3
//! cargo run --release --example pipeline -- --fault-rate 0.3 --fault-node embedding
//! cargo run --release --example pipeline -- --simulated-latency --slow-node embedding --slow-factor 3
//! cargo run --release --example pipeline -- --simulated-latency --documents 1200 \
//!     --slow-node embedding --slow-factor 3 --slow-until 600
//! ```
//!
//! The files:
//!
//! - `main.rs`: the run, one document at a time through the nodes, and what it prints;
//! - `command_line.rs`: the flags, on clap's derive;
//! - `plans.rs` (and `plans/vocabulary.rs`): the generated documents, not measured;
//! - `nodes.rs` and `nodes/`: the eleven budgeted nodes, the only measured code;
//! - `faults.rs`: which calls of the guarded nodes fail, and the breaker settings they share;
//! - `simulated_clock.rs`: the hand-moved clock of `--simulated-latency`;
//! - `alerts.rs`: the alert engine on the run's clock, and alert lines on stderr;
//! - `findings.rs`: what the nodes found, per document and for the run;
//! - `rng.rs`: the seeded random numbers all of the above draw from.
//!
//! The modules name each other with `super::`, never `crate::`: `tests/gate_in_test_pipeline.rs`
//! compiles this file as a module of the test, where `crate` is the test.

// `pub(crate)`: `tests/alerts_end_to_end.rs` runs the engine on a `Run` it drives.
pub(crate) mod alerts;
mod command_line;
mod faults;
mod findings;
mod nodes;
mod plans;
mod rng;
mod simulated_clock;

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use instrument_runtime::{
    BreakerState, ManualClock, Snapshot,
    breaker::TransitionCounts,
    format::{TableStyle, format_duration},
    record::ManualClockGuard,
    stream::{KAFKA_ENV, POSTGRES_ENV},
};

// `pub(crate)`: `tests/gate_in_test_pipeline.rs` builds a `Run` from a command line.
pub(crate) use command_line::Options;
use faults::{FaultPlan, Faults, NodeFailure};
use findings::{Findings, Totals};
use nodes::{
    DagError, PlanError, causal_detection, contradiction_detection, dag_validation,
    document_segmentation, embedding, feasibility_scoring, monetary_detection, plan_processing,
    responsibility_detection, sanitization, teoria_cambio,
};
use rng::monte_carlo_seed;

fn main() -> ExitCode {
    // The command line is read before the report is armed, so `--help` or a typo (clap prints
    // it and exits with code 2) does not overwrite the last run's report with an empty one.
    let options = Options::from_command_line();
    // The main job writes where the CI gate reads by default, `target/instrument/`, rather than
    // in a directory of its own like other binaries.
    if let Some(target) = instrument_runtime::report::build_target_dir() {
        instrument_runtime::report::set_report_dir(target.join("instrument"));
    }
    instrument_runtime::report_at_exit();
    // After the report's hook, so the stream's final flush runs first at exit and its records
    // add up to the report.
    let streaming = [KAFKA_ENV, POSTGRES_ENV]
        .iter()
        .any(|variable| std::env::var_os(variable).is_some());
    if streaming {
        instrument_runtime::stream::start_from_env();
    }

    let mut run = Run::start(options.clone());
    alerts::log_to_stderr();
    let mut alerts = alerts::Alerts::start(&run, alerts::from_env());
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
        if let Some(alerts) = &mut alerts {
            alerts.after_document();
        }
        if streaming {
            instrument_runtime::stream::record_counter("documents", 1, &[]);
        }
    }
    println!("{}", totals.summary(options.seed, started.elapsed()));
    for line in breaker_summary(&instrument_runtime::snapshot()) {
        println!("{line}");
    }
    if let Some(line) = alerts
        .map(alerts::Alerts::finish)
        .as_ref()
        .and_then(alerts::summary)
    {
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
    faults: FaultPlan,
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
            simulated_clock::start(clock.clone(), options.seed, options.slow());
        }
        Self {
            faults: options.faults(),
            options,
            clock,
            _installed: installed,
            next_index: 0,
        }
    }

    /// The simulated clock, when the run has one.
    pub(crate) fn clock(&self) -> Option<&ManualClock> {
        self.clock.as_ref()
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
        simulated_clock::set_document(index);
        let raw = plans::generate_plan(seed, index);
        let text = sanitization(&raw);
        let faults = self.faults.for_document(seed, index);
        inspect(
            index,
            &analyse(&text, monte_carlo_seed(seed, index), faults),
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.options.simulated_latency {
            simulated_clock::stop();
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
