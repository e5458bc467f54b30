//! The alert engine and the stream: rules on the explicit events' last values, judged on a clock
//! the test drives, and the stream notifier putting each firing and resolved alert into the
//! stream's sinks once.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use instrument_runtime::alert::{
    AlertEngine, AlertRule, AlertState, AlertStatus, Operator, Severity, StreamNotifier,
};
use instrument_runtime::snapshot;
use instrument_runtime::stream::{self, MemorySink, RecordData, StreamConfig};

/// The stream of this test process, sending to memory.
fn sink() -> &'static MemorySink {
    static SINK: OnceLock<MemorySink> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = MemorySink::new("memory");
        let config = StreamConfig {
            flush_interval: Duration::from_millis(10),
            ..StreamConfig::default()
        };
        stream::start(config, vec![Box::new(sink.clone())]).unwrap();
        sink
    })
}

/// Pushes a rate and waits until the flusher has folded it into the latest values (a liveness
/// wait: the flusher runs every 10 ms).
fn set_rate(name: &str, percent: f64) {
    sink();
    stream::record_rate(name.to_owned(), percent, &[]);
    wait_until(|| {
        (stream::latest_values().values.iter())
            .any(|latest| latest.name == name && latest.value.to_bits() == percent.to_bits())
    });
}

fn set_gauge(name: &str, value: f64) {
    sink();
    stream::record_gauge(name.to_owned(), value, "jobs", &[]);
    wait_until(|| {
        (stream::latest_values().values.iter())
            .any(|latest| latest.name == name && latest.value.to_bits() == value.to_bits())
    });
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < until,
            "the stream's flusher did not catch up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Evaluates at `ms` on the test's clock: the notifications' statuses, then the alerts' states.
fn at(engine: &mut AlertEngine, ms: u64) -> (Vec<AlertStatus>, Vec<AlertState>) {
    let statuses = (engine.evaluate(snapshot(), ms).into_iter())
        .map(|notification| notification.status)
        .collect();
    let states = engine.alerts().iter().map(|alert| alert.state).collect();
    (statuses, states)
}

#[test]
fn a_rate_below_its_threshold_for_the_duration_fires_and_back_above_resolves() {
    let rule = AlertRule::event("CacheCold", "alert_stream_hit_rate")
        .when("rate", Operator::Below, "90%")
        .unwrap()
        .severity(Severity::Critical)
        .for_ms(10_000)
        .message("hit rate {value} (< {threshold})");
    let mut engine = AlertEngine::builder()
        .rule(rule)
        .implied_rules(false)
        .build();
    // no value pushed yet: unknown, nothing happens
    assert_eq!(at(&mut engine, 0), (vec![], vec![]));
    set_rate("alert_stream_hit_rate", 95.0);
    assert_eq!(at(&mut engine, 1_000), (vec![], vec![]));
    set_rate("alert_stream_hit_rate", 80.0);
    assert_eq!(at(&mut engine, 2_000), (vec![], vec![AlertState::Pending]));
    assert_eq!(at(&mut engine, 11_000), (vec![], vec![AlertState::Pending]));
    assert_eq!(
        at(&mut engine, 12_000),
        (vec![AlertStatus::Firing], vec![AlertState::Firing])
    );
    assert_eq!(engine.alerts()[0].summary, "hit rate 80% (< 90%)");
    assert_eq!(engine.alerts()[0].labels["event"], "alert_stream_hit_rate");
    // back above the threshold, but inside the hysteresis band (90% + 10% of 90): still firing
    set_rate("alert_stream_hit_rate", 95.0);
    assert_eq!(at(&mut engine, 13_000), (vec![], vec![AlertState::Firing]));
    set_rate("alert_stream_hit_rate", 99.5);
    assert_eq!(
        at(&mut engine, 14_000),
        (vec![AlertStatus::Resolved], vec![])
    );
}

#[test]
fn the_stream_notifier_puts_one_firing_and_one_resolved_record_in_the_sinks() {
    let rule = AlertRule::event("QueueDeep", "alert_stream_queue")
        .when("gauge", Operator::Above, "100")
        .unwrap()
        .label("team", "ingest");
    let mut engine = AlertEngine::builder()
        .rule(rule)
        .implied_rules(false)
        .notifier(StreamNotifier)
        .build();
    set_gauge("alert_stream_queue", 500.0);
    engine.evaluate(snapshot(), 1_000);
    engine.evaluate(snapshot(), 2_000); // still firing: no second record
    set_gauge("alert_stream_queue", 0.0);
    engine.evaluate(snapshot(), 3_000);
    let view = engine.shutdown(Duration::from_secs(30));
    assert_eq!(view.notifiers[0].sent, 2, "{:?}", view.notifiers);

    let alerts = || {
        (sink().records().into_iter())
            .filter(|record| record.name == "QueueDeep")
            .collect::<Vec<_>>()
    };
    wait_until(|| alerts().len() >= 2);
    let records = alerts();
    let states: Vec<(AlertState, Option<u64>, Option<u64>, f64)> = (records.iter())
        .map(|record| match &record.data {
            RecordData::Alert(alert) => (
                alert.state,
                alert.fired_at_unix_ms,
                alert.resolved_at_unix_ms,
                alert.value,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        states,
        [
            (AlertState::Firing, Some(1_000), None, 500.0),
            (AlertState::Resolved, Some(1_000), Some(3_000), 0.0),
        ]
    );
    let tags = &records[0].tags;
    for label in [
        ("alertname", "QueueDeep"),
        ("event", "alert_stream_queue"),
        ("severity", "warning"),
        ("team", "ingest"),
    ] {
        assert!(
            tags.contains(&(label.0.to_owned(), label.1.to_owned())),
            "{tags:?}"
        );
    }
}
