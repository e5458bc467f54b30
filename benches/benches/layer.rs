//! What the request layer costs per request, in process and without a socket: one axum
//! `Router` with a trivial `GET /hello`, bare, under tower's `Identity` layer (which does
//! nothing: what axum's `Router::layer` costs any layer) and under `RequestMetricsLayer`, each
//! request built, routed and its response future polled once to completion with a no-op waker.
//! The difference between bare and `layer` is the layer alone, and between `identity` and
//! `layer` the layer's own work; `benches/callgrind.sh` counts them in instructions
//! (`INSTRUMENT_BENCH_HARNESS=layer benches/callgrind.sh bare identity layer`).
//!
//! Reads `INSTRUMENT_BENCH_ONLY` (`bare`, `identity`, `layer`, comma-separated),
//! `INSTRUMENT_BENCH_CALLS` (requests per contender, default 1000000) and
//! `INSTRUMENT_BENCH_WARMUP` (requests before the measured ones, default calls / 10).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use instrument_runtime::serve::RequestMetricsLayer;
use tower_service::Service;

fn router(contender: &str) -> Router {
    let app = Router::new().route("/hello", get(|| async { "hello\n" }));
    let app = match contender {
        "bare" => app,
        "identity" => app.layer(tower_layer::Identity::new()),
        "layer" => app.layer(RequestMetricsLayer::new()),
        _ => panic!("unknown contender {contender}: bare, identity or layer"),
    };
    // As `axum::serve` does: the handlers become services once, not once per request.
    app.with_state(())
}

/// One request through the router, ready at the first poll (the handler never waits).
fn request(router: &mut Router) {
    let request = Request::get("/hello").body(Body::empty()).unwrap();
    let mut context = Context::from_waker(Waker::noop());
    let mut response = pin!(router.call(request));
    match response.as_mut().poll(&mut context) {
        Poll::Ready(Ok(response)) => assert!(response.status().is_success()),
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => unreachable!("the handler is ready at once"),
    }
}

/// The measured loop; `callgrind.sh` counts the instructions under this function only.
#[inline(never)]
fn run_calls(router: &mut Router, calls: u64) {
    for _ in 0..calls {
        request(router);
    }
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|value| value.parse().unwrap())
}

fn main() {
    let calls = env("INSTRUMENT_BENCH_CALLS").unwrap_or(1_000_000);
    let warmup = env("INSTRUMENT_BENCH_WARMUP").unwrap_or(calls / 10);
    let only =
        std::env::var("INSTRUMENT_BENCH_ONLY").unwrap_or_else(|_| "bare,identity,layer".into());
    for contender in only.split(',') {
        let mut router = router(contender);
        for _ in 0..warmup {
            request(&mut router);
        }
        let started = Instant::now();
        run_calls(&mut router, calls);
        let per_request = started.elapsed() / u32::try_from(calls).expect("at most 2^32 calls");
        println!("{contender}: {per_request:.2?} per request");
    }
}
