//! The stream notifier: each notification as an `alert` record in the stream's buffer, so it
//! reaches every sink the stream sends to (the Kafka topic `instrument.alert.v1`, PostgreSQL rows
//! of kind `alert`) with the stream's accounting: pushing never blocks, drops are counted.

use crate::alert::notify::{AlertStatus, Notification, Notifier};
use crate::read::alert_state::AlertState;
use crate::stream::{AlertRecord, Record, RecordData};

/// Pushes each notification into the [`stream`](crate::stream) as a [`RecordData::Alert`]
/// record named after the alert, its labels as the record's tags. Delivery is the stream's:
/// a sink that is down is retried and counted in the stream's accounts, not here.
///
/// [`AlertEngineBuilder::from_env`](crate::alert::AlertEngineBuilder::from_env) adds it when the
/// environment names a stream sink (`INSTRUMENT_KAFKA_BOOTSTRAP_SERVERS`,
/// `INSTRUMENT_POSTGRES_URL`) or the stream was started with sinks.
///
/// ```
/// let engine = instrument_runtime::alert::AlertEngine::builder()
///     .notifier(instrument_runtime::alert::StreamNotifier)
///     .build();
/// assert_eq!(engine.view().notifiers[0].notifier, "stream");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamNotifier;

impl Notifier for StreamNotifier {
    fn name(&self) -> &'static str {
        "stream"
    }

    fn notify(&mut self, notification: &Notification) -> Result<(), String> {
        crate::stream::push(record(notification));
        Ok(())
    }
}

fn record(notification: &Notification) -> Record {
    let alert = &notification.alert;
    let state = match notification.status {
        AlertStatus::Firing => AlertState::Firing,
        AlertStatus::Resolved => AlertState::Resolved,
    };
    let data = AlertRecord {
        state,
        severity: alert.severity,
        fingerprint: alert.fingerprint.clone(),
        labels: alert.labels.clone(),
        summary: alert.summary.clone(),
        value: alert.value,
        threshold: alert.threshold,
        active_since_unix_ms: alert.active_since_unix_ms,
        fired_at_unix_ms: alert.fired_at_unix_ms,
        resolved_at_unix_ms: alert.resolved_at_unix_ms,
    };
    let mut record = Record::new(alert.name.clone().into(), RecordData::Alert(Box::new(data)));
    record.tags = (alert.labels.iter())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    record
}
