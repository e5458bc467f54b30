//! The last value of every gauge and rate, and every counter's total, by name: what `/metrics`
//! shows of the explicit events and what alert rules read. Bounded: names past the cap are
//! counted, not kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::{Record, RecordData};

/// Names the table holds at most; further names are counted in [`LatestValues::overflow`].
pub const LATEST_CAP: usize = 1_000;

/// What a [`LatestValue`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatestKind {
    /// The total of a counter's records.
    Counter,
    /// A gauge's last value.
    Gauge,
    /// A rate's last value, in percent.
    Rate,
}

/// One name's current figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatestValue {
    /// The event's name.
    pub name: String,
    /// Counter, gauge or rate.
    pub kind: LatestKind,
    /// The total (counter) or the last value (gauge, rate).
    pub value: f64,
    /// The gauge's unit (`%` for a rate, empty for a counter).
    pub unit: String,
    /// When the last record of it was made, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
}

/// The table: every name's figure, sorted by kind and name, and the names it had no room for.
///
/// ```
/// let latest = instrument_runtime::stream::latest_values();
/// assert!(latest.values.len() <= instrument_runtime::stream::LATEST_CAP);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatestValues {
    /// The figures.
    pub values: Vec<LatestValue>,
    /// Records whose name did not fit in the table.
    pub overflow: u64,
}

/// The table the flusher keeps up to date.
#[derive(Debug, Default)]
pub(crate) struct LatestTable {
    values: BTreeMap<(LatestKind, String), LatestValue>,
    overflow: u64,
}

impl LatestTable {
    /// Folds one record in; records other than counters, gauges and rates are ignored.
    #[allow(
        clippy::cast_precision_loss,
        reason = "a counter's total is exact up to 2^53, far beyond what a process counts"
    )]
    pub(crate) fn apply(&mut self, record: &Record) {
        let (kind, value, unit) = match &record.data {
            RecordData::Counter { count } => (LatestKind::Counter, *count as f64, ""),
            RecordData::Gauge { value, unit } => (LatestKind::Gauge, *value, unit.as_str()),
            RecordData::Rate { percent } => (LatestKind::Rate, *percent, "%"),
            _ => return,
        };
        let key = (kind, record.name.to_string());
        if let Some(entry) = self.values.get_mut(&key) {
            entry.value = if kind == LatestKind::Counter {
                entry.value + value
            } else {
                value
            };
            unit.clone_into(&mut entry.unit);
            entry.time_unix_ms = record.time_unix_ms;
        } else if self.values.len() < LATEST_CAP {
            let entry = LatestValue {
                name: key.1.clone(),
                kind,
                value,
                unit: unit.to_owned(),
                time_unix_ms: record.time_unix_ms,
            };
            self.values.insert(key, entry);
        } else {
            self.overflow += 1;
        }
    }

    pub(crate) fn values(&self) -> LatestValues {
        LatestValues {
            values: self.values.values().cloned().collect(),
            overflow: self.overflow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::event::Event;

    #[test]
    fn counters_add_up_gauges_keep_the_last_value_and_excess_names_are_counted() {
        let mut table = LatestTable::default();
        table.apply(&Event::counter("hits", 2).into_record());
        table.apply(&Event::counter("hits", 3).into_record());
        table.apply(&Event::gauge("size", 10.0, "entries").into_record());
        table.apply(&Event::gauge("size", 7.0, "entries").into_record());
        table.apply(&Event::rate("hit_rate", 95.5).into_record());
        let figures: Vec<_> = (table.values().values.iter())
            .map(|v| (v.kind, v.name.clone(), v.value))
            .collect();
        assert_eq!(
            figures,
            [
                (LatestKind::Counter, "hits".to_owned(), 5.0),
                (LatestKind::Gauge, "size".to_owned(), 7.0),
                (LatestKind::Rate, "hit_rate".to_owned(), 95.5),
            ]
        );
        for n in 0..LATEST_CAP {
            table.apply(&Event::gauge(format!("g{n}"), 1.0, "").into_record());
        }
        assert_eq!(table.values().values.len(), LATEST_CAP);
        assert_eq!(table.values().overflow, 3);
    }
}
