//! What the endpoints serve: one render function per path, each a pure function of a fresh
//! snapshot, plus the endpoint's own count of what it refused. Shared by the server of its own
//! port ([`serve_metrics`](crate::export::serve_metrics)) and the handler a program mounts in its
//! own router ([`respond`]).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

use crate::export::ExportOptions;
use crate::export::prometheus::{openmetrics_text, prometheus_text};
use crate::read::budget::check_budgets;
use crate::read::snapshot::snapshot;

/// What a render function is told about the request.
pub(crate) struct Asked<'a> {
    /// The `Accept` header asks for `application/openmetrics-text`.
    pub(crate) openmetrics: bool,
    /// The server's count of refused connections and requests, for `/metrics`; none when the
    /// program's own server answers.
    pub(crate) rejections: Option<&'a Rejections>,
}

/// A rendered answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn text(status: StatusCode, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
        }
    }
}

/// Builds the answer for one path. A plain function, so a test can serve one that panics.
pub(crate) type Render = fn(&Asked<'_>) -> Page;

/// The served paths and their render functions.
pub(crate) type Routes = &'static [(&'static str, Render)];

/// What [`serve_metrics`](crate::export::serve_metrics) and [`respond`] serve.
pub(crate) const ROUTES: Routes = &[
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
        if let Some(rejections) = asked.rejections {
            rejections.write_family(&mut body, &options.prefix, "");
        }
        body.push_str("# EOF\n");
        Page {
            status: StatusCode::OK,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body,
        }
    } else {
        let mut body = prometheus_text(&snapshot, &budgets, &options);
        if let Some(rejections) = asked.rejections {
            rejections.write_family(&mut body, &options.prefix, "_total");
        }
        Page {
            status: StatusCode::OK,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body,
        }
    }
}

/// Whether the `Accept` header values ask for `OpenMetrics` rather than the 0.0.4 text.
pub(crate) fn wants_openmetrics<'a>(
    accept: impl IntoIterator<Item = &'a http::HeaderValue>,
) -> bool {
    accept.into_iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|value| value.contains("application/openmetrics-text"))
    })
}

/// Answers a request for `/metrics` (in the format its `Accept` header asks for), `/health`
/// (503 when failing), `/health/circuit-breakers` or `/health/nodes`, for any HTTP server or
/// framework built on the `http` types; `None` for every other path, left to the program.
///
/// Rendering takes a snapshot: call it where blocking for a few milliseconds is acceptable.
///
/// ```
/// let request = http::Request::get("/health").body(()).unwrap();
/// let response = instrument_runtime::export::respond(&request).unwrap();
/// assert_eq!(response.status(), http::StatusCode::OK);
/// assert_eq!(response.body(), "HEALTHY\n");
/// assert!(instrument_runtime::export::respond(&http::Request::get("/").body(()).unwrap()).is_none());
/// ```
pub fn respond<B>(request: &http::Request<B>) -> Option<http::Response<String>> {
    let &(_, render) = ROUTES
        .iter()
        .find(|(path, _)| *path == request.uri().path())?;
    let page = render(&Asked {
        openmetrics: wants_openmetrics(request.headers().get_all(http::header::ACCEPT)),
        rejections: None,
    });
    let mut response = http::Response::new(page.body);
    *response.status_mut() = page.status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(page.content_type),
    );
    Some(response)
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
pub(crate) enum Reason {
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
pub(crate) struct Rejections([AtomicU64; Reason::ALL.len()]);

impl Rejections {
    #[cfg_attr(
        not(feature = "http"),
        expect(dead_code, reason = "only the server of its own port refuses")
    )]
    pub(crate) fn count(&self, reason: Reason) {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, reason: Reason) -> u64 {
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
