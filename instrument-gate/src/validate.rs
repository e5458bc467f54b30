//! Reports and baselines are checked when read, as the budgets file is: a file that contradicts
//! itself is bad input (exit 2), never a verdict. A tampered or corrupt file must not pass the
//! gate by saying nothing, nor fail it with numbers that cannot be.

use std::collections::HashSet;
use std::path::Path;

use instrument_runtime::{
    Budget, LatencyHistogram, NodeSnapshot,
    budgets::Quantile,
    format::{TableStyle, format_duration},
    report::Report,
};

/// Checks every node of a report: each listed once per site, budgets in range, and the latency
/// histogram holding the node's calls.
pub(crate) fn report(path: &Path, report: &Report) -> Result<(), String> {
    let invalid = |node: &str, problem: String| {
        format!(
            "`{}` is not a valid report: node `{node}`: {problem}",
            path.display()
        )
    };
    let mut sites = HashSet::with_capacity(report.snapshot.nodes.len());
    for node in &report.snapshot.nodes {
        // One name at two sites is a conflict the runtime reports; at one site, a copy.
        if !sites.insert((&node.name, &node.module_path, &node.file, node.line)) {
            return Err(invalid(
                &node.name,
                format!("listed twice for {}:{}", node.file, node.line),
            ));
        }
        if let Some(problem) = node.budget.as_ref().and_then(budget_problem) {
            return Err(invalid(&node.name, problem));
        }
        if let Some(problem) = histogram_problem(node) {
            return Err(invalid(&node.name, problem));
        }
    }
    Ok(())
}

/// Checks a baseline's nodes, `(name, calls, histogram)`: at least one, each name once, each
/// histogram holding exactly its calls (`baseline save` writes them so).
pub(crate) fn baseline<'a>(
    path: &Path,
    nodes: impl ExactSizeIterator<Item = (&'a str, u64, &'a LatencyHistogram)>,
) -> Result<(), String> {
    let invalid =
        |problem: String| format!("`{}` is not a valid baseline: {problem}", path.display());
    if nodes.len() == 0 {
        return Err(invalid(
            "it has no nodes, so nothing can be compared; save it again from a report of a run \
             that called its timed functions"
                .to_owned(),
        ));
    }
    let mut names = HashSet::with_capacity(nodes.len());
    for (name, calls, histogram) in nodes {
        if !names.insert(name) {
            return Err(invalid(format!("node `{name}` is listed twice")));
        }
        if calls == 0 || histogram.len() != calls {
            return Err(invalid(format!(
                "node `{name}`: its histogram holds {} calls, but `calls` is {calls}",
                histogram.len()
            )));
        }
    }
    Ok(())
}

/// What is wrong with a budget, as the budgets file would say it.
fn budget_problem(budget: &Budget) -> Option<String> {
    if !(0.0..=1.0).contains(&budget.tolerance) {
        return Some(format!(
            "budget tolerance must be between 0 and 1 (0% to 100%), found {}",
            budget.tolerance
        ));
    }
    let mut higher: Option<(Quantile, u64)> = None;
    // From the highest down, so a quantile is compared with the lowest budget above it.
    for quantile in Quantile::ALL.into_iter().rev() {
        let Some(nanos) = quantile.budget_in(budget) else {
            continue;
        };
        if nanos == 0 {
            return Some(format!("`{quantile}` budget must be greater than zero"));
        }
        if let Some((above, above_ns)) = higher.filter(|&(_, above_ns)| above_ns < nanos) {
            return Some(format!(
                "`{quantile}` budget ({}) is larger than `{above}` ({}): quantile budgets must \
                 not decrease",
                format_duration(nanos, TableStyle::Ascii),
                format_duration(above_ns, TableStyle::Ascii)
            ));
        }
        if higher.is_none_or(|(_, above_ns)| nanos < above_ns) {
            higher = Some((quantile, nanos));
        }
    }
    None
}

/// A histogram whose count is not the node's calls. Calls that end while the runtime writes
/// the report may be counted in one and not yet in the other, so a small difference is not an
/// error: 1% of the calls, and at least 16.
fn histogram_problem(node: &NodeSnapshot) -> Option<String> {
    let histogram = node.histogram.as_ref()?;
    let slack = (node.calls / 100).max(16);
    (histogram.len().abs_diff(node.calls) > slack).then(|| {
        format!(
            "its latency histogram holds {} calls, but `calls` is {}",
            histogram.len(),
            node.calls
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{node, report as report_of};

    const MS: u64 = 1_000_000;

    fn budget() -> Budget {
        Budget {
            p95_ns: Some(50 * MS),
            p99_ns: Some(80 * MS),
            ..Budget::DEFAULT
        }
    }

    fn problem(nodes: Vec<NodeSnapshot>) -> String {
        report(Path::new("r.json"), &report_of(nodes)).unwrap_err()
    }

    #[test]
    fn a_sane_report_passes() {
        let nodes = vec![node("a", &[(MS, 10)], Some(budget())), node("b", &[], None)];
        assert_eq!(report(Path::new("r.json"), &report_of(nodes)), Ok(()));
    }

    #[test]
    fn budgets_out_of_range() {
        let cases = [
            (
                Budget {
                    tolerance: -0.1,
                    ..budget()
                },
                "budget tolerance must be between 0 and 1 (0% to 100%), found -0.1",
            ),
            (
                Budget {
                    tolerance: 1.5,
                    ..budget()
                },
                "budget tolerance must be between 0 and 1 (0% to 100%), found 1.5",
            ),
            (
                Budget {
                    tolerance: f64::NAN,
                    ..budget()
                },
                "budget tolerance must be between 0 and 1 (0% to 100%), found NaN",
            ),
            (
                Budget {
                    p50_ns: Some(0),
                    ..budget()
                },
                "`p50` budget must be greater than zero",
            ),
            (
                Budget {
                    p50_ns: Some(60 * MS),
                    ..budget()
                },
                "`p50` budget (60.0ms) is larger than `p95` (50.0ms): quantile budgets must \
                 not decrease",
            ),
        ];
        for (budget, message) in cases {
            assert_eq!(
                problem(vec![node("a", &[(MS, 10)], Some(budget))]),
                format!("`r.json` is not a valid report: node `a`: {message}")
            );
        }
    }

    #[test]
    fn a_histogram_that_disagrees_with_calls() {
        let mut tampered = node("a", &[(MS, 10_000)], None);
        tampered.calls = 1_000_000;
        assert_eq!(
            problem(vec![tampered]),
            "`r.json` is not a valid report: node `a`: its latency histogram holds 10000 calls, \
             but `calls` is 1000000"
        );
        // Calls ending while the report was written: within the slack.
        let mut racing = node("a", &[(MS, 10_000)], None);
        racing.calls = 10_003;
        assert_eq!(
            report(Path::new("r.json"), &report_of(vec![racing])),
            Ok(())
        );
    }

    #[test]
    fn one_node_twice_at_one_site_but_a_name_may_have_two_sites() {
        let twice = vec![node("a", &[(MS, 1)], None), node("a", &[(MS, 1)], None)];
        assert_eq!(
            problem(twice),
            "`r.json` is not a valid report: node `a`: listed twice for src/main.rs:1"
        );
        let mut elsewhere = node("a", &[(MS, 1)], None);
        elsewhere.line = 9;
        let conflict = vec![node("a", &[(MS, 1)], None), elsewhere];
        assert_eq!(report(Path::new("r.json"), &report_of(conflict)), Ok(()));
    }

    #[test]
    fn baselines_empty_repeated_or_inconsistent() {
        let path = Path::new("b.json");
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(MS, 5);
        let check = |nodes: &[(&'static str, u64)]| {
            baseline(
                path,
                nodes.iter().map(|&(name, calls)| (name, calls, &histogram)),
            )
        };
        assert_eq!(check(&[("a", 5), ("b", 5)]), Ok(()));
        assert!(check(&[]).unwrap_err().starts_with(
            "`b.json` is not a valid baseline: it has no nodes, so nothing can be compared"
        ));
        assert_eq!(
            check(&[("a", 5), ("a", 5)]).unwrap_err(),
            "`b.json` is not a valid baseline: node `a` is listed twice"
        );
        assert_eq!(
            check(&[("a", 7)]).unwrap_err(),
            "`b.json` is not a valid baseline: node `a`: its histogram holds 5 calls, but \
             `calls` is 7"
        );
    }

    /// The gate end to end on hostile files: each is bad input, exit 2, and nothing it holds
    /// reaches the terminal raw.
    mod gate_on_hostile_files {
        use std::fmt::Write as _;
        use std::fs;

        use super::*;
        use crate::test_support::{gate, scratch_dir, write_report};

        /// No control character of a file made it to the output.
        fn assert_escaped(text: &str) {
            assert!(!text.contains(['\r', '\x1b']), "{text:?}");
        }

        #[test]
        fn reproduces_an_empty_baseline_passing() {
            let dir = scratch_dir("hostile-empty-baseline");
            let report = write_report(&dir, &report_of(vec![node("a", &[(MS, 500)], None)]));
            let baseline = dir.join("performance_baseline.json");
            fs::write(
                &baseline,
                r#"{"schema": "instrument.baseline/1", "saved_at_unix_ms": 0, "report": "r",
                    "taken_at_unix_ms": 0, "host": "ci", "nodes": []}"#,
            )
            .unwrap();
            let (status, out, err) = gate(&[
                "compare",
                "--baseline",
                baseline.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ]);
            assert_eq!(status, 2, "{out}{err}");
            assert!(
                err.contains("it has no nodes, so nothing can be compared"),
                "{err}"
            );
            fs::remove_dir_all(dir).unwrap();
        }

        #[test]
        fn nothing_compared_is_not_a_pass() {
            let dir = scratch_dir("hostile-nothing-compared");
            let before = write_report(
                &dir.join("before"),
                &report_of(vec![node("a", &[(MS, 500)], None)]),
            );
            let baseline = dir.join("performance_baseline.json");
            let save = ["baseline", "save", "--report", before.to_str().unwrap()];
            let output = ["--output", baseline.to_str().unwrap()];
            assert_eq!(gate(&[&save[..], &output[..]].concat()).0, 0);
            // Only other nodes ran: every row is "too few samples".
            let now = write_report(
                &dir.join("now"),
                &report_of(vec![node("b", &[(MS, 500)], None)]),
            );
            let (status, out, err) = gate(&[
                "compare",
                "--baseline",
                baseline.to_str().unwrap(),
                "--report",
                now.to_str().unwrap(),
            ]);
            assert_eq!(status, 2, "{out}{err}");
            assert!(
                err.contains("had enough calls on both sides to be compared"),
                "{err}"
            );
            fs::remove_dir_all(dir).unwrap();
        }

        #[test]
        fn reproduces_tampered_node_names_reaching_the_terminal_raw() {
            let dir = scratch_dir("hostile-names");
            let evil = "evil\r\x1b[2K\x1b[1Apass";
            let tampered = report_of(vec![node(evil, &[(90 * MS, 200)], Some(budget()))]);
            let path = write_report(&dir, &tampered);
            let (status, out, err) = gate(&["check", "--report", path.to_str().unwrap()]);
            assert_eq!(status, 1, "{out}{err}");
            assert_escaped(&out);
            assert_escaped(&err);
            assert!(out.contains(r"evil\r\x1b[2K\x1b[1Apass"), "{out}");
            fs::remove_dir_all(dir).unwrap();
        }

        #[test]
        fn a_report_whose_histogram_disagrees_with_its_calls_is_bad_input() {
            let dir = scratch_dir("hostile-histogram");
            let mut tampered = node("a\x1b[31m", &[(MS, 200)], Some(budget()));
            tampered.calls = 1_000_000;
            let path = write_report(&dir, &report_of(vec![tampered]));
            let (status, out, err) = gate(&["check", "--report", path.to_str().unwrap()]);
            assert_eq!(status, 2, "{out}{err}");
            assert!(
                err.contains(r"node `a\x1b[31m`: its latency histogram holds 200 calls"),
                "{err}"
            );
            assert_escaped(&err);
            fs::remove_dir_all(dir).unwrap();
        }

        #[test]
        fn reproduces_the_alias_bomb_in_the_gate() {
            let dir = scratch_dir("hostile-alias-bomb");
            let path = write_report(
                &dir,
                &report_of(vec![node("a", &[(MS, 200)], Some(budget()))]),
            );
            let mut bomb = "a0: &a0 { p95: 1ms }\n".to_owned();
            for level in 1..=11 {
                let aliases: Vec<String> =
                    (0..9).map(|i| format!("k{i}: *a{}", level - 1)).collect();
                let _ = writeln!(bomb, "a{level}: &a{level} {{ {} }}", aliases.join(", "));
            }
            let budgets = dir.join("performance_budgets.yaml");
            fs::write(&budgets, bomb).unwrap();
            let (status, _, err) = gate(&[
                "check",
                "--report",
                path.to_str().unwrap(),
                "--budgets",
                budgets.to_str().unwrap(),
            ]);
            assert_eq!(status, 2, "{err}");
            assert!(
                err.contains(&format!(
                    "{}:5:24: aliases copy more than",
                    budgets.display()
                )),
                "{err}"
            );
            fs::remove_dir_all(dir).unwrap();
        }
    }
}
