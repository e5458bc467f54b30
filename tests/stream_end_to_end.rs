//! The pipeline example streaming to both sinks at once, against real servers: afterwards the
//! per-node calls summed over the interval records a Kafka consumer reads back, and over the
//! rows PostgreSQL holds, each equal `report.json` exactly, and the report's accounts show
//! nothing dropped. With `embedding` slowed for the first half of the run, its alert reaches the
//! alert topic and the table once firing and once resolved.

#![cfg(all(feature = "kafka", feature = "postgres"))]

mod common;

use std::collections::BTreeMap;

use instrument_runtime::report::Report;
use instrument_runtime::stream::{KAFKA_ENV, POSTGRES_ENV, RecordKind, topic};

#[test]
fn kafka_and_postgres_each_add_up_to_the_report() {
    let (Some(servers), Some(url)) = (
        common::sinks::server(common::sinks::KAFKA),
        common::sinks::server(common::sinks::POSTGRES),
    ) else {
        return;
    };
    let dir = common::scratch_dir("stream-end-to-end");
    let output = common::example_command(
        "pipeline",
        &["kafka", "postgres"],
        &[
            "--documents",
            "400",
            "--fault-rate",
            "0.2",
            "--fault-node",
            "embedding",
            "--simulated-latency",
            "--slow-node",
            "embedding",
            "--slow-factor",
            "3",
            "--slow-until",
            "200",
        ],
    )
    .env(KAFKA_ENV, &servers)
    .env(POSTGRES_ENV, &url)
    .env("INSTRUMENT_FLUSH_INTERVAL_MS", "100")
    .env("INSTRUMENT_REPORT_DIR", &dir)
    .output()
    .expect("cargo runs the example");
    assert!(output.status.success(), "{output:?}");
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let run_id = report.snapshot.run_id.clone();
    let expected: BTreeMap<String, u64> = (report.snapshot.nodes.iter())
        .filter(|node| node.calls > 0)
        .map(|node| (node.name.clone(), node.calls))
        .collect();
    assert!(expected.len() >= 10, "{expected:?}");

    let stream = (report.stream.as_ref()).expect("the report carries the stream's accounts");
    assert_eq!(stream.sinks.len(), 2, "{stream:?}");
    for sink in &stream.sinks {
        assert_eq!(
            (sink.stored, sink.dropped_total(), sink.pending),
            (stream.produced, 0, 0),
            "{sink:?}"
        );
    }

    let calls_in = |messages: &common::sinks::Messages| {
        let mut calls = BTreeMap::new();
        for (_, _, event) in messages
            .values()
            .filter(|(_, _, event)| event["runid"] == run_id.as_str())
        {
            let name = event["subject"].as_str().unwrap().to_owned();
            *calls.entry(name).or_insert(0) += event["data"]["calls"].as_u64().unwrap();
        }
        calls
    };
    let messages = common::sinks::read_topic(&servers, &topic(RecordKind::Interval), |read| {
        calls_in(read) == expected
    });
    assert_eq!(calls_in(&messages), expected, "kafka");

    let mut client = common::sinks::postgres(&url);
    let rows = client
        .query(
            "SELECT name, sum(calls)::bigint FROM instrument_records \
             WHERE run_id = $1 AND kind = 'interval' GROUP BY name",
            &[&run_id],
        )
        .unwrap();
    let stored: BTreeMap<String, u64> = (rows.iter())
        .map(|row| (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap()))
        .collect();
    assert_eq!(stored, expected, "postgres");
    let records: i64 = client
        .query_one(
            "SELECT count(*) FROM instrument_records WHERE run_id = $1",
            &[&run_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(u64::try_from(records).unwrap(), stream.produced);
    assert_transitions_and_verdicts(&mut client, &report, &run_id);
    assert_alerts(&servers, &mut client, &run_id);
}

/// The slowed node's alert is on the alert topic once firing and once resolved, and the table
/// holds the same alert records as the topic.
fn assert_alerts(servers: &str, client: &mut postgres::Client, run_id: &str) {
    // Sorted: the messages come keyed by id, whose hexadecimal sequence does not sort as numbers.
    let states = |messages: &common::sinks::Messages| -> Vec<String> {
        let mut states: Vec<String> = (messages.values())
            .filter(|(_, _, event)| {
                event["runid"] == run_id && event["subject"] == "EmbeddingTooSlow"
            })
            .map(|(_, _, event)| event["data"]["state"].as_str().unwrap().to_owned())
            .collect();
        states.sort();
        states
    };
    let messages = common::sinks::read_topic(servers, &topic(RecordKind::Alert), |read| {
        states(read).len() >= 2
    });
    assert_eq!(states(&messages), ["firing", "resolved"]);
    let on_topic = (messages.values())
        .filter(|(_, _, event)| event["runid"] == run_id)
        .count();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM instrument_records WHERE run_id = $1 AND kind = 'alert'",
            &[&run_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(usize::try_from(stored).unwrap(), on_topic);
}

/// Every breaker transition of the run is stored, and each node's last verdict change is its
/// verdict in the report.
fn assert_transitions_and_verdicts(client: &mut postgres::Client, report: &Report, run_id: &str) {
    let count = |client: &mut postgres::Client, kind: &str| -> u64 {
        let row = client
            .query_one(
                "SELECT count(*) FROM instrument_records WHERE run_id = $1 AND kind = $2",
                &[&run_id, &kind],
            )
            .unwrap();
        u64::try_from(row.get::<_, i64>(0)).unwrap()
    };
    let transitions: u64 = (report.snapshot.breakers.iter())
        .map(|breaker| {
            let made = breaker.transitions;
            made.opened + made.half_opened + made.closed
        })
        .sum();
    assert!(transitions > 0, "the faulty node's breaker moved");
    assert_eq!(count(client, "transition"), transitions);
    for node in &report.snapshot.nodes {
        let Some(verdict) = node.verdict.as_ref() else {
            continue;
        };
        let last = client
            .query_opt(
                "SELECT data->>'to' FROM instrument_records WHERE run_id = $1 \
                 AND kind = 'verdict' AND name = $2 ORDER BY time DESC, length(id) DESC, id DESC LIMIT 1",
                &[&run_id, &node.name],
            )
            .unwrap()
            .map(|row| row.get::<_, String>(0));
        let status = serde_json::to_value(verdict.status).unwrap();
        match last {
            Some(last) => assert_eq!(last, status.as_str().unwrap(), "{}", node.name),
            None => assert_eq!(status, "not_exercised", "{}", node.name),
        }
    }
}
