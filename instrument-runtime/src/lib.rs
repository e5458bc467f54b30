#![doc = include_str!("../README.md")]
//!
//! # The data path
//!
//! `#[timed]` / `#[counted]` / `#[budget]` declare a static [`NodeMeta`](record::NodeMeta) per
//! function and register it with `inventory`; each call records into the calling thread's shard of
//! that node ([`record`]); [`snapshot`] merges the shards into a sorted [`Snapshot`] and judges the
//! budgets ([`budgets`]); the exporters ([`export`]), the report at exit ([`report`]) and the gate
//! ([`gate`]) are pure functions of it. Circuit breakers ([`breaker`](mod@breaker)) sit beside the nodes.
//! While the program runs, the stream ([`stream`]) sends the activity between snapshots
//! ([`interval`]) and explicit events to its sinks, and the alert engine ([`alert`]) evaluates
//! rules on the same snapshots; with the `tower` feature, `serve` records each request of a web
//! service as a call of a node created at run time.
//!
//! # Where things are
//!
//! The crate root holds what a program writes or reads: the attributes and macros, [`snapshot`]
//! and its types, [`check_budgets`], [`report_at_exit`] and the `/metrics` endpoint. The rest is in
//! the modules named for what they hold.

// The layers, bottom first: each imports only from the ones before it (`tests/layers.rs` checks
// that the imports form no cycle; DEVELOPMENT.md draws the picture).

// Leaf: durations, tables, sizes, dates and printable names, for every output.
pub mod format;

// The hot path: nodes, their registry and per-thread shards, the clock, histograms, outcomes,
// the counting allocator, item counts.
pub mod record;

// Circuit breakers: their state machine, the table of breakers, the call sites' guard.
pub mod breaker;

// The read side: the snapshot, budget verdicts, the budgets file, comparing runs.
mod read;

// Measurements streamed out while the process runs: the explicit events, the buffer, the
// flusher thread and its sinks (Kafka and PostgreSQL behind features).
pub mod stream;

// The in-process alert engine: rules over the read side's figures, evaluated off the hot path,
// and the notifiers it feeds.
pub mod alert;

// Outputs of a snapshot: Prometheus, OpenMetrics, JSON, the dashboard, alert rules, the
// passport, the `/metrics` endpoint, and the atomic file writer they share.
pub mod export;

// The report at exit (report.json, the exports, the summary table), signals, the report
// directory, the resource sampler.
pub mod report;

// Instrumenting a web service: the request layer and the endpoints in the program's router.
#[cfg(feature = "tower")]
pub mod serve;

// The in-process performance gate and the comparison of runs for the CI gate.
pub mod gate;

// The attributes' documentation, beside their re-exports.
mod attributes;

pub use attributes::{budget, circuit_breaker, counted, timed};
pub use breaker::{BreakerState, CircuitOpen, breaker};
#[cfg(feature = "http")]
pub use export::{MetricsServer, serve_metrics};
pub use read::budget::{BudgetReport, VerdictStatus, check_budgets};
pub use read::snapshot::{Latency, NodeSnapshot, Snapshot, snapshot};
pub use record::{Budget, CountingAllocator, LatencyHistogram, ManualClock, NodeMemory, Outcome};
pub use report::report_at_exit;

/// Judging latency against budgets, and the budgets file that sets or overrides them without a
/// rebuild.
pub mod budgets {
    pub use crate::read::budget::{
        BudgetCheck, BudgetReport, BudgetVerdict, NotExercised, Quantile, VerdictStatus, Violation,
        check_budgets, judge,
    };
    pub use crate::read::budgets_file::{
        BUDGETS_FILE_ENV, BudgetKey, BudgetSource, BudgetsFile, BudgetsFileDiagnostic,
        BudgetsFileErrors, BudgetsFileUse, CodeSite, DEFAULT_BUDGETS_FILE, DiagnosticKind,
        FileEntry, FileSite, MAX_BUDGETS_FILE_BYTES, NodeBudgetInput, Position, Resolution,
        ResolvedBudget, Section, budgets_file_path, set_budgets_file,
    };
}

/// The activity between two snapshots, for consumers that read a running process at intervals
/// (streaming sinks, alert rules over the last interval).
pub mod interval {
    pub use crate::read::interval::{NodeInterval, node_intervals};
}

/// What generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::breaker::site::{
        BreakerDecl, BreakerSite, BreakerSiteRef, Describe, DescribeViaDebug, DescribeViaDisplay,
        DescribeViaName, Permit, Rejection, breaker_failed, breaker_failed_with, reject,
    };
    pub use crate::breaker::{BreakerConfig, FailureRate, Window};
    pub use crate::record::call::{Call, Watched, call_once, flags};
    pub use crate::record::items::{add_items, add_items_total, add_warnings};
    pub use crate::record::node::{Budget, Instruments, Node, NodeMeta, NodeRef};
    pub use crate::record::outcome::{Probe, ViaFallback, ViaOutcome};
    pub use crate::record::shard::LocalShard;
    pub use inventory;
}
