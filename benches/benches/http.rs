//! One axum app on loopback under `wrk`, side by side: bare, under tower's `Identity` layer (what
//! any layer costs through axum's `Router::layer`), under our `RequestMetricsLayer`,
//! under `axum-prometheus` (metrics-exporter-prometheus underneath) and under tower-http's
//! `TraceLayer` with a `tracing` fmt subscriber (spans and responses at INFO, written to a sink).
//! Requests per second, p99, and the server's CPU time per request (this process's, which is
//! only the server: `wrk` is another process). Contenders take turns, round after round, so drift
//! on a shared machine spreads over all of them; medians are printed as a markdown table.
//!
//! `cargo bench -p instrument-bench --bench http` (needs `wrk`), tuned by:
//!
//! - `INSTRUMENT_BENCH_ROUNDS`: rounds (default 5)
//! - `INSTRUMENT_BENCH_SECONDS`: seconds of `wrk` per contender per round (default 5)
//! - `INSTRUMENT_BENCH_CONNECTIONS`: `wrk` connections (default 32, on one `wrk` thread)
//!
//! Beside the ratio of the median throughputs, the table gives the median of the per-round
//! ratios: each round's contender against the bare server measured in the same round, which
//! leaves out drift between rounds on a shared machine.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use instrument_runtime::serve::RequestMetricsLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

const CONTENDERS: [&str; 5] = [
    "bare",
    "identity layer",
    "instrument",
    "axum-prometheus",
    "tower-http trace",
];

/// The app every contender serves: a cheap route and a parameterised one.
fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello\n" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}\n") }),
        )
}

fn router(contender: &str) -> Router {
    match contender {
        "bare" => app(),
        // A layer that does nothing: what axum's `Router::layer` costs before any layer's work.
        "identity layer" => app().layer(tower_layer::Identity::new()),
        "instrument" => app().layer(RequestMetricsLayer::new()),
        "axum-prometheus" => {
            // It installs the global `metrics` recorder: once per process.
            static PAIR: OnceLock<axum_prometheus::PrometheusMetricLayer<'static>> =
                OnceLock::new();
            let layer = PAIR.get_or_init(|| axum_prometheus::PrometheusMetricLayer::pair().0);
            app().layer(layer.clone())
        }
        "tower-http trace" => {
            static SUBSCRIBER: OnceLock<()> = OnceLock::new();
            SUBSCRIBER.get_or_init(|| {
                tracing_subscriber::fmt().with_writer(std::io::sink).init();
            });
            let level = tracing::Level::INFO;
            app().layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(level))
                    .on_response(DefaultOnResponse::new().level(level)),
            )
        }
        _ => unreachable!("{contender}"),
    }
}

/// What one `wrk` run measured.
struct Run {
    rps: f64,
    p99_us: f64,
    cpu_us_per_request: f64,
}

/// Prints requests, p99 (µs) and duration (µs) from `wrk`'s `done` hook.
const SCRIPT: &str = r#"
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, latency:percentile(99),
    summary.duration, summary.errors.status + summary.errors.read + summary.errors.connect))
end
"#;

#[allow(
    clippy::cast_precision_loss,
    reason = "seconds and microseconds of CPU time, far below 2^52"
)]
fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    contender: &str,
    seconds: u64,
    connections: u64,
) -> Run {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let addr: SocketAddr = listener.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // axum-prometheus spawns its exporter's upkeep task when it is set up.
    let app = {
        let _context = runtime.enter();
        router(contender)
    };
    let server = runtime.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let script = std::env::temp_dir().join(format!("http-bench-{}.lua", std::process::id()));
    std::fs::write(&script, SCRIPT).expect("the script is written");
    let cpu_before = cpu_seconds();
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}/users/42"))
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let cpu = cpu_seconds() - cpu_before;
    let _ = stop.send(());
    runtime
        .block_on(server)
        .expect("the server task ends")
        .expect("the server ends cleanly");
    let printed = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = printed
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("wrk printed no result: {printed}"))
        .split(' ')
        .map(|number| number.parse().expect("a number"))
        .collect();
    assert!(
        numbers[3] == 0.0,
        "{contender}: {} failed requests",
        numbers[3]
    );
    Run {
        rps: numbers[0] / (numbers[2] / 1e6),
        p99_us: numbers[1],
        cpu_us_per_request: cpu * 1e6 / numbers[0],
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let rounds = var("INSTRUMENT_BENCH_ROUNDS", 5).max(1);
    let seconds = var("INSTRUMENT_BENCH_SECONDS", 5).max(1);
    let connections = var("INSTRUMENT_BENCH_CONNECTIONS", 32).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut runs: Vec<Vec<Run>> = CONTENDERS.iter().map(|_| Vec::new()).collect();
    for round in 0..usize::try_from(rounds).expect("a few rounds") {
        for turn in 0..CONTENDERS.len() {
            let index = (turn + round) % CONTENDERS.len();
            let run = measure(&runtime, CONTENDERS[index], seconds, connections);
            eprintln!(
                "round {round}: {:<16} {:>8.0} requests/s, {:.1} µs CPU per request",
                CONTENDERS[index], run.rps, run.cpu_us_per_request
            );
            runs[index].push(run);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    println!(
        "GET /users/{{id}}, wrk -t1 -c{connections} -d{seconds}s, {rounds} rounds, medians; server on 2 tokio workers\n"
    );
    println!("| contender | requests/s | vs bare | vs bare, per round | p99 | CPU per request |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let bare = &runs[0];
    let bare_rps = median(bare.iter().map(|run| run.rps).collect());
    for (contender, runs) in CONTENDERS.iter().zip(&runs) {
        let rps = median(runs.iter().map(|run| run.rps).collect());
        let per_round = median(
            (runs.iter().zip(bare))
                .map(|(run, bare)| run.rps / bare.rps)
                .collect(),
        );
        println!(
            "| {contender} | {rps:.0} | {:.3}x | {per_round:.3}x | {:.0} µs | {:.1} µs |",
            rps / bare_rps,
            median(runs.iter().map(|run| run.p99_us).collect()),
            median(runs.iter().map(|run| run.cpu_us_per_request).collect()),
        );
    }
}
