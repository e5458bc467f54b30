//! The families of the circuit breakers.

use super::family::{Builder, Kind, Labels, Series, Value, breaker_label};
use super::{BREAKER_SLA_VIOLATIONS, BREAKER_STATE, BREAKER_TRANSITIONS};
use crate::breaker::snapshot::{BreakerSnapshot, Health};

/// A counter of every breaker: its name, its help and how to read it.
pub(super) type BreakerCounter = (&'static str, &'static str, fn(&BreakerSnapshot) -> u64);

#[allow(
    clippy::too_many_lines,
    reason = "one flat list of families, each a few lines"
)]
pub(super) fn breaker_families<'a>(builder: &mut Builder<'a>, breakers: &[&'a BreakerSnapshot]) {
    let series = builder.family(
        BREAKER_STATE,
        Kind::Gauge,
        None,
        "State of the circuit breaker: 0 closed, 1 half-open, 2 open.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Int(u64::from(breaker.state_gauge)),
        });
    }
    let series = builder.family(
        BREAKER_TRANSITIONS,
        Kind::Counter,
        None,
        "State changes of the circuit breaker, by transition: opened, half_opened, closed.",
    );
    for breaker in breakers {
        let counts = breaker.transitions;
        for (transition, count) in [
            ("closed", counts.closed),
            ("half_opened", counts.half_opened),
            ("opened", counts.opened),
        ] {
            series.push(Series {
                labels: Labels::two(("breaker", &breaker.name), ("transition", transition)),
                value: Value::Int(count),
            });
        }
    }
    let counters: [BreakerCounter; 7] = [
        (
            "breaker_calls_total",
            "Calls the circuit breaker let through that ended, probes included.",
            |b| b.calls,
        ),
        (
            "breaker_failures_total",
            "Calls the circuit breaker counted as failures: errors, panics and slow calls.",
            |b| b.failures,
        ),
        (
            "breaker_slow_calls_total",
            "Calls the circuit breaker counted as failures for being slow.",
            |b| b.slow_calls,
        ),
        (
            "breaker_rejections_total",
            "Calls the circuit breaker refused while open or half-open.",
            |b| b.rejected,
        ),
        (
            "breaker_fallbacks_total",
            "Refused calls the fallback served.",
            |b| b.fallbacks,
        ),
        (
            "breaker_recoveries_total",
            "Outages of the circuit breaker that ended: it closed again after opening.",
            |b| b.recoveries.count,
        ),
        (
            BREAKER_SLA_VIOLATIONS,
            "Recoveries of the circuit breaker (from when probing was allowed to closed) that took longer than its recovery SLA.",
            |b| b.recoveries.sla_violations,
        ),
    ];
    for (name, help, value) in counters {
        let series = builder.family(name, Kind::Counter, None, help);
        for breaker in breakers {
            series.push(Series {
                labels: breaker_label(breaker),
                value: Value::Int(value(breaker)),
            });
        }
    }
    let series = builder.family(
        "breaker_recovery_sla_seconds",
        Kind::Gauge,
        Some("seconds"),
        "The recovery SLA of the circuit breaker: the longest it should take to close once probing is allowed, in seconds.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Seconds(breaker.recoveries.sla_ns),
        });
    }
    let series = builder.family(
        "breaker_health",
        Kind::Gauge,
        None,
        "Health of the circuit breaker: 1 healthy, 0.5 degraded, 0 failing.",
    );
    for breaker in breakers {
        series.push(Series {
            labels: breaker_label(breaker),
            value: Value::Float(breaker.health.status.gauge()),
        });
    }
    // The service as a whole is as healthy as its least healthy breaker, as `/health` answers;
    // a program without breakers has nothing to judge it by.
    if !breakers.is_empty() {
        builder
            .family(
                "service_health_status",
                Kind::Gauge,
                None,
                "Health of the service, the worst of its circuit breakers: 1 healthy, 0.5 degraded, 0 failing.",
            )
            .push(Series {
                labels: Labels::NONE,
                value: Value::Float(
                    Health::worst(breakers.iter().map(|breaker| breaker.health.status)).gauge(),
                ),
            });
    }
}
