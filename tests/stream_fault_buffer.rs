//! The buffer driven full: pushes far faster than a tiny buffer is drained. The oldest records
//! go, every one counted per sink, the program never waits, and each sink's records plus its
//! drops equal the records produced.

#![cfg(all(feature = "kafka", feature = "postgres"))]

mod common;
#[path = "common/faults.rs"]
mod faults;

use std::time::Duration;

use instrument_runtime::stream::{self, DROPPED_BUFFER_FULL, StreamConfig};

#[test]
fn a_full_buffer_drops_the_oldest_counted_for_every_sink() {
    let (Some(servers), Some(url)) = (
        common::sinks::server(common::sinks::KAFKA),
        common::sinks::server(common::sinks::POSTGRES),
    ) else {
        return;
    };
    let config = StreamConfig {
        buffer_size: 64,
        kafka_bootstrap_servers: Some(servers.clone()),
        postgres_url: Some(url.clone()),
        flush_interval: Duration::from_millis(200),
        ..StreamConfig::default()
    };
    stream::start(config.clone(), stream::sinks_from_config(&config)).unwrap();
    // 50 calls and events a millisecond for a second, in bursts between the flusher's rounds.
    let load = faults::load_during(50, || std::thread::sleep(Duration::from_secs(1)));
    let stats = stream::shutdown().unwrap();
    assert!(load.slowest < faults::SLOWEST_PUSH, "{load:?}");
    for sink in &stats.sinks {
        assert!(
            sink.dropped.get(DROPPED_BUFFER_FULL).copied().unwrap_or(0) > 0,
            "{sink:?}"
        );
    }
    let (intervals, timings) = faults::expected_records(&stats, &load);
    faults::assert_accounted(&stats, "postgres", faults::postgres_held(&url));
    faults::assert_accounted(
        &stats,
        "kafka",
        faults::kafka_held(&servers, intervals, timings),
    );
}
