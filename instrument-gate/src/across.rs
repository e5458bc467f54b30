//! `check --iterations N`: a budget judged on what holds across the runs, not on one merged
//! figure that one slow run can tip.
//!
//! The rule: when every run has enough calls to be judged on its own (`min_samples`), a budgeted
//! statistic fails only when it is over its allowance in more than half of the runs; one run on
//! a busy machine cannot fail the gate, and a regression present in most runs cannot pass it.
//! The observed figure shown is then the median run's (the lower middle one for an even count),
//! which is over the allowance exactly when more than half of the runs are.
//! When some run is too short to be judged alone, the runs are pooled and the merged histogram
//! is judged, as with one run. Either way each statistic carries its per-run spread.

use instrument_runtime::{NodeSnapshot, VerdictStatus, budgets::BudgetVerdict, report::Report};
use serde::Serialize;

/// One budgeted statistic over the runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Spread {
    /// Runs with the node, and of them the ones over the allowance.
    pub(crate) runs: usize,
    pub(crate) failed: usize,
    /// The statistic in each run, in run order (runs too short to judge left out).
    pub(crate) observed_ns: Vec<u64>,
    /// `majority` (every run judged: fails when more than half do) or `merged` (some run too
    /// short: the merged histogram decides).
    pub(crate) rule: &'static str,
}

impl Spread {
    pub(crate) fn low(&self) -> Option<u64> {
        self.observed_ns.iter().min().copied()
    }

    pub(crate) fn high(&self) -> Option<u64> {
        self.observed_ns.iter().max().copied()
    }
}

/// Judges `merged`'s budget in every run and applies the rule to `verdict` (the merged node's):
/// returns one spread per check of the verdict, in its order.
pub(crate) fn judge(
    merged: &NodeSnapshot,
    verdict: &mut BudgetVerdict,
    runs: &[Report],
) -> Vec<Spread> {
    let Some(budget) = merged.budget.as_ref() else {
        return Vec::new();
    };
    let per_run: Vec<BudgetVerdict> = runs
        .iter()
        .map(|run| {
            let node = run.snapshot.nodes.iter().find(|node| {
                (&node.name, &node.module_path, &node.file, node.line)
                    == (&merged.name, &merged.module_path, &merged.file, merged.line)
            });
            let (calls, latency) = node.map_or((0, None), |node| (node.calls, node.latency));
            instrument_runtime::budgets::judge(budget, calls, latency.as_ref())
        })
        .collect();
    let every_run_judged = per_run
        .iter()
        .all(|run| run.status != VerdictStatus::NotExercised);
    let spreads: Vec<Spread> = verdict
        .checks
        .iter_mut()
        .map(|check| {
            let same: Vec<_> = per_run
                .iter()
                .filter_map(|run| run.checks.iter().find(|c| c.quantile == check.quantile))
                .collect();
            let failed = same.iter().filter(|c| !c.passed).count();
            if every_run_judged {
                // The run in the middle (the lower middle for an even count) stands for all:
                // it is over the allowance exactly when more than half of the runs are.
                let mut observed: Vec<u64> = same.iter().map(|c| c.observed_ns).collect();
                observed.sort_unstable();
                check.observed_ns = observed[(observed.len() - 1) / 2];
                check.passed = failed * 2 <= same.len();
            }
            Spread {
                runs: runs.len(),
                failed,
                observed_ns: same.iter().map(|c| c.observed_ns).collect(),
                rule: if every_run_judged {
                    "majority"
                } else {
                    "merged"
                },
            }
        })
        .collect();
    if verdict.status != VerdictStatus::NotExercised {
        verdict.status = if verdict.checks.iter().all(|c| c.passed) {
            VerdictStatus::Pass
        } else {
            VerdictStatus::Fail
        };
    }
    spreads
}

#[cfg(test)]
mod tests {
    use std::fs;

    use instrument_runtime::Budget;
    use serde_json::Value;

    use crate::test_support::{gate, node, report, scratch_dir, write_report};

    const MS: u64 = 1_000_000;

    /// `check --iterations` over runs whose `embedding` calls take `p95_ms` each (150 calls a
    /// run, budget p95 50 ms, allowance 55 ms): the exit status, stdout and the CI report.
    #[cfg(unix)] // the runs are shell commands
    fn check_runs(name: &str, p95_ms: &[u64]) -> (u8, String, Value) {
        let dir = scratch_dir(name);
        let budget = Budget {
            p95_ns: Some(50 * MS),
            ..Budget::DEFAULT
        };
        for (run, ms) in p95_ms.iter().enumerate() {
            write_report(
                &dir.join(format!("run{}", run + 1)),
                &report(vec![node("embedding", &[(ms * MS, 150)], Some(budget))]),
            );
        }
        // Each run copies the next report: a counter in the directory says which.
        let script = format!(
            "cd '{}' && n=$(($(cat count 2>/dev/null || echo 0) + 1)) && echo $n > count && \
             cp run$n/report.json \"$INSTRUMENT_REPORT_DIR/report.json\"",
            dir.display()
        );
        let merged = dir.join("merged").join("report.json");
        let runs = p95_ms.len().to_string();
        let (status, out, err) = gate(&[
            "check",
            "--report",
            merged.to_str().unwrap(),
            "--iterations",
            &runs,
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert!(status < 2, "{out}{err}");
        let ci = fs::read(dir.join("merged").join("ci_performance_report.json")).unwrap();
        fs::remove_dir_all(dir).unwrap();
        (status, out, serde_json::from_slice(&ci).unwrap())
    }

    #[test]
    #[cfg(unix)]
    fn one_slow_run_in_three_does_not_fail_the_budget() {
        // Merged, the slow run's calls are a third of all: the merged p95 is 70 ms, over.
        let (status, out, ci) = check_runs("across-one-slow", &[40, 70, 45]);
        assert_eq!(status, 0, "{out}");
        assert!(
            out.contains("runs spread  runs over  allowed  margin  verdict"),
            "{out}"
        );
        assert!(
            out.contains("embedding    450  p95          45.1ms  40.1ms..70.3ms        1/3"),
            "{out}"
        );
        let runs = &ci["nodes"][0]["checks"][0]["runs"];
        assert_eq!(runs["failed"], 1);
        assert_eq!(runs["rule"], "majority");
        assert_eq!(runs["observed_ns"].as_array().unwrap().len(), 3);
    }

    #[test]
    #[cfg(unix)]
    fn a_budget_over_in_most_runs_fails() {
        let (status, out, ci) = check_runs("across-most-slow", &[70, 40, 70]);
        assert_eq!(status, 1, "{out}");
        assert!(out.contains("2/3"), "{out}");
        assert!(
            out.contains("result: FAIL: over budget: embedding"),
            "{out}"
        );
        assert_eq!(ci["summary"]["failed"], 1);
        assert_eq!(ci["violations"][0]["node"], "embedding");
    }
}
