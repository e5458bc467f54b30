//! The Kafka broker unreachable for seconds in the middle of a run (a proxy in front of a broker
//! of its own cuts every connection and refuses new ones): the instrumented code never waits,
//! and what the broker holds plus what was counted as dropped is what was produced.

#![cfg(feature = "kafka")]

mod common;
#[path = "common/faults.rs"]
mod faults;

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use instrument_runtime::stream::{self, StreamConfig};

#[test]
fn the_broker_away_for_seconds_slows_no_call_and_loses_nothing_uncounted() {
    let Some(tansu) = common::sinks::server("INSTRUMENT_TEST_TANSU") else {
        return;
    };
    let broker_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = faults::Proxy::start(&format!("127.0.0.1:{broker_port}"));
    // Advertised at the proxy's address, so every connection of the client goes through it.
    let mut broker = Command::new(tansu)
        .args(["broker", "--storage-engine", "memory://tansu/"])
        .arg("--listener-url")
        .arg(format!("tcp://127.0.0.1:{broker_port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://127.0.0.1:{}", proxy.port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", broker_port)).is_err() {
        sleep(Duration::from_millis(50));
    }
    let servers = format!("127.0.0.1:{}", proxy.port);
    let config = StreamConfig {
        kafka_bootstrap_servers: Some(servers.clone()),
        flush_interval: Duration::from_millis(200),
        ..StreamConfig::default()
    };
    stream::start(config.clone(), stream::sinks_from_config(&config)).unwrap();
    let load = faults::load_during(1, || {
        sleep(Duration::from_secs(2));
        proxy.stop();
        sleep(Duration::from_secs(4));
        proxy.resume();
        sleep(Duration::from_secs(4));
    });
    let stats = stream::shutdown().unwrap();
    assert!(load.slowest < faults::SLOWEST_PUSH, "{load:?}");
    assert!(
        stats.sinks[0].failed_batches > 0,
        "the outage was seen: {stats:?}"
    );
    let (intervals, timings) = faults::expected_records(&stats, &load);
    let held = faults::kafka_held(&servers, intervals, timings);
    faults::assert_accounted(&stats, "kafka", held);
    broker.kill().unwrap();
    broker.wait().unwrap();
}
