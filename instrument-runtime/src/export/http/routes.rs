//! What the endpoint serves: one render function per path, each a pure function of a fresh
//! snapshot, plus the endpoint's own count of what it refused.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::StatusCode;

use crate::export::ExportOptions;
use crate::export::prometheus::{openmetrics_text, prometheus_text};
use crate::read::budget::check_budgets;
use crate::read::snapshot::snapshot;

/// What a render function is told about the request.
pub(super) struct Asked<'a> {
    /// The `Accept` header asks for `application/openmetrics-text`.
    pub(super) openmetrics: bool,
    /// The server's count of refused connections and requests, for `/metrics`.
    pub(super) rejections: &'a Rejections,
}

/// A rendered answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) content_type: &'static str,
    pub(super) body: String,
}

impl Page {
    pub(super) fn text(status: StatusCode, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
        }
    }
}

/// Builds the answer for one path. A plain function, so a test can serve one that panics.
pub(super) type Render = fn(&Asked<'_>) -> Page;

/// The served paths and their render functions.
pub(super) type Routes = &'static [(&'static str, Render)];

/// What [`serve_metrics`](super::serve_metrics) serves.
pub(super) const ROUTES: Routes = &[
    ("/metrics", metrics),
    ("/health", health),
    ("/health/circuit-breakers", breakers),
    ("/health/nodes", nodes),
    ("/alerts", alerts),
];

fn metrics(asked: &Asked<'_>) -> Page {
    let snapshot = snapshot();
    let budgets = check_budgets(&snapshot);
    let options = ExportOptions::default();
    if asked.openmetrics {
        let mut body = openmetrics_text(&snapshot, &budgets, &options);
        // The endpoint's own family goes before the closing `# EOF`.
        if let Some(len) = body.strip_suffix("# EOF\n").map(str::len) {
            body.truncate(len);
        }
        asked
            .rejections
            .write_family(&mut body, &options.prefix, "");
        body.push_str("# EOF\n");
        Page {
            status: StatusCode::OK,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body,
        }
    } else {
        let mut body = prometheus_text(&snapshot, &budgets, &options);
        asked
            .rejections
            .write_family(&mut body, &options.prefix, "_total");
        Page {
            status: StatusCode::OK,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body,
        }
    }
}

/// The worst health of every breaker, as one word; 503 when `FAILING`, so a probe acts on the
/// status alone.
fn health(_: &Asked<'_>) -> Page {
    let worst = crate::breaker::snapshot::Health::worst(
        crate::breaker::table::breaker_health()
            .iter()
            .map(|breaker| breaker.status),
    );
    let status = if worst == crate::breaker::snapshot::Health::Failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let word = match worst {
        crate::breaker::snapshot::Health::Healthy => "HEALTHY",
        crate::breaker::snapshot::Health::Degraded => "DEGRADED",
        crate::breaker::snapshot::Health::Failing => "FAILING",
    };
    Page::text(status, word)
}

fn breakers(_: &Asked<'_>) -> Page {
    json(&crate::breaker::table::breaker_health())
}

fn nodes(_: &Asked<'_>) -> Page {
    let snapshot = snapshot();
    let nodes: Vec<NodeHealth<'_>> = snapshot
        .nodes
        .iter()
        .map(|node| NodeHealth {
            node: &node.name,
            calls: node.calls,
            errors: node.errors,
            panics: node.panics,
            p95_ns: node.latency.map(|latency| latency.p95_ns),
            budget: node.verdict.as_ref().map(|verdict| verdict.status),
        })
        .collect();
    json(&nodes)
}

/// The alert engine's pending, firing and recently resolved alerts and its notifiers' counts,
/// as of its last evaluation (an empty view when no engine runs).
fn alerts(_: &Asked<'_>) -> Page {
    json(&crate::read::alert_state::published())
}

/// One node in `/health/nodes`.
#[derive(serde::Serialize)]
struct NodeHealth<'a> {
    node: &'a str,
    calls: u64,
    errors: u64,
    panics: u64,
    p95_ns: Option<u64>,
    budget: Option<crate::read::budget::VerdictStatus>,
}

fn json(value: &impl serde::Serialize) -> Page {
    match serde_json::to_string_pretty(value) {
        Ok(body) => Page {
            status: StatusCode::OK,
            content_type: "application/json",
            body: body + "\n",
        },
        Err(error) => Page::text(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    }
}

/// Why the endpoint refused a connection or a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// At the connection limit, the connection that had waited longest for a request was closed.
    Evicted,
    /// At the connection limit with every connection busy, a new one was closed at once.
    Refused,
    /// The request line and headers passed the size limit (431).
    HeadTooLarge,
    /// The request line and headers did not arrive within the head deadline.
    HeadTimeout,
    /// The client did not take the response within the write deadline.
    WriteTimeout,
    /// No render worker came free in time (503).
    RenderBusy,
    /// The render panicked (500).
    RenderPanic,
}

impl Reason {
    const ALL: [Self; 7] = [
        Self::Evicted,
        Self::HeadTimeout,
        Self::HeadTooLarge,
        Self::Refused,
        Self::RenderBusy,
        Self::RenderPanic,
        Self::WriteTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Evicted => "evicted",
            Self::Refused => "refused",
            Self::HeadTooLarge => "head_too_large",
            Self::HeadTimeout => "head_timeout",
            Self::WriteTimeout => "write_timeout",
            Self::RenderBusy => "render_busy",
            Self::RenderPanic => "render_panic",
        }
    }
}

/// How many connections and requests the server refused, by reason.
#[derive(Debug, Default)]
pub(super) struct Rejections([AtomicU64; Reason::ALL.len()]);

impl Rejections {
    pub(super) fn count(&self, reason: Reason) {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn get(&self, reason: Reason) -> u64 {
        self.0[reason as usize].load(Ordering::Relaxed)
    }

    /// Writes the counter family; `suffix` is `_total` in the 0.0.4 format, where the family is
    /// named like its samples, and empty in `OpenMetrics`, where it is not.
    fn write_family(&self, out: &mut String, prefix: &str, suffix: &str) {
        let family = format!("{prefix}metrics_endpoint_rejected");
        let _ = writeln!(
            out,
            "# HELP {family}{suffix} Connections and requests the metrics endpoint refused or cut off, by reason.\n# TYPE {family}{suffix} counter"
        );
        // Sorted by label, as the rest of the exposition is.
        for reason in Reason::ALL {
            let _ = writeln!(
                out,
                "{family}_total{{reason=\"{}\"}} {}",
                reason.label(),
                self.get(reason)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_is_sorted_and_named_for_each_format() {
        let rejections = Rejections::default();
        rejections.count(Reason::HeadTimeout);
        rejections.count(Reason::HeadTimeout);
        let mut text = String::new();
        rejections.write_family(&mut text, "p_", "_total");
        assert!(text.starts_with("# HELP p_metrics_endpoint_rejected_total "));
        assert!(text.contains("# TYPE p_metrics_endpoint_rejected_total counter\n"));
        assert!(text.contains("p_metrics_endpoint_rejected_total{reason=\"head_timeout\"} 2\n"));
        let labels: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split('"').nth(1))
            .collect();
        let mut sorted = labels.clone();
        sorted.sort_unstable();
        assert_eq!(labels, sorted);
        assert_eq!(labels.len(), Reason::ALL.len());

        let mut open = String::new();
        rejections.write_family(&mut open, "p_", "");
        assert!(open.contains("# TYPE p_metrics_endpoint_rejected counter\n"));
        assert!(open.contains("p_metrics_endpoint_rejected_total{reason=\"evicted\"} 0\n"));
    }
}
