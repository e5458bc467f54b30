//! The Kafka sink (feature `kafka`): one topic per kind of record ([`topic`]), created when
//! missing with [`PARTITIONS`] partitions and snappy compression; each record a `CloudEvents`
//! JSON message keyed by its name, so one node's records stay in order in one partition.
//!
//! librdkafka (bundled) does the batching and the reconnecting; a batch is taken when every
//! message of it is acknowledged. When the broker is away, a batch fails after
//! [`DELIVERY_TIMEOUT`] and its messages still queued in librdkafka are purged, so the flusher's
//! retry does not send them twice; a message acknowledged before the failure is sent again by the
//! retry, and a consumer drops it by its `id`.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};

use super::envelope::{cloudevent, topic};
use super::event::{Record, RecordKind};
use super::sink::{Origin, Sink, SinkError};

/// Partitions of each topic the sink creates.
pub const PARTITIONS: i32 = 3;
/// How long a batch may wait for the broker's acknowledgements before it fails.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Counts the messages the broker did not take.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, (): ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends the stream to Kafka.
///
/// ```no_run
/// use instrument_runtime::stream::{self, KafkaSink, StreamConfig};
///
/// stream::start(StreamConfig::default(), vec![Box::new(KafkaSink::new("127.0.0.1:9092"))]).unwrap();
/// ```
pub struct KafkaSink {
    servers: String,
    producer: Option<BaseProducer<Deliveries>>,
    topics_ready: bool,
}

impl KafkaSink {
    /// A sink to the brokers `servers` (`host:port,...`); it connects on its first batch.
    pub fn new(servers: &str) -> Self {
        Self {
            servers: servers.to_owned(),
            producer: None,
            topics_ready: false,
        }
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        let timeout = DELIVERY_TIMEOUT.as_millis().to_string();
        config
            .set("bootstrap.servers", &self.servers)
            .set("compression.type", "snappy")
            .set("linger.ms", "5")
            .set("message.timeout.ms", &timeout)
            .set("socket.timeout.ms", &timeout)
            .set("reconnect.backoff.max.ms", "1000");
        config
    }

    fn producer(&mut self) -> Result<&BaseProducer<Deliveries>, SinkError> {
        if self.producer.is_none() {
            let producer = (self.config())
                .create_with_context(Deliveries::default())
                .map_err(|error| failure("create the producer", &error))?;
            self.producer = Some(producer);
        }
        Ok(self.producer.as_ref().expect("just set"))
    }

    /// Creates the topics the sink writes to; a topic that exists is fine.
    fn create_topics(&self) -> Result<(), SinkError> {
        let admin: AdminClient<DefaultClientContext> = (self.config())
            .create()
            .map_err(|error| failure("create the admin client", &error))?;
        let names: Vec<String> = RecordKind::ALL.into_iter().map(topic).collect();
        let topics: Vec<NewTopic<'_>> = (names.iter())
            .map(|name| {
                NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1))
                    .set("compression.type", "snappy")
            })
            .collect();
        let options = AdminOptions::new().request_timeout(Some(DELIVERY_TIMEOUT));
        let results = block_on(admin.create_topics(&topics, &options))
            .map_err(|error| failure("create the topics", &error))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(SinkError(format!(
                        "kafka: could not create topic {name}: {code}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn failure(what: &str, error: &KafkaError) -> SinkError {
    SinkError(format!("kafka: could not {what}: {error}"))
}

impl Sink for KafkaSink {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn send(&mut self, batch: &[Arc<Record>], origin: &Origin) -> Result<(), SinkError> {
        if !self.topics_ready {
            self.create_topics()?;
            self.topics_ready = true;
        }
        let producer = self.producer()?;
        let failed_before = producer.context().failed.load(Ordering::Relaxed);
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        let outcome = (|| {
            for record in batch {
                let payload = cloudevent(record, origin).to_string();
                let topic = topic(record.kind());
                let mut message = BaseRecord::to(&topic)
                    .key(record.name.as_ref())
                    .payload(&payload);
                loop {
                    match producer.send(message) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                            if Instant::now() < deadline =>
                        {
                            message = back;
                            producer.poll(Duration::from_millis(10));
                        }
                        Err((error, _)) => return Err(failure("queue a message", &error)),
                    }
                }
            }
            // Not `Producer::flush`: its poll waits out a whole 100 ms slice even when the
            // acknowledgements came at once, which caps a batch of 100 at 1,000 records/s.
            while producer.in_flight_count() > 0 {
                if Instant::now() >= deadline {
                    return Err(SinkError(format!(
                        "kafka: {} messages not acknowledged within {DELIVERY_TIMEOUT:?}",
                        producer.in_flight_count()
                    )));
                }
                producer.poll(Duration::from_millis(1));
            }
            Ok(())
        })();
        let failed = producer.context().failed.load(Ordering::Relaxed) - failed_before;
        match outcome {
            Ok(()) if failed == 0 => Ok(()),
            outcome => {
                // What is still queued would be delivered besides the retry: drop it.
                producer.purge(PurgeConfig::default().queue().inflight());
                producer.poll(Duration::ZERO);
                outcome?;
                Err(SinkError(format!("kafka: {failed} messages not delivered")))
            }
        }
    }
}

/// Runs the admin client's future on this thread: librdkafka's own threads complete it.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}
