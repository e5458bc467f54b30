//! `GET /health`: one word for all breakers, and a status a load balancer can act on.
#![cfg(feature = "http")]

use std::io::{Read, Write};
use std::net::SocketAddr;

use instrument_runtime::{breaker, serve_metrics};

#[instrument_runtime::circuit_breaker(name = "health_db", fallback = unavailable)]
fn query() -> Result<(), String> {
    Ok(())
}

#[instrument_runtime::circuit_breaker(name = "health_cache", fallback = unavailable)]
fn lookup() -> Result<(), String> {
    Ok(())
}

fn unavailable() -> Result<(), String> {
    Err("unavailable".to_owned())
}

fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn health_is_the_worst_breaker_and_503_when_failing() {
    query().unwrap();
    lookup().unwrap();
    let server = serve_metrics("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "/health"),
        ("HTTP/1.1 200 OK".to_owned(), "HEALTHY\n".to_owned())
    );
    // one breaker open: the whole service is failing, and the status says so without JSON
    breaker("health_db").unwrap().force_open();
    assert_eq!(
        get(addr, "/health"),
        (
            "HTTP/1.1 503 Service Unavailable".to_owned(),
            "FAILING\n".to_owned()
        )
    );
    breaker("health_db").unwrap().reset();
    assert_eq!(get(addr, "/health").1, "HEALTHY\n");
}

#[test]
fn a_detached_server_keeps_serving() {
    let addr = serve_metrics("127.0.0.1:0").unwrap().detach();
    assert!(get(addr, "/health").0.starts_with("HTTP/1.1 "));
}
