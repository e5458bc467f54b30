//! A plain copy of one breaker's state, counters, timeline and health.

use serde::{Deserialize, Serialize};

use crate::breaker::config::BreakerConfig;
use crate::breaker::window::WindowCounts;
use crate::breaker::{Breaker, BreakerState, LastFailure, Recovery, Transition, Word};
use crate::record::sync::Ordering;

/// One circuit breaker at one moment.
///
/// ```
/// #[instrument_runtime::circuit_breaker(name = "breaker_snapshot_doc", failure_threshold = 2)]
/// fn call(fail: bool) -> std::io::Result<()> {
///     if fail { Err(std::io::Error::other("boom")) } else { Ok(()) }
/// }
///
/// call(false).unwrap();
/// call(true).unwrap_err();
/// let snapshot = instrument_runtime::snapshot();
/// let breaker = snapshot.breaker("breaker_snapshot_doc").unwrap();
/// assert_eq!((breaker.calls, breaker.failures, breaker.consecutive_failures), (2, 1, 1));
/// assert_eq!(breaker.last_failure.as_ref().unwrap().message, "boom");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakerSnapshot {
    /// The breaker's name.
    pub name: String,
    /// Its settings.
    pub config: BreakerConfig,
    /// The functions it guards.
    pub functions: Vec<GuardedFunction>,
    /// Where it stands.
    pub state: BreakerState,
    /// The state as a gauge: `CLOSED` = 0, `HALF_OPEN` = 1, `OPEN` = 2.
    pub state_gauge: u8,
    /// Whether the state was forced (and holds until reset).
    pub forced: bool,
    /// Failures in a row while closed (consecutive-failure mode).
    pub consecutive_failures: u32,
    /// Probes running now, while half-open.
    pub probes_in_flight: u32,
    /// The failure-rate window, in failure-rate mode.
    pub window: Option<WindowSnapshot>,
    /// Calls let through that ended (probes included): the guarded functions' calls.
    pub calls: u64,
    /// Of those, the ones the breaker counted as failures (errors, panics, slow calls).
    pub failures: u64,
    /// Failures that were slow calls.
    pub slow_calls: u64,
    /// Calls refused while open or half-open.
    pub rejected: u64,
    /// Refused calls served by the fallback.
    pub fallbacks: u64,
    /// How often each transition happened.
    pub transitions: TransitionCounts,
    /// Probes let through while half-open, and how they ended.
    pub probes: ProbeCounts,
    /// The most recent failure.
    pub last_failure: Option<LastFailure>,
    /// Outages and how long each took to recover, against the SLA.
    pub recoveries: Recoveries,
    /// The last transitions, oldest first.
    pub timeline: Vec<Transition>,
    /// Health, derived from the state and the success rate.
    pub health: BreakerHealth,
}

/// A function guarded by a breaker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GuardedFunction {
    /// The function's name.
    pub function: String,
    /// Its node's name.
    pub node: String,
    /// Its module.
    pub module_path: String,
    /// Its source file.
    pub file: String,
    /// Its line.
    pub line: u32,
    /// The fallback serving refused calls, as written, if any.
    pub fallback: Option<String>,
}

/// The calls in a failure-rate breaker's window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowSnapshot {
    /// Calls in the window.
    pub calls: u64,
    /// Failed calls in the window.
    pub failures: u64,
    /// `failures / calls` (0 when empty).
    pub failure_rate: f64,
}

/// How often a breaker changed state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransitionCounts {
    /// To `OPEN` (from closed or half-open, or forced).
    pub opened: u64,
    /// To `HALF_OPEN`.
    pub half_opened: u64,
    /// From `HALF_OPEN` to `CLOSED`.
    pub closed: u64,
}

/// Probe calls while half-open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProbeCounts {
    /// Probes let through.
    pub admitted: u64,
    /// Probes that succeeded.
    pub succeeded: u64,
    /// Probes that failed.
    pub failed: u64,
}

/// A breaker's outages and their recoveries; each recovery, from the moment probing was allowed
/// to closing, is judged against the SLA (see [`Recovery`](crate::breaker::Recovery)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recoveries {
    /// The recovery SLA (`recovery`), in nanoseconds.
    pub sla_ns: u64,
    /// Outages that ended (the breaker closed again).
    pub count: u64,
    /// Of those, the ones that took longer than the SLA.
    pub sla_violations: u64,
    /// The longest recovery (probing allowed to closed).
    pub longest_ns: u64,
    /// The longest outage (opened to closed again).
    pub longest_outage_ns: u64,
    /// When the outage under way began, if the breaker is open or half-open now.
    pub outage_since_ns: Option<u64>,
    /// The most recent recoveries, oldest first.
    pub recent: Vec<Recovery>,
}

/// A breaker's health, for a health endpoint.
///
/// ```
/// use instrument_runtime::breaker::{Health, breaker_health};
///
/// for health in breaker_health() {
///     println!("{} {:?}: {}", health.name, health.state, health.status.gauge());
/// }
/// assert_eq!(Health::Degraded.gauge(), 0.5);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakerHealth {
    /// The breaker's name.
    pub name: String,
    /// Where it stands.
    pub state: BreakerState,
    /// `HEALTHY`, `DEGRADED` or `FAILING`.
    pub status: Health,
    /// Share of successful calls: over the window in failure-rate mode, else since the breaker
    /// last closed (or started). 1 when there were none.
    pub success_rate: f64,
    /// The calls `success_rate` is computed over.
    pub calls: u64,
}

/// How healthy a breaker is.
///
/// - `OPEN`: `FAILING`. `HALF_OPEN`: `DEGRADED`.
/// - `CLOSED`: `HEALTHY` when the success rate is at least `healthy_above` (99% by default),
///   `FAILING` below `failing_below` (50%), `DEGRADED` in between; and never better than
///   `DEGRADED` while its latest recovery broke the recovery SLA (until a recovery within it).
///
/// ```
/// assert_eq!(serde_json::to_string(&instrument_runtime::breaker::Health::Healthy).unwrap(), "\"HEALTHY\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Health {
    /// Working as it should.
    Healthy,
    /// Failing more than it should, or testing recovery.
    Degraded,
    /// Open, or failing most calls.
    Failing,
}

impl Health {
    /// The status as a gauge: `HEALTHY` = 1, `DEGRADED` = 0.5, `FAILING` = 0.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Healthy => 1.0,
            Self::Degraded => 0.5,
            Self::Failing => 0.0,
        }
    }

    /// The worst of `statuses`: what one endpoint answers for all breakers. `HEALTHY` when there
    /// is none.
    ///
    /// ```
    /// use instrument_runtime::breaker::Health;
    /// assert_eq!(Health::worst([Health::Healthy, Health::Failing, Health::Degraded]), Health::Failing);
    /// assert_eq!(Health::worst([]), Health::Healthy);
    /// ```
    pub fn worst(statuses: impl IntoIterator<Item = Self>) -> Self {
        statuses
            .into_iter()
            .min_by(|a, b| a.gauge().total_cmp(&b.gauge()))
            .unwrap_or(Self::Healthy)
    }

    fn of(state: BreakerState, success_rate: f64, broke_sla: bool, config: &BreakerConfig) -> Self {
        match state {
            BreakerState::Open => Self::Failing,
            BreakerState::Closed if success_rate < config.failing_below => Self::Failing,
            BreakerState::Closed if broke_sla => Self::Degraded,
            BreakerState::Closed if success_rate >= config.healthy_above => Self::Healthy,
            BreakerState::Closed | BreakerState::HalfOpen => Self::Degraded,
        }
    }
}

impl Breaker {
    pub(crate) fn snapshot(&self, now_ns: u64) -> BreakerSnapshot {
        let word = Word(self.word.load(Ordering::Acquire));
        let state = word.state();
        let calls = self.node_calls();
        let counters = &self.counters;
        let failures = counters.failures.load(Ordering::Relaxed).min(calls);
        let window = self.window.as_ref().map(|window| window.counts(now_ns));
        let events = self.lock_events();
        let (health_calls, health_failures) = match window {
            Some(WindowCounts { calls, failures }) => (calls, failures),
            None => (
                calls.saturating_sub(events.calls_at_close),
                failures.saturating_sub(events.failures_at_close),
            ),
        };
        #[allow(clippy::cast_precision_loss, reason = "a ratio of counts")]
        let success_rate = if health_calls == 0 {
            1.0
        } else {
            1.0 - health_failures.min(health_calls) as f64 / health_calls as f64
        };
        let in_state = |state_bits| word.state_bits() == state_bits;
        BreakerSnapshot {
            name: self.name.to_owned(),
            config: self.config,
            functions: self
                .sites
                .iter()
                .map(|site| GuardedFunction {
                    function: site.decl.function.to_owned(),
                    node: site.node.meta.name.to_owned(),
                    module_path: site.decl.module_path.to_owned(),
                    file: site.decl.file.to_owned(),
                    line: site.decl.line,
                    fallback: site.decl.fallback.map(str::to_owned),
                })
                .collect(),
            state,
            state_gauge: state.gauge(),
            forced: word.forced(),
            consecutive_failures: if in_state(super::CLOSED) {
                word.count()
            } else {
                0
            },
            probes_in_flight: if in_state(super::HALF_OPEN) {
                word.probes()
            } else {
                0
            },
            window: window.map(|counts| WindowSnapshot {
                calls: counts.calls,
                failures: counts.failures,
                failure_rate: counts.failure_rate(),
            }),
            calls,
            failures,
            slow_calls: counters.slow_calls.load(Ordering::Relaxed),
            rejected: counters.rejected.load(Ordering::Relaxed),
            fallbacks: counters.fallbacks.load(Ordering::Relaxed),
            transitions: TransitionCounts {
                opened: counters.opened.load(Ordering::Relaxed),
                half_opened: counters.half_opened.load(Ordering::Relaxed),
                closed: counters.closed.load(Ordering::Relaxed),
            },
            probes: ProbeCounts {
                admitted: counters.probes.load(Ordering::Relaxed),
                succeeded: counters.probe_successes.load(Ordering::Relaxed),
                failed: counters.probe_failures.load(Ordering::Relaxed),
            },
            last_failure: self
                .last_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            recoveries: Recoveries {
                sla_ns: self.config.recovery_ns,
                count: events.recovery_count,
                sla_violations: events.sla_violations,
                longest_ns: events.longest_recovery_ns,
                longest_outage_ns: events.longest_outage_ns,
                outage_since_ns: events.outage_since_ns,
                recent: events.recoveries.iter().copied().collect(),
            },
            timeline: events.timeline.iter().copied().collect(),
            health: BreakerHealth {
                name: self.name.to_owned(),
                state,
                status: Health::of(
                    state,
                    success_rate,
                    events
                        .recoveries
                        .back()
                        .is_some_and(|last| !last.within_sla),
                    &self.config,
                ),
                success_rate,
                calls: health_calls,
            },
        }
    }
}
