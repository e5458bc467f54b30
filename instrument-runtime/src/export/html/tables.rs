//! The tables: nodes against their budgets, memory per node, circuit breakers.

use std::fmt::{self, Display, Write as _};

use crate::breaker::BreakerState;
use crate::breaker::snapshot::{BreakerSnapshot, Health};
use crate::format::{Bytes, Mean};
use crate::read::budget::{BudgetCheck, BudgetVerdict, Quantile, VerdictStatus, judge};
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::alloc::NodeMemory;

use super::text::{Escaped, UtcTime, duration};
use super::timeline::{write_timeline, write_transitions};

/// A sortable column: `key` names it for `#click=`, `numeric` sorts on numbers.
pub(super) struct Column {
    key: &'static str,
    label: &'static str,
    numeric: bool,
    title: &'static str,
}

pub(super) const fn column(
    key: &'static str,
    label: &'static str,
    numeric: bool,
    title: &'static str,
) -> Column {
    Column {
        key,
        label,
        numeric,
        title,
    }
}

pub(super) const NODE_COLUMNS: [Column; 10] = [
    column("node", "node", false, "node name"),
    column("calls", "calls", true, "calls that ended"),
    column("errors", "errors", true, "calls whose result was a failure"),
    column("p50", "p50", true, "median latency"),
    column("p95", "p95", true, "95th percentile latency"),
    column("p99", "p99", true, "99th percentile latency"),
    column("max", "max", true, "slowest call"),
    column(
        "budget",
        "budget",
        true,
        "declared budgets; sorts on the first one",
    ),
    column(
        "margin",
        "margin / overage",
        true,
        "the budgeted statistic closest to (or furthest over) its allowance",
    ),
    column("verdict", "verdict", true, "fail, not exercised, pass"),
];

pub(super) const BREAKER_COLUMNS: [Column; 11] = [
    column("breaker", "breaker", false, "breaker name"),
    column("breaker-state", "state", true, "closed, half-open, open"),
    column(
        "breaker-health",
        "health",
        true,
        "failing, degraded, healthy",
    ),
    column("breaker-calls", "calls", true, "calls let through"),
    column(
        "breaker-failures",
        "failures",
        true,
        "calls counted as failures",
    ),
    column(
        "breaker-rejected",
        "rejected",
        true,
        "calls refused while open",
    ),
    column(
        "breaker-fallbacks",
        "fallbacks",
        true,
        "refused calls served by the fallback",
    ),
    column("breaker-opened", "opened", true, "times it opened"),
    column("breaker-recovered", "recovered", true, "outages that ended"),
    column(
        "breaker-longest",
        "longest / SLA",
        true,
        "longest recovery against the SLA",
    ),
    column(
        "breaker-failure",
        "last failure",
        false,
        "the most recent failure",
    ),
];

pub(super) fn write_table_head(
    out: &mut String,
    id: &str,
    label: &str,
    columns: &[Column],
) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"table-wrap\">\n<table class=\"sortable\" id=\"{id}\" aria-label=\"{label}\">"
    )?;
    write!(out, "<thead><tr>")?;
    for column in columns {
        let (class, kind) = if column.numeric {
            ("", "number")
        } else {
            (" class=\"text\"", "text")
        };
        write!(
            out,
            "<th scope=\"col\"{class} data-key=\"{}\" data-type=\"{kind}\" title=\"{}\">\
             <button type=\"button\">{}</button></th>",
            column.key,
            Escaped(column.title),
            Escaped(column.label)
        )?;
    }
    writeln!(out, "</tr></thead>")?;
    writeln!(out, "<tbody>")
}

/// One `<td>`: `sort` is what the column sorts on (empty sorts last), `text` what people read.
pub(super) fn write_cell(out: &mut String, class: &str, sort: &str, text: &str) -> fmt::Result {
    write_cell_titled(out, class, sort, text, "")
}

pub(super) fn write_cell_titled(
    out: &mut String,
    class: &str,
    sort: &str,
    text: &str,
    title: &str,
) -> fmt::Result {
    write!(out, "<td")?;
    if !class.is_empty() {
        write!(out, " class=\"{class}\"")?;
    }
    write!(out, " data-value=\"{}\"", Escaped(sort))?;
    if !title.is_empty() {
        write!(out, " title=\"{}\"", Escaped(title))?;
    }
    writeln!(out, ">{}</td>", Escaped(text))
}

/// The node's verdict: the snapshot's, or judged here for a snapshot read back without one.
pub(super) fn verdict_of(node: &NodeSnapshot) -> Option<BudgetVerdict> {
    node.verdict.clone().or_else(|| {
        node.budget
            .map(|budget| judge(&budget, node.calls, node.latency.as_ref()))
    })
}

pub(super) fn write_nodes(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
    writeln!(out, "<h2>Nodes</h2>")?;
    if snapshot.nodes.is_empty() {
        return writeln!(
            out,
            "<p class=\"note\">No instrumented function is registered.</p>"
        );
    }
    write_table_head(out, "nodes", "Nodes", &NODE_COLUMNS)?;
    for (index, node) in snapshot.nodes.iter().enumerate() {
        write_node_row(out, index, node)?;
    }
    writeln!(out, "</tbody>\n</table>\n</div>")?;
    writeln!(
        out,
        "<p class=\"note\">Click a column header to sort; click again to reverse. Latencies to \
         3 significant figures; a budget fails when its statistic is over budget plus tolerance.</p>"
    )
}

pub(super) fn write_node_row(out: &mut String, index: usize, node: &NodeSnapshot) -> fmt::Result {
    let verdict = verdict_of(node);
    let status = verdict.as_ref().map(|verdict| verdict.status);
    let row_class = match status {
        Some(VerdictStatus::Pass) => "pass",
        Some(VerdictStatus::Fail) => "fail",
        Some(VerdictStatus::NotExercised) => "unjudged",
        None => "unbudgeted",
    };
    writeln!(out, "<tr class=\"{row_class}\" data-index=\"{index}\">")?;
    write_cell_titled(
        out,
        "text name",
        &node.name,
        &node.name,
        &format!("{} ({}:{})", node.module_path, node.file, node.line),
    )?;
    write_cell(out, "", &node.calls.to_string(), &node.calls.to_string())?;
    write_cell(out, "", &node.errors.to_string(), &node.errors.to_string())?;
    for quantile in [Quantile::P50, Quantile::P95, Quantile::P99, Quantile::Max] {
        let check = verdict
            .as_ref()
            .and_then(|verdict| verdict.checks.iter().find(|c| c.quantile == quantile));
        let class = match check {
            Some(check) if check.passed => "within",
            Some(_) => "over",
            None => "",
        };
        match &node.latency {
            Some(latency) => {
                let ns = quantile.observed_in(latency);
                write_cell(out, class, &ns.to_string(), &duration(ns))?;
            }
            None => write_cell(out, "none", "", "–")?,
        }
    }
    match &node.budget {
        Some(budget) => {
            let declared: Vec<(Quantile, u64)> = Quantile::ALL
                .into_iter()
                .filter_map(|quantile| Some((quantile, quantile.budget_in(budget)?)))
                .collect();
            let text = declared
                .iter()
                .map(|(quantile, ns)| format!("{quantile}\u{a0}{}", duration(*ns)))
                .collect::<Vec<_>>()
                .join(" · ");
            let sort = declared
                .first()
                .map(|(_, ns)| ns.to_string())
                .unwrap_or_default();
            write_cell_titled(
                out,
                "wrap",
                &sort,
                &text,
                &format!(
                    "tolerance {}%, judged from {} calls",
                    Percent(budget.tolerance * 100.0),
                    budget.min_samples
                ),
            )?;
        }
        None => write_cell(out, "none", "", "–")?,
    }
    let (class, sort, text) = margin(verdict.as_ref());
    let title = if class.ends_with("over") {
        "over its allowance: budget plus tolerance"
    } else {
        ""
    };
    write_cell_titled(out, class, &sort, &text, title)?;
    let (class, sort, text) = match status {
        Some(VerdictStatus::Fail) => ("verdict fail", "0", "FAIL"),
        Some(VerdictStatus::NotExercised) => ("verdict unjudged", "1", "not exercised"),
        Some(VerdictStatus::Pass) => ("verdict pass", "2", "pass"),
        None => ("verdict none", "", "no budget"),
    };
    write_cell(out, class, sort, text)?;
    writeln!(out, "</tr>")
}

/// The margin column: the budgeted statistic with the least headroom (or the most overage).
pub(super) fn margin(verdict: Option<&BudgetVerdict>) -> (&'static str, String, String) {
    let Some(verdict) = verdict else {
        return ("none", String::new(), "–".to_owned());
    };
    if verdict.status == VerdictStatus::NotExercised {
        return (
            "wrap unjudged",
            String::new(),
            format!("{} of {} calls needed", verdict.calls, verdict.min_samples),
        );
    }
    let Some(worst) = worst_check(&verdict.checks) else {
        return ("none", String::new(), "–".to_owned());
    };
    let margin = worst.margin_percent();
    let text = if worst.passed && margin >= 99.5 && worst.observed_ns > 0 {
        // Rounded, it would read as no latency at all.
        format!("{} >99% headroom", worst.quantile)
    } else if worst.passed {
        format!("{} {}% headroom", worst.quantile, Percent(margin))
    } else {
        format!(
            "{} +{} (+{}%)",
            worst.quantile,
            duration(worst.overage_ns()),
            Percent(-margin)
        )
    };
    let class = if worst.passed {
        "wrap within"
    } else {
        "wrap over"
    };
    (class, format!("{margin:.3}"), text)
}

pub(super) fn worst_check(checks: &[BudgetCheck]) -> Option<&BudgetCheck> {
    checks
        .iter()
        .min_by(|a, b| a.margin_percent().total_cmp(&b.margin_percent()))
}

/// A percentage for people: no decimals from 10 up, at most one below.
pub(super) struct Percent(f64);

impl Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.abs() >= 10.0 {
            return write!(f, "{:.0}", self.0);
        }
        let text = format!("{:.1}", self.0);
        f.write_str(text.strip_suffix(".0").unwrap_or(&text))
    }
}

pub(super) const MEMORY_COLUMNS: [Column; 7] = [
    column("memory-node", "node", false, "node name"),
    column(
        "memory-calls",
        "calls",
        true,
        "calls measured by the counting allocator",
    ),
    column(
        "memory-allocations-per-call",
        "allocations / call",
        true,
        "heap allocations of the node's own code per call",
    ),
    column(
        "memory-bytes-per-call",
        "bytes / call",
        true,
        "bytes those allocations asked for, per call",
    ),
    column(
        "memory-peak",
        "peak live",
        true,
        "the most the thread's heap grew during one call, nested calls included",
    ),
    column(
        "memory-allocations",
        "allocations",
        true,
        "heap allocations in all",
    ),
    column("memory-bytes", "bytes", true, "bytes allocated in all"),
];

/// The memory table, when a counting allocator measured some node; with the process's resident
/// memory when the snapshot has it.
pub(super) fn write_memory(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
    let measured: Vec<(&NodeSnapshot, &NodeMemory)> = snapshot
        .nodes
        .iter()
        .filter_map(|node| Some((node, node.memory.as_ref()?)))
        .collect();
    if measured.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2>Memory</h2>")?;
    write_table_head(out, "memory", "Memory", &MEMORY_COLUMNS)?;
    for (index, (node, memory)) in measured.into_iter().enumerate() {
        writeln!(out, "<tr data-index=\"{index}\">")?;
        write_cell(out, "text name", &node.name, &node.name)?;
        let calls = memory.calls.to_string();
        write_cell(out, "", &calls, &calls)?;
        let per_call = memory.allocations_per_call.to_string();
        write_cell(
            out,
            "",
            &per_call,
            &Mean(memory.allocations_per_call).to_string(),
        )?;
        write_cell(
            out,
            "",
            &memory.bytes_per_call.to_string(),
            &format!("{:#}", Bytes(memory.bytes_per_call)),
        )?;
        #[allow(
            clippy::cast_precision_loss,
            reason = "three significant figures are printed"
        )]
        let (peak, bytes) = (memory.peak_live_bytes as f64, memory.bytes as f64);
        write_cell(
            out,
            "",
            &memory.peak_live_bytes.to_string(),
            &format!("{:#}", Bytes(peak)),
        )?;
        let allocations = memory.allocations.to_string();
        write_cell(out, "", &allocations, &allocations)?;
        write_cell(
            out,
            "",
            &memory.bytes.to_string(),
            &format!("{:#}", Bytes(bytes)),
        )?;
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>\n</table>\n</div>")?;
    let process = snapshot.process.map_or_else(String::new, |process| {
        #[allow(
            clippy::cast_precision_loss,
            reason = "three significant figures are printed"
        )]
        let (rss, peak) = (process.rss_bytes as f64, process.peak_rss_bytes as f64);
        format!(
            " The process's resident memory: {:#} now, {:#} at its peak.",
            Bytes(rss),
            Bytes(peak)
        )
    });
    writeln!(
        out,
        "<p class=\"note\">Measured by the counting allocator: allocations are charged to the \
         innermost instrumented call running on the allocating thread.{}</p>",
        Escaped(&process)
    )
}

pub(super) fn write_breakers(out: &mut String, breakers: &[BreakerSnapshot]) -> fmt::Result {
    if breakers.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2>Circuit breakers</h2>")?;
    write_table_head(out, "breakers", "Circuit breakers", &BREAKER_COLUMNS)?;
    for (index, breaker) in breakers.iter().enumerate() {
        write_breaker_row(out, index, breaker)?;
    }
    writeln!(out, "</tbody>\n</table>\n</div>")?;
    write_timeline(out, breakers)?;
    for breaker in breakers
        .iter()
        .filter(|breaker| !breaker.timeline.is_empty())
    {
        write_transitions(out, breaker)?;
    }
    Ok(())
}

pub(super) fn state_class(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::HalfOpen => "half-open",
        BreakerState::Open => "open",
    }
}

pub(super) fn write_breaker_row(
    out: &mut String,
    index: usize,
    breaker: &BreakerSnapshot,
) -> fmt::Result {
    writeln!(out, "<tr data-index=\"{index}\">")?;
    let guards = breaker
        .functions
        .iter()
        .map(|function| match &function.fallback {
            Some(fallback) => format!("{} (fallback {fallback})", function.function),
            None => function.function.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    write_cell_titled(
        out,
        "text name",
        &breaker.name,
        &breaker.name,
        &format!("guards {guards}"),
    )?;
    let state = format!(
        "{}{}",
        breaker.state.as_str(),
        if breaker.forced { " (forced)" } else { "" }
    );
    write_cell(
        out,
        &format!("state {}", state_class(breaker.state)),
        &(2 - breaker.state.gauge()).to_string(),
        &state,
    )?;
    let (health, rank) = match breaker.health.status {
        Health::Failing => ("FAILING", 0),
        Health::Degraded => ("DEGRADED", 1),
        Health::Healthy => ("HEALTHY", 2),
    };
    write_cell_titled(
        out,
        &format!("health {}", health.to_lowercase()),
        &rank.to_string(),
        health,
        &format!(
            "{}% successful over {} calls",
            Percent(breaker.health.success_rate * 100.0),
            breaker.health.calls
        ),
    )?;
    for count in [
        breaker.calls,
        breaker.failures,
        breaker.rejected,
        breaker.fallbacks,
        breaker.transitions.opened,
        breaker.recoveries.count,
    ] {
        write_cell(out, "", &count.to_string(), &count.to_string())?;
    }
    let recoveries = &breaker.recoveries;
    let longest = if recoveries.count == 0 {
        "–".to_owned()
    } else {
        duration(recoveries.longest_ns)
    };
    let over = match recoveries.sla_violations {
        0 => String::new(),
        1 => ", 1 over".to_owned(),
        many => format!(", {many} over"),
    };
    let class = if recoveries.sla_violations == 0 {
        ""
    } else {
        "over"
    };
    write_cell(
        out,
        class,
        &recoveries.longest_ns.to_string(),
        &format!("{longest} / {}{over}", duration(recoveries.sla_ns)),
    )?;
    match &breaker.last_failure {
        Some(failure) => write_cell_titled(
            out,
            "text failure",
            &failure.message,
            &shorten(&failure.message, 32),
            &format!("{}: {}", UtcTime(failure.at_unix_ms), failure.message),
        )?,
        None => write_cell(out, "text failure none", "", "–")?,
    }
    writeln!(out, "</tr>")
}

/// At most `chars` characters of `text`, with an ellipsis when cut.
pub(super) fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_names_the_tightest_statistic() {
        let check = |quantile, observed_ns, allowed_ns| BudgetCheck {
            quantile,
            observed_ns,
            budget_ns: allowed_ns,
            allowed_ns,
            passed: observed_ns <= allowed_ns,
        };
        let verdict = |status, checks| BudgetVerdict {
            status,
            calls: 100,
            min_samples: 100,
            tolerance: 0.0,
            checks,
        };
        let pass = verdict(
            VerdictStatus::Pass,
            vec![
                check(Quantile::P95, 500, 1_000),
                check(Quantile::P99, 900, 1_000),
            ],
        );
        assert_eq!(
            margin(Some(&pass)),
            (
                "wrap within",
                "10.000".to_owned(),
                "p99 10% headroom".to_owned()
            )
        );
        let fail = verdict(
            VerdictStatus::Fail,
            vec![check(Quantile::P95, 1_500_000, 1_000_000)],
        );
        assert_eq!(
            margin(Some(&fail)),
            (
                "wrap over",
                "-50.000".to_owned(),
                "p95 +500µs (+50%)".to_owned()
            )
        );
        let tiny = verdict(VerdictStatus::Pass, vec![check(Quantile::P95, 2, 1_000)]);
        assert_eq!(margin(Some(&tiny)).2, "p95 >99% headroom");
        let mut unjudged = verdict(VerdictStatus::NotExercised, vec![]);
        unjudged.calls = 3;
        assert_eq!(margin(Some(&unjudged)).2, "3 of 100 calls needed");
        assert_eq!(margin(None).1, "");
    }
}
