//! Every program in `examples/` runs here, briefly, as CI runs it, and `examples/README.md` lists
//! them all: an example that stops working, or a new one nobody runs, fails the build.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The examples this file runs. The pipeline runs in the tests that check what it prints and
/// reports (`readme.rs`, `pipeline_faults.rs`, `gate_pipeline.rs`, `gate_in_test_pipeline.rs`),
/// the service under load in `service.rs`.
const RUN_HERE: [&str; 6] = [
    "timed",
    "budget",
    "circuit_breaker",
    "counting_allocator",
    "tokio_service",
    "metrics_server",
];

/// Example `name` run to its end with `args`, its report in a scratch directory: its output.
fn run_example(name: &str, features: &[&str], args: &[&str]) -> Output {
    let dir = common::scratch_dir(&format!("example-{name}"));
    let output = common::example_command(name, features, args)
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        dir.join("report.json").exists(),
        "{name} writes its report at exit"
    );
    std::fs::remove_dir_all(dir).unwrap();
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn every_example_is_run_by_a_test_and_listed_in_the_examples_readme() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let readme = std::fs::read_to_string(examples.join("README.md")).unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        // What cargo takes for an example: a file, or a folder with a `main.rs`.
        let name = if path.extension().is_some_and(|extension| extension == "rs") {
            path.file_stem()
        } else if path.join("main.rs").exists() {
            path.file_name()
        } else {
            continue;
        };
        found.push(name.unwrap().to_str().unwrap().to_owned());
    }
    found.sort();
    let mut expected: Vec<String> = RUN_HERE.iter().map(ToString::to_string).collect();
    expected.extend(["pipeline".to_owned(), "service".to_owned()]);
    expected.sort();
    assert_eq!(found, expected, "a new example is run by a test here");
    for name in &found {
        assert!(
            readme.contains(&format!("--example {name}")),
            "examples/README.md gives the command that runs `{name}`"
        );
    }
}

#[test]
fn timed_prints_the_calls_it_measured() {
    let output = run_example("timed", &[], &[]);
    assert!(
        stdout(&output).contains("word_count: 1000 calls"),
        "{output:?}"
    );
}

#[test]
fn budget_passes_its_budget() {
    let output = run_example("budget", &[], &[]);
    assert!(
        stdout(&output).contains("budgets: 1 judged, 1 passed, 0 failed, 0 not exercised"),
        "{output:?}"
    );
}

#[test]
fn circuit_breaker_recovers_once_the_outage_is_over() {
    let output = run_example("circuit_breaker", &[], &[]);
    let printed = stdout(&output);
    // Which calls the fallback answers depends on the machine's timing; the outage's first three
    // calls fail and open the breaker whatever the timing, and it closes again in the 30 calls
    // (60 ms or more) after the outage, well past its 20 ms timeout.
    let trace = printed.lines().next().unwrap();
    assert!(trace.starts_with("..........xxx"), "{printed}");
    assert!(trace.ends_with(".."), "{printed}");
    assert!(printed.contains("price: CLOSED;"), "{printed}");
}

#[test]
fn counting_allocator_charges_each_node_its_own_allocations() {
    let output = run_example("counting_allocator", &[], &[]);
    let printed = stdout(&output);
    // `lowercase_words`: five `String`s and its `Vec` growing twice. `parse_document`: its `Vec`
    // of 20 lines growing four times, and none of the 140 allocations of the calls it makes.
    let allocations = |node: &str| {
        let line = printed
            .lines()
            .find(|line| line.starts_with(&format!("{node} ")))
            .unwrap_or_else(|| panic!("no line for {node}: {printed}"));
        line.split_whitespace().nth(1).unwrap().to_owned()
    };
    assert_eq!(allocations("lowercase_words"), "7.0", "{printed}");
    assert_eq!(allocations("parse_document"), "4.0", "{printed}");
}

/// Waits for `child` to end, at most `limit` (for liveness only: it ends in well under a second
/// once its work is done); past that it is killed and the test fails.
fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("the example did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(feature = "http")]
#[test]
fn tokio_service_answers_serves_metrics_and_reports_after_a_graceful_shutdown() {
    let dir = common::scratch_dir("example-tokio-service");
    let mut child = common::example_command(
        "tokio_service",
        &["http"],
        &[
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--requests",
            "3",
        ],
    )
    .env("INSTRUMENT_REPORT_DIR", &dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // `listening on 127.0.0.1:P, metrics on http://127.0.0.1:Q/metrics`
    let service = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("{first}"));
    let metrics = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/metrics\n"))
        .unwrap_or_else(|| panic!("{first}"));

    // Two requests on one connection, a scrape while the service runs, then the third request,
    // after which it shuts down.
    let mut connection = TcpStream::connect(service).unwrap();
    connection
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut replies = BufReader::new(connection.try_clone().unwrap());
    let mut ask = |line: &str| {
        writeln!(connection, "{line}").unwrap();
        let mut reply = String::new();
        replies.read_line(&mut reply).unwrap();
        reply
    };
    assert_eq!(ask("hello"), "HELLO\n");
    assert_eq!(ask("world"), "WORLD\n");
    let mut scrape = TcpStream::connect(metrics).unwrap();
    scrape
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        scrape,
        "GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut exposition = String::new();
    scrape.read_to_string(&mut exposition).unwrap();
    assert!(exposition.starts_with("HTTP/1.1 200"), "{exposition}");
    assert!(
        exposition.contains("instrument_node_calls_total{node=\"handle\"} 2"),
        "{exposition}"
    );
    assert_eq!(ask("third"), "THIRD\n");

    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert_eq!(rest, "served 3 requests; shutting down\n");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let nodes = report["snapshot"]["nodes"].as_array().unwrap();
    let handle = nodes.iter().find(|node| node["name"] == "handle").unwrap();
    assert_eq!(
        handle["calls"], 3,
        "the report is written after the last call"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "http")]
#[test]
fn metrics_server_serves_for_the_seconds_given_then_ends() {
    // It measures the endpoint alone, so it arms no report.
    let output = common::example_command("metrics_server", &["http"], &["127.0.0.1:0", "1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).starts_with("serving http://127.0.0.1:"),
        "{output:?}"
    );
}
