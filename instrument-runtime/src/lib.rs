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
/// Records the wall time of every call into the node's latency histogram.
///
/// Works on free functions, methods with any receiver, trait impl methods, generic functions (one
/// node per source function), `const`- and lifetime-generic functions, functions returning
/// `impl Trait`, `unsafe fn`, `async fn` (timed from first poll to completion; a future dropped
/// before completion counts as cancelled) and methods of `#[async_trait]` impls. Early `return`
/// and `?` keep their meaning. A panic is counted, its latency recorded, and it propagates
/// unchanged. Stacks with `#[counted]` and `#[budget]` in any order, recording once.
///
/// # Arguments
///
/// ## `name`
///
/// The node's name (default: the function's name). Two functions with one name are reported as
/// a conflict (see [`conflicts`]), never merged.
///
/// # Example
///
/// ```
/// #[instrument_runtime::timed(name = "timed_doc_embedding")]
/// fn embed(batch: &[&str]) -> Vec<f32> {
///     batch.iter().map(|text| text.len() as f32).collect()
/// }
///
/// embed(&["a", "bc"]);
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("timed_doc_embedding").unwrap();
/// assert_eq!(node.calls, 1);
/// assert!(node.latency.is_some());
/// ```
#[doc(inline)]
pub use instrument_macros::timed;

/// Counts calls, failures, panics and cancellations.
///
/// A call fails when its return value's [`Outcome::is_failure`] says so: every `Result` (aliases
/// such as `io::Result` included) fails on `Err`; implement [`Outcome`] for your own types.
/// Return types without it are counted, never as failures. Does not read the clock.
///
/// # Arguments
///
/// ## `name`
///
/// The node's name (default: the function's name).
///
/// ## `in_flight`
///
/// Also keep a gauge of calls running right now; it stays right when a call panics or a future
/// is dropped before completing.
///
/// # Example
///
/// ```
/// #[instrument_runtime::counted(name = "counted_doc_parse", in_flight)]
/// fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// let _ = parse("12");
/// let _ = parse("twelve");
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("counted_doc_parse").unwrap();
/// assert_eq!((node.calls, node.errors, node.in_flight), (2, 1, Some(0)));
/// ```
#[doc(inline)]
pub use instrument_macros::counted;

/// Declares the node's latency budget at compile time; implies `#[timed]`.
///
/// [`check_budgets`] judges it; the report at exit shows the verdict. Durations are written as
/// `"250us"`, `"1.5ms"`, `"2s"`, `"1m"` (units `ns`, `us`, `µs`, `ms`, `s`, `m`; integer or
/// decimal; the quotes may be left out: `p95 = 50ms`). Every mistake is a compile error on the
/// offending token.
///
/// # Arguments
///
/// ## `p50`, `p90`, `p95`, `p99`, `max`
///
/// The most each statistic may take. At least one is required, and they must not decrease
/// (`p95` above `p99` is an error).
///
/// ## `tolerance`
///
/// How far over budget a statistic may go before it fails, as a percentage from `"0%"` to
/// `"100%"`. Default `"10%"`: a `p95 = "50ms"` budget fails above 55 ms.
///
/// ## `min_samples`
///
/// Calls needed before the node is judged (default 100); with fewer it is reported as not
/// exercised.
///
/// ## `name`
///
/// The node's name (default: the function's name).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{ManualClock, VerdictStatus};
///
/// #[instrument_runtime::budget(name = "budget_doc_sanitize", p95 = "2ms", p99 = "3ms", min_samples = 10)]
/// fn sanitize(clock: &ManualClock) {
///     clock.advance(Duration::from_micros(1500));
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// for _ in 0..10 {
///     sanitize(&clock);
/// }
/// let snapshot = instrument_runtime::snapshot();
/// let verdict = snapshot.node("budget_doc_sanitize").unwrap().verdict.as_ref().unwrap();
/// assert_eq!(verdict.status, VerdictStatus::Pass);
/// ```
#[doc(inline)]
pub use instrument_macros::budget;
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
    pub use crate::call::{Call, call_once, flags};
    pub use crate::node::{Budget, Instruments, Node, NodeMeta, NodeRef};
    pub use crate::outcome::{Probe, ViaFallback, ViaOutcome};
    pub use crate::shard::LocalShard;
    pub use inventory;
}
