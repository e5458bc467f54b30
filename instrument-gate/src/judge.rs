//! One node's verdict with every check, passing ones included, for the table and the JSON.
//!
//! The runtime's [`check_budgets`](instrument_runtime::check_budgets) lists only the violations;
//! its per-node judge is private, so this is the same rule, and a test holds the two together.

use instrument_runtime::{Budget, BudgetCheck, BudgetVerdict, Latency, Quantile, VerdictStatus};

/// Judges one node: not exercised below `min_samples` calls or without latency, else each
/// budgeted statistic against `budget × (1 + tolerance)`.
pub(crate) fn judge(budget: &Budget, calls: u64, latency: Option<&Latency>) -> BudgetVerdict {
    let judged = latency.filter(|_| calls >= budget.min_samples);
    let checks: Vec<BudgetCheck> = judged.map_or_else(Vec::new, |latency| {
        Quantile::ALL
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
            .collect()
    });
    let status = if judged.is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{node, snapshot};
    use instrument_runtime::check_budgets;

    #[test]
    fn agrees_with_the_runtimes_check_budgets() {
        let budget = |p95_ms: u64, min_samples| Budget {
            p95_ns: Some(p95_ms * 1_000_000),
            p99_ns: Some(p95_ms * 2_000_000),
            min_samples,
            ..Budget::DEFAULT
        };
        let mut nodes = vec![
            node("fast", &[(1_000_000, 200)], Some(budget(2, 100))),
            node(
                "slow",
                &[(1_000_000, 100), (9_000_000, 100)],
                Some(budget(2, 100)),
            ),
            node("rare", &[(1_000_000, 5)], Some(budget(2, 100))),
            node("edge", &[(2_190_000, 150)], Some(budget(2, 100))),
            node("free", &[(1_000_000, 300)], None),
        ];
        nodes.push(node("never", &[], Some(budget(2, 0))));
        let snapshot = snapshot(nodes);
        let report = check_budgets(&snapshot);
        let verdicts: Vec<(String, BudgetVerdict)> = snapshot
            .nodes
            .iter()
            .filter_map(|node| {
                let verdict = judge(node.budget.as_ref()?, node.calls, node.latency.as_ref());
                Some((node.name.clone(), verdict))
            })
            .collect();
        let count = |status| verdicts.iter().filter(|(_, v)| v.status == status).count();
        assert_eq!(count(VerdictStatus::Pass), report.passed);
        assert_eq!(count(VerdictStatus::Fail), report.failed);
        assert_eq!(
            count(VerdictStatus::NotExercised),
            report.not_exercised.len()
        );
        let failed: Vec<(&str, Quantile)> = verdicts
            .iter()
            .flat_map(|(name, verdict)| {
                verdict
                    .checks
                    .iter()
                    .filter(|check| !check.passed)
                    .map(move |check| (name.as_str(), check.quantile))
            })
            .collect();
        let violations: Vec<(&str, Quantile)> = report
            .violations
            .iter()
            .map(|violation| (violation.node.as_str(), violation.quantile))
            .collect();
        assert_eq!(failed, violations);
        assert_eq!(failed, [("slow", Quantile::P95), ("slow", Quantile::P99)]);
    }
}
