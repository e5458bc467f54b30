//! `RequestMetricsLayer` on an axum router, driven without a socket: the node per method and
//! route template, the unmatched bucket, the outcomes by status class, cancellation, and the
//! endpoints merged into the same router.

#![cfg(feature = "tower")]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use instrument_runtime::serve::{RequestMetricsLayer, endpoints};
use instrument_runtime::{NodeSnapshot, snapshot};
use tower::ServiceExt;

fn app() -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|| async { "an item" }).post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/slow", get(|| async { StatusCode::GATEWAY_TIMEOUT }))
        .route("/never", get(std::future::pending::<&'static str>))
        .merge(endpoints())
        .layer(RequestMetricsLayer::new())
}

async fn send(method: Method, path: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    app().oneshot(request).await.unwrap().status()
}

fn node(name: &str) -> NodeSnapshot {
    snapshot()
        .node(name)
        .unwrap_or_else(|| panic!("no node `{name}`"))
        .clone()
}

fn outcome(node: &NodeSnapshot, name: &str) -> u64 {
    node.outcomes
        .iter()
        .find(|(outcome, _)| outcome == name)
        .map_or(0, |(_, count)| *count)
}

#[test]
fn requests_are_calls_of_their_route_template_with_their_status_class() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for id in 0..50 {
            assert_eq!(
                send(Method::GET, &format!("/items/{id}")).await,
                StatusCode::OK
            );
        }
        assert_eq!(
            send(Method::POST, "/items/7").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            send(Method::GET, "/slow").await,
            StatusCode::GATEWAY_TIMEOUT
        );
        for path in ["/a", "/b/c", "/items"] {
            assert_eq!(send(Method::GET, path).await, StatusCode::NOT_FOUND);
        }
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(
            send(custom, "/items/1").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        // A client that goes away before the answer: cancelled, not a call.
        let request = Request::get("/never").body(Body::empty()).unwrap();
        let abandoned =
            tokio::time::timeout(std::time::Duration::from_millis(10), app().oneshot(request));
        assert!(abandoned.await.is_err());
        let (status, body) = {
            let request = Request::get("/metrics").body(Body::empty()).unwrap();
            let response = app().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("instrument_node_calls_total{node=\"GET /items/{id}\"} 50\n"),
            "{body}"
        );
    });

    let items = node("GET /items/{id}");
    assert_eq!(
        (items.calls, items.errors, items.in_flight),
        (50, 0, Some(0))
    );
    assert_eq!(outcome(&items, "2xx"), 50);
    assert_eq!(items.histogram.as_ref().unwrap().len(), 50);
    let failed = node("POST /items/{id}");
    assert_eq!(
        (failed.calls, failed.errors, outcome(&failed, "5xx")),
        (1, 1, 1)
    );
    let slow = node("GET /slow");
    assert_eq!(
        (
            slow.errors,
            outcome(&slow, "timeout"),
            outcome(&slow, "5xx")
        ),
        (1, 1, 0)
    );
    let unmatched = node("GET (unmatched)");
    assert_eq!((unmatched.calls, outcome(&unmatched, "4xx")), (3, 3));
    assert_eq!(node("OTHER /items/{id}").calls, 1);
    let never = node("GET /never");
    assert_eq!((never.calls, never.cancelled), (0, 1));
    assert!(
        snapshot()
            .nodes
            .iter()
            .all(|node| !node.name.contains("/items/7"))
    );
}

#[test]
fn a_budget_given_to_the_layer_is_its_route_node_budget() {
    let budget = instrument_runtime::Budget {
        p95_ns: Some(50_000_000),
        ..instrument_runtime::Budget::DEFAULT
    };
    let app = Router::new()
        .route("/budgeted", get(|| async { "on time" }))
        .layer(RequestMetricsLayer::new().budget("GET /budgeted", budget));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = Request::get("/budgeted").body(Body::empty()).unwrap();
    let response = runtime.block_on(app.oneshot(request)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let budgeted = node("GET /budgeted");
    assert_eq!((budgeted.calls, budgeted.budget), (1, Some(budget)));
}
