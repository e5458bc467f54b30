//! `performance_dashboard.html`: one self-contained page (inline CSS, JS and SVG; nothing loaded
//! from the network) showing every node against its budget and every circuit breaker's history.
//!
//! Every string that comes from the snapshot goes through [`Escaped`]; the script reads only
//! `data-*` attributes, so no snapshot data is ever written into script context.

use std::fmt::{self, Display, Write as _};

use crate::breaker::snapshot::{BreakerSnapshot, Health};
use crate::breaker::{BreakerState, Transition, TransitionCause};
use crate::read::budget::{
    BudgetCheck, BudgetReport, BudgetVerdict, Quantile, VerdictStatus, judge,
};
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::alloc::NodeMemory;
use crate::record::histogram::LatencyHistogram;
use crate::report::{Bytes, Mean, TableStyle, format_duration};

/// The dashboard's file name in the report directory.
pub(crate) const FILE_NAME: &str = "performance_dashboard.html";

const STYLE: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");

/// Bars per decade of latency in the distribution charts.
const BINS_PER_DECADE: u32 = 20;

/// Renders `performance_dashboard.html`: the run's time and totals, a sortable table of every node
/// against its budget, the circuit breakers' states and transition timeline, and each timed
/// node's latency distribution on a log scale with its budget lines.
///
/// A pure function of its arguments: the same snapshot gives the same bytes. The page is one
/// self-contained HTML5 file (inline CSS, JS and SVG; a content security policy forbids loading
/// anything). Latency charts need the snapshot's histograms, which a live [`snapshot`] and
/// `report.json` carry; a snapshot without them gets a note instead. Clicking a column header
/// sorts the table; `#click=p95` in the address clicks that header on load.
///
/// [`snapshot`]: crate::snapshot()
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{ManualClock, check_budgets, dashboard_html, snapshot};
///
/// #[instrument_runtime::budget(name = "dashboard <doc>", p95 = "2ms", min_samples = 1)]
/// fn step(clock: &ManualClock) {
///     clock.advance(Duration::from_millis(3));
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// step(&clock);
/// let snapshot = snapshot();
/// let html = dashboard_html(&snapshot, &check_budgets(&snapshot));
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("dashboard &lt;doc&gt;"));
/// assert!(!html.contains("dashboard <doc>"));
/// assert_eq!(html, dashboard_html(&snapshot, &check_budgets(&snapshot)));
/// ```
pub fn dashboard_html(snapshot: &Snapshot, budgets: &BudgetReport) -> String {
    let mut out = String::with_capacity(32 * 1024 + snapshot.nodes.len() * 4 * 1024);
    // Writing to a `String` cannot fail.
    let _ = write_dashboard(&mut out, snapshot, budgets);
    out
}

fn write_dashboard(out: &mut String, snapshot: &Snapshot, budgets: &BudgetReport) -> fmt::Result {
    let taken_at = UtcTime(snapshot.taken_at_unix_ms);
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>Performance dashboard · {taken_at}</title>")?;
    writeln!(out, "<style>\n{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    writeln!(out, "<main>")?;
    write_header(out, snapshot, budgets)?;
    write_nodes(out, snapshot)?;
    write_memory(out, snapshot)?;
    write_breakers(out, &snapshot.breakers)?;
    write_charts(out, snapshot)?;
    writeln!(out, "</main>")?;
    writeln!(out, "<script>\n{SCRIPT}</script>")?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn write_header(out: &mut String, snapshot: &Snapshot, budgets: &BudgetReport) -> fmt::Result {
    let taken_at = UtcTime(snapshot.taken_at_unix_ms);
    writeln!(out, "<header class=\"page-header\">")?;
    writeln!(out, "<h1>Performance dashboard</h1>")?;
    write!(
        out,
        "<p class=\"meta\">snapshot taken <time datetime=\"{}\">{taken_at}</time>",
        taken_at.iso(),
    )?;
    if !snapshot.host.is_empty() {
        write!(
            out,
            " on <span class=\"host\">{}</span>",
            Escaped(&snapshot.host)
        )?;
    }
    if !snapshot.run_id.is_empty() {
        write!(
            out,
            " · run <code class=\"run-id\">{}</code>",
            Escaped(&snapshot.run_id)
        )?;
    }
    writeln!(out, "</p>")?;
    writeln!(out, "</header>")?;

    let sum = |count: fn(&NodeSnapshot) -> u64| snapshot.nodes.iter().map(count).sum::<u64>();
    let (panics, cancelled) = (sum(|node| node.panics), sum(|node| node.cancelled));
    writeln!(out, "<section class=\"totals\" aria-label=\"Totals\">")?;
    write_tile(out, "", "nodes", &snapshot.nodes.len().to_string(), "")?;
    write_tile(out, "", "calls", &sum(|node| node.calls).to_string(), "")?;
    write_tile(
        out,
        "",
        "errors",
        &sum(|node| node.errors).to_string(),
        &format!("{panics} panicked · {cancelled} cancelled"),
    )?;
    let (class, verdict) = if budgets.is_pass() {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    write_tile(
        out,
        class,
        "budgets",
        verdict,
        &format!(
            "{} pass · {} fail · {} not exercised",
            budgets.passed,
            budgets.failed,
            budgets.not_exercised.len()
        ),
    )?;
    if !snapshot.breakers.is_empty() {
        let in_state = |state| {
            snapshot
                .breakers
                .iter()
                .filter(|breaker| breaker.state == state)
                .count()
        };
        let open = in_state(BreakerState::Open);
        write_tile(
            out,
            if open == 0 { "pass" } else { "fail" },
            "circuit breakers",
            &format!("{open} open"),
            &format!(
                "{} half-open · {} closed",
                in_state(BreakerState::HalfOpen),
                in_state(BreakerState::Closed)
            ),
        )?;
    }
    writeln!(out, "</section>")?;
    for conflict in &snapshot.conflicts {
        writeln!(
            out,
            "<p class=\"warning\">The node name <strong>{}</strong> is used by {} functions, \
             reported apart: {}</p>",
            Escaped(&conflict.name),
            conflict.sites.len(),
            Escaped(&conflict.sites.join(", "))
        )?;
    }
    Ok(())
}

fn write_tile(
    out: &mut String,
    class: &str,
    label: &str,
    value: &str,
    detail: &str,
) -> fmt::Result {
    write!(
        out,
        "<div class=\"tile {class}\"><span class=\"label\">{label}</span>\
         <span class=\"value\">{}</span>",
        Escaped(value)
    )?;
    if !detail.is_empty() {
        write!(out, " <span class=\"detail\">{}</span>", Escaped(detail))?;
    }
    writeln!(out, "</div>")
}

/// A sortable column: `key` names it for `#click=`, `numeric` sorts on numbers.
struct Column {
    key: &'static str,
    label: &'static str,
    numeric: bool,
    title: &'static str,
}

const fn column(
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

const NODE_COLUMNS: [Column; 10] = [
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

const BREAKER_COLUMNS: [Column; 11] = [
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

fn write_table_head(out: &mut String, id: &str, label: &str, columns: &[Column]) -> fmt::Result {
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
fn write_cell(out: &mut String, class: &str, sort: &str, text: &str) -> fmt::Result {
    write_cell_titled(out, class, sort, text, "")
}

fn write_cell_titled(
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

fn duration(ns: u64) -> String {
    format_duration(ns, TableStyle::Color)
}

/// An axis label: the shortest exact form, `2ms`, `500µs`, `1.5s`, so neighbouring ticks fit.
#[allow(clippy::cast_precision_loss, reason = "tick values are round numbers")]
fn tick_label(ns: u64) -> String {
    let (unit, name) = match ns {
        0..1_000 => (1.0, "ns"),
        1_000..1_000_000 => (1e3, "µs"),
        1_000_000..1_000_000_000 => (1e6, "ms"),
        _ => (1e9, "s"),
    };
    // `Display` for `f64` prints the shortest form that reads back the same: 1.5, not 1.50.
    let value = ns as f64 / unit;
    if value >= 100.0 || (value * 10.0).fract() == 0.0 {
        format!("{value}{name}")
    } else {
        format!("{}{name}", (value * 100.0).round() / 100.0)
    }
}

/// The node's verdict: the snapshot's, or judged here for a snapshot read back without one.
fn verdict_of(node: &NodeSnapshot) -> Option<BudgetVerdict> {
    node.verdict.clone().or_else(|| {
        node.budget
            .map(|budget| judge(&budget, node.calls, node.latency.as_ref()))
    })
}

fn write_nodes(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
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

fn write_node_row(out: &mut String, index: usize, node: &NodeSnapshot) -> fmt::Result {
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
fn margin(verdict: Option<&BudgetVerdict>) -> (&'static str, String, String) {
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

fn worst_check(checks: &[BudgetCheck]) -> Option<&BudgetCheck> {
    checks
        .iter()
        .min_by(|a, b| a.margin_percent().total_cmp(&b.margin_percent()))
}

/// A percentage for people: no decimals from 10 up, at most one below.
struct Percent(f64);

impl Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.abs() >= 10.0 {
            return write!(f, "{:.0}", self.0);
        }
        let text = format!("{:.1}", self.0);
        f.write_str(text.strip_suffix(".0").unwrap_or(&text))
    }
}

const MEMORY_COLUMNS: [Column; 7] = [
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
fn write_memory(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
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

fn write_breakers(out: &mut String, breakers: &[BreakerSnapshot]) -> fmt::Result {
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

fn state_class(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::HalfOpen => "half-open",
        BreakerState::Open => "open",
    }
}

fn write_breaker_row(out: &mut String, index: usize, breaker: &BreakerSnapshot) -> fmt::Result {
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
fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Geometry of the breaker timeline, in SVG user units.
const TIMELINE_WIDTH: f64 = 1000.0;
const TIMELINE_BAND_LEFT: f64 = 200.0;
const TIMELINE_BAND_RIGHT: f64 = 990.0;
const TIMELINE_ROW: f64 = 24.0;
const TIMELINE_TOP: f64 = 4.0;
const TIMELINE_AXIS: f64 = 22.0;

/// One time axis for every breaker (they all keep time on the breaker clock), from just before
/// the first transition to just after the last; times in nanoseconds on that clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimeSpan {
    /// The first transition: the axis counts from it.
    origin: u64,
    start: u64,
    end: u64,
}

impl TimeSpan {
    fn of(breakers: &[BreakerSnapshot]) -> Option<Self> {
        let times = breakers
            .iter()
            .flat_map(|breaker| breaker.timeline.iter().map(|transition| transition.at_ns));
        let first = times.clone().min()?;
        let last = times.max()?;
        let pad = ((last - first) / 20).max(1_000_000);
        Some(Self {
            origin: first,
            start: first.saturating_sub(pad),
            end: last.saturating_add(pad),
        })
    }

    #[allow(clippy::cast_precision_loss, reason = "a position on screen")]
    fn x(&self, ns: u64) -> f64 {
        let position = (ns.clamp(self.start, self.end) - self.start) as f64
            / (self.end - self.start).max(1) as f64;
        TIMELINE_BAND_LEFT + position * (TIMELINE_BAND_RIGHT - TIMELINE_BAND_LEFT)
    }
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `ns`: a tick step people read.
fn nice_step(ns: u64) -> u64 {
    let mut power = 1_u64;
    loop {
        for multiple in [1, 2, 5] {
            let step = power.saturating_mul(multiple);
            if step >= ns || step == u64::MAX {
                return step;
            }
        }
        power = power.saturating_mul(10);
    }
}

fn write_timeline(out: &mut String, breakers: &[BreakerSnapshot]) -> fmt::Result {
    let Some(span) = TimeSpan::of(breakers) else {
        return writeln!(
            out,
            "<p class=\"note\">No breaker has changed state: every one has been closed since it \
             started.</p>"
        );
    };
    writeln!(out, "<h3>State timeline</h3>")?;
    writeln!(
        out,
        "<div class=\"legend\"><span class=\"closed\">closed</span>\
         <span class=\"half-open\">half-open</span><span class=\"open\">open</span></div>"
    )?;
    #[allow(clippy::cast_precision_loss, reason = "a handful of rows")]
    let rows = breakers.len() as f64;
    let height = TIMELINE_TOP + rows * TIMELINE_ROW + TIMELINE_AXIS;
    writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {TIMELINE_WIDTH} {height}\" role=\"img\" \
         aria-label=\"Circuit breaker states over time\">"
    )?;
    let axis_y = TIMELINE_TOP + rows * TIMELINE_ROW;
    let step = nice_step((span.end - span.start) / 8);
    let mut tick = span.origin;
    while tick <= span.end {
        let x = span.x(tick);
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TIMELINE_TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">+{}</text>",
            axis_y + 3.0,
            axis_y + 15.0,
            if tick == span.origin {
                "0".to_owned()
            } else {
                tick_label(tick - span.origin)
            }
        )?;
        tick = tick.saturating_add(step);
        if tick == u64::MAX {
            break;
        }
    }
    for (row, breaker) in breakers.iter().enumerate() {
        #[allow(clippy::cast_precision_loss, reason = "a handful of rows")]
        let y = TIMELINE_TOP + row as f64 * TIMELINE_ROW;
        writeln!(
            out,
            "<text class=\"row-name\" x=\"0\" y=\"{:.1}\">{}<title>{}</title></text>",
            y + 15.0,
            Escaped(&shorten(&breaker.name, 26)),
            Escaped(&breaker.name)
        )?;
        for segment in segments(breaker, &span) {
            let x = span.x(segment.from_ns);
            let width = (span.x(segment.to_ns) - x).max(1.0);
            writeln!(
                out,
                "<rect class=\"seg {}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" \
                 height=\"{:.1}\"><title>{}: {} from +{} for {}</title></rect>",
                state_class(segment.state),
                y + 3.0,
                TIMELINE_ROW - 8.0,
                Escaped(&breaker.name),
                segment.state.as_str(),
                duration(segment.from_ns.saturating_sub(span.origin)),
                duration(segment.to_ns - segment.from_ns)
            )?;
        }
    }
    writeln!(out, "</svg>")
}

/// A stretch of time a breaker spent in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    state: BreakerState,
    from_ns: u64,
    to_ns: u64,
}

/// The breaker's states over the span: the state before its first recorded transition, then
/// the state after each, up to the next or the end of the span.
fn segments(breaker: &BreakerSnapshot, span: &TimeSpan) -> Vec<Segment> {
    let Some(first) = breaker.timeline.first() else {
        return vec![Segment {
            state: breaker.state,
            from_ns: span.start,
            to_ns: span.end,
        }];
    };
    let mut segments = vec![Segment {
        state: first.from,
        from_ns: span.start,
        to_ns: first.at_ns,
    }];
    for (index, transition) in breaker.timeline.iter().enumerate() {
        let to_ns = breaker
            .timeline
            .get(index + 1)
            .map_or(span.end, |next| next.at_ns);
        segments.push(Segment {
            state: transition.to,
            from_ns: transition.at_ns,
            to_ns: to_ns.max(transition.at_ns),
        });
    }
    segments
}

fn write_transitions(out: &mut String, breaker: &BreakerSnapshot) -> fmt::Result {
    let origin = breaker.timeline.first().map_or(0, |first| first.at_ns);
    let counts = breaker.transitions;
    let total = counts.opened + counts.half_opened + counts.closed;
    let kept = breaker.timeline.len() as u64;
    writeln!(
        out,
        "<details><summary><strong>{}</strong>: {total} transition{}{}</summary>",
        Escaped(&breaker.name),
        if total == 1 { "" } else { "s" },
        if total > kept {
            format!(" (the last {kept} kept)")
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "<table class=\"transitions\"><thead><tr><th scope=\"col\" class=\"text\">at (UTC)</th>\
         <th scope=\"col\">since first</th><th scope=\"col\" class=\"text\">from</th>\
         <th scope=\"col\" class=\"text\">to</th><th scope=\"col\" class=\"text\">cause</th>\
         </tr></thead><tbody>"
    )?;
    for transition in &breaker.timeline {
        write_transition(out, transition, origin)?;
    }
    writeln!(out, "</tbody></table></details>")
}

fn write_transition(out: &mut String, transition: &Transition, origin_ns: u64) -> fmt::Result {
    let time = UtcTime(transition.at_unix_ms);
    writeln!(
        out,
        "<tr><td class=\"text\"><time datetime=\"{}\">{time}</time></td><td>+{}</td>\
         <td class=\"text state {}\">{}</td><td class=\"text state {}\">{}</td>\
         <td class=\"text\">{}</td></tr>",
        time.iso(),
        duration(transition.at_ns.saturating_sub(origin_ns)),
        state_class(transition.from),
        transition.from.as_str(),
        state_class(transition.to),
        transition.to.as_str(),
        Escaped(&cause(transition.cause))
    )
}

fn cause(cause: TransitionCause) -> String {
    match cause {
        TransitionCause::ConsecutiveFailures { failures } => {
            format!("{failures} failures in a row")
        }
        TransitionCause::FailureRate { calls, failures } => {
            format!("{failures} of the last {calls} calls failed")
        }
        TransitionCause::TimeoutElapsed => "timeout elapsed, probing".to_owned(),
        TransitionCause::ProbeFailed => "a probe failed".to_owned(),
        TransitionCause::ProbesSucceeded => "probes succeeded".to_owned(),
        TransitionCause::ForcedOpen => "forced open".to_owned(),
        TransitionCause::ForcedClosed => "forced closed".to_owned(),
        TransitionCause::Reset => "reset".to_owned(),
    }
}

/// Geometry of a latency chart, in SVG user units.
const CHART_WIDTH: f64 = 360.0;
const CHART_HEIGHT: f64 = 168.0;
const PLOT_LEFT: f64 = 8.0;
const PLOT_RIGHT: f64 = 352.0;
const PLOT_TOP: f64 = 30.0;
const PLOT_BOTTOM: f64 = 140.0;

fn write_charts(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
    let charted: Vec<(&NodeSnapshot, &LatencyHistogram)> = snapshot
        .nodes
        .iter()
        .filter_map(|node| Some((node, node.histogram.as_ref()?)))
        .collect();
    writeln!(out, "<h2>Latency distributions</h2>")?;
    writeln!(
        out,
        "<p class=\"note\">Calls per latency bin ({BINS_PER_DECADE} per decade), log-scale \
         x axis. Dashed lines: budgets, green when within, red when over, amber when not yet \
         judged; the shaded band is the tolerance.</p>"
    )?;
    let missing = snapshot
        .nodes
        .iter()
        .filter(|node| node.latency.is_some() && node.histogram.is_none())
        .count();
    if missing > 0 {
        writeln!(
            out,
            "<p class=\"note\">{missing} timed nodes have no histogram in this snapshot \
             (a snapshot read from a file written without histograms carries none).</p>"
        )?;
    }
    if charted.is_empty() {
        return writeln!(out, "<p class=\"note\">No latency recorded yet.</p>");
    }
    writeln!(out, "<div class=\"charts\">")?;
    for (node, histogram) in charted {
        write_chart(out, node, histogram)?;
    }
    writeln!(out, "</div>")
}

fn write_chart(out: &mut String, node: &NodeSnapshot, histogram: &LatencyHistogram) -> fmt::Result {
    let verdict = verdict_of(node);
    let budgets: Vec<(Quantile, u64)> = node.budget.map_or_else(Vec::new, |budget| {
        Quantile::ALL
            .into_iter()
            .filter_map(|quantile| Some((quantile, quantile.budget_in(&budget)?)))
            .collect()
    });
    let allowed = |ns: u64| node.budget.map_or(ns, |budget| budget.allowed_ns(ns));
    let (fastest, slowest) = recorded_range(histogram);
    let lowest = budgets
        .iter()
        .map(|&(_, ns)| ns)
        .chain([fastest])
        .min()
        .unwrap_or(1);
    let highest = budgets
        .iter()
        .map(|&(_, ns)| allowed(ns))
        .chain([slowest])
        .max()
        .unwrap_or(1);
    let scale = LogScale::covering(lowest, highest, PLOT_LEFT, PLOT_RIGHT - PLOT_LEFT);

    writeln!(out, "<figure class=\"chart\">")?;
    write!(
        out,
        "<figcaption><strong>{}</strong> · {} calls",
        Escaped(&node.name),
        histogram.len()
    )?;
    if let Some(latency) = &node.latency {
        write!(
            out,
            " · p50 {} · p95 {} · p99 {}",
            duration(latency.p50_ns),
            duration(latency.p95_ns),
            duration(latency.p99_ns)
        )?;
    }
    writeln!(out, "</figcaption>")?;
    writeln!(
        out,
        "<svg class=\"latency\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" \
         aria-label=\"Latency distribution of {}\">",
        Escaped(&node.name)
    )?;
    writeln!(
        out,
        "<rect class=\"plot\" x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{}\" height=\"{}\"/>",
        PLOT_RIGHT - PLOT_LEFT,
        PLOT_BOTTOM - PLOT_TOP
    )?;
    write_axis(out, &scale)?;
    write_bars(out, histogram, &scale)?;
    for (row, &(quantile, budget_ns)) in budgets.iter().enumerate() {
        let check = verdict
            .as_ref()
            .and_then(|verdict| verdict.checks.iter().find(|c| c.quantile == quantile));
        let (class, observed) = match check {
            Some(check) if check.passed => ("within", Some(check.observed_ns)),
            Some(check) => ("over", Some(check.observed_ns)),
            None => ("unjudged", None),
        };
        let x = scale.x(budget_ns);
        let allowed_x = scale.x(allowed(budget_ns));
        let title = format!(
            "{quantile} budget {}, allowed {} with tolerance{}",
            duration(budget_ns),
            duration(allowed(budget_ns)),
            observed.map_or_else(String::new, |ns| format!(", observed {}", duration(ns)))
        );
        writeln!(
            out,
            "<rect class=\"tolerance\" x=\"{x:.1}\" y=\"{PLOT_TOP}\" width=\"{:.1}\" \
             height=\"{}\"/>",
            allowed_x - x,
            PLOT_BOTTOM - PLOT_TOP
        )?;
        writeln!(
            out,
            "<line class=\"budget {class}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" \
             y2=\"{PLOT_BOTTOM}\"><title>{title}</title></line>",
            PLOT_TOP - 6.0
        )?;
        let anchor = if x > f64::midpoint(PLOT_LEFT, PLOT_RIGHT) {
            ("end", x - 3.0)
        } else {
            ("start", x + 3.0)
        };
        #[allow(clippy::cast_precision_loss, reason = "at most five budgets")]
        let label_y = 10.0 + (row % 2) as f64 * 11.0;
        writeln!(
            out,
            "<text class=\"budget-label {class}\" x=\"{:.1}\" y=\"{label_y:.1}\" \
             text-anchor=\"{}\">{quantile} ≤ {}</text>",
            anchor.1,
            anchor.0,
            duration(budget_ns)
        )?;
    }
    writeln!(out, "</svg>\n</figure>")
}

fn write_axis(out: &mut String, scale: &LogScale) -> fmt::Result {
    let label_minor = scale.decades() <= 2;
    for exponent in scale.lo_exp..=scale.hi_exp {
        let power = 10_u64.pow(exponent);
        let x = scale.x(power);
        let anchor = if exponent == scale.lo_exp {
            "start"
        } else if exponent == scale.hi_exp {
            "end"
        } else {
            "middle"
        };
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{PLOT_TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            PLOT_BOTTOM + 4.0,
            PLOT_BOTTOM + 15.0,
            tick_label(power)
        )?;
        if exponent == scale.hi_exp {
            break;
        }
        for multiple in [2, 5] {
            let x = scale.x(power * multiple);
            writeln!(
                out,
                "<line class=\"grid minor\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{PLOT_TOP}\" \
                 y2=\"{PLOT_BOTTOM}\"/>"
            )?;
            if label_minor {
                writeln!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    PLOT_BOTTOM + 15.0,
                    tick_label(power * multiple)
                )?;
            }
        }
    }
    writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">latency (log scale)</text>",
        PLOT_RIGHT,
        CHART_HEIGHT - 2.0
    )
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "bar heights on screen; bin bounds rounded to whole nanoseconds for labels"
)]
fn write_bars(out: &mut String, histogram: &LatencyHistogram, scale: &LogScale) -> fmt::Result {
    let counts = scale.bins(histogram, BINS_PER_DECADE);
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    for (bin, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let (from, to) = scale.bin_range(bin, BINS_PER_DECADE);
        let (left, right) = (scale.x_f64(from), scale.x_f64(to));
        // The rarest bin keeps a sliver of height, so a tail of one call stays visible.
        let height = (count as f64 / tallest * (PLOT_BOTTOM - PLOT_TOP)).max(1.5);
        writeln!(
            out,
            "<rect class=\"bar\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\">\
             <title>{}–{}: {count} calls</title></rect>",
            PLOT_BOTTOM - height,
            (right - left - 0.6).max(0.6),
            duration(from.round() as u64),
            duration(to.round() as u64)
        )?;
    }
    Ok(())
}

/// The fastest and slowest calls, as the bins see them: each recorded value stands for the
/// highest value equivalent to it (as the snapshot's quantiles do).
fn recorded_range(histogram: &LatencyHistogram) -> (u64, u64) {
    let mut bins = histogram.bins();
    let fastest = bins.next().map_or(0, |bin| bin.highest_ns);
    (fastest, histogram.max())
}

/// A log-scale axis over whole decades of nanoseconds: `10^lo_exp` at `left`, `10^hi_exp` at
/// `left + width`, every decade the same width.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LogScale {
    lo_exp: u32,
    hi_exp: u32,
    left: f64,
    width: f64,
}

/// The largest power of ten a `u64` holds.
const MAX_EXP: u32 = 19;

impl LogScale {
    /// The fewest whole decades holding every value from `lowest_ns` to `highest_ns` (at least
    /// one decade; values below 1 ns count as 1 ns).
    fn covering(lowest_ns: u64, highest_ns: u64, left: f64, width: f64) -> Self {
        let lo_exp = lowest_ns.max(1).ilog10().min(MAX_EXP - 1);
        let hi_exp = (highest_ns.max(lowest_ns).max(1).ilog10() + 1).min(MAX_EXP);
        Self {
            lo_exp,
            hi_exp,
            left,
            width,
        }
    }

    fn decades(&self) -> u32 {
        self.hi_exp - self.lo_exp
    }

    /// Where `ns` lies on screen; values off the scale are drawn at its ends.
    #[allow(clippy::cast_precision_loss, reason = "a position on screen")]
    fn x(&self, ns: u64) -> f64 {
        self.x_f64(ns as f64)
    }

    fn x_f64(&self, ns: f64) -> f64 {
        let position = (ns.max(1.0).log10() - f64::from(self.lo_exp)) / f64::from(self.decades());
        self.left + position.clamp(0.0, 1.0) * self.width
    }

    /// The bin of `ns` among `per_decade` equal (on the log scale) bins per decade.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the bin within a decade, from 0 to `per_decade - 1`"
    )]
    fn bin_of(&self, ns: u64, per_decade: u32) -> usize {
        let ns = ns.max(1);
        let exponent = ns.ilog10();
        if exponent < self.lo_exp {
            return 0;
        }
        if exponent >= self.hi_exp {
            return (self.decades() * per_decade) as usize - 1;
        }
        // Decided on the integer exponent first, so a power of ten is never put a decade low by
        // rounding; only the position within the decade is a float.
        let within = (ns as f64 / 10_f64.powi(exponent.cast_signed())).log10();
        let sub = ((within * f64::from(per_decade)) as u32).min(per_decade - 1);
        ((exponent - self.lo_exp) * per_decade + sub) as usize
    }

    /// The values bin `bin` covers, from its lower bound to its upper.
    #[allow(clippy::cast_precision_loss, reason = "bin bounds for labels")]
    fn bin_range(&self, bin: usize, per_decade: u32) -> (f64, f64) {
        let bound =
            |bin: usize| 10_f64.powf(f64::from(self.lo_exp) + bin as f64 / f64::from(per_decade));
        (bound(bin), bound(bin + 1))
    }

    /// Calls per bin.
    fn bins(&self, histogram: &LatencyHistogram, per_decade: u32) -> Vec<u64> {
        let mut counts = vec![0; (self.decades() * per_decade) as usize];
        for bin in histogram.bins() {
            counts[self.bin_of(bin.highest_ns, per_decade)] += bin.count;
        }
        counts
    }
}

/// Text escaped for HTML element content and quoted attribute values. Control characters,
/// which HTML does not allow even as references, become U+FFFD.
struct Escaped<'a>(&'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(index) = rest.find(|c: char| needs_escape(c)) {
            f.write_str(&rest[..index])?;
            let c = rest[index..].chars().next().expect("found at index");
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            })?;
            rest = &rest[index + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{FDD0}'..='\u{FDEF}')
        || (u32::from(c) & 0xFFFE) == 0xFFFE
}

/// Milliseconds since the Unix epoch as a UTC date and time: `2023-11-14 22:13:20.000 UTC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct UtcTime(u64);

impl UtcTime {
    /// Year, month, day, hour, minute, second, millisecond.
    fn parts(self) -> (u64, u64, u64, u64, u64, u64, u64) {
        let (days, ms_of_day) = (self.0 / 86_400_000, self.0 % 86_400_000);
        let (year, month, day) = crate::report::resources::civil_from_days(days);
        let seconds = ms_of_day / 1_000;
        (
            year,
            month,
            day,
            seconds / 3_600,
            seconds / 60 % 60,
            seconds % 60,
            ms_of_day % 1_000,
        )
    }

    /// The `datetime` attribute form: `2023-11-14T22:13:20.000Z`.
    fn iso(self) -> String {
        let (year, month, day, hour, minute, second, ms) = self.parts();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z")
    }
}

impl Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day, hour, minute, second, ms) = self.parts();
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{ms:03} UTC"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::snapshot::Latency;
    use crate::record::node::{Budget, Instruments};

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        let cases = [
            ("plain name", "plain name"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a & b", "a &amp; b"),
            ("say \"hi\"", "say &quot;hi&quot;"),
            ("it's", "it&#39;s"),
            ("&amp;", "&amp;amp;"),
            ("tab\tnew\nline", "tab\tnew\nline"),
            ("nul\0bell\u{7}", "nul\u{FFFD}bell\u{FFFD}"),
            ("c1 \u{85} nonchar \u{FFFF}", "c1 \u{FFFD} nonchar \u{FFFD}"),
            ("µs · ≤ 日本", "µs · ≤ 日本"),
            ("", ""),
        ];
        for (raw, escaped) in cases {
            assert_eq!(Escaped(raw).to_string(), escaped, "{raw:?}");
        }
    }

    #[test]
    fn the_log_scale_gives_every_decade_the_same_width() {
        let scale = LogScale::covering(1_000, 99_000, 10.0, 200.0);
        assert_eq!((scale.lo_exp, scale.hi_exp, scale.decades()), (3, 5, 2));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(scale.x(1_000), 10.0));
        assert!(close(scale.x(10_000), 110.0));
        assert!(close(scale.x(100_000), 210.0));
        // 10^3.5 lies halfway through the first decade.
        assert!(close(scale.x_f64(10_f64.powf(3.5)), 60.0));
        // Off the scale: drawn at its ends; 0 ns counts as 1 ns.
        assert!(close(scale.x(0), 10.0));
        assert!(close(scale.x(999), 10.0));
        assert!(close(scale.x(u64::MAX), 210.0));
        // Strictly increasing on the scale.
        let xs: Vec<f64> = [1_000, 1_001, 2_000, 9_999, 10_000, 50_000, 99_999]
            .map(|ns| scale.x(ns))
            .to_vec();
        assert!(xs.windows(2).all(|pair| pair[0] < pair[1]), "{xs:?}");
    }

    #[test]
    fn the_scale_covers_whole_decades_around_its_values() {
        let decades = |lo, hi| {
            let scale = LogScale::covering(lo, hi, 0.0, 1.0);
            (scale.lo_exp, scale.hi_exp)
        };
        assert_eq!(
            decades(1_000_000, 1_000_000),
            (6, 7),
            "a power of ten starts its decade"
        );
        assert_eq!(decades(999_999, 1_000_001), (5, 7));
        assert_eq!(decades(0, 0), (0, 1));
        assert_eq!(
            decades(5, 3),
            (0, 1),
            "an inverted range still covers the lowest"
        );
        assert_eq!(decades(1, u64::MAX), (0, MAX_EXP));
    }

    #[test]
    fn bins_split_each_decade_evenly_on_the_log_scale() {
        let scale = LogScale::covering(100_000, 9_000_000, 0.0, 1.0);
        assert_eq!((scale.lo_exp, scale.hi_exp), (5, 7));
        assert_eq!(scale.bin_of(100_000, 10), 0);
        assert_eq!(scale.bin_of(999_999, 10), 9);
        assert_eq!(
            scale.bin_of(1_000_000, 10),
            10,
            "1 ms opens the second decade"
        );
        assert_eq!(scale.bin_of(1_258_925, 10), 10, "just under 10^6.1");
        assert_eq!(scale.bin_of(1_258_926, 10), 11, "just over 10^6.1");
        assert_eq!(scale.bin_of(9_999_999, 10), 19);
        assert_eq!(scale.bin_of(5, 10), 0, "below the scale: the first bin");
        assert_eq!(
            scale.bin_of(u64::MAX, 10),
            19,
            "above the scale: the last bin"
        );
        let (from, to) = scale.bin_range(10, 10);
        assert!((from - 1e6).abs() < 1e-3 && (to - 10_f64.powf(6.1)).abs() < 1e-3);
    }

    #[test]
    fn bins_count_every_recorded_call() {
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(1_000_000, 10);
        histogram.record_n(10_000_000, 5);
        histogram.record(100_000_000);
        let (fastest, slowest) = recorded_range(&histogram);
        let scale = LogScale::covering(fastest, slowest, 0.0, 1.0);
        assert_eq!((scale.lo_exp, scale.hi_exp), (6, 9));
        let bins = scale.bins(&histogram, 10);
        assert_eq!(bins.len(), 30);
        assert_eq!(bins.iter().sum::<u64>(), 16);
        assert_eq!((bins[0], bins[10], bins[20]), (10, 5, 1));
    }

    #[test]
    fn tick_steps_are_one_two_or_five_times_a_power_of_ten() {
        let cases = [
            (0, 1),
            (1, 1),
            (3, 5),
            (7, 10),
            (11, 20),
            (450, 500),
            (1_000_000, 1_000_000),
            (1_000_001, 2_000_000),
            (u64::MAX, u64::MAX),
        ];
        for (at_least, step) in cases {
            assert_eq!(nice_step(at_least), step, "{at_least}");
        }
    }

    #[test]
    fn tick_labels_are_short_and_exact() {
        let cases = [
            (0, "0ns"),
            (5, "5ns"),
            (200_000, "200µs"),
            (1_000_000, "1ms"),
            (1_500_000, "1.5ms"),
            (2_000_000_000, "2s"),
            (12_345_678, "12.35ms"),
            (3_600_000_000_000, "3600s"),
        ];
        for (ns, label) in cases {
            assert_eq!(tick_label(ns), label, "{ns}");
        }
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        let cases = [
            (0, "1970-01-01 00:00:00.000 UTC"),
            (951_782_400_000, "2000-02-29 00:00:00.000 UTC"),
            (1_700_000_000_123, "2023-11-14 22:13:20.123 UTC"),
            (4_107_542_399_999, "2100-02-28 23:59:59.999 UTC"),
        ];
        for (unix_ms, text) in cases {
            assert_eq!(UtcTime(unix_ms).to_string(), text);
        }
        assert_eq!(UtcTime(1_700_000_000_123).iso(), "2023-11-14T22:13:20.123Z");
    }

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

    /// A node built through serde, so fields added to `NodeSnapshot` with defaults need no
    /// change here.
    fn node(
        name: &str,
        budget: Option<Budget>,
        histogram: Option<LatencyHistogram>,
    ) -> NodeSnapshot {
        let mut node: NodeSnapshot = serde_json::from_value(serde_json::json!({
            "name": name,
            "module_path": "app",
            "file": "src/main.rs",
            "line": 1,
            "instruments": Instruments { timed: true, counted: false, in_flight: false, budget: budget.is_some() },
            "budget": budget,
            "calls": 0,
            "errors": 0,
            "panics": 0,
            "cancelled": 0,
            "in_flight": null,
            "latency": null,
            "verdict": null,
        }))
        .unwrap();
        node.latency = histogram
            .as_ref()
            .map(|histogram| Latency::of(histogram, 0));
        node.calls = histogram.as_ref().map_or(0, LatencyHistogram::len);
        node.verdict = budget.map(|budget| judge(&budget, node.calls, node.latency.as_ref()));
        node.histogram = histogram;
        node
    }

    #[test]
    fn the_header_names_the_host_escaped_and_the_run() {
        let mut snapshot = sample_snapshot();
        let budgets = crate::check_budgets(&snapshot);
        assert!(
            dashboard_html(&snapshot, &budgets)
                .contains("on <span class=\"host\">test-host</span>")
        );
        snapshot.host = "<b>".to_owned();
        assert!(
            dashboard_html(&snapshot, &budgets).contains("<span class=\"host\">&lt;b&gt;</span>")
        );
        snapshot.host.clear();
        assert!(!dashboard_html(&snapshot, &budgets).contains("class=\"host\""));
        assert!(
            dashboard_html(&snapshot, &budgets)
                .contains(" · run <code class=\"run-id\">0123456789abcdef</code></p>")
        );
    }

    fn sample_snapshot() -> Snapshot {
        let mut slow = LatencyHistogram::new();
        slow.record_n(3_000_000, 50);
        slow.record_n(30_000_000, 50);
        let budget = Budget {
            p95_ns: Some(5_000_000),
            min_samples: 10,
            ..Budget::DEFAULT
        };
        Snapshot {
            taken_at_unix_ms: 1_700_000_000_000,
            host: "test-host".to_owned(),
            run_id: "0123456789abcdef".to_owned(),
            nodes: vec![
                node("<b>\"odd\" & 'name'</b>", None, None),
                node("slow", Some(budget), Some(slow)),
            ],
            conflicts: vec![],
            breakers: vec![],
            budgets_file: None,
            process: None,
        }
    }

    #[test]
    fn memory_gets_a_table_only_when_a_node_was_measured() {
        let mut snapshot = sample_snapshot();
        let budgets = crate::check_budgets(&snapshot);
        snapshot.process = Some(crate::ProcessMemory {
            rss_bytes: 3 << 20,
            peak_rss_bytes: 5 << 20,
        });
        assert!(!dashboard_html(&snapshot, &budgets).contains("<h2>Memory</h2>"));
        snapshot.nodes[1].memory = Some(NodeMemory::of(4, 6, 4_000, 12_288));
        let html = dashboard_html(&snapshot, &budgets);
        assert_eq!(html.matches("<h2>Memory</h2>").count(), 1);
        assert_eq!(html.matches("data-key=\"memory-peak\"").count(), 1);
        for cell in [
            "<td class=\"text name\" data-value=\"slow\">slow</td>\n<td data-value=\"4\">4</td>\n\
             <td data-value=\"1.5\">1.50</td>\n<td data-value=\"1000\">1000 B</td>\n\
             <td data-value=\"12288\">12.0\u{a0}KiB</td>\n<td data-value=\"6\">6</td>\n\
             <td data-value=\"4000\">3.91\u{a0}KiB</td>",
            "resident memory: 3.00\u{a0}MiB now, 5.00\u{a0}MiB at its peak.",
        ] {
            assert!(html.contains(cell), "{cell:?} missing");
        }
    }

    #[test]
    fn the_page_escapes_names_and_loads_nothing() {
        let snapshot = sample_snapshot();
        let html = dashboard_html(&snapshot, &crate::check_budgets(&snapshot));
        assert!(!html.contains("<b>"), "a name was written unescaped");
        assert!(html.contains("&lt;b&gt;&quot;odd&quot; &amp; &#39;name&#39;&lt;/b&gt;"));
        for forbidden in ["http:", "https:", " src=", " href=", "@import", "url("] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains("2023-11-14 22:13:20.000 UTC"));
    }

    #[test]
    fn the_page_shows_the_failing_budget_and_draws_its_line() {
        let snapshot = sample_snapshot();
        let html = dashboard_html(&snapshot, &crate::check_budgets(&snapshot));
        assert!(html.contains("<td class=\"verdict fail\" data-value=\"0\">FAIL</td>"));
        assert_eq!(html.matches("<svg class=\"latency\"").count(), 1);
        assert_eq!(html.matches("<line class=\"budget over\"").count(), 1);
        assert!(html.contains("p95 ≤ 5.00ms"));
        assert_eq!(
            html,
            dashboard_html(&snapshot, &crate::check_budgets(&snapshot))
        );
    }
}
