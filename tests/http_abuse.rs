//! The `/metrics` endpoint under abuse: each test is one way a client could take the endpoint, or
//! the process around it, down. Waits are bounded liveness checks only, never measurements.
#![cfg(feature = "http")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use instrument_runtime::{MetricsServer, serve_metrics};

#[instrument_runtime::timed(name = "abused_step")]
fn step() {}

/// A server with one node recorded, so `/metrics` has something to say.
fn server() -> MetricsServer {
    step();
    serve_metrics("127.0.0.1:0").expect("a loopback port can be bound")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
    // Generous bounds: a server that hangs fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Sends `request` and reads the response until the server closes the connection.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("the server answers, then closes");
    String::from_utf8_lossy(&response).into_owned()
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let (head, _) = response.split_once("\r\n\r\n")?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn reproduces_an_endless_header_line_read_to_the_last_byte() {
    // Before: the server read the line into a String until a newline came, so the process grew by
    // every byte sent. Now it stops reading at the head limit and closes: the sender's writes
    // fail long before the 64 MiB are out (what is in flight fits in the socket buffers).
    const LIMIT: usize = 64 << 20;
    let server = server();
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nX-Endless: ")
        .unwrap();
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    let error = loop {
        assert!(
            sent < LIMIT,
            "the server read {sent} bytes of one header line"
        );
        match stream.write(&chunk) {
            Ok(written) => sent += written,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(
            error.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ),
        "the server closed the connection after {sent} bytes: {error}"
    );
}

#[test]
fn a_head_past_8_kib_gets_431() {
    let server = server();
    let mut request = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
    // Exactly the limit and no end of line: the server reads it all, so it closes cleanly and the
    // answer is not lost to a reset.
    request.resize(8 << 10, b'a');
    let response = exchange(server.local_addr(), &request);
    assert!(
        response.starts_with("HTTP/1.1 431 "),
        "answered {response:?}"
    );
}

#[test]
fn a_scrape_answers_while_300_connections_idle_and_one_drips() {
    // Before: one connection was served at a time with a 5 s timeout per read, so an idle
    // connection delayed the next scrape 5 s, 300 of them filled the backlog, and a byte every
    // 2 s held the server forever.
    let server = server();
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let dripper = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut stream = connect(addr);
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
                .iter()
                .cycle()
            {
                if stop.load(Ordering::Acquire) || stream.write_all(&[*byte]).is_err() {
                    break;
                }
                // Checks the flag every 50 ms, sends a byte every 2 s.
                for _ in 0..40 {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    });
    // Lets the dripper connect first, so it is the oldest connection.
    std::thread::sleep(Duration::from_millis(100));
    let idle: Vec<TcpStream> = (0..300).map(|_| connect(addr)).collect();
    let started = Instant::now();
    let response = exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let took = started.elapsed();
    stop.store(true, Ordering::Release);
    dripper.join().unwrap();
    drop(idle);
    assert!(
        response.starts_with("HTTP/1.1 200 "),
        "answered {response:?}"
    );
    assert!(body(&response).contains("abused_step"));
    eprintln!("scrape beside 300 idle connections and a dripping client: {took:?}");
    assert!(took < Duration::from_secs(5), "the scrape took {took:?}");
}

#[test]
fn methods_other_than_get_and_head_get_405_with_allow() {
    let server = server();
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let response = exchange(
            server.local_addr(),
            format!(
                "{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        assert!(
            response.starts_with("HTTP/1.1 405 "),
            "{method} answered {response:?}"
        );
        assert_eq!(header(&response, "allow"), Some("GET, HEAD"), "{method}");
        assert!(!body(&response).contains("abused_step"), "{method}");
    }
    let response = exchange(
        server.local_addr(),
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        response.starts_with("HTTP/1.1 404 "),
        "answered {response:?}"
    );
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let server = server();
    let get = exchange(
        server.local_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = exchange(
        server.local_addr(),
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "answered {head:?}");
    assert_eq!(
        header(&head, "content-type"),
        header(&get, "content-type"),
        "{head:?}"
    );
    assert!(header(&head, "content-length").is_some(), "{head:?}");
    assert_eq!(body(&head), "", "HEAD has no body");
    assert!(body(&get).contains("abused_step"));
}

#[test]
fn the_endpoint_counts_what_it_rejected_in_both_formats() {
    let server = server();
    // One rejected connection, so the endpoint's own counter has a sample to show.
    let mut request = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
    request.resize(8 << 10, b'a');
    let _ = exchange(server.local_addr(), &request);
    let text = exchange(
        server.local_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        body(&text)
            .contains("instrument_metrics_endpoint_rejected_total{reason=\"head_too_large\"} 1\n"),
        "{text}"
    );
    common::assert_promtool_accepts(body(&text));
    let open = exchange(
        server.local_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n",
    );
    // promtool reads the 0.0.4 format only; the real scrape in `prometheus_scrape.rs` asks for
    // `OpenMetrics` and checks that Prometheus accepts it.
    assert!(
        body(&open).contains("# TYPE instrument_metrics_endpoint_rejected counter\n"),
        "{open}"
    );
    assert!(body(&open).ends_with("# EOF\n"), "{open}");
}
