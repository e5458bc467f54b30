//! The flusher: the one consumer of the buffer. Each tick it drains the buffer, adds the records
//! it reads itself (per-node intervals, breaker transitions, verdict changes) every flush
//! interval, and hands each sink its batches: full ones at once, the rest when the interval is
//! up. A sink that fails keeps its backlog and is retried with backoff while the others go on.
//!
//! Every record is accounted for, per sink: stored, dropped (by reason) or pending, and the three
//! add up to the records produced. Time comes from a [`Clock`], so tests drive it by hand.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use serde::{Deserialize, Serialize};

use super::config::StreamConfig;
use super::event::{Record, RecordData};
use super::latest::LatestTable;
use super::sink::{Origin, Sink};
use crate::breaker::Transition;
use crate::read::budget::VerdictStatus;
use crate::read::interval::node_intervals;
use crate::read::snapshot::Snapshot;

/// The buffer was full: the oldest record made room for a newer one.
pub const DROPPED_BUFFER_FULL: &str = "buffer_full";
/// The sink was failing long enough for its own backlog (twice the buffer) to fill.
pub const DROPPED_BACKLOG_FULL: &str = "backlog_full";
/// More breaker transitions happened in one interval than a breaker's timeline keeps.
pub const DROPPED_TIMELINE_FULL: &str = "timeline_full";
/// Still unsent when the final flush's deadline passed.
pub const DROPPED_SHUTDOWN: &str = "shutdown_deadline";

/// Full batches a sink is given at once at most, when that many wait.
const BATCHES_PER_SEND: usize = 10;
/// Backoff after a sink's first failure; doubled on each further one up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The backoff cap while the final flush runs: its deadline is short.
const CLOSING_BACKOFF: Duration = Duration::from_millis(200);

/// The time source of the flusher.
pub(crate) trait Clock: Send {
    fn now(&self) -> Duration;
    /// Waits `period`, or less if woken.
    fn sleep(&self, period: Duration);
}

/// What producers and readers share with the flusher thread.
#[derive(Debug)]
pub(crate) struct Shared {
    queue: ArrayQueue<Record>,
    /// Records the full buffer dropped, not yet charged to the sinks by the flusher.
    overwritten: AtomicU64,
    stats: Mutex<StreamStats>,
    pub(crate) latest: Mutex<LatestTable>,
}

impl Shared {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: ArrayQueue::new(capacity.max(1)),
            overwritten: AtomicU64::new(0),
            stats: Mutex::default(),
            latest: Mutex::default(),
        }
    }

    /// Lock-free; when the buffer is full the oldest record goes, and is counted.
    #[inline]
    pub(crate) fn push(&self, record: Record) {
        if self.queue.force_push(record).is_some() {
            self.overwritten.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The accounts, with what the flusher has not drained yet (a flusher stuck in a sink's call
    /// drains nothing): buffered records count as produced and pending for every sink, the buffer's
    /// drops as produced and dropped.
    pub(crate) fn stats(&self) -> StreamStats {
        let mut stats = lock(&self.stats).clone();
        let overwritten = self.overwritten.load(Ordering::Relaxed);
        stats.buffered = self.queue.len() as u64;
        stats.produced += stats.buffered + overwritten;
        for sink in &mut stats.sinks {
            sink.pending += stats.buffered;
            if overwritten > 0 {
                *sink
                    .dropped
                    .entry(DROPPED_BUFFER_FULL.to_owned())
                    .or_insert(0) += overwritten;
            }
        }
        stats
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The pipeline's accounts: `report.json` carries them, `/metrics` exports them.
///
/// For each sink, `stored + dropped + pending = produced`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamStats {
    /// Records produced: pushed by the program (the buffer's drops included) and read by the
    /// flusher (intervals, transitions, verdicts).
    pub produced: u64,
    /// Records in the buffer, not yet drained (in `produced`, and pending for every sink).
    pub buffered: u64,
    /// Per sink, in the order they were given.
    pub sinks: Vec<SinkStats>,
}

/// One sink's accounts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Records it took.
    pub stored: u64,
    /// Records it will never get, by reason (`buffer_full`, `backlog_full`, `timeline_full`,
    /// `shutdown_deadline`).
    pub dropped: BTreeMap<String, u64>,
    /// Records waiting for it.
    pub pending: u64,
    /// Batches it failed to take (each retried later).
    pub failed_batches: u64,
    /// Its last error, if any.
    pub last_error: Option<String>,
}

impl SinkStats {
    /// All its dropped records.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

struct SinkState {
    sink: Box<dyn Sink>,
    backlog: VecDeque<Arc<Record>>,
    /// A partial batch goes out at this time.
    next_flush: Duration,
    retry_at: Duration,
    backoff: Duration,
    stats: SinkStats,
}

impl SinkState {
    fn drop_records(&mut self, reason: &str, count: u64) {
        if count > 0 {
            *self.stats.dropped.entry(reason.to_owned()).or_insert(0) += count;
        }
    }

    /// Sends full batches, and the rest too when the interval is up or `all`. Returns whether
    /// the backlog is empty.
    fn flush(&mut self, now: Duration, config: &StreamConfig, origin: &Origin, all: bool) -> bool {
        if now < self.retry_at {
            return self.backlog.is_empty();
        }
        let due = all || now >= self.next_flush;
        // A batch larger than the backlog could hold would never fill.
        let batch_size = config.batch_size.clamp(1, config.buffer_size.max(1));
        while !self.backlog.is_empty() {
            // Under load, several full batches in one call: a sink's cost is mostly per call
            // (a round trip, a statement), so this is what lets it keep up.
            let batches = (self.backlog.len() / batch_size).clamp(1, BATCHES_PER_SEND);
            let size = (batches * batch_size).min(self.backlog.len());
            if size < batch_size && !due {
                break;
            }
            let batch = &self.backlog.make_contiguous()[..size];
            match self.sink.send(batch, origin) {
                Ok(()) => {
                    self.backlog.drain(..size);
                    self.stats.stored += size as u64;
                    self.backoff = Duration::ZERO;
                }
                Err(error) => {
                    self.stats.failed_batches += 1;
                    self.stats.last_error = Some(error.to_string());
                    let cap = if all { CLOSING_BACKOFF } else { MAX_BACKOFF };
                    self.backoff = (self.backoff * 2).clamp(MIN_BACKOFF, cap);
                    self.retry_at = now + self.backoff;
                    break;
                }
            }
        }
        if due {
            self.next_flush = now + config.flush_interval;
        }
        self.backlog.is_empty()
    }
}

/// The flusher's state; the thread calls [`tick`](Self::tick) in a loop and
/// [`close`](Self::close) at the end.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    config: StreamConfig,
    origin: Origin,
    sinks: Vec<SinkState>,
    clock: Box<dyn Clock>,
    /// Takes the snapshot the interval records are read from.
    source: Box<dyn FnMut() -> Snapshot + Send>,
    previous: Option<Snapshot>,
    verdicts: HashMap<String, VerdictStatus>,
    /// Per breaker, the last transition sent and how many it had made then.
    transitions: HashMap<String, (Transition, u64)>,
    next_read: Duration,
    sequence: u64,
    produced: u64,
}

impl Flusher {
    pub(crate) fn new(
        shared: Arc<Shared>,
        config: StreamConfig,
        sinks: Vec<Box<dyn Sink>>,
        clock: Box<dyn Clock>,
        source: Box<dyn FnMut() -> Snapshot + Send>,
    ) -> Self {
        let now = clock.now();
        let sinks = (sinks.into_iter())
            .map(|sink| SinkState {
                stats: SinkStats {
                    name: sink.name().to_owned(),
                    ..SinkStats::default()
                },
                sink,
                backlog: VecDeque::new(),
                next_flush: now + config.flush_interval,
                retry_at: Duration::ZERO,
                backoff: Duration::ZERO,
            })
            .collect();
        Self {
            origin: Origin::of_this_process(&config.service),
            next_read: now + config.flush_interval,
            shared,
            config,
            sinks,
            clock,
            source,
            previous: None,
            verdicts: HashMap::new(),
            transitions: HashMap::new(),
            sequence: 0,
            produced: 0,
        }
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn poll_period(&self) -> Duration {
        self.config.flush_interval.min(Duration::from_millis(10))
    }

    /// One round: drain, read the nodes when the interval is up, send what is due. The buffer is
    /// drained a buffer's worth at a time with full batches sent in between, so a sink that keeps
    /// up never sees its backlog overflow, however fast records come.
    pub(crate) fn tick(&mut self) {
        let now = self.clock.now();
        loop {
            let more = self.drain();
            if !more && now >= self.next_read {
                self.read_nodes();
                self.next_read = now + self.config.flush_interval;
            }
            for sink in &mut self.sinks {
                sink.flush(now, &self.config, &self.origin, false);
            }
            if !more {
                break;
            }
        }
        self.publish();
    }

    /// The final flush: everything produced so far, the last interval included, sent until
    /// `config.shutdown_deadline`; what is left then is dropped and counted.
    pub(crate) fn close(&mut self) {
        let deadline = self.clock.now() + self.config.shutdown_deadline;
        while self.drain() {}
        self.read_nodes();
        for sink in &mut self.sinks {
            sink.retry_at = Duration::ZERO;
            sink.backoff = sink.backoff.min(CLOSING_BACKOFF);
        }
        loop {
            while self.drain() {}
            let now = self.clock.now();
            let mut done = true;
            for sink in &mut self.sinks {
                done &= sink.flush(now, &self.config, &self.origin, true);
            }
            if done || now >= deadline {
                break;
            }
            self.publish();
            self.clock
                .sleep(Duration::from_millis(20).min(deadline.saturating_sub(now)));
        }
        while self.drain() {}
        for sink in &mut self.sinks {
            let left = sink.backlog.len() as u64;
            sink.drop_records(DROPPED_SHUTDOWN, left);
            sink.backlog.clear();
        }
        self.publish();
    }

    /// Moves up to a buffer's worth of records to the sinks' backlogs; `true` if there may be more.
    fn drain(&mut self) -> bool {
        let overwritten = self.shared.overwritten.swap(0, Ordering::Relaxed);
        self.produced += overwritten;
        for sink in &mut self.sinks {
            sink.drop_records(DROPPED_BUFFER_FULL, overwritten);
        }
        let shared = Arc::clone(&self.shared);
        let mut latest = None;
        let limit = self.config.buffer_size.max(1);
        let mut drained = 0;
        while drained < limit {
            let Some(record) = shared.queue.pop() else {
                return false;
            };
            drained += 1;
            if matches!(
                record.data,
                RecordData::Counter { .. } | RecordData::Gauge { .. } | RecordData::Rate { .. }
            ) {
                latest
                    .get_or_insert_with(|| lock(&shared.latest))
                    .apply(&record);
            }
            self.emit(record);
        }
        true
    }

    /// Gives the record its id and queues it for every sink.
    fn emit(&mut self, mut record: Record) {
        self.sequence += 1;
        self.produced += 1;
        if self.sinks.is_empty() {
            return;
        }
        record.id = format!("{}-{:x}", self.origin.run_id, self.sequence);
        let record = Arc::new(record);
        // Room for a buffer's worth of records beyond a full backlog (see `tick`).
        let cap = 2 * self.config.buffer_size.max(1);
        for sink in &mut self.sinks {
            if sink.backlog.len() >= cap {
                sink.backlog.pop_front();
                sink.drop_records(DROPPED_BACKLOG_FULL, 1);
            }
            sink.backlog.push_back(Arc::clone(&record));
        }
    }

    /// The records read rather than pushed: each node's interval, breaker transitions, verdict
    /// changes. Nothing to read for no sink.
    fn read_nodes(&mut self) {
        if self.sinks.is_empty() {
            return;
        }
        let current = (self.source)();
        for interval in node_intervals(self.previous.as_ref(), &current) {
            let (name, ended) = (interval.name.clone(), interval.to_unix_ms);
            let mut record = Record::new(name.into(), RecordData::Interval(Box::new(interval)));
            record.time_unix_ms = ended;
            self.emit(record);
        }
        self.read_transitions(&current);
        self.read_verdicts(&current);
        self.previous = Some(current);
    }

    fn read_transitions(&mut self, current: &Snapshot) {
        for breaker in &current.breakers {
            let counts = &breaker.transitions;
            let made = counts.opened + counts.half_opened + counts.closed;
            let seen = self.transitions.get(&breaker.name);
            // The timeline is oldest first: what follows the last one sent is new.
            let start = seen.map_or(0, |(last, _)| {
                (breaker.timeline.iter().rposition(|t| t == last)).map_or(0, |at| at + 1)
            });
            let new = &breaker.timeline[start..];
            let lost = made
                .saturating_sub(seen.map_or(0, |(_, made)| *made))
                .saturating_sub(new.len() as u64);
            self.produced += lost;
            for sink in &mut self.sinks {
                sink.drop_records(DROPPED_TIMELINE_FULL, lost);
            }
            for transition in new {
                let mut record = Record::new(
                    breaker.name.clone().into(),
                    RecordData::Transition(*transition),
                );
                record.time_unix_ms = transition.at_unix_ms;
                self.emit(record);
            }
            if let Some(last) = breaker.timeline.last() {
                self.transitions.insert(breaker.name.clone(), (*last, made));
            }
        }
    }

    fn read_verdicts(&mut self, current: &Snapshot) {
        for node in &current.nodes {
            let Some(verdict) = &node.verdict else {
                continue;
            };
            let from = self.verdicts.insert(node.name.clone(), verdict.status);
            let changed = from.unwrap_or(VerdictStatus::NotExercised) != verdict.status;
            if changed {
                let data = RecordData::Verdict {
                    from,
                    to: verdict.status,
                    calls: verdict.calls,
                };
                let mut record = Record::new(node.name.clone().into(), data);
                record.time_unix_ms = current.taken_at_unix_ms;
                self.emit(record);
            }
        }
    }

    fn publish(&self) {
        let mut stats = lock(&self.shared.stats);
        stats.produced = self.produced;
        stats.sinks = (self.sinks.iter())
            .map(|sink| SinkStats {
                pending: sink.backlog.len() as u64,
                ..sink.stats.clone()
            })
            .collect();
    }
}

#[cfg(test)]
#[path = "flusher_tests.rs"]
mod tests;
