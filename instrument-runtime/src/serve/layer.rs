//! The request layer: each request is a call of the node of its route template and method
//! (`GET /users/{id}`), a [runtime node](crate::record::RuntimeNode) recorded on the same shards
//! and histograms as a `#[timed]` function, with the response's status class as its outcome.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::MatchedPath;
use http::{Method, Request, Response, StatusCode};

use crate::record::node::Budget;
use crate::record::runtime_node::{RuntimeNode, RuntimeNodeSpec, RuntimeNodes, Timing};

/// The outcomes each route node counts, in this order: the status classes, then timeouts
/// (408 and 504, not counted in `4xx` or `5xx`), then requests the inner service failed without
/// a response. `5xx`, `timeout` and `error` also count as the node's errors.
pub const OUTCOMES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx", "timeout", "error"];
const TIMEOUT: usize = 5;
const ERROR: usize = 6;

/// The route of every request no route matched: one node per method, whatever the raw path, so
/// a scan of random paths cannot create nodes.
pub const UNMATCHED: &str = "(unmatched)";

/// A [`tower_layer::Layer`] that records every request as a call of its route's node.
///
/// The node is named `METHOD template`, the template being axum's [`MatchedPath`]
/// (`/users/{id}`, never `/users/42`); requests no route matched share [`UNMATCHED`]. Each node
/// has the latency histogram, calls, errors, the in-flight gauge (active requests) and the
/// [`OUTCOMES`] counters, and a budget from [`budget`](Self::budget) or the budgets file. Apply it
/// with `Router::layer`, after the routes, so that the matched path is known.
///
/// ```
/// use axum::{Router, routing::get};
/// use instrument_runtime::{Budget, serve::RequestMetricsLayer};
///
/// let layer = RequestMetricsLayer::new()
///     .budget("GET /users/{id}", Budget { p95_ns: Some(50_000_000), ..Budget::DEFAULT });
/// let app: Router = Router::new().route("/users/{id}", get(|| async { "a user" })).layer(layer);
/// # drop(app);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestMetricsLayer {
    budgets: Arc<HashMap<String, Budget>>,
}

impl RequestMetricsLayer {
    /// A layer recording into the process's [runtime nodes](RuntimeNodes::global).
    pub fn new() -> Self {
        Self::default()
    }

    /// Budgets the route's node (named `METHOD template`), as `#[budget]` budgets a function;
    /// the budgets file may still override it.
    #[must_use]
    pub fn budget(mut self, node: impl Into<String>, budget: Budget) -> Self {
        Arc::make_mut(&mut self.budgets).insert(node.into(), budget);
        self
    }
}

impl<S> tower_layer::Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> RequestMetrics<S> {
        RequestMetrics {
            inner,
            budgets: Arc::clone(&self.budgets),
        }
    }
}

/// The service [`RequestMetricsLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct RequestMetrics<S> {
    inner: S,
    budgets: Arc<HashMap<String, Budget>>,
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for RequestMetrics<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED, MatchedPath::as_str);
        let timing = route_node(request.method(), route, &self.budgets).start();
        ResponseFuture {
            inner: self.inner.call(request),
            timing: Some(timing),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of a [`RequestMetrics`] service: ends the request's call when the response
    /// is ready, or counts it cancelled if dropped before.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        timing: Option<Timing>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(timing) = this.timing.take() {
            let outcome = result
                .as_ref()
                .map_or(ERROR, |response| outcome_of(response.status()));
            timing.finish(Some(outcome), outcome >= 4);
        }
        Poll::Ready(result)
    }
}

/// The index in [`OUTCOMES`] of a response with this status.
fn outcome_of(status: StatusCode) -> usize {
    match status {
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => TIMEOUT,
        _ => usize::from(status.as_u16() / 100).clamp(1, 5) - 1,
    }
}

/// The methods that get a node of their own; any other is `OTHER`, so a client cannot create
/// nodes by inventing methods.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// The node of a route and method. Each thread keeps the nodes it used, so a request takes no
/// lock once its thread has seen the route.
fn route_node(
    method: &Method,
    route: &str,
    budgets: &HashMap<String, Budget>,
) -> &'static RuntimeNode {
    type Nodes = [Option<&'static RuntimeNode>; METHODS.len() + 1];
    thread_local! {
        static SEEN: RefCell<HashMap<Box<str>, Nodes>> = RefCell::new(HashMap::new());
    }
    let index = METHODS
        .iter()
        .position(|known| known == method)
        .unwrap_or(METHODS.len());
    let seen = SEEN.try_with(|seen| seen.borrow().get(route).and_then(|nodes| nodes[index]));
    if let Ok(Some(node)) = seen {
        return node;
    }
    let name = format!(
        "{} {route}",
        METHODS.get(index).map_or("OTHER", Method::as_str)
    );
    let mut spec = RuntimeNodeSpec::new(name, "http").outcomes(OUTCOMES);
    spec.budget = budgets.get(&spec.name).copied();
    let node = RuntimeNodes::global().node(&spec);
    let _ = SEEN.try_with(|seen| {
        // A route past the node cap is remembered too: its requests go to the overflow node.
        let mut seen = seen.borrow_mut();
        if let Some(nodes) = seen.get_mut(route) {
            nodes[index] = Some(node);
        } else {
            let mut nodes = [None; METHODS.len() + 1];
            nodes[index] = Some(node);
            seen.insert(route.into(), nodes);
        }
    });
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_counted_in_its_class_and_timeouts_apart() {
        let cases = [
            (StatusCode::CONTINUE, "1xx"),
            (StatusCode::OK, "2xx"),
            (StatusCode::FOUND, "3xx"),
            (StatusCode::NOT_FOUND, "4xx"),
            (StatusCode::REQUEST_TIMEOUT, "timeout"),
            (StatusCode::INTERNAL_SERVER_ERROR, "5xx"),
            (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        ];
        for (status, outcome) in cases {
            assert_eq!(OUTCOMES[outcome_of(status)], outcome, "{status}");
        }
        assert_eq!(OUTCOMES[ERROR], "error");
    }
}
