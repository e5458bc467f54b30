//! PostgreSQL restarted in the middle of a run: the instrumented code never waits, the sink
//! reconnects, and the rows it holds plus what was counted as dropped is what was produced (a
//! batch retried after the restart is stored once).

#![cfg(feature = "postgres")]

mod common;
#[path = "common/faults.rs"]
mod faults;

use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use instrument_runtime::stream::{self, StreamConfig};

#[test]
fn a_restart_of_postgres_slows_no_call_and_loses_nothing_uncounted() {
    let (Some(url), Some(pg_ctl)) = (
        common::sinks::server(common::sinks::POSTGRES),
        common::sinks::server(common::sinks::PG_CTL),
    ) else {
        return;
    };
    let config = StreamConfig {
        postgres_url: Some(url.clone()),
        flush_interval: Duration::from_millis(200),
        ..StreamConfig::default()
    };
    stream::start(config.clone(), stream::sinks_from_config(&config)).unwrap();
    let load = faults::load_during(1, || {
        sleep(Duration::from_secs(2));
        let restart = Command::new("sh")
            .arg("-c")
            .arg(format!("{pg_ctl} -m fast restart >/dev/null"))
            .status()
            .unwrap();
        assert!(restart.success());
        sleep(Duration::from_secs(3));
    });
    let stats = stream::shutdown().unwrap();
    assert!(load.slowest < faults::SLOWEST_PUSH, "{load:?}");
    assert!(
        stats.sinks[0].failed_batches > 0,
        "the restart was seen: {stats:?}"
    );
    faults::assert_accounted(&stats, "postgres", faults::postgres_held(&url));
}
