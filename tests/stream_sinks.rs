//! The streaming sinks against real servers: a batch into PostgreSQL (migration, partitions,
//! retention, a retried batch stored once) and into a Kafka-protocol broker (topics created,
//! messages keyed by name, every message a valid `CloudEvents` event).

#![cfg(any(feature = "kafka", feature = "postgres"))]

mod common;

use std::sync::Arc;

use instrument_runtime::stream::{Event, Origin, Record, Sink};

/// `count` records of every explicit kind, with ids of their own (`marker` in them) as the
/// flusher would give.
fn batch(marker: &str, count: usize) -> Vec<Arc<Record>> {
    let run = instrument_runtime::record::run_id();
    // Record ids are hexadecimal after the run id: the marker's hash keeps them apart.
    let hex = {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        marker.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    };
    (0..count)
        .map(|n| {
            let event = match n % 4 {
                0 => Event::counter(format!("{marker}_hits"), 1),
                1 => Event::gauge(format!("{marker}_size"), 7.5, "entries"),
                2 => Event::rate(format!("{marker}_hit_rate"), 95.5),
                _ => Event::timing(
                    format!("{marker}_parse"),
                    std::time::Duration::from_micros(5),
                ),
            };
            let mut record = event
                .tag("marker", marker)
                .tag("note", "a\tb\nc\\d \"quoted\"")
                .correlation_id(format!("request-{n}"))
                .into_record();
            record.id = format!("{run}-{hex}{n:04x}");
            Arc::new(record)
        })
        .collect()
}

/// A marker no earlier run of these tests used: the servers outlive a test.
fn marker(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}{nanos:x}")
}

#[cfg(feature = "postgres")]
mod postgres_sink {
    use super::*;
    use instrument_runtime::stream::PostgresSink;

    #[test]
    fn a_retried_batch_is_stored_once_and_the_migration_applies_once() {
        let Some(url) = common::sinks::server(common::sinks::POSTGRES) else {
            return;
        };
        let marker = marker("retried");
        let records = batch(&marker, 100);
        let origin = Origin::of_this_process("stream-sinks-test");
        let mut sink = PostgresSink::new(&url, 90);
        sink.send(&records, &origin).unwrap();
        sink.send(&records, &origin).unwrap();
        PostgresSink::new(&url, 90)
            .send(&records[..10], &origin)
            .unwrap();
        let mut client = common::sinks::postgres(&url);
        let stored: i64 = client
            .query_one(
                "SELECT count(*) FROM instrument_records WHERE tags->>'marker' = $1",
                &[&marker],
            )
            .unwrap()
            .get(0);
        assert_eq!(stored, 100);
        let note: String = client
            .query_one(
                "SELECT tags->>'note' FROM instrument_records WHERE tags->>'marker' = $1 LIMIT 1",
                &[&marker],
            )
            .unwrap()
            .get(0);
        assert_eq!(note, "a\tb\nc\\d \"quoted\"", "escaped for COPY and back");
        let migrations: i64 = client
            .query_one("SELECT count(*) FROM instrument_schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(migrations, 1);
        let tags_index: String = client
            .query_one(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'instrument_records_tags'",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(tags_index.contains("USING gin"), "{tags_index}");
        let row = client
            .query_one(
                "SELECT kind, value, correlation_id, service, data->>'unit' FROM instrument_records \
                 WHERE tags->>'marker' = $1 AND kind = 'gauge' ORDER BY id LIMIT 1",
                &[&marker],
            )
            .unwrap();
        let (kind, value, correlation, service, unit): (String, f64, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(
            (kind.as_str(), value, unit.as_str()),
            ("gauge", 7.5, "entries")
        );
        assert!(correlation.starts_with("request-"));
        assert_eq!(service, "stream-sinks-test");
    }

    #[test]
    fn partitions_older_than_the_retention_are_dropped() {
        let Some(url) = common::sinks::server(common::sinks::POSTGRES) else {
            return;
        };
        let origin = Origin::of_this_process("stream-sinks-test");
        // Applies the migration on a server that has not seen one yet.
        PostgresSink::new(&url, 90)
            .send(&batch(&marker("first"), 1), &origin)
            .unwrap();
        let mut client = common::sinks::postgres(&url);
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS instrument_records_p20200101 PARTITION OF \
                 instrument_records FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')",
            )
            .unwrap();
        let partitions = |client: &mut postgres::Client| -> Vec<String> {
            let rows = client
                .query(
                    "SELECT relname::text FROM pg_class WHERE relname LIKE 'instrument_records_p%' \
                     ORDER BY relname",
                    &[],
                )
                .unwrap();
            rows.iter().map(|row| row.get(0)).collect()
        };
        assert!(partitions(&mut client).contains(&"instrument_records_p20200101".to_owned()));
        PostgresSink::new(&url, 90)
            .send(&batch(&marker("pruning"), 1), &origin)
            .unwrap();
        let left = partitions(&mut client);
        assert!(
            !left.contains(&"instrument_records_p20200101".to_owned()),
            "{left:?}"
        );
        assert!(!left.is_empty(), "today's partition stays");
    }
}

#[cfg(feature = "kafka")]
mod kafka_sink {
    use super::*;
    use instrument_runtime::stream::{KafkaSink, RecordKind, topic};

    const SCHEMA: &str = include_str!("../schemas/stream_record.schema.json");

    #[test]
    fn every_record_reaches_its_topic_keyed_by_name_as_a_valid_cloudevent() {
        let Some(servers) = common::sinks::server(common::sinks::KAFKA) else {
            return;
        };
        let marker = marker("kafka");
        let records = batch(&marker, 100);
        let origin = Origin::of_this_process("stream-sinks-test");
        KafkaSink::new(&servers).send(&records, &origin).unwrap();
        let ours = |event: &serde_json::Value| event["data"]["tags"]["marker"] == marker.as_str();
        let messages = common::sinks::read_topic(&servers, &topic(RecordKind::Gauge), |read| {
            read.values().filter(|(_, _, event)| ours(event)).count() == 25
        });
        let gauges: Vec<_> = messages
            .values()
            .filter(|(_, _, event)| ours(event))
            .collect();
        assert_eq!(gauges.len(), 25);
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        for (key, _, event) in &gauges {
            assert_eq!(*key, format!("{marker}_size"));
            assert_eq!(event["type"], "rs.instrument.gauge");
            let violations = common::schema::violations(&schema, event);
            assert!(violations.is_empty(), "{violations:#?}\n{event}");
        }
        let partitions: std::collections::BTreeSet<i32> =
            gauges.iter().map(|(_, partition, _)| *partition).collect();
        assert_eq!(
            partitions.len(),
            1,
            "one key, one partition: {partitions:?}"
        );
    }
}
