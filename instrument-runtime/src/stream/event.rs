//! What flows out of the process: the records, and the explicit events a program pushes for what
//! the attributes cannot see (the reference's `record_timing`, `record_counter`, `record_gauge`,
//! `record_rate` and `timing` scope), and the alert engine's firing and resolved alerts.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::breaker::Transition;
use crate::read::alert_rule::Severity;
use crate::read::alert_state::AlertState;
use crate::read::budget::VerdictStatus;
use crate::read::interval::NodeInterval;
use crate::record::clock::unix_ms_now;

/// A record's name: usually a literal, so pushing one does not allocate.
pub type Name = Cow<'static, str>;

/// One record of the stream.
///
/// ```
/// use instrument_runtime::stream::{Event, RecordKind};
///
/// let record = Event::gauge("cache_size", 42.0, "entries").tag("cache", "lru").into_record();
/// assert_eq!(record.kind(), RecordKind::Gauge);
/// assert_eq!(record.tags, [("cache".to_owned(), "lru".to_owned())]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Record {
    /// Unique in the run, given when the record leaves the buffer; with the run id it is unique
    /// everywhere, so a sink stores a retried record once (`<run id>-<sequence>`).
    pub id: String,
    /// The node, breaker or metric the record is about: the Kafka key, so one name's records stay
    /// in order.
    pub name: Name,
    /// When it happened, in milliseconds since the Unix epoch (an interval's end).
    pub time_unix_ms: u64,
    /// Key and value pairs, as given (a JSON object, the last of a repeated key winning).
    #[serde(serialize_with = "tags_as_object")]
    pub tags: Vec<(String, String)>,
    /// Ties records of one request or job together.
    pub correlation_id: Option<String>,
    /// What it says; in JSON, its fields and `kind` beside the record's.
    #[serde(flatten)]
    pub data: RecordData,
}

fn tags_as_object<S: serde::Serializer>(
    tags: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(tags.iter().map(|(key, value)| (key, value)))
}

/// The content of a [`Record`], by kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordData {
    /// A node's activity over one flush interval (boxed: the buffer's slots are sized for the
    /// small events, and interval records never pass through it).
    Interval(Box<NodeInterval>),
    /// A circuit breaker changed state.
    Transition(Transition),
    /// A node's budget verdict changed.
    Verdict {
        /// The verdict before (`None`: the first one).
        from: Option<VerdictStatus>,
        /// The verdict now.
        to: VerdictStatus,
        /// Calls the new verdict is based on.
        calls: u64,
    },
    /// A duration measured by the program.
    Timing {
        /// How long, in nanoseconds.
        duration_ns: u64,
    },
    /// Something counted by the program.
    Counter {
        /// How many to add.
        count: u64,
    },
    /// A level: the last value is the current one.
    Gauge {
        /// The value.
        value: f64,
        /// Its unit, as given (`entries`, `bytes`, ...).
        unit: String,
    },
    /// A proportion, in percent.
    Rate {
        /// The value, 0 to 100.
        percent: f64,
    },
    /// An alert fired or resolved (the alert engine's
    /// [`StreamNotifier`](crate::alert::StreamNotifier)); the record's name is the alert's.
    /// Boxed: the buffer's slots are sized for the small events.
    Alert(Box<AlertRecord>),
}

/// What an alert record says: the notification, as the other notifiers get it.
///
/// ```
/// use instrument_runtime::stream::{AlertRecord, RecordData};
///
/// # fn check(data: &RecordData) {
/// if let RecordData::Alert(alert) = data {
///     assert!(alert.labels.contains_key("alertname"));
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertRecord {
    /// `firing` or `resolved`: one record each per alert.
    pub state: AlertState,
    /// How urgent.
    pub severity: Severity,
    /// The alert's stable identity (a hash of its labels).
    pub fingerprint: String,
    /// Every label of the alert: `alertname`, `severity`, `figure`, the subject's, the rule's own.
    pub labels: BTreeMap<String, String>,
    /// The rule's message, filled in.
    pub summary: String,
    /// The figure's value when it fired or resolved.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// When the condition began to hold, in milliseconds since the Unix epoch (engine clock).
    pub active_since_unix_ms: u64,
    /// When it fired.
    pub fired_at_unix_ms: Option<u64>,
    /// When it resolved (`None` in the firing record).
    pub resolved_at_unix_ms: Option<u64>,
}

/// The kinds of records; each goes to its own Kafka topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`RecordData::Interval`].
    Interval,
    /// [`RecordData::Transition`].
    Transition,
    /// [`RecordData::Verdict`].
    Verdict,
    /// [`RecordData::Timing`].
    Timing,
    /// [`RecordData::Counter`].
    Counter,
    /// [`RecordData::Gauge`].
    Gauge,
    /// [`RecordData::Rate`].
    Rate,
    /// [`RecordData::Alert`].
    Alert,
}

impl RecordKind {
    /// Every kind, in order.
    pub const ALL: [Self; 8] = [
        Self::Interval,
        Self::Transition,
        Self::Verdict,
        Self::Timing,
        Self::Counter,
        Self::Gauge,
        Self::Rate,
        Self::Alert,
    ];

    /// The kind as written in records, topics and tables (`interval`, `gauge`, ...).
    ///
    /// ```
    /// assert_eq!(instrument_runtime::stream::RecordKind::Transition.as_str(), "transition");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interval => "interval",
            Self::Transition => "transition",
            Self::Verdict => "verdict",
            Self::Timing => "timing",
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Rate => "rate",
            Self::Alert => "alert",
        }
    }
}

impl Record {
    /// A record of now, without id, tags or correlation id.
    pub(crate) fn new(name: Name, data: RecordData) -> Self {
        Self {
            id: String::new(),
            name,
            time_unix_ms: unix_ms_now(),
            tags: Vec::new(),
            correlation_id: None,
            data,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        match self.data {
            RecordData::Interval(_) => RecordKind::Interval,
            RecordData::Transition(_) => RecordKind::Transition,
            RecordData::Verdict { .. } => RecordKind::Verdict,
            RecordData::Timing { .. } => RecordKind::Timing,
            RecordData::Counter { .. } => RecordKind::Counter,
            RecordData::Gauge { .. } => RecordKind::Gauge,
            RecordData::Rate { .. } => RecordKind::Rate,
            RecordData::Alert(_) => RecordKind::Alert,
        }
    }
}

/// An explicit event being built: tags and a correlation id, then [`record`](Self::record).
///
/// ```
/// use instrument_runtime::stream::Event;
///
/// Event::timing("routing_decision", std::time::Duration::from_micros(5_200))
///     .tag("strategy", "smart")
///     .correlation_id("request-42")
///     .record();
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an event is pushed by `record`"]
pub struct Event(Record);

/// The longest name, unit, tag key or value, or correlation id an event keeps, in bytes; longer
/// ones are cut at a character boundary. With [`MAX_EVENT_TAGS`], this bounds a record's size,
/// so a program that puts request data into events cannot make the buffer's fixed number of
/// records grow its memory without limit.
///
/// ```
/// use instrument_runtime::stream::{Event, MAX_EVENT_TEXT};
///
/// let record = Event::counter("x".repeat(10_000), 1).into_record();
/// assert_eq!(record.name.len(), MAX_EVENT_TEXT);
/// ```
pub const MAX_EVENT_TEXT: usize = 256;

/// The most tags an event keeps; later ones are left out.
///
/// ```
/// use instrument_runtime::stream::{Event, MAX_EVENT_TAGS};
///
/// let event = (0..100).fold(Event::counter("hits", 1), |event, _| event.tag("k", "v"));
/// assert_eq!(event.into_record().tags.len(), MAX_EVENT_TAGS);
/// ```
pub const MAX_EVENT_TAGS: usize = 16;

/// `text` cut to [`MAX_EVENT_TEXT`] bytes at a character boundary.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_EVENT_TEXT {
        let mut end = MAX_EVENT_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn bounded_name(name: impl Into<Name>) -> Name {
    match name.into() {
        Cow::Owned(name) => Cow::Owned(bounded(name)),
        Cow::Borrowed(name) if name.len() > MAX_EVENT_TEXT => Cow::Owned(bounded(name.to_owned())),
        borrowed @ Cow::Borrowed(_) => borrowed,
    }
}

impl Event {
    /// A measured duration.
    pub fn timing(name: impl Into<Name>, duration: Duration) -> Self {
        let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self(Record::new(
            bounded_name(name),
            RecordData::Timing { duration_ns },
        ))
    }

    /// A count to add to the counter `name`.
    pub fn counter(name: impl Into<Name>, count: u64) -> Self {
        Self(Record::new(
            bounded_name(name),
            RecordData::Counter { count },
        ))
    }

    /// The current level of the gauge `name`, in `unit`.
    pub fn gauge(name: impl Into<Name>, value: f64, unit: impl Into<String>) -> Self {
        let unit = bounded(unit.into());
        Self(Record::new(
            bounded_name(name),
            RecordData::Gauge { value, unit },
        ))
    }

    /// The current value of the rate `name`, in percent.
    pub fn rate(name: impl Into<Name>, percent: f64) -> Self {
        Self(Record::new(
            bounded_name(name),
            RecordData::Rate { percent },
        ))
    }

    /// Adds a tag (up to [`MAX_EVENT_TAGS`], each cut to [`MAX_EVENT_TEXT`]).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if self.0.tags.len() < MAX_EVENT_TAGS {
            self.0
                .tags
                .push((bounded(key.into()), bounded(value.into())));
        }
        self
    }

    /// Adds tags (up to [`MAX_EVENT_TAGS`] in all, each cut to [`MAX_EVENT_TEXT`]).
    pub fn tags(mut self, tags: &[(&str, &str)]) -> Self {
        for &(key, value) in tags {
            self = self.tag(key, value);
        }
        self
    }

    /// Sets the correlation id (cut to [`MAX_EVENT_TEXT`]).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.0.correlation_id = Some(bounded(id.into()));
        self
    }

    /// Pushes the event into the stream's buffer: never blocks, never waits for a lock (see
    /// [`stream`](crate::stream)).
    pub fn record(self) {
        super::push(self.0);
    }

    /// The record, without pushing it.
    pub fn into_record(self) -> Record {
        self.0
    }
}

/// Pushes a measured duration: `record_timing(name, duration, tags)` of the reference.
///
/// ```
/// instrument_runtime::stream::record_timing("parse", std::time::Duration::from_millis(3), &[("type", "yaml")]);
/// ```
pub fn record_timing(name: impl Into<Name>, duration: Duration, tags: &[(&str, &str)]) {
    Event::timing(name, duration).tags(tags).record();
}

/// Pushes a count to add to the counter `name`.
///
/// ```
/// instrument_runtime::stream::record_counter("cache_hits", 1, &[("cache", "template")]);
/// ```
pub fn record_counter(name: impl Into<Name>, count: u64, tags: &[(&str, &str)]) {
    Event::counter(name, count).tags(tags).record();
}

/// Pushes the current level of the gauge `name`.
///
/// ```
/// instrument_runtime::stream::record_gauge("cache_size", 1_024.0, "entries", &[]);
/// ```
pub fn record_gauge(name: impl Into<Name>, value: f64, unit: &str, tags: &[(&str, &str)]) {
    Event::gauge(name, value, unit).tags(tags).record();
}

/// Pushes the current value of the rate `name`, in percent.
///
/// ```
/// instrument_runtime::stream::record_rate("cache_hit_rate", 95.5, &[]);
/// ```
pub fn record_rate(name: impl Into<Name>, percent: f64, tags: &[(&str, &str)]) {
    Event::rate(name, percent).tags(tags).record();
}

/// Times a block: pushes a timing record when dropped (the reference's `async with timing(...)`;
/// held across `.await` it times the whole block).
///
/// ```
/// use instrument_runtime::stream::timing;
///
/// {
///     let _timing = timing("validation", &[("stage", "schema")]).correlation_id("job-7");
///     // ... the block being timed
/// }
/// ```
#[must_use = "the block is timed until the scope is dropped"]
#[derive(Debug)]
pub struct TimingScope {
    started: Instant,
    event: Option<Event>,
}

/// Starts timing a block; see [`TimingScope`].
pub fn timing(name: impl Into<Name>, tags: &[(&str, &str)]) -> TimingScope {
    TimingScope {
        started: Instant::now(),
        event: Some(Event::timing(name, Duration::ZERO).tags(tags)),
    }
}

impl TimingScope {
    /// Sets the correlation id of the record pushed at the end.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.event = self.event.take().map(|event| event.correlation_id(id));
        self
    }
}

impl Drop for TimingScope {
    fn drop(&mut self) {
        if let Some(Event(mut record)) = self.event.take() {
            let duration_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            record.data = RecordData::Timing { duration_ns };
            record.time_unix_ms = unix_ms_now();
            super::push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_bounded_text_and_tags_whatever_it_is_given() {
        let huge = "é".repeat(100_000);
        let tags: Vec<(&str, &str)> = (0..1_000).map(|_| (huge.as_str(), huge.as_str())).collect();
        let record = Event::gauge(huge.clone(), 1.0, huge.clone())
            .tags(&tags)
            .tag(huge.clone(), huge.clone())
            .correlation_id(huge.clone())
            .into_record();
        assert_eq!(record.tags.len(), MAX_EVENT_TAGS);
        let texts = [
            &record.name as &str,
            record.correlation_id.as_deref().unwrap(),
        ]
        .into_iter()
        .chain(
            record
                .tags
                .iter()
                .flat_map(|(key, value)| [key.as_str(), value.as_str()]),
        );
        for text in texts {
            assert!(
                text.len() <= MAX_EVENT_TEXT && text.len() >= MAX_EVENT_TEXT - 1,
                "{}",
                text.len()
            );
            assert!(text.chars().all(|c| c == 'é'));
        }
        let RecordData::Gauge { unit, .. } = &record.data else {
            panic!("{:?}", record.data)
        };
        assert_eq!(unit.len(), MAX_EVENT_TEXT);
        assert_eq!(Event::counter("short", 1).into_record().name, "short");
    }
}
