//! A `/metrics` endpoint (feature `http`) that stays boring under abuse, since it runs inside the
//! user's own process.
//!
//! It is hyper's HTTP/1 server on a tokio current-thread runtime, alone on one background
//! thread. hyper parses the request head and enforces the two limits that matter most: the head
//! (request line and headers) may not pass [`HEAD_BYTES`] (431, then close; hyper never buffers
//! more) and must arrive whole within [`HEAD_TIMEOUT`], counted from when the server starts
//! waiting, not per read, so a client dripping a byte at a time is cut off like an idle one.
//! Writing a parser with those guarantees by hand, over non-blocking sockets, is more code than
//! this module and less tried; tokio is also what a web framework layer would share later.
//!
//! What hyper leaves to us, bounded here:
//! - connections: at most [`MAX_CONNECTIONS`]; past that the one that has waited longest for a
//!   request is closed to make room (so a flood of idle connections cannot lock a scrape out),
//!   and a new one is refused only if every open connection is busy answering;
//! - writes: a response must be taken by the client within [`WRITE_TIMEOUT`] (one deadline for
//!   the whole response);
//! - rendering: snapshots are rendered on one worker thread at a time ([`RENDER_WORKERS`]), so a
//!   flood of scrapes costs the program at most that many cores; a request that waits
//!   [`RENDER_WAIT`] for the worker gets 503;
//! - panics: a render that panics ends that request with 500; the server keeps serving.
//!
//! What was refused is counted, and `/metrics` shows it as
//! `instrument_metrics_endpoint_rejected_total{reason}`.

mod connections;

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::export::endpoint::{
    Asked, Page, ROUTES, Reason, Rejections, Render, Routes, wants_openmetrics,
};
use connections::{Admitted, Busy, Connections, Slot, WriteDeadline};

/// The most bytes a request line and its headers may take.
const HEAD_BYTES: usize = 8 << 10;
/// How long a client has to send a whole request head, from when the server starts waiting for
/// it (on a kept-alive connection: from the end of the previous response).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to take a whole response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections open at once.
const MAX_CONNECTIONS: usize = 256;
/// Renders running at once.
const RENDER_WORKERS: usize = 1;
/// How long a request waits for a render worker before it gets 503.
const RENDER_WAIT: Duration = Duration::from_secs(5);

/// A running metrics endpoint. Dropping it stops the server and joins its thread, so keep it
/// in a named variable (`let _server = ...`, not `let _ = ...`, which drops it at once) for as
/// long as it should serve, or [`detach`](Self::detach) it to serve until the process ends.
///
/// Routes, each answering `GET` and `HEAD` (the same headers, no body):
/// - `/metrics`: Prometheus text 0.0.4, or `OpenMetrics` 1.0 when the `Accept` header asks for
///   `application/openmetrics-text`;
/// - `/health`: the worst health of all circuit breakers as one word (`HEALTHY`, `DEGRADED`
///   or `FAILING`), with status 503 when it is `FAILING`, so a load balancer or a Kubernetes
///   probe can act on the status alone; `HEALTHY` when there is no breaker;
/// - `/health/circuit-breakers` and `/health/nodes`: JSON;
/// - `/alerts`: the [alert engine](crate::alert)'s alerts and notifier counts, JSON.
///
/// Any other method gets 405 with `Allow: GET, HEAD`; any other path 404. Connections are kept
/// alive between requests.
///
/// The server shares the process with the program it measures, so it bounds what a client can
/// take:
/// - the request line and headers: at most 8 KiB (else 431 and the connection is closed), all
///   sent within 5 s of when the server starts waiting for them (else the connection is closed;
///   the deadline is for the whole head, not per read);
/// - the response: taken by the client within 10 s, else the connection is closed;
/// - connections: at most 256; past that, the one that has waited longest for a request is
///   closed to make room, and a new one is refused only while all 256 are answering;
/// - rendering: one render at a time on a worker thread, so scrapes cost the program at most one
///   core; a request that waits 5 s for the worker gets 503;
/// - a render that panics gets 500, and the server goes on.
///
/// What was refused is counted in `/metrics` as
/// `instrument_metrics_endpoint_rejected_total{reason}` (`evicted`, `refused`, `head_too_large`,
/// `head_timeout`, `write_timeout`, `render_busy`, `render_panic`).
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
#[must_use = "the server stops when this is dropped: keep it in a named variable (`let _server = ...`) or call `.detach()`"]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Lets the server run until the process ends, for a program that starts it once in `main`
    /// and has no place to keep it. Nothing stops it afterwards; the process's exit does.
    ///
    /// ```
    /// let addr = instrument_runtime::serve_metrics("127.0.0.1:0").unwrap().detach();
    /// // still serving: the handle is gone, the server is not
    /// assert!(std::net::TcpStream::connect(addr).is_ok());
    /// ```
    pub fn detach(mut self) -> SocketAddr {
        // Forgetting the stop sender would leave the runtime waiting on it forever, which is the
        // point; the thread handle is dropped, which detaches the thread.
        if let Some(stop) = self.stop.take() {
            std::mem::forget(stop);
        }
        self.thread.take();
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the metrics and health endpoints on `addr` from one background thread; see
/// [`MetricsServer`] for the routes and the limits that keep abusive clients from harming the
/// program.
///
/// # Errors
///
/// When the address cannot be bound, or the thread cannot be started.
///
/// The server stops when the returned [`MetricsServer`] is dropped, so a bare statement or
/// `let _ = ...` serves nothing; that is a warning:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// instrument_runtime::serve_metrics("127.0.0.1:0").unwrap();
/// ```
#[must_use = "the server stops when this is dropped: keep it in a named variable (`let _server = ...`) or call `.detach()`"]
pub fn serve_metrics(addr: impl ToSocketAddrs) -> io::Result<MetricsServer> {
    serve(addr, ROUTES)
}

/// What every connection's task shares.
struct Server {
    routes: Routes,
    connections: Arc<Connections>,
    renders: Semaphore,
    rejections: Rejections,
}

fn serve(addr: impl ToSocketAddrs, routes: Routes) -> io::Result<MetricsServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(RENDER_WORKERS)
        .thread_name("instrument-metrics-render")
        .build()?;
    let listener = {
        let _entered = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let server = Arc::new(Server {
        routes,
        connections: Connections::new(MAX_CONNECTIONS),
        renders: Semaphore::new(RENDER_WORKERS),
        rejections: Rejections::default(),
    });
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("instrument-metrics".to_owned())
        .spawn(move || {
            runtime.spawn(accept(listener, server));
            // Either a stop, or the `MetricsServer` was dropped without sending one.
            let _ = runtime.block_on(stopped);
            // Aborts the connections; a render already running is given a moment to end.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok(MetricsServer {
        local_addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

async fn accept(listener: TcpListener, server: Arc<Server>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: wait for some to close instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some((slot, admitted)) = server.connections.admit() else {
            server.rejections.count(Reason::Refused);
            continue;
        };
        if admitted == Admitted::ByEviction {
            server.rejections.count(Reason::Evicted);
        }
        // A large response goes out at once instead of waiting for the client's acknowledgements.
        let _ = stream.set_nodelay(true);
        let id = slot.id();
        let task = tokio::spawn(connection(stream, slot, Arc::clone(&server)));
        server.connections.served_by(id, task.abort_handle());
    }
}

async fn connection(stream: tokio::net::TcpStream, slot: Slot, server: Arc<Server>) {
    let io = TokioIo::new(WriteDeadline::new(stream, WRITE_TIMEOUT));
    let activity = Arc::clone(slot.activity());
    let service = hyper::service::service_fn({
        let server = Arc::clone(&server);
        move |request| {
            let busy = activity.busy();
            let server = Arc::clone(&server);
            async move { Ok::<_, Infallible>(answer(&request, &server, busy).await) }
        }
    });
    let ended = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(HEAD_BYTES)
        .max_header_size(HEAD_BYTES)
        .serve_connection(io, service)
        .await;
    if let Err(error) = ended
        && let Some(reason) = rejection(&error, slot.activity().answered())
    {
        server.rejections.count(reason);
    }
}

/// Why hyper ended a connection, when it was a limit of ours. A kept-alive connection that answered
/// requests and then waited out the head deadline is not a rejection: clients keep connections
/// open between scrapes.
fn rejection(error: &hyper::Error, answered: bool) -> Option<Reason> {
    if error.is_parse_too_large() {
        return Some(Reason::HeadTooLarge);
    }
    if error.is_timeout() {
        return (!answered).then_some(Reason::HeadTimeout);
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
        {
            return Some(Reason::WriteTimeout);
        }
        source = cause.source();
    }
    None
}

async fn answer(request: &Request<Incoming>, server: &Arc<Server>, busy: Busy) -> Response<Reply> {
    let route = server
        .routes
        .iter()
        .find(|(path, _)| *path == request.uri().path());
    let Some(&(_, render)) = route else {
        return Page::text(StatusCode::NOT_FOUND, "not found").into_response(busy);
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response =
            Page::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response(busy);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let openmetrics = wants_openmetrics(request.headers().get_all(ACCEPT));
    // HEAD renders too, so its `Content-Length` is GET's; hyper sends no body for it.
    rendered(server, render, openmetrics)
        .await
        .into_response(busy)
}

/// Renders on the worker pool: the render is synchronous CPU work, and a panic there ends as the
/// pool task's error instead of unwinding through the server.
async fn rendered(server: &Arc<Server>, render: Render, openmetrics: bool) -> Page {
    let Ok(Ok(permit)) = tokio::time::timeout(RENDER_WAIT, server.renders.acquire()).await else {
        server.rejections.count(Reason::RenderBusy);
        return Page::text(StatusCode::SERVICE_UNAVAILABLE, "busy: try again");
    };
    let shared = Arc::clone(server);
    let page = tokio::task::spawn_blocking(move || {
        render(&Asked {
            openmetrics,
            rejections: Some(&shared.rejections),
        })
    })
    .await;
    drop(permit);
    page.unwrap_or_else(|error| {
        if error.is_panic() {
            server.rejections.count(Reason::RenderPanic);
        }
        Page::text(StatusCode::INTERNAL_SERVER_ERROR, "the render failed")
    })
}

impl Page {
    fn into_response(self, busy: Busy) -> Response<Reply> {
        let mut response = Response::new(Reply {
            data: Some(Bytes::from(self.body)),
            _busy: busy,
        });
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        response
    }
}

/// A whole response body, which keeps its connection marked busy until hyper is done with it.
struct Reply {
    data: Option<Bytes>,
    _busy: Busy,
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    fn panics(_: &Asked<'_>) -> Page {
        panic!("a render that fails")
    }

    fn answers(asked: &Asked<'_>) -> Page {
        Page::text(
            StatusCode::OK,
            &format!(
                "panics so far: {}",
                asked
                    .rejections
                    .map_or(0, |rejections| rejections.get(Reason::RenderPanic))
            ),
        )
    }

    fn get(server: &MetricsServer, path: &str) -> String {
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn a_panicking_render_gets_500_and_the_server_goes_on() {
        let server = serve("127.0.0.1:0", &[("/panics", panics), ("/answers", answers)]).unwrap();
        let response = get(&server, "/panics");
        assert!(response.starts_with("HTTP/1.1 500 "), "{response}");
        let response = get(&server, "/answers");
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(response.ends_with("panics so far: 1\n"), "{response}");
        // The worker that panicked is replaced: the next failure is contained the same way.
        assert!(get(&server, "/panics").starts_with("HTTP/1.1 500 "));
    }

    #[test]
    fn dropping_the_server_closes_its_port_and_its_connections() {
        let server = serve_metrics("127.0.0.1:0").unwrap();
        let addr = server.local_addr();
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // Served once, so the connection is known to the server before it stops.
        write!(idle, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = [0; 12];
        idle.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 404");
        drop(server);
        assert!(TcpStream::connect(addr).is_err());
        let mut rest = Vec::new();
        idle.read_to_end(&mut rest).unwrap();
        assert!(!rest.is_empty(), "the rest of the 404, then the end");
    }
}
