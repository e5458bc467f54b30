//! Judging latency against budgets: pure functions of the snapshot.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::read::snapshot::{Latency, Snapshot};
use crate::record::node::Budget;

/// A budgeted statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantile {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Slowest call.
    Max,
}

impl Quantile {
    /// Every budgetable statistic, in increasing order.
    pub const ALL: [Quantile; 5] = [Self::P50, Self::P90, Self::P95, Self::P99, Self::Max];

    /// The budget for this statistic, if declared.
    ///
    /// ```
    /// use instrument_runtime::{budgets::Quantile, Budget};
    /// let budget = Budget { p95_ns: Some(5), ..Budget::DEFAULT };
    /// assert_eq!(Quantile::P95.budget_in(&budget), Some(5));
    /// assert_eq!(Quantile::P99.budget_in(&budget), None);
    /// ```
    pub fn budget_in(self, budget: &Budget) -> Option<u64> {
        match self {
            Self::P50 => budget.p50_ns,
            Self::P90 => budget.p90_ns,
            Self::P95 => budget.p95_ns,
            Self::P99 => budget.p99_ns,
            Self::Max => budget.max_ns,
        }
    }

    /// This statistic's observed value.
    ///
    /// ```
    /// use instrument_runtime::{Latency, LatencyHistogram, budgets::Quantile};
    /// let mut histogram = LatencyHistogram::new();
    /// histogram.record_n(1_000, 99);
    /// histogram.record_n(8_000, 1);
    /// let latency = Latency::of(&histogram, 107_000);
    /// assert_eq!(Quantile::P99.observed_in(&latency), latency.p99_ns);
    /// assert_eq!(Quantile::Max.observed_in(&latency), latency.max_ns);
    /// ```
    pub fn observed_in(self, latency: &Latency) -> u64 {
        match self {
            Self::P50 => latency.p50_ns,
            Self::P90 => latency.p90_ns,
            Self::P95 => latency.p95_ns,
            Self::P99 => latency.p99_ns,
            Self::Max => latency.max_ns,
        }
    }
}

impl Quantile {
    /// Its name: `p50`, `p90`, `p95`, `p99` or `max`.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::budgets::Quantile::P95.as_str(), "p95");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::Max => "max",
        }
    }
}

impl fmt::Display for Quantile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of judging one node.
///
/// ```
/// #[instrument_runtime::budget(name = "verdict_status_doc", p95 = "1s")]
/// fn step() {}
///
/// step(); // one call, 100 needed by default
/// let snapshot = instrument_runtime::snapshot();
/// let verdict = snapshot.node("verdict_status_doc").unwrap().verdict.as_ref().unwrap();
/// assert_eq!(verdict.status, instrument_runtime::VerdictStatus::NotExercised);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    /// Every budgeted statistic is within its allowance.
    Pass,
    /// At least one budgeted statistic is over its allowance.
    Fail,
    /// Fewer calls than `min_samples`: not judged. The caller decides whether that fails.
    NotExercised,
}

/// One budgeted statistic compared with its allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetCheck {
    /// Which statistic.
    pub quantile: Quantile,
    /// Its observed value.
    pub observed_ns: u64,
    /// The declared budget.
    pub budget_ns: u64,
    /// The budget plus tolerance: the most the statistic may take.
    pub allowed_ns: u64,
    /// Whether `observed_ns <= allowed_ns`.
    pub passed: bool,
}

impl BudgetCheck {
    /// How far the observed value is over its allowance (0 when within it).
    ///
    /// ```
    /// use instrument_runtime::budgets::{BudgetCheck, Quantile};
    /// let check = BudgetCheck { quantile: Quantile::P95, observed_ns: 60, budget_ns: 50, allowed_ns: 55, passed: false };
    /// assert_eq!(check.overage_ns(), 5);
    /// ```
    pub fn overage_ns(&self) -> u64 {
        self.observed_ns.saturating_sub(self.allowed_ns)
    }

    /// The headroom left under the allowance, as a percentage of it (negative when over).
    ///
    /// ```
    /// use instrument_runtime::budgets::{BudgetCheck, Quantile};
    /// let check = BudgetCheck { quantile: Quantile::P95, observed_ns: 50, budget_ns: 50, allowed_ns: 100, passed: true };
    /// assert_eq!(check.margin_percent(), 50.0);
    /// ```
    #[allow(
        clippy::cast_precision_loss,
        reason = "a percentage for people to read"
    )]
    pub fn margin_percent(&self) -> f64 {
        (self.allowed_ns as f64 - self.observed_ns as f64) / self.allowed_ns.max(1) as f64 * 100.0
    }
}

/// A node's budget verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetVerdict {
    /// Pass, fail or not exercised.
    pub status: VerdictStatus,
    /// Calls the verdict is based on.
    pub calls: u64,
    /// Calls needed before the node is judged.
    pub min_samples: u64,
    /// The tolerance applied, as a fraction.
    pub tolerance: f64,
    /// One entry per budgeted statistic (empty when not exercised).
    pub checks: Vec<BudgetCheck>,
}

/// Judges one node's latency against its budget: not exercised under `min_samples` calls, else
/// each budgeted statistic against budget × (1 + tolerance).
///
/// ```
/// use instrument_runtime::{budgets::judge, Budget, Latency, LatencyHistogram, VerdictStatus};
///
/// let mut histogram = LatencyHistogram::new();
/// histogram.record_n(1_000_000, 100);
/// let latency = Latency::of(&histogram, 100_000_000);
/// let budget = Budget { p95_ns: Some(2_000_000), ..Budget::DEFAULT };
/// assert_eq!(judge(&budget, 100, Some(&latency)).status, VerdictStatus::Pass);
/// assert_eq!(judge(&budget, 99, Some(&latency)).status, VerdictStatus::NotExercised);
/// ```
pub fn judge(budget: &Budget, calls: u64, latency: Option<&Latency>) -> BudgetVerdict {
    let checks: Vec<BudgetCheck> = match latency {
        Some(latency) if calls >= budget.min_samples => Quantile::ALL
            .into_iter()
            .filter_map(|quantile| {
                let budget_ns = quantile.budget_in(budget)?;
                let observed_ns = quantile.observed_in(latency);
                let allowed_ns = budget.allowed_ns(budget_ns);
                Some(BudgetCheck {
                    quantile,
                    observed_ns,
                    budget_ns,
                    allowed_ns,
                    passed: observed_ns <= allowed_ns,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let status = if calls < budget.min_samples || latency.is_none() {
        VerdictStatus::NotExercised
    } else if checks.iter().all(|check| check.passed) {
        VerdictStatus::Pass
    } else {
        VerdictStatus::Fail
    };
    BudgetVerdict {
        status,
        calls,
        min_samples: budget.min_samples,
        tolerance: budget.tolerance,
        checks,
    }
}

/// One budgeted statistic over its allowance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The node.
    pub node: String,
    /// The statistic.
    pub quantile: Quantile,
    /// Its observed value.
    pub observed_ns: u64,
    /// The declared budget.
    pub budget_ns: u64,
    /// Budget plus tolerance.
    pub allowed_ns: u64,
    /// `observed_ns - allowed_ns`.
    pub overage_ns: u64,
}

/// A budgeted node with fewer calls than its `min_samples`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotExercised {
    /// The node.
    pub node: String,
    /// Calls it had.
    pub calls: u64,
    /// Calls it needed.
    pub min_samples: u64,
}

/// Every budget in a snapshot, judged.
///
/// ```
/// let report = instrument_runtime::check_budgets(&instrument_runtime::snapshot());
/// assert_eq!(report.judged, report.passed + report.failed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// Budgeted nodes with enough calls to judge.
    pub judged: usize,
    /// Judged nodes within every allowance.
    pub passed: usize,
    /// Judged nodes over at least one allowance.
    pub failed: usize,
    /// Every statistic over its allowance, sorted by node then statistic.
    pub violations: Vec<Violation>,
    /// Budgeted nodes with too few calls to judge.
    pub not_exercised: Vec<NotExercised>,
}

impl BudgetReport {
    /// No judged node is over budget. Nodes not exercised do not count against it.
    ///
    /// ```
    /// let report = instrument_runtime::check_budgets(&instrument_runtime::snapshot());
    /// assert_eq!(report.is_pass(), report.violations.is_empty());
    /// ```
    pub fn is_pass(&self) -> bool {
        self.violations.is_empty()
    }

    /// No judged node is over budget and every budgeted node was exercised.
    ///
    /// ```
    /// let report = instrument_runtime::check_budgets(&instrument_runtime::snapshot());
    /// assert!(!report.is_pass_requiring_all() || report.is_pass());
    /// ```
    pub fn is_pass_requiring_all(&self) -> bool {
        self.is_pass() && self.not_exercised.is_empty()
    }
}

/// Judges every budgeted node in a snapshot.
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{budgets::Quantile, ManualClock};
///
/// #[instrument_runtime::budget(name = "check_budgets_doc", p95 = "2ms", min_samples = 10)]
/// fn step(clock: &ManualClock, took: Duration) {
///     clock.advance(took);
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// for _ in 0..20 {
///     step(&clock, Duration::from_millis(3)); // 3 ms against 2 ms + 10%
/// }
/// let report = instrument_runtime::check_budgets(&instrument_runtime::snapshot());
/// let violation = report.violations.iter().find(|v| v.node == "check_budgets_doc").unwrap();
/// assert_eq!(violation.quantile, Quantile::P95);
/// assert_eq!(violation.allowed_ns, 2_200_000);
/// assert!(!report.is_pass());
/// ```
pub fn check_budgets(snapshot: &Snapshot) -> BudgetReport {
    let verdicts: Vec<(&str, BudgetVerdict)> = snapshot
        .nodes
        .iter()
        .filter_map(|node| {
            let budget = node.budget.as_ref()?;
            Some((
                node.name.as_str(),
                judge(budget, node.calls, node.latency.as_ref()),
            ))
        })
        .collect();
    BudgetReport::of_verdicts(verdicts.iter().map(|(node, verdict)| (*node, verdict)))
}

impl BudgetReport {
    /// The report of verdicts already reached, each with its node's name: what
    /// [`check_budgets`] returns for a snapshot, and what a judge of its own (the gate's rule
    /// across several runs) sums up the same way.
    ///
    /// ```
    /// use instrument_runtime::{budgets::judge, Budget, BudgetReport};
    ///
    /// let budget = Budget { p95_ns: Some(2_000_000), min_samples: 1, ..Budget::DEFAULT };
    /// let verdict = judge(&budget, 0, None);
    /// let report = BudgetReport::of_verdicts([("idle", &verdict)].into_iter());
    /// assert_eq!((report.judged, report.not_exercised.len()), (0, 1));
    /// ```
    pub fn of_verdicts<'a>(verdicts: impl Iterator<Item = (&'a str, &'a BudgetVerdict)>) -> Self {
        let mut report = BudgetReport {
            judged: 0,
            passed: 0,
            failed: 0,
            violations: Vec::new(),
            not_exercised: Vec::new(),
        };
        for (node, verdict) in verdicts {
            match verdict.status {
                VerdictStatus::NotExercised => report.not_exercised.push(NotExercised {
                    node: node.to_owned(),
                    calls: verdict.calls,
                    min_samples: verdict.min_samples,
                }),
                VerdictStatus::Pass => {
                    report.judged += 1;
                    report.passed += 1;
                }
                VerdictStatus::Fail => {
                    report.judged += 1;
                    report.failed += 1;
                    let violations = verdict.checks.iter().filter(|check| !check.passed);
                    report.violations.extend(violations.map(|check| Violation {
                        node: node.to_owned(),
                        quantile: check.quantile,
                        observed_ns: check.observed_ns,
                        budget_ns: check.budget_ns,
                        allowed_ns: check.allowed_ns,
                        overage_ns: check.overage_ns(),
                    }));
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATENCY: Latency = Latency {
        min_ns: 100,
        mean_ns: 1_000,
        max_ns: 9_000,
        p50_ns: 1_000,
        p90_ns: 2_000,
        p95_ns: 3_000,
        p99_ns: 5_000,
        p999_ns: 8_000,
    };

    fn budget(p95_ns: u64, p99_ns: u64, tolerance: f64) -> Budget {
        Budget {
            p95_ns: Some(p95_ns),
            p99_ns: Some(p99_ns),
            tolerance,
            min_samples: 10,
            ..Budget::DEFAULT
        }
    }

    #[test]
    fn within_tolerance_passes_and_past_it_fails() {
        // p95 3000 against 2800 + 10% = 3080: passes; p99 5000 against 4500 + 10% = 4950: fails.
        let verdict = judge(&budget(2_800, 4_500, 0.10), 100, Some(&LATENCY));
        assert_eq!(verdict.status, VerdictStatus::Fail);
        assert_eq!(
            verdict.checks,
            vec![
                BudgetCheck {
                    quantile: Quantile::P95,
                    observed_ns: 3_000,
                    budget_ns: 2_800,
                    allowed_ns: 3_080,
                    passed: true
                },
                BudgetCheck {
                    quantile: Quantile::P99,
                    observed_ns: 5_000,
                    budget_ns: 4_500,
                    allowed_ns: 4_950,
                    passed: false
                },
            ]
        );
        assert_eq!(verdict.checks[1].overage_ns(), 50);
    }

    #[test]
    fn exactly_at_the_allowance_passes() {
        let verdict = judge(&budget(3_000, 5_000, 0.0), 100, Some(&LATENCY));
        assert_eq!(verdict.status, VerdictStatus::Pass);
    }

    #[test]
    fn too_few_calls_is_not_exercised_not_pass() {
        let verdict = judge(&budget(1, 1, 0.0), 9, Some(&LATENCY));
        assert_eq!(verdict.status, VerdictStatus::NotExercised);
        assert!(verdict.checks.is_empty());
        let never_called = judge(&budget(1, 1, 0.0), 0, None);
        assert_eq!(never_called.status, VerdictStatus::NotExercised);
    }

    #[test]
    fn margin_is_negative_when_over() {
        let check = BudgetCheck {
            quantile: Quantile::Max,
            observed_ns: 150,
            budget_ns: 100,
            allowed_ns: 100,
            passed: false,
        };
        assert!((check.margin_percent() + 50.0).abs() < 1e-9);
    }
}
