//! Several runs' reports -> one, as if every call had been made in a single run.

use std::collections::BTreeMap;

use instrument_runtime::{
    Latency, NodeMemory, NodeSnapshot, Snapshot, check_budgets,
    report::{REPORT_SCHEMA, Report},
};

/// Merges runs of one program. Nodes are matched by name and definition site; per node the
/// counts and the exact latency sums add up, the histograms are added bucket by bucket, and the
/// latency summary and verdict are computed again from the sums; allocation figures add up too.
/// Circuit breakers are left out: their states and timelines belong to one process and do not
/// add up.
pub(crate) fn merge_reports(reports: &[Report]) -> Result<Report, String> {
    let mut nodes: BTreeMap<(String, String, u32, String), NodeSnapshot> = BTreeMap::new();
    let mut conflicts = Vec::new();
    let (mut taken_at_unix_ms, mut hosts) = (0, Vec::new());
    for (run, report) in reports.iter().enumerate() {
        let snapshot = &report.snapshot;
        taken_at_unix_ms = taken_at_unix_ms.max(snapshot.taken_at_unix_ms);
        if !hosts.contains(&snapshot.host) {
            hosts.push(snapshot.host.clone());
        }
        for conflict in &snapshot.conflicts {
            if !conflicts.contains(conflict) {
                conflicts.push(conflict.clone());
            }
        }
        for node in &snapshot.nodes {
            if node.calls > 0 && node.latency.is_some() && node.histogram.is_none() {
                return Err(format!(
                    "run {} reports node `{}` without its latency histogram, so the runs cannot \
                     be merged; the report comes from an older runtime",
                    run + 1,
                    node.name
                ));
            }
            let key = (
                node.name.clone(),
                node.module_path.clone(),
                node.line,
                node.file.clone(),
            );
            match nodes.get_mut(&key) {
                Some(merged) => add(merged, node),
                None => {
                    nodes.insert(key, node.clone());
                }
            }
        }
    }
    let nodes: Vec<NodeSnapshot> = nodes.into_values().map(summarize).collect();
    // Several runs: no one run's id. The runs' budgets files are applied again by `check` with
    // `--budgets`. Each run's resident memory is its own; a sum or a maximum would be neither.
    let mut snapshot = Snapshot::new(nodes);
    snapshot.taken_at_unix_ms = taken_at_unix_ms;
    snapshot.host = hosts.join(", ");
    snapshot.conflicts = conflicts;
    Ok(Report {
        schema: REPORT_SCHEMA.to_owned(),
        budgets: check_budgets(&snapshot),
        snapshot,
        stream: None,
    })
}

/// Adds one run's counts and histogram into the node merged so far.
fn add(merged: &mut NodeSnapshot, node: &NodeSnapshot) {
    merged.calls += node.calls;
    merged.errors += node.errors;
    merged.panics += node.panics;
    merged.cancelled += node.cancelled;
    // What each run left running at its end, all together.
    merged.in_flight = match (merged.in_flight, node.in_flight) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    merged.items_processed += node.items_processed;
    merged.items_total += node.items_total;
    merged.warnings += node.warnings;
    merged.sum_ns += node.sum_ns;
    match (&mut merged.histogram, &node.histogram) {
        (Some(histogram), Some(more)) => histogram.add(more),
        (slot @ None, Some(more)) => *slot = Some(more.clone()),
        (_, None) => {}
    }
    // Allocations and bytes add up; the peak of one call is the largest of any run's.
    merged.memory = match (merged.memory, node.memory) {
        (Some(a), Some(b)) => Some(NodeMemory::of(
            a.calls + b.calls,
            a.allocations + b.allocations,
            a.bytes + b.bytes,
            a.peak_live_bytes.max(b.peak_live_bytes),
        )),
        (a, b) => a.or(b),
    };
}

/// Latency and verdict computed again from the merged histogram and sum.
fn summarize(mut node: NodeSnapshot) -> NodeSnapshot {
    node.latency = node
        .histogram
        .as_ref()
        .filter(|histogram| !histogram.is_empty())
        .map(|histogram| Latency::of(histogram, node.sum_ns));
    node.verdict = node.budget.map(|budget| {
        instrument_runtime::budgets::judge(&budget, node.calls, node.latency.as_ref())
    });
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{node, report};
    use instrument_runtime::{Budget, LatencyHistogram, VerdictStatus};

    const MS: u64 = 1_000_000;

    fn budget() -> Budget {
        Budget {
            p95_ns: Some(5 * MS),
            ..Budget::DEFAULT
        }
    }

    #[test]
    fn merging_equals_one_run_with_every_call() {
        let first = report(vec![
            node("embedding", &[(MS, 60), (2 * MS, 10)], Some(budget())),
            node("parse", &[(10_000, 5)], None),
        ]);
        let second = report(vec![
            node("embedding", &[(MS, 20), (8 * MS, 10)], Some(budget())),
            node("only_in_second", &[(3_000, 2)], None),
        ]);
        let third = report(vec![node("embedding", &[(2 * MS, 10)], Some(budget()))]);
        let merged = merge_reports(&[first, second, third]).unwrap();
        let expected = report(vec![
            node(
                "embedding",
                &[(MS, 60), (2 * MS, 10), (MS, 20), (8 * MS, 10), (2 * MS, 10)],
                Some(budget()),
            ),
            node("only_in_second", &[(3_000, 2)], None),
            node("parse", &[(10_000, 5)], None),
        ]);
        assert_eq!(merged.snapshot.nodes, expected.snapshot.nodes);
        assert_eq!(merged.budgets, expected.budgets);
        let embedding = merged.snapshot.node("embedding").unwrap();
        assert_eq!(
            (embedding.calls, embedding.histogram.as_ref().unwrap().len()),
            (110, 110)
        );
        assert_eq!(
            embedding.sum_ns,
            60 * MS + 20 * MS + 20 * MS + 80 * MS + 20 * MS
        );
        assert_eq!(embedding.latency.unwrap().mean_ns, 200 * MS / 110);
        // 10 calls of 8 ms in 110 put p95 over its budget, which no run was alone
        // (the first two runs have fewer than 100 calls each).
        assert_eq!(
            embedding.verdict.as_ref().unwrap().status,
            VerdictStatus::Fail
        );
        assert_eq!(merged.budgets.failed, 1);
    }

    #[test]
    fn allocation_figures_add_up_and_the_peak_is_the_largest() {
        let run = |calls, allocations, bytes, peak| {
            let mut embedding = node("embedding", &[(MS, calls)], None);
            embedding.memory = Some(NodeMemory::of(calls, allocations, bytes, peak));
            report(vec![embedding])
        };
        let merged = merge_reports(&[run(10, 20, 4_000, 900), run(30, 40, 6_000, 700)]).unwrap();
        let memory = merged.snapshot.node("embedding").unwrap().memory;
        assert_eq!(memory, Some(NodeMemory::of(40, 60, 10_000, 900)));
    }

    #[test]
    fn a_report_without_histograms_cannot_be_merged() {
        let mut old = report(vec![node("embedding", &[(MS, 3)], None)]);
        old.snapshot.nodes[0].histogram = None;
        let message = merge_reports(&[old]).unwrap_err();
        assert!(
            message.starts_with("run 1 reports node `embedding` without"),
            "{message}"
        );
    }

    #[test]
    fn a_node_never_called_stays_without_latency() {
        let mut idle = node("idle", &[], Some(budget()));
        idle.histogram = Some(LatencyHistogram::new());
        let merged = merge_reports(&[report(vec![idle.clone()]), report(vec![idle])]).unwrap();
        let idle = merged.snapshot.node("idle").unwrap();
        assert_eq!((idle.calls, idle.latency), (0, None));
        assert_eq!(
            idle.verdict.as_ref().unwrap().status,
            VerdictStatus::NotExercised
        );
    }
}
