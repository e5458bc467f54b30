#![doc = include_str!("../../README.md")]
//!
//! # The data path
//!
//! `#[timed]` / `#[counted]` / `#[budget]` declare a static [`NodeMeta`] per function and register
//! it with `inventory`; each call records into the calling thread's shard of that node;
//! [`snapshot`] merges the shards into a sorted [`Snapshot`]; [`check_budgets`], the report at exit
//! and the exporters are pure functions of it.

mod atomic_file;
mod budget;
mod call;
mod clock;
mod histogram;
mod node;
mod outcome;
mod registry;
mod report;
mod shard;
mod snapshot;

pub use budget::{
    BudgetCheck, BudgetReport, BudgetVerdict, NotExercised, Quantile, VerdictStatus, Violation,
    check_budgets,
};
pub use clock::{ManualClock, ManualClockGuard};
pub use instrument_macros::{budget, counted, timed};
pub use node::{Budget, Instruments, NodeMeta};
pub use outcome::Outcome;
pub use registry::{NameConflict, conflicts, nodes};
pub use report::{
    DEFAULT_REPORT_DIR, REPORT_DIR_ENV, REPORT_ENV, REPORT_SCHEMA, Report, TableStyle,
    format_duration, render_summary, report_at_exit, report_dir, set_report_dir, write_report,
};
pub use snapshot::{Latency, NodeSnapshot, Snapshot, snapshot};

/// What generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{Call, flags};
    pub use crate::node::{Budget, Instruments, Node, NodeMeta, NodeRef};
    pub use crate::outcome::{Probe, ViaFallback, ViaOutcome};
    pub use crate::shard::LocalShard;
    pub use inventory;
}
