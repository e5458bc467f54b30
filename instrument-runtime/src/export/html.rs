//! `performance_dashboard.html`: one self-contained page (inline CSS, JS and SVG; nothing loaded
//! from the network) showing every node against its budget and every circuit breaker's history.
//!
//! Every string that comes from the snapshot goes through [`Escaped`]; the script reads only
//! `data-*` attributes, so no snapshot data is ever written into script context.

use std::fmt::{self, Write as _};

use crate::breaker::BreakerState;
use crate::read::budget::BudgetReport;
use crate::read::snapshot::{NodeSnapshot, Snapshot};

use charts::write_charts;
use tables::{write_breakers, write_memory, write_nodes};
use text::{Escaped, UtcTime};

/// The dashboard's file name in the report directory.
pub(crate) const FILE_NAME: &str = "performance_dashboard.html";

const STYLE: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");

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
/// use instrument_runtime::{check_budgets, export::dashboard_html, snapshot, ManualClock};
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
    alerts::write_alerts(out, &snapshot.alerts)?;
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

mod alerts;
mod charts;
mod tables;
mod text;
mod timeline;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::alloc::NodeMemory;
    use crate::record::histogram::LatencyHistogram;
    use crate::record::node::{Budget, Instruments};

    fn node(
        name: &str,
        budget: Option<Budget>,
        histogram: Option<LatencyHistogram>,
    ) -> NodeSnapshot {
        let mut node = NodeSnapshot::new(name);
        node.module_path = "app".into();
        node.file = "src/main.rs".into();
        node.line = 1;
        node.instruments = Instruments {
            timed: true,
            budget: budget.is_some(),
            ..Instruments::default()
        };
        node.budget = budget;
        node.calls = histogram.as_ref().map_or(0, LatencyHistogram::len);
        match histogram {
            Some(histogram) => node.with_histogram(histogram, 0),
            None => node,
        }
        .judged()
    }

    #[test]
    fn the_header_names_the_host_escaped_and_the_run() {
        let mut snapshot = sample_snapshot();
        let budgets = crate::read::budget::check_budgets(&snapshot);
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
            alerts: crate::read::alert_state::AlertsView::default(),
            runtime_nodes: None,
        }
    }

    #[test]
    fn memory_gets_a_table_only_when_a_node_was_measured() {
        let mut snapshot = sample_snapshot();
        let budgets = crate::read::budget::check_budgets(&snapshot);
        snapshot.process = Some(crate::record::alloc::ProcessMemory {
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
        let html = dashboard_html(&snapshot, &crate::read::budget::check_budgets(&snapshot));
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
        let html = dashboard_html(&snapshot, &crate::read::budget::check_budgets(&snapshot));
        assert!(html.contains("<td class=\"verdict fail\" data-value=\"0\">FAIL</td>"));
        assert_eq!(html.matches("<svg class=\"latency\"").count(), 1);
        assert_eq!(html.matches("<line class=\"budget over\"").count(), 1);
        assert!(html.contains("p95 ≤ 5.00ms"));
        assert_eq!(
            html,
            dashboard_html(&snapshot, &crate::read::budget::check_budgets(&snapshot))
        );
    }
}
