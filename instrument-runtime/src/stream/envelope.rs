//! The Kafka message of a record: a `CloudEvents` 1.0 event in the structured JSON mode
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md>), which
//! consumers already parse; `schemas/stream_record.schema.json` describes it.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::event::{Record, RecordKind};
use super::sink::Origin;
use crate::format::rfc3339;

/// The schema identifier in every event's `dataschema`.
pub const CLOUDEVENTS_SCHEMA: &str = "instrument.stream-record/1";

/// The Kafka topic of a kind of record: `instrument.<kind>.v1` (`instrument.interval.v1`,
/// `instrument.transition.v1`, `instrument.verdict.v1`, `instrument.timing.v1`,
/// `instrument.counter.v1`, `instrument.gauge.v1`, `instrument.rate.v1`,
/// `instrument.alert.v1`).
///
/// ```
/// use instrument_runtime::stream::{RecordKind, topic};
///
/// assert_eq!(topic(RecordKind::Interval), "instrument.interval.v1");
/// ```
pub fn topic(kind: RecordKind) -> String {
    format!("instrument.{}.v1", kind.as_str())
}

/// The record as a `CloudEvents` 1.0 structured JSON event: `id` the record's id, `source`
/// `/instrument/<host>/<service>`, `type` `rs.instrument.<kind>`, `subject` the record's name,
/// `time`, and the record itself as `data`; the run id, host, service and correlation id are also
/// extension attributes (`runid`, `host`, `service`, `correlationid`), so a broker can route on
/// them without parsing `data`.
///
/// ```
/// use instrument_runtime::stream::{Event, Origin, cloudevent};
///
/// let mut record = Event::rate("cache_hit_rate", 95.5).into_record();
/// record.id = "0123456789abcdef-1".to_owned();
/// let event = cloudevent(&record, &Origin::of_this_process("checkout"));
/// assert_eq!(event["specversion"], "1.0");
/// assert_eq!(event["type"], "rs.instrument.rate");
/// assert_eq!(event["data"]["percent"], 95.5);
/// ```
pub fn cloudevent(record: &Record, origin: &Origin) -> Value {
    let time = UNIX_EPOCH + Duration::from_millis(record.time_unix_ms);
    let mut event = json!({
        "specversion": "1.0",
        "id": record.id,
        "source": format!("/instrument/{}/{}", origin.host, origin.service),
        "type": format!("rs.instrument.{}", record.kind().as_str()),
        "subject": record.name,
        "time": rfc3339(time),
        "datacontenttype": "application/json",
        "dataschema": CLOUDEVENTS_SCHEMA,
        "runid": origin.run_id,
        "host": origin.host,
        "service": origin.service,
        "data": record_json(record),
    });
    if let (Some(id), Some(event)) = (&record.correlation_id, event.as_object_mut()) {
        event.insert("correlationid".to_owned(), Value::String(id.clone()));
    }
    event
}

/// The record as one JSON object: its fields and its data's, side by side.
pub(crate) fn record_json(record: &Record) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        // A record is plain data: it always serializes to an object.
        _ => Map::new(),
    }
}
