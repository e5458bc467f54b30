//! Where batches go: the [`Sink`] trait, and an in-memory sink for tests and for programs that
//! read their own stream.

use std::sync::{Arc, Mutex, PoisonError};

use super::event::Record;

/// Who sent a batch: what every record carries besides its own fields.
///
/// ```
/// let origin = instrument_runtime::stream::Origin::of_this_process("checkout");
/// assert_eq!(origin.run_id, instrument_runtime::record::run_id());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Origin {
    /// The process's [`run_id`](crate::record::run_id).
    pub run_id: String,
    /// The machine's host name.
    pub host: String,
    /// The service name.
    pub service: String,
}

impl Origin {
    /// This process, under the service name `service`.
    pub fn of_this_process(service: &str) -> Self {
        Self {
            run_id: crate::record::run_id().to_owned(),
            host: crate::read::snapshot::host_name(),
            service: service.to_owned(),
        }
    }
}

/// A sink failed to take a batch; the flusher keeps the batch and retries it with backoff.
#[derive(Debug)]
pub struct SinkError(pub String);

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SinkError {}

/// A destination of the stream. The flusher thread calls [`send`](Self::send) with batches in
/// order; on an error it sends the same batch again later, so a sink must store a record it
/// already took once (deduplicating on [`Record::id`]) or let its readers deduplicate.
///
/// A sink should bound the time `send` takes (a timeout on its connection): while it runs, the
/// other sinks wait; the instrumented code never does.
///
/// ```
/// use std::sync::Arc;
/// use instrument_runtime::stream::{Origin, Record, Sink, SinkError};
///
/// struct Stdout;
///
/// impl Sink for Stdout {
///     fn name(&self) -> &str {
///         "stdout"
///     }
///
///     fn send(&mut self, batch: &[Arc<Record>], _origin: &Origin) -> Result<(), SinkError> {
///         batch.iter().for_each(|record| println!("{} {}", record.id, record.name));
///         Ok(())
///     }
/// }
/// ```
pub trait Sink: Send {
    /// The name the drop counters and `/metrics` use (`kafka`, `postgres`, ...).
    fn name(&self) -> &str;

    /// Stores or sends the batch; `Ok` means every record of it is taken.
    ///
    /// # Errors
    ///
    /// When the batch, or part of it, could not be taken.
    fn send(&mut self, batch: &[Arc<Record>], origin: &Origin) -> Result<(), SinkError>;
}

/// A sink that keeps what it is sent in memory, and can be told to fail.
///
/// ```
/// use instrument_runtime::stream::MemorySink;
///
/// let sink = MemorySink::new("memory");
/// let reader = sink.clone();
/// reader.set_failing(true);
/// assert!(reader.records().is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct MemorySink {
    name: String,
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Debug, Default)]
struct MemoryState {
    records: Vec<Arc<Record>>,
    failing: bool,
    attempts: u64,
}

impl MemorySink {
    /// An empty sink named `name` that takes every batch.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Arc::default(),
        }
    }

    /// From now on, every batch fails (`true`) or is taken (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }

    /// The records taken so far, in order.
    pub fn records(&self) -> Vec<Arc<Record>> {
        self.lock().records.clone()
    }

    /// Batches sent to it so far, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink for MemorySink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, batch: &[Arc<Record>], _origin: &Origin) -> Result<(), SinkError> {
        let mut state = self.lock();
        state.attempts += 1;
        if state.failing {
            return Err(SinkError(format!("{} is failing", self.name)));
        }
        state.records.extend(batch.iter().cloned());
        Ok(())
    }
}
