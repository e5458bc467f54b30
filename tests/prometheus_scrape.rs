//! A real Prometheus server scrapes our `/metrics` endpoint: the exposition is accepted (`up` is
//! 1) and `histogram_quantile` over our buckets agrees with what the program recorded.
#![cfg(feature = "http")]

mod common;

use std::io::Read as _;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use instrument_runtime::ManualClock;

#[instrument_runtime::timed(name = "scraped_step")]
fn step(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

/// The Prometheus server, stopped (by its own process id) when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path_and_query: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("Prometheus listens");
    std::io::Write::write_all(
        &mut stream,
        format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn query(addr: &str, promql: &str) -> serde_json::Value {
    let encoded: String = promql
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect();
    let body = http_get(addr, &format!("/api/v1/query?query={encoded}"));
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

fn first_value(result: &serde_json::Value) -> Option<f64> {
    result["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[test]
fn a_real_prometheus_scrapes_the_endpoint_and_agrees_on_the_p95() {
    let prometheus_binary = which("prometheus");
    let clock = ManualClock::new();
    {
        let _installed = clock.install();
        // 100 calls of 1..=100 ms: p95 is 95 ms
        for millis in 1..=100 {
            step(&clock, Duration::from_millis(millis));
        }
    }
    let server = instrument_runtime::serve_metrics("127.0.0.1:0").unwrap();
    let dir = std::env::temp_dir().join(format!("instrument-scrape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: instrument\n    static_configs:\n      - targets: ['{}']\n",
            server.local_addr()
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", common::free_port());
    let _prometheus = Prometheus(
        Command::new(prometheus_binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let up = loop {
        if let Ok(stream) = TcpStream::connect(&web) {
            drop(stream);
            if let Some(up) = first_value(&query(&web, "up{job=\"instrument\"}")) {
                break up;
            }
        }
        assert!(Instant::now() < deadline, "no scrape within 60 s");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        (up - 1.0).abs() < f64::EPSILON,
        "Prometheus accepted the exposition: up = {up}"
    );
    let p95 = first_value(&query(
        &web,
        "histogram_quantile(0.95, instrument_node_latency_seconds_bucket{node=\"scraped_step\"})",
    ))
    .expect("the histogram is scraped");
    // Prometheus interpolates linearly inside the 50..100 ms bucket: 50 + (95 - 50) / 50 * 50 ms
    assert!((p95 - 0.095).abs() < 0.0015, "p95 {p95} s");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn which(binary: &str) -> String {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|path| path.is_file())
    });
    found
        .unwrap_or_else(|| {
            panic!("`{binary}` is not installed: run scripts/test-all, which installs it")
        })
        .display()
        .to_string()
}
