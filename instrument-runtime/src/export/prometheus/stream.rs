//! The families of the streaming pipeline: its accounts per sink and reason, and the explicit
//! events' counters, gauges and rates.

use super::family::{Builder, Kind, Labels, Series, Value};
use crate::stream::{LatestKind, LatestValues, StreamStats, latest_values, stats};

/// The pipeline's figures, read when a scrape renders.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StreamFigures {
    pub(crate) stats: StreamStats,
    pub(crate) latest: LatestValues,
}

impl StreamFigures {
    /// `None` when the pipeline has not started: nothing to export.
    pub(crate) fn current() -> Option<Self> {
        Some(Self {
            stats: stats()?,
            latest: latest_values(),
        })
    }
}

pub(super) fn stream_families<'a>(builder: &mut Builder<'a>, figures: &'a StreamFigures) {
    let stats = &figures.stats;
    builder.subjects = stats.sinks.len();
    let count = |value: u64| Value::Int(value);
    builder
        .family(
            "stream_records_produced_total",
            Kind::Counter,
            None,
            "Records the streaming pipeline produced: events pushed and records read from the nodes.",
        )
        .push(Series {
            labels: Labels::NONE,
            value: count(stats.produced),
        });
    builder
        .family(
            "stream_buffered_records",
            Kind::Gauge,
            None,
            "Records in the streaming buffer, not yet drained by the flusher.",
        )
        .push(Series {
            labels: Labels::NONE,
            value: count(stats.buffered),
        });
    let series = builder.family(
        "stream_records_stored_total",
        Kind::Counter,
        None,
        "Records a sink took.",
    );
    for sink in &stats.sinks {
        series.push(Series {
            labels: Labels::one("sink", &sink.name),
            value: count(sink.stored),
        });
    }
    let series = builder.family(
        "stream_records_pending",
        Kind::Gauge,
        None,
        "Records waiting for a sink.",
    );
    for sink in &stats.sinks {
        series.push(Series {
            labels: Labels::one("sink", &sink.name),
            value: count(sink.pending),
        });
    }
    let series = builder.family(
        "stream_records_dropped_total",
        Kind::Counter,
        None,
        "Records a sink will never get, by reason: buffer_full, backlog_full, timeline_full, shutdown_deadline.",
    );
    for sink in &stats.sinks {
        for (reason, dropped) in &sink.dropped {
            series.push(Series {
                labels: Labels::two(("sink", &sink.name), ("reason", reason)),
                value: count(*dropped),
            });
        }
    }
    let series = builder.family(
        "stream_failed_batches_total",
        Kind::Counter,
        None,
        "Batches a sink failed to take, each retried later.",
    );
    for sink in &stats.sinks {
        series.push(Series {
            labels: Labels::one("sink", &sink.name),
            value: count(sink.failed_batches),
        });
    }
    event_families(builder, &figures.latest);
}

fn event_families<'a>(builder: &mut Builder<'a>, latest: &'a LatestValues) {
    builder.subjects = latest.values.len();
    for (kind, name, help) in [
        (
            LatestKind::Counter,
            "event_counter_total",
            "Total of the counter events pushed under a name.",
        ),
        (
            LatestKind::Gauge,
            "event_gauge",
            "Last value of the gauge events pushed under a name, in their unit.",
        ),
        (
            LatestKind::Rate,
            "event_rate_percent",
            "Last value of the rate events pushed under a name, in percent.",
        ),
    ] {
        let series = builder.family(
            name,
            if kind == LatestKind::Counter {
                Kind::Counter
            } else {
                Kind::Gauge
            },
            None,
            help,
        );
        for value in latest.values.iter().filter(|value| value.kind == kind) {
            let labels = if kind == LatestKind::Gauge {
                Labels::two(("name", &value.name), ("unit", &value.unit))
            } else {
                Labels::one("name", &value.name)
            };
            series.push(Series {
                labels,
                value: Value::Float(value.value),
            });
        }
    }
    builder
        .family(
            "event_table_overflow_total",
            Kind::Counter,
            None,
            "Counter, gauge and rate events whose name did not fit in the table of last values.",
        )
        .push(Series {
            labels: Labels::NONE,
            value: Value::Int(latest.overflow),
        });
}
