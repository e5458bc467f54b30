//! The service example under `wrk`, as a service team runs it: request counts per route equal to
//! what `wrk` completed, an exposition promtool accepts, raw paths that cannot grow the nodes past
//! their cap, and the three load scenarios of the performance runbook in a short form (ramp to
//! the breaking point, sustained load with flat memory, a spike the breaker rides out).
//!
//! Every figure asserted is a count or a threshold crossed by a wide margin, never a speed.

#![cfg(feature = "tower")]
#![allow(
    clippy::cast_precision_loss,
    clippy::float_cmp,
    reason = "request counts and microseconds compared as the exposition's floats: integers far \
              below 2^52, exact in an f64"
)]

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The example running, stopped (SIGTERM, as a deployment stops it) when dropped.
struct Service {
    child: Child,
    addr: String,
    /// Kept open: the example prints a last line when it stops.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Service {
    fn start(args: &[&str]) -> Self {
        let mut all = vec!["--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = common::example_command("service", &["tower"], &all)
            .env(
                "INSTRUMENT_REPORT_DIR",
                common::scratch_dir("service-report"),
            )
            // The repository's budgets file is the pipeline's: none of its nodes are here.
            .env("INSTRUMENT_BUDGETS", "")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let addr = first
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{first}"))
            .trim()
            .to_owned();
        Self {
            child,
            addr,
            _stdout: stdout,
        }
    }

    /// The status and body of `GET path`.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200);
        body
    }

    fn wrk(&self, run: &Wrk) -> Reading {
        run.against(&self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: a plain `kill` of the child this test started and has not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A sample's value in an exposition, `0` when absent.
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap())
}

/// Reports what a run did, from its `done` hook; stops each thread after `WRK_QUOTA` responses
/// and leaves a file in `WRK_DONE` saying so (`wrk` itself runs for its whole duration), and with
/// `WRK_RAW` asks a new path under that prefix for every request.
const SCRIPT: &str = r#"
local quota = tonumber(os.getenv("WRK_QUOTA") or "0")
local done_dir = os.getenv("WRK_DONE")
local raw = os.getenv("WRK_RAW")
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local sent, seen = 0, 0
if raw then
  request = function()
    sent = sent + 1
    return wrk.format(nil, raw .. id .. "-" .. sent)
  end
end
function response(status)
  seen = seen + 1
  if quota > 0 and seen == quota then
    io.open(done_dir .. "/" .. id, "w"):close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(95),
    latency:percentile(99), summary.duration))
end
"#;

/// One `wrk` run.
struct Wrk {
    path: &'static str,
    connections: u32,
    seconds: u32,
    /// Responses per connection after which it stops (0: run for `seconds`).
    quota: u32,
    raw: Option<&'static str>,
}

/// What a `wrk` run reports.
#[derive(Debug)]
struct Reading {
    requests: u64,
    socket_errors: u64,
    /// Responses that were not 2xx or 3xx.
    failed: u64,
    p95_us: u64,
    p99_us: u64,
    seconds: f64,
}

impl Reading {
    fn failure_rate(&self) -> f64 {
        (self.failed + self.socket_errors) as f64 / self.requests.max(1) as f64
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

impl Wrk {
    fn on(path: &'static str, connections: u32, seconds: u32) -> Self {
        Self {
            path,
            connections,
            seconds,
            quota: 0,
            raw: None,
        }
    }

    /// Each connection on a thread of its own, stopping after `quota` responses: the server has
    /// answered exactly what `wrk` counts, nothing is left in flight.
    fn exactly(path: &'static str, connections: u32, quota: u32) -> Self {
        Self {
            quota,
            ..Self::on(path, connections, 120)
        }
    }

    fn against(&self, addr: &str) -> Reading {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = common::scratch_dir(&format!("wrk-{run}"));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("report.lua");
        std::fs::write(&script, SCRIPT).unwrap();
        let threads = if self.quota > 0 {
            self.connections
        } else {
            self.connections.min(2)
        };
        let mut command = std::process::Command::new("wrk");
        command
            .arg(format!("-t{threads}"))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.seconds))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(&script)
            .arg(format!("http://{addr}{}", self.path))
            .env("WRK_QUOTA", self.quota.to_string())
            .env("WRK_DONE", &dir)
            .stdout(Stdio::piped());
        if let Some(raw) = self.raw {
            command.env("WRK_RAW", raw);
        }
        let child = command.spawn().unwrap_or_else(|error| {
            panic!("wrk could not be run ({error}): run scripts/test-all, which installs it")
        });
        if self.quota > 0 {
            // Every thread met its quota: interrupt wrk, which then reports (bounded, for liveness).
            let started = Instant::now();
            while std::fs::read_dir(&dir).unwrap().count() < threads as usize + 1 {
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "wrk did not finish"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: a plain `kill` of the child this test started and has not reaped.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let output = child.wait_with_output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        let line = printed
            .lines()
            .find_map(|line| line.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("wrk printed no result: {printed}"));
        let numbers: Vec<u64> = line.split(' ').map(|n| n.parse().unwrap()).collect();
        Reading {
            requests: numbers[0],
            socket_errors: numbers[1],
            failed: numbers[2],
            p95_us: numbers[3],
            p99_us: numbers[4],
            seconds: numbers[5] as f64 / 1e6,
        }
    }
}

#[test]
fn wrk_completed_requests_are_the_route_counts_and_raw_paths_stay_under_the_cap() {
    let service = Service::start(&[]);
    let hello = service.wrk(&Wrk::exactly("/hello", 2, 5_000));
    let compute = service.wrk(&Wrk::exactly("/compute/3", 2, 500));
    assert_eq!(
        (hello.requests, hello.failed, hello.socket_errors),
        (10_000, 0, 0)
    );
    assert_eq!((compute.requests, compute.failed), (1_000, 0));

    let exposition = service.metrics();
    common::assert_promtool_accepts(&exposition);
    for (route, reading) in [("GET /hello", &hello), ("GET /compute/{n}", &compute)] {
        let node = format!("{{node=\"{route}\"}}");
        let count = |family: &str| sample(&exposition, &format!("instrument_{family}{node}"));
        assert_eq!(
            count("node_calls_total"),
            reading.requests as f64,
            "{route}"
        );
        assert_eq!(count("node_latency_seconds_count"), reading.requests as f64);
        let inf = format!("instrument_node_latency_seconds_bucket{{node=\"{route}\",le=\"+Inf\"}}");
        assert_eq!(sample(&exposition, &inf), reading.requests as f64);
        let ok = format!("instrument_node_outcomes_total{{node=\"{route}\",outcome=\"2xx\"}}");
        assert_eq!(sample(&exposition, &ok), reading.requests as f64);
    }
    assert_eq!(sample(&exposition, "instrument_service_health_status"), 1.0);

    // Ten thousand distinct raw paths: one node for all of them, far from the cap.
    let raw = service.wrk(&Wrk {
        raw: Some("/raw/"),
        ..Wrk::exactly("/", 2, 5_000)
    });
    assert_eq!(raw.requests, 10_000);
    let exposition = service.metrics();
    let unmatched = "instrument_node_calls_total{node=\"GET (unmatched)\"}";
    assert_eq!(sample(&exposition, unmatched), 10_000.0);
    let nodes = sample(&exposition, "instrument_runtime_nodes");
    assert!(nodes <= sample(&exposition, "instrument_runtime_nodes_cap"));
    assert!(nodes < 10.0, "{nodes} runtime nodes");
    let node_series = exposition
        .lines()
        .filter(|line| line.starts_with("instrument_node_calls_total{"))
        .count();
    assert!(node_series < 20, "{node_series} node series");
}

/// Ramp: more connections each step, until p95 passes 3 s or more than 5% fail. Four workers of
/// 10 ms serve 400 requests a second at most; a request that waits 200 ms for one fails, so the
/// break comes at a few hundred connections, and the first step is far from it.
#[test]
fn ramp_finds_the_breaking_point() {
    let service = Service::start(&["--capacity", "4", "--queue-timeout-ms", "200"]);
    let mut broke_at = None;
    let mut table = String::from("connections  rps  p95 ms  p99 ms  failed\n");
    for connections in [4, 16, 64, 256] {
        let reading = service.wrk(&Wrk::on("/compute/10", connections, 2));
        let _ = writeln!(
            table,
            "{connections} {:.0} {:.1} {:.1} {:.1}%",
            reading.rps(),
            reading.p95_us as f64 / 1e3,
            reading.p99_us as f64 / 1e3,
            reading.failure_rate() * 100.0
        );
        if reading.p95_us > 3_000_000 || reading.failure_rate() > 0.05 {
            broke_at = Some(connections);
            break;
        }
        assert!(reading.requests > 0, "{table}");
    }
    println!("{table}");
    let broke_at = broke_at.unwrap_or_else(|| panic!("no breaking point found:\n{table}"));
    assert!(broke_at > 4, "the lightest step already failed:\n{table}");
    // The service says so too: its route counted the timeouts it answered.
    let timeouts = sample(
        &service.metrics(),
        "instrument_node_outcomes_total{node=\"GET /compute/{n}\",outcome=\"timeout\"}",
    );
    assert!(timeouts > 0.0, "{table}");
}

/// Sustained: the same moderate load in rounds; the resident memory after the last round is
/// within 16 MiB of the one after the first (warm-up: pools, shards and histograms filled).
#[test]
fn sustained_load_keeps_memory_flat() {
    const BOUND_BYTES: f64 = 16.0 * 1024.0 * 1024.0;
    let service = Service::start(&[]);
    let resident = || {
        sample(
            &service.metrics(),
            "instrument_process_resident_memory_bytes",
        )
    };
    let mut readings = Vec::new();
    for round in 0..5 {
        let hello = service.wrk(&Wrk::on("/hello", 8, 1));
        let compute = service.wrk(&Wrk::on("/compute/1", 8, 1));
        assert_eq!(hello.failed + compute.failed, 0, "round {round}");
        readings.push(resident());
    }
    println!("resident bytes after each round: {readings:?}");
    let growth = readings[readings.len() - 1] - readings[0];
    assert!(readings[0] > 0.0);
    assert!(growth < BOUND_BYTES, "{growth} bytes more: {readings:?}");
}

/// Spike: a sudden load far past what the dependency takes opens its breaker and the fallback
/// answers; once the load is gone, probes close it again.
#[test]
fn a_spike_opens_the_breaker_and_it_recovers() {
    let service = Service::start(&["--capacity", "4", "--overload-at", "16"]);
    assert_eq!(service.get("/compute/1").0, 200);
    let spike = service.wrk(&Wrk::on("/compute/1", 128, 2));
    assert!(spike.requests > 0);
    let during = service.metrics();
    let opened =
        "instrument_breaker_transitions_total{breaker=\"dependency\",transition=\"opened\"}";
    assert!(sample(&during, opened) >= 1.0, "{spike:?}");
    assert!(
        sample(
            &during,
            "instrument_breaker_fallbacks_total{breaker=\"dependency\"}"
        ) > 0.0
    );

    // Quiet again: one request at a time until the probes close it (bounded, for liveness).
    let started = Instant::now();
    loop {
        let (status, _) = service.get("/compute/1");
        assert_eq!(status, 200, "the fallback answers while it is open");
        let (_, health) = service.get("/health");
        if health.trim() == "HEALTHY" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the breaker did not recover: {health}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = service.metrics();
    assert_eq!(
        sample(&after, "instrument_breaker_state{breaker=\"dependency\"}"),
        0.0
    );
    assert_eq!(sample(&after, "instrument_service_health_status"), 1.0);
    // The fallback's cache, through the event API: its lookups counted, its hit rate a percentage.
    assert!(
        sample(
            &after,
            "instrument_event_counter_total{name=\"fallback_cache_lookups\"}"
        ) > 0.0
    );
    let hit_rate = "instrument_event_rate_percent{name=\"fallback_cache_hit_rate\"}";
    assert!(after.contains(&format!("{hit_rate} ")), "no {hit_rate}");
    assert!((0.0..=100.0).contains(&sample(&after, hit_rate)));
}
