//! A tokio service: budgeted `async fn` handlers, the `/metrics` endpoint alive as long as the
//! service, and a graceful shutdown after which the report is written. Needs the `http` feature.
//!
//! ```text
//! cargo run --release --features http --example tokio_service
//! printf 'hello\nworld\n' | nc -q 1 127.0.0.1 7878   # each line comes back upper-cased
//! curl -s http://127.0.0.1:9464/metrics              # the handler's histogram, live
//! ```
//!
//! Ctrl-C (or SIGTERM) stops it: it stops accepting, lets every connection finish the request it
//! is on, and returns from `main`, which writes the report. `--requests N` stops it the same way
//! after N requests, which is how CI runs it.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// An upper-casing line service with a metrics endpoint.
#[derive(Parser)]
struct Options {
    /// Where the service listens (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Where `/metrics` and `/health` are served
    #[arg(long, default_value = "127.0.0.1:9464")]
    metrics: SocketAddr,
    /// Shut down after answering this many requests (default: at Ctrl-C or SIGTERM)
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
}

/// One request. On an `async fn` the budget times each call from its first poll to its
/// completion, awaits included, as a client sees it; a call dropped before it completes counts as
/// cancelled, not as a latency.
#[instrument_runtime::budget(p95 = "5ms", p99 = "20ms")]
async fn handle(line: String) -> String {
    // Stands for the awaits of real work (a database, another service).
    tokio::task::yield_now().await;
    line.to_uppercase()
}

/// A connection: a request per line, until the client hangs up or the service shuts down. The
/// shutdown is only looked at between requests, so none is cut off halfway.
#[instrument_runtime::counted]
async fn serve_connection(
    stream: TcpStream,
    served: Arc<AtomicU64>,
    limit: Option<u64>,
    shutdown: watch::Sender<bool>,
) -> io::Result<()> {
    let mut stopping = shutdown.subscribe();
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = stopping.wait_for(|stop| *stop) => None,
        };
        let Some(line) = line else { return Ok(()) };
        let mut reply = handle(line).await;
        reply.push('\n');
        writer.write_all(reply.as_bytes()).await?;
        let count = served.fetch_add(1, Ordering::Relaxed) + 1;
        if limit.is_some_and(|limit| count >= limit) {
            shutdown.send_replace(true);
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    // Armed first, so the report covers the whole run. tokio's Ctrl-C handler below chains to the
    // runtime's: a signal writes the report at once, then the shutdown runs and `main`'s return
    // writes it again with the final figures.
    instrument_runtime::report_at_exit();

    // The endpoint serves until its handle is dropped: bound to a name that lives as long as
    // `main` (not `_`, which would drop it at once), it serves as long as the service does.
    let metrics = match instrument_runtime::serve_metrics(options.metrics) {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "tokio_service: cannot serve metrics on {}: {error}",
                options.metrics
            );
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "tokio_service: cannot listen on {}: {error}",
                options.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let listening = listener
        .local_addr()
        .expect("a bound socket has an address");
    println!(
        "listening on {listening}, metrics on http://{}/metrics",
        metrics.local_addr()
    );

    let served = Arc::new(AtomicU64::new(0));
    let (shutdown, mut stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let served = Arc::clone(&served);
                    connections.spawn(serve_connection(stream, served, options.requests, shutdown.clone()));
                }
                Err(error) => eprintln!("tokio_service: accept: {error}"),
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = stopping.wait_for(|stop| *stop) => break,
        }
    }

    // Graceful: no new connections; the open ones finish their request and close.
    shutdown.send_replace(true);
    drop(listener);
    while connections.join_next().await.is_some() {}
    println!(
        "served {} requests; shutting down",
        served.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}
