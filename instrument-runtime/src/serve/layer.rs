//! The request layer: each request is a call of the node of its route template and method
//! (`GET /users/{id}`), a [runtime node](crate::record::RuntimeNode) recorded on the same shards
//! and histograms as a `#[timed]` function, with the response's status class as its outcome.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
/// Once its thread has seen the route, a request takes no lock and writes no line another
/// thread writes: the route's node is found in a per-thread cache, and the counts go to the
/// thread's own shard and outcome counters. About a third of what the layer
/// costs a request is its own work; the rest, one more boxed service and future per request, is
/// what `Router::layer` costs any layer, one that does nothing included.
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
    /// the budgets file may still override it. Like the node, the budget is the process's: it
    /// holds from the layer's first use on a router, for a node created after it.
    #[must_use]
    pub fn budget(mut self, node: impl Into<String>, budget: Budget) -> Self {
        Arc::make_mut(&mut self.budgets).insert(node.into(), budget);
        self
    }
}

impl<S> tower_layer::Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> RequestMetrics<S> {
        if !self.budgets.is_empty() {
            let mut declared = declared_budgets()
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            declared.extend(
                self.budgets
                    .iter()
                    .map(|(node, budget)| (node.clone(), *budget)),
            );
        }
        RequestMetrics { inner }
    }
}

/// The budgets layers declared, by node name, read when a route's node is created. The service
/// holds no reference to them: axum clones it for every request, and a shared count bumped and
/// dropped by every request on every thread would cost more than the rest of the layer's work.
fn declared_budgets() -> &'static Mutex<HashMap<String, Budget>> {
    static DECLARED: OnceLock<Mutex<HashMap<String, Budget>>> = OnceLock::new();
    DECLARED.get_or_init(Mutex::default)
}

/// The service [`RequestMetricsLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct RequestMetrics<S> {
    inner: S,
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
        let timing = route_node(request.method(), route).start();
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

/// How many (route, method) pairs each thread remembers by address before it hashes the route.
const RECENT: usize = 8;

/// A route a thread saw recently, known by the address of its template: axum's [`MatchedPath`]
/// shares one string per route, so most requests find their node without hashing the route.
#[derive(Clone, Copy)]
struct Recent {
    address: *const u8,
    method: usize,
    /// The template as it ends the node's name: checked too, since a dropped router's string
    /// may be freed and its address reused for another route.
    route: &'static str,
    node: &'static RuntimeNode,
}

/// The nodes a thread used: the recent ones by address, every one by route.
#[derive(Default)]
struct Seen {
    recent: [Option<Recent>; RECENT],
    next: usize,
    by_route: HashMap<Box<str>, [Option<&'static RuntimeNode>; METHODS.len() + 1]>,
}

impl Seen {
    fn recent(&self, route: &str, method: usize) -> Option<&'static RuntimeNode> {
        (self.recent.iter().flatten())
            .find(|seen| {
                seen.address == route.as_ptr() && seen.method == method && seen.route == route
            })
            .map(|seen| seen.node)
    }

    fn remember(&mut self, route: &str, method: usize, node: &'static RuntimeNode) {
        // The overflow node's name does not end with the route: it is found by hashing.
        if let Some(prefix) = node.meta().name.strip_suffix(route) {
            self.recent[self.next] = Some(Recent {
                address: route.as_ptr(),
                method,
                route: &node.meta().name[prefix.len()..],
                node,
            });
            self.next = (self.next + 1) % RECENT;
        }
    }
}

/// The node of a route and method. Each thread keeps the nodes it used, so a request takes no
/// lock once its thread has seen the route, and hashes nothing while the route is recent.
fn route_node(method: &Method, route: &str) -> &'static RuntimeNode {
    thread_local! {
        static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
    }
    let index = METHODS
        .iter()
        .position(|known| known == method)
        .unwrap_or(METHODS.len());
    let seen = SEEN.try_with(|seen| {
        let mut seen = seen.borrow_mut();
        if let Some(node) = seen.recent(route, index) {
            return Some(node);
        }
        let node = seen.by_route.get(route).and_then(|nodes| nodes[index])?;
        seen.remember(route, index, node);
        Some(node)
    });
    if let Ok(Some(node)) = seen {
        return node;
    }
    let name = format!(
        "{} {route}",
        METHODS.get(index).map_or("OTHER", Method::as_str)
    );
    let mut spec = RuntimeNodeSpec::new(name, "http").outcomes(OUTCOMES);
    spec.budget = (declared_budgets()
        .lock()
        .unwrap_or_else(PoisonError::into_inner))
    .get(&spec.name)
    .copied();
    let node = RuntimeNodes::global().node(&spec);
    let _ = SEEN.try_with(|seen| {
        // A route past the node cap is remembered too: its requests go to the overflow node.
        let mut seen = seen.borrow_mut();
        seen.by_route
            .entry(route.into())
            .or_insert([None; METHODS.len() + 1])[index] = Some(node);
        seen.remember(route, index, node);
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

    #[test]
    fn a_recent_route_is_found_by_address_and_checked_by_content() {
        let nodes: &'static RuntimeNodes = Box::leak(Box::new(RuntimeNodes::with_cap(2)));
        let node = nodes.node(&RuntimeNodeSpec::new("GET /recent/a", "test"));
        let mut seen = Seen::default();
        let mut route = String::from("/recent/a");
        seen.remember(&route, 0, node);
        assert!(
            seen.recent(&route, 0)
                .is_some_and(|found| std::ptr::eq(found, node))
        );
        assert!(seen.recent(&route, 1).is_none(), "another method");
        assert!(seen.recent(&route.clone(), 0).is_none(), "another address");
        // A freed template's address reused by another route of the same length.
        route.replace_range(8.., "b");
        assert!(seen.recent(&route, 0).is_none());
    }
}
