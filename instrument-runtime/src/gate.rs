//! The performance gate inside a test or a `harness = false` bench: run a workload, judge every
//! budget on the calls it made, fail on a violation.
//!
//! Only the measured runs count: the gate takes a snapshot after the warm-up and another at the
//! end, and judges the difference, so calls made before (other tests, the warm-up) are left out.
//! Breakers are taken apart the same way: the table counts the measured runs' calls, failures,
//! fallbacks and transitions.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::breaker::snapshot::{BreakerSnapshot, ProbeCounts, Recoveries, TransitionCounts};
use crate::format::{TableStyle, format_duration};
use crate::read::budget::{BudgetReport, check_budgets, judge};
use crate::read::snapshot::{Latency, NodeSnapshot, Snapshot, snapshot};
use crate::record::alloc::NodeMemory;
use crate::report::render_summary;

pub use crate::read::compare::{
    Change, CompareOptions, Comparison, DEFAULT_QUANTILES, Ratio, compare,
};

/// Runs `workload` `iterations` times after a warm-up (a tenth as many runs, at least one),
/// judges every budget on the measured calls, prints the table on stderr, and panics with it
/// when a budget is broken or the budgets file has an error: a failing test.
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::ManualClock;
///
/// #[instrument_runtime::budget(name = "gate_run_doc", p95 = "2ms", min_samples = 50)]
/// fn step(clock: &ManualClock) {
///     clock.advance(Duration::from_micros(900));
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// let verdict = instrument_runtime::gate::run(100, || step(&clock));
/// assert!(verdict.is_pass());
/// assert_eq!(verdict.snapshot.node("gate_run_doc").unwrap().calls, 100);
/// ```
///
/// # Panics
///
/// When the verdict is a failure; the message is the table.
pub fn run(iterations: u64, workload: impl FnMut()) -> Verdict {
    let verdict = Gate::new(iterations).check(workload);
    eprint!("{}", verdict.table());
    verdict.assert_pass();
    verdict
}

/// A configured gate: how many runs, how much warm-up, whether every budget must be exercised.
///
/// ```
/// let verdict = instrument_runtime::gate::Gate::new(10).warm_up(0).check(|| {});
/// assert!(verdict.is_pass());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    iterations: u64,
    warm_up: u64,
    require_all: bool,
}

impl Gate {
    /// `iterations` measured runs after a warm-up of a tenth as many (at least one).
    ///
    /// ```
    /// let _gate = instrument_runtime::gate::Gate::new(1_000);
    /// ```
    pub fn new(iterations: u64) -> Self {
        Self {
            iterations,
            warm_up: (iterations / 10).max(1),
            require_all: false,
        }
    }

    /// Runs before the measured ones, not judged: caches filled, code paged in.
    ///
    /// ```
    /// let _gate = instrument_runtime::gate::Gate::new(100).warm_up(20);
    /// ```
    #[must_use]
    pub fn warm_up(self, runs: u64) -> Self {
        Self {
            warm_up: runs,
            ..self
        }
    }

    /// Whether a budgeted node with too few calls to judge fails the gate (by default it is
    /// reported as not exercised and does not).
    ///
    /// ```
    /// #[instrument_runtime::budget(name = "gate_require_all_doc", p95 = "1s")]
    /// fn never_called() {}
    ///
    /// let verdict = instrument_runtime::gate::Gate::new(1).require_all(true).check(|| {});
    /// assert!(!verdict.is_pass());
    /// ```
    #[must_use]
    pub fn require_all(self, require_all: bool) -> Self {
        Self {
            require_all,
            ..self
        }
    }

    /// Warms up, runs the workload, and judges the measured calls; prints nothing.
    ///
    /// ```
    /// let verdict = instrument_runtime::gate::Gate::new(3).check(|| {});
    /// assert_eq!(verdict.budgets.failed, 0);
    /// ```
    pub fn check(&self, mut workload: impl FnMut()) -> Verdict {
        for _ in 0..self.warm_up {
            workload();
        }
        let before = snapshot();
        for _ in 0..self.iterations {
            workload();
        }
        let measured = since(&snapshot(), &before);
        Verdict {
            budgets: check_budgets(&measured),
            snapshot: measured,
            require_all: self.require_all,
        }
    }
}

/// What a gate found: the measured calls and every budget judged on them.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The calls made by the measured runs only.
    pub snapshot: Snapshot,
    /// Every budget judged on them.
    pub budgets: BudgetReport,
    /// Whether a node not exercised fails the gate.
    pub require_all: bool,
}

impl Verdict {
    /// Every judged budget holds, the budgets file (if any) has no error, and, when required,
    /// every budgeted node was exercised.
    ///
    /// ```
    /// assert!(instrument_runtime::gate::Gate::new(1).check(|| {}).is_pass());
    /// ```
    pub fn is_pass(&self) -> bool {
        let file_ok = self
            .snapshot
            .budgets_file
            .as_ref()
            .is_none_or(|file| file.errors.is_empty());
        let budgets_ok = if self.require_all {
            self.budgets.is_pass_requiring_all()
        } else {
            self.budgets.is_pass()
        };
        file_ok && budgets_ok
    }

    /// The summary table (ASCII), then every violation and node not exercised, one per line.
    ///
    /// ```
    /// let table = instrument_runtime::gate::Gate::new(1).check(|| {}).table();
    /// assert!(table.contains("gate: PASS"));
    /// ```
    pub fn table(&self) -> String {
        let mut out = render_summary(&self.snapshot, &self.budgets, TableStyle::Ascii);
        let duration = |ns| format_duration(ns, TableStyle::Ascii);
        for violation in &self.budgets.violations {
            let _ = writeln!(
                out,
                "violation: {} {} is {}, over the {} allowed (budget {}) by {}",
                violation.node,
                violation.quantile,
                duration(violation.observed_ns),
                duration(violation.allowed_ns),
                duration(violation.budget_ns),
                duration(violation.overage_ns)
            );
        }
        for node in &self.budgets.not_exercised {
            let _ = writeln!(
                out,
                "not exercised: {} ({} calls of the {} needed)",
                node.node, node.calls, node.min_samples
            );
        }
        let _ = writeln!(
            out,
            "gate: {} ({} judged, {} passed, {} failed, {} not exercised)",
            if self.is_pass() { "PASS" } else { "FAIL" },
            self.budgets.judged,
            self.budgets.passed,
            self.budgets.failed,
            self.budgets.not_exercised.len()
        );
        out
    }

    /// Panics with the table unless the verdict is a pass.
    ///
    /// ```should_panic
    /// #[instrument_runtime::budget(name = "gate_assert_pass_doc", p95 = "1s")]
    /// fn never_called() {}
    ///
    /// instrument_runtime::gate::Gate::new(1).require_all(true).check(|| {}).assert_pass();
    /// ```
    ///
    /// # Panics
    ///
    /// When [`is_pass`](Self::is_pass) is false.
    #[track_caller]
    pub fn assert_pass(&self) {
        assert!(self.is_pass(), "performance gate failed:\n{}", self.table());
    }

    /// `SUCCESS` on a pass, else 1: the exit status of a `harness = false` bench.
    ///
    /// ```
    /// let code = instrument_runtime::gate::Gate::new(1).check(|| {}).exit_code();
    /// assert_eq!(code, std::process::ExitCode::SUCCESS);
    /// ```
    pub fn exit_code(&self) -> ExitCode {
        if self.is_pass() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// The calls `after` holds that `before`, an earlier snapshot of the same process, did not. The
/// registry is fixed at link time and snapshots sort it the same way, so the nodes pair up in
/// order.
fn since(after: &Snapshot, before: &Snapshot) -> Snapshot {
    debug_assert_eq!(after.nodes.len(), before.nodes.len());
    let nodes = after
        .nodes
        .iter()
        .zip(&before.nodes)
        .map(|(node, earlier)| {
            debug_assert_eq!((&node.name, node.line), (&earlier.name, earlier.line));
            node_since(node, earlier)
        })
        .collect();
    let breakers = after
        .breakers
        .iter()
        .zip(&before.breakers)
        .map(|(breaker, earlier)| {
            debug_assert_eq!(breaker.name, earlier.name);
            breaker_since(breaker, earlier)
        })
        .collect();
    Snapshot {
        nodes,
        breakers,
        ..after.clone()
    }
}

fn node_since(node: &NodeSnapshot, earlier: &NodeSnapshot) -> NodeSnapshot {
    let histogram = match (&node.histogram, &earlier.histogram) {
        (Some(now), Some(then)) => Some(now.since(then)),
        (now, _) => now.clone(),
    }
    .filter(|histogram| !histogram.is_empty());
    let calls = node.calls - earlier.calls;
    let sum_ns = node.sum_ns - earlier.sum_ns;
    let latency = histogram
        .as_ref()
        .map(|histogram| Latency::of(histogram, sum_ns));
    NodeSnapshot {
        calls,
        errors: node.errors - earlier.errors,
        panics: node.panics - earlier.panics,
        cancelled: node.cancelled - earlier.cancelled,
        items_processed: node.items_processed - earlier.items_processed,
        items_total: node.items_total - earlier.items_total,
        warnings: node.warnings - earlier.warnings,
        sum_ns,
        verdict: node
            .budget
            .map(|budget| judge(&budget, calls, latency.as_ref())),
        latency,
        histogram,
        // The peak is the largest of any call so far; it cannot be taken apart by time.
        memory: match (node.memory, earlier.memory) {
            (Some(now), Some(then)) => Some(NodeMemory::of(
                now.calls - then.calls,
                now.allocations - then.allocations,
                now.bytes - then.bytes,
                now.peak_live_bytes,
            )),
            (now, _) => now,
        },
        ..node.clone()
    }
}

/// A breaker's counts of the calls and events after `earlier`, with its state, window, health
/// and last failure as they are now. Its timeline and recent recoveries keep the entries
/// `earlier` did not list, and the longest recovery is the longest of those.
fn breaker_since(breaker: &BreakerSnapshot, earlier: &BreakerSnapshot) -> BreakerSnapshot {
    let (transitions, then) = (&breaker.transitions, &earlier.transitions);
    let (probes, probes_then) = (&breaker.probes, &earlier.probes);
    let recent = entries_after(&breaker.recoveries.recent, &earlier.recoveries.recent);
    BreakerSnapshot {
        calls: breaker.calls - earlier.calls,
        failures: breaker.failures - earlier.failures,
        slow_calls: breaker.slow_calls - earlier.slow_calls,
        rejected: breaker.rejected - earlier.rejected,
        fallbacks: breaker.fallbacks - earlier.fallbacks,
        transitions: TransitionCounts {
            opened: transitions.opened - then.opened,
            half_opened: transitions.half_opened - then.half_opened,
            closed: transitions.closed - then.closed,
        },
        probes: ProbeCounts {
            admitted: probes.admitted - probes_then.admitted,
            succeeded: probes.succeeded - probes_then.succeeded,
            failed: probes.failed - probes_then.failed,
        },
        recoveries: Recoveries {
            count: breaker.recoveries.count - earlier.recoveries.count,
            sla_violations: breaker.recoveries.sla_violations - earlier.recoveries.sla_violations,
            longest_ns: recent
                .iter()
                .map(|recovery| recovery.duration_ns)
                .max()
                .unwrap_or(0),
            longest_outage_ns: recent
                .iter()
                .map(|recovery| recovery.outage_ns)
                .max()
                .unwrap_or(0),
            recent: recent.to_vec(),
            ..breaker.recoveries.clone()
        },
        timeline: entries_after(&breaker.timeline, &earlier.timeline).to_vec(),
        ..breaker.clone()
    }
}

/// The entries of a bounded most-recent-last list that came after the last one `earlier` had:
/// all of them when that one has rolled out.
fn entries_after<'a, T: PartialEq>(now: &'a [T], earlier: &[T]) -> &'a [T] {
    earlier
        .last()
        .and_then(|last| now.iter().rposition(|entry| entry == last))
        .map_or(now, |at| &now[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::entries_after;

    #[test]
    fn entries_after_keeps_what_the_earlier_list_had_not_seen() {
        assert_eq!(entries_after(&[1, 2, 3, 4], &[1, 2]), [3, 4]);
        assert_eq!(entries_after(&[1, 2], &[1, 2]), [] as [i32; 0]);
        assert_eq!(entries_after(&[1, 2], &[]), [1, 2], "nothing seen before");
        // The ring dropped 2 and 3 since: everything left is newer.
        assert_eq!(entries_after(&[4, 5, 6], &[2, 3]), [4, 5, 6]);
    }
}
