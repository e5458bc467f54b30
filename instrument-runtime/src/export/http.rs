//! A `/metrics` endpoint on a plain `std` socket (feature `http`): no async runtime, no HTTP
//! library, one background thread. Each request takes a snapshot and renders it; nothing is
//! cached, so a scrape always sees the calls recorded up to that moment.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::budget::check_budgets;
use crate::export::ExportOptions;
use crate::export::prometheus::{openmetrics_text, prometheus_text};
use crate::snapshot::snapshot;

/// A running metrics endpoint. Dropping it stops the server and joins its thread.
///
/// Routes: `GET /metrics` (Prometheus text 0.0.4, or `OpenMetrics` 1.0 when the `Accept` header
/// asks for `application/openmetrics-text`), `GET /health/circuit-breakers` and
/// `GET /health/nodes` (JSON).
///
/// ```
/// use std::io::{Read, Write};
///
/// #[instrument_runtime::timed(name = "serve_doc_step")]
/// fn step() {}
///
/// step();
/// let server = instrument_runtime::serve_metrics("127.0.0.1:0").unwrap();
/// let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut response = String::new();
/// stream.read_to_string(&mut response).unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// assert!(response.contains("serve_doc_step"));
/// ```
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.local_addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the metrics and health endpoints on `addr` from a background thread.
///
/// # Errors
///
/// When the address cannot be bound.
pub fn serve_metrics(addr: impl ToSocketAddrs) -> io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr)?;
    let local_addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("instrument-metrics".to_owned())
        .spawn({
            let stop = Arc::clone(&stop);
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A client that misbehaves only loses its own response.
                        let _ = respond(stream);
                    }
                }
            }
        })?;
    Ok(MetricsServer {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

/// What a request asked for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    path: String,
    wants_openmetrics: bool,
}

fn read_request(stream: &TcpStream) -> io::Result<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut wants_openmetrics = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("accept")
        {
            wants_openmetrics |= value.contains("application/openmetrics-text");
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    Ok(Request {
        path,
        wants_openmetrics,
    })
}

fn respond(mut stream: TcpStream) -> io::Result<()> {
    let request = read_request(&stream)?;
    let (status, content_type, body) = route(&request);
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn route(request: &Request) -> (&'static str, &'static str, String) {
    match request.path.as_str() {
        "/metrics" => {
            let snapshot = snapshot();
            let budgets = check_budgets(&snapshot);
            let options = ExportOptions::default();
            if request.wants_openmetrics {
                (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    openmetrics_text(&snapshot, &budgets, &options),
                )
            } else {
                (
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    prometheus_text(&snapshot, &budgets, &options),
                )
            }
        }
        "/health/circuit-breakers" => json(&crate::breaker_health()),
        "/health/nodes" => {
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
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
    }
}

/// One node in `/health/nodes`.
#[derive(serde::Serialize)]
struct NodeHealth<'a> {
    node: &'a str,
    calls: u64,
    errors: u64,
    panics: u64,
    p95_ns: Option<u64>,
    budget: Option<crate::VerdictStatus>,
}

fn json(value: &impl serde::Serialize) -> (&'static str, &'static str, String) {
    match serde_json::to_string_pretty(value) {
        Ok(body) => ("200 OK", "application/json", body + "\n"),
        Err(error) => (
            "500 Internal Server Error",
            "text/plain; charset=utf-8",
            format!("{error}\n"),
        ),
    }
}
