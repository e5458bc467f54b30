//! The real servers of the streaming tests (started by `scripts/test-all` through
//! `scripts/sink-servers`) and how the tests read back what the sinks wrote.

/// The PostgreSQL connection string of the test server.
pub(crate) const POSTGRES: &str = "INSTRUMENT_TEST_POSTGRES_URL";
/// The Kafka bootstrap servers of the test broker.
pub(crate) const KAFKA: &str = "INSTRUMENT_TEST_KAFKA";
/// How to run `pg_ctl` on the test server (`... restart`, `... stop`).
pub(crate) const PG_CTL: &str = "INSTRUMENT_TEST_PG_CTL";

/// The variable's value; when unset the test is skipped with a note, except in CI, where a
/// missing server must fail rather than pass silently.
pub(crate) fn server(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{variable} is not set: scripts/test-all starts the servers")
        }
        _ => {
            eprintln!("skipped: {variable} is not set (scripts/sink-servers starts the servers)");
            None
        }
    }
}

/// Kafka messages by event id: key, partition and the event.
#[cfg(feature = "kafka")]
pub(crate) type Messages = std::collections::BTreeMap<String, (String, i32, serde_json::Value)>;

/// Every message of `topic` from the beginning (all its partitions), until `done` says the
/// messages read so far are enough or 60 s pass: the events by id (a retried message read twice
/// is kept once), each with its key and partition.
#[cfg(feature = "kafka")]
pub(crate) fn read_topic(servers: &str, topic: &str, done: impl Fn(&Messages) -> bool) -> Messages {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
    use std::time::{Duration, Instant};

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", "instrument-tests")
        .set("enable.auto.commit", "false")
        // Tansu answers a fetch with one producer batch: ask again at once rather than wait.
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let partitions = partitions(&consumer, topic);
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let partition = i32::try_from(partition).unwrap();
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut events = Messages::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&events) && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
        let event: serde_json::Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        events.insert(id, (key, message.partition(), event));
    }
    events
}

/// How many partitions `topic` has, as the broker says.
#[cfg(feature = "kafka")]
pub(crate) fn partitions(client: &impl rdkafka::consumer::Consumer, topic: &str) -> usize {
    let metadata = client
        .fetch_metadata(Some(topic), std::time::Duration::from_secs(10))
        .unwrap();
    metadata.topics()[0].partitions().len()
}

/// A connection to the test server.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}
