//! An axum service instrumented end to end: request metrics per route template from
//! `RequestMetricsLayer`, `/metrics` and the health routes mounted in its own router (no second
//! port), a budgeted route whose flaky dependency sits behind a circuit breaker with a fallback,
//! and the report written on shutdown. Needs the `tower` feature.
//!
//! ```text
//! cargo run --release --features tower --example service -- --addr 127.0.0.1:3000
//! curl -s http://127.0.0.1:3000/hello
//! curl -s http://127.0.0.1:3000/compute/3
//! curl -s http://127.0.0.1:3000/metrics | grep 'node="GET /compute/{n}"'
//! curl -s http://127.0.0.1:3000/health/circuit-breakers
//! ```
//!
//! `/compute/{n}` works `n` milliseconds while holding one of `--capacity` workers; a request that
//! waits longer than `--queue-timeout-ms` for one gets 504 (a timeout, in its route's `timeout`
//! outcome). The dependency it then asks fails while more than `--overload-at` requests are
//! waiting, as a real one does under a spike: its breaker opens and the fallback answers from the
//! last results until probes succeed again. Ctrl-C or SIGTERM stops the service gracefully and
//! `main`'s return writes the report.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use clap::Parser;
use instrument_runtime::Budget;
use instrument_runtime::serve::{RequestMetricsLayer, endpoints};
use tokio::sync::Semaphore;

/// An axum service with request metrics, its endpoints in its own router, and a breaker.
#[derive(Parser)]
struct Options {
    /// Where the service listens (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Requests `/compute/{n}` works on at once
    #[arg(long, default_value_t = 64)]
    capacity: usize,
    /// How long a `/compute/{n}` request waits for a worker before it gets 504, in milliseconds
    #[arg(long, default_value_t = 2_000)]
    queue_timeout_ms: u64,
    /// Waiting requests past which the dependency fails (overload)
    #[arg(long, default_value_t = 256)]
    overload_at: usize,
}

/// What the handlers share.
struct App {
    workers: Semaphore,
    queue_timeout: Duration,
    overload_at: usize,
    waiting: AtomicUsize,
}

/// The dependency's last answers, what the fallback serves while the breaker is open.
static LAST_RESULTS: Mutex<Option<HashMap<u64, u64>>> = Mutex::new(None);
static CACHE_LOOKUPS: AtomicU64 = AtomicU64::new(0);
static CACHE_HITS: AtomicU64 = AtomicU64::new(0);

/// The dependency failed: it was overloaded.
#[derive(Debug)]
struct Overloaded;

/// The flaky dependency. Five failures in a row open the breaker; after 200 ms one probe goes
/// through, two good probes close it.
#[instrument_runtime::circuit_breaker(
    failure_threshold = 5,
    timeout = "200ms",
    success_threshold = 2,
    fallback = last_result
)]
async fn dependency(n: u64, overloaded: bool) -> Result<u64, Overloaded> {
    if overloaded {
        return Err(Overloaded);
    }
    let answer = n.wrapping_mul(2_654_435_761) % 1_000;
    (LAST_RESULTS.lock().unwrap_or_else(PoisonError::into_inner))
        .get_or_insert_with(HashMap::new)
        .insert(n, answer);
    Ok(answer)
}

/// The breaker's fallback: the last answer for `n`, or a default, so a caller always gets one.
#[allow(
    clippy::unused_async,
    reason = "a fallback has the guarded function's signature"
)]
async fn last_result(n: u64, _overloaded: bool) -> Result<u64, Overloaded> {
    let cached = (LAST_RESULTS.lock().unwrap_or_else(PoisonError::into_inner))
        .as_ref()
        .and_then(|results| results.get(&n).copied());
    let lookups = CACHE_LOOKUPS.fetch_add(1, Ordering::Relaxed) + 1;
    let hits = CACHE_HITS.fetch_add(u64::from(cached.is_some()), Ordering::Relaxed)
        + u64::from(cached.is_some());
    // Exported in `/metrics` as `instrument_event_rate_percent{name="fallback_cache_hit_rate"}`
    // (and streamed, when a sink is configured).
    #[allow(clippy::cast_precision_loss, reason = "a percentage")]
    let percent = 100.0 * hits as f64 / lookups as f64;
    instrument_runtime::stream::record_rate("fallback_cache_hit_rate", percent, &[]);
    instrument_runtime::stream::record_counter("fallback_cache_lookups", 1, &[]);
    Ok(cached.unwrap_or(0))
}

/// `n` milliseconds of work on one of the workers, then the dependency. Budgeted as a whole:
/// its node's p95 is judged against 50 ms (queueing included).
#[instrument_runtime::budget(p95 = "50ms")]
async fn compute(app: &App, n: u64) -> Result<u64, StatusCode> {
    let waiting = Waiting::enter(&app.waiting);
    let permit = tokio::time::timeout(app.queue_timeout, app.workers.acquire()).await;
    let waiting = waiting.leave();
    let Ok(Ok(_permit)) = permit else {
        return Err(StatusCode::GATEWAY_TIMEOUT);
    };
    tokio::time::sleep(Duration::from_millis(n)).await;
    dependency(n, waiting > app.overload_at)
        .await
        .map_err(|Overloaded| StatusCode::SERVICE_UNAVAILABLE)
}

/// One request waiting for a worker: counted until it gets one, times out, or its client goes
/// away (the future dropped mid-wait), so a spike's abandoned requests do not stay counted.
struct Waiting<'a>(&'a AtomicUsize, usize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        Self(count, count.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// How many were waiting when this one came.
    fn leave(self) -> usize {
        self.1
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn hello() -> &'static str {
    "hello\n"
}

async fn compute_route(
    State(app): State<Arc<App>>,
    Path(n): Path<u64>,
) -> Result<String, StatusCode> {
    // Bounded, so a client cannot hold a worker for long.
    let n = n.min(1_000);
    compute(&app, n).await.map(|answer| format!("{answer}\n"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    instrument_runtime::report_at_exit();
    let app = Arc::new(App {
        workers: Semaphore::new(options.capacity),
        queue_timeout: Duration::from_millis(options.queue_timeout_ms),
        overload_at: options.overload_at,
        waiting: AtomicUsize::new(0),
    });
    let layer = RequestMetricsLayer::new().budget(
        "GET /compute/{n}",
        Budget {
            p95_ns: Some(50_000_000),
            ..Budget::DEFAULT
        },
    );
    let router = Router::new()
        .route("/hello", get(hello))
        .route("/compute/{n}", get(compute_route))
        .with_state(app)
        .merge(endpoints())
        .layer(layer);
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("service: cannot listen on {}: {error}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    println!("listening on http://{addr}");
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(stopped())
        .await
    {
        eprintln!("service: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "shutting down; fallback cache: {} hits of {} lookups",
        CACHE_HITS.load(Ordering::Relaxed),
        CACHE_LOOKUPS.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
