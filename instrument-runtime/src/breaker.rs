//! The circuit breaker state machine. Pure logic: every method that needs the time takes it as an
//! argument (nanoseconds on the breaker clock), so tests drive it by hand and `loom` can explore it.
//!
//! Everything a transition depends on lives in one atomic word: the state, a forced flag, the
//! count that moves it (consecutive failures while closed, successful probes while half-open),
//! the probes in flight, and a generation that every transition increments. A transition is one
//! compare-and-swap on that word, so exactly one thread performs each one, and an outcome that
//! arrives after the breaker moved on (its generation is stale) changes nothing.
//!
//! The closed-state fast path is one load at admission and one load when the call succeeds.

pub(crate) mod config;
pub(crate) mod site;
pub(crate) mod snapshot;
pub(crate) mod table;
pub(crate) mod window;
mod word;

pub use config::{BreakerConfig, FailureRate, Window};
pub use site::{CircuitOpen, Fallible, FromCircuitOpen};
pub use snapshot::{
    BreakerHealth, BreakerSnapshot, GuardedFunction, Health, ProbeCounts, Recoveries,
    TransitionCounts, WindowSnapshot,
};
pub use table::{CircuitBreaker, breaker, breaker_health};

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::record::sync::{AtomicU64, Mutex, Ordering};
use window::Outcomes;
use word::{CLOSED, HALF_OPEN, OPEN, Word};

/// Where a breaker stands.
///
/// ```
/// use instrument_runtime::BreakerState;
///
/// assert_eq!(BreakerState::HalfOpen.gauge(), 1);
/// assert_eq!(serde_json::to_string(&BreakerState::Open).unwrap(), "\"OPEN\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// A limited number of probe calls go through; their outcome closes or reopens the breaker.
    HalfOpen,
    /// Calls are rejected (served by the fallback, or answered with [`CircuitOpen`]) until the
    /// timeout has passed.
    ///
    /// [`CircuitOpen`]: crate::CircuitOpen
    Open,
}

impl BreakerState {
    /// The state as a gauge value: `CLOSED` = 0, `HALF_OPEN` = 1, `OPEN` = 2.
    pub fn gauge(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }

    /// The state as it is written in reports: `CLOSED`, `HALF_OPEN`, `OPEN`.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::BreakerState::HalfOpen.as_str(), "HALF_OPEN");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::HalfOpen => "HALF_OPEN",
            Self::Open => "OPEN",
        }
    }
}

/// Why a breaker changed state.
///
/// ```
/// use instrument_runtime::breaker::TransitionCause;
///
/// let cause = TransitionCause::ConsecutiveFailures { failures: 5 };
/// assert_eq!(
///     serde_json::to_string(&cause).unwrap(),
///     r#"{"cause":"consecutive_failures","failures":5}"#
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum TransitionCause {
    /// Closed to open: this many failures in a row.
    ConsecutiveFailures {
        /// Failures in a row when it opened.
        failures: u32,
    },
    /// Closed to open: the window's failure rate reached the threshold.
    FailureRate {
        /// Calls in the window.
        calls: u64,
        /// Failed calls among them.
        failures: u64,
    },
    /// Open to half-open: the timeout passed and a call came in to probe.
    TimeoutElapsed,
    /// Half-open to open: a probe failed.
    ProbeFailed,
    /// Half-open to closed: enough probes succeeded in a row.
    ProbesSucceeded,
    /// Forced open by an operator or a test.
    ForcedOpen,
    /// Forced closed by an operator or a test.
    ForcedClosed,
    /// Reset to closed by an operator or a test.
    Reset,
}

/// What a call was admitted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A normal call while closed.
    Closed { generation: u32 },
    /// One of the limited calls that test a half-open breaker.
    Probe { generation: u32 },
}

/// Why a call was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) state: BreakerState,
    /// Until the open breaker lets a probe through; `None` while half-open with every probe
    /// slot taken, or while forced open.
    pub(crate) retry_in_ns: Option<u64>,
}

/// One state change, for the timeline.
///
/// ```
/// use instrument_runtime::{breaker::{Transition, TransitionCause}, BreakerState};
///
/// let transition = Transition {
///     from: BreakerState::Closed,
///     to: BreakerState::Open,
///     cause: TransitionCause::ConsecutiveFailures { failures: 5 },
///     at_ns: 1_000,
///     at_unix_ms: 1_700_000_000_000,
/// };
/// assert_eq!(transition.to.gauge(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// What caused it.
    #[serde(flatten)]
    pub cause: TransitionCause,
    /// When, in nanoseconds on the breaker clock (since the process's first breaker reading,
    /// or on a test's [`ManualClock`](crate::ManualClock)).
    pub at_ns: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

/// One outage and its recovery. The outage runs from the moment the breaker opened to the moment
/// it closed again, and lasts at least `timeout`; the recovery, judged against the `recovery`
/// SLA, runs from the moment probing was allowed (the last opening plus `timeout`) to closing,
/// so it measures how fast the breaker closes once it may, not how long it was told to wait.
///
/// ```
/// let recovery = instrument_runtime::breaker::Recovery {
///     opened_at_ns: 0,
///     probing_from_ns: 60_000_000_000,
///     closed_at_ns: 62_500_000_000,
///     duration_ns: 2_500_000_000,
///     outage_ns: 62_500_000_000,
///     within_sla: false,
/// };
/// assert!(!recovery.within_sla);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// When the outage began: the breaker opened from closed (breaker clock, nanoseconds).
    pub opened_at_ns: u64,
    /// When probing was allowed for the last time in the outage: its last opening (a failed
    /// probe reopens it) plus `timeout`.
    pub probing_from_ns: u64,
    /// When it closed again.
    pub closed_at_ns: u64,
    /// The recovery: from `probing_from_ns` to `closed_at_ns`.
    pub duration_ns: u64,
    /// The whole outage: from `opened_at_ns` to `closed_at_ns`.
    pub outage_ns: u64,
    /// Whether the recovery (`duration_ns`) took no longer than the `recovery` SLA.
    pub within_sla: bool,
}

/// The most recent failure a breaker saw.
///
/// ```
/// let failure = instrument_runtime::breaker::LastFailure { at_ns: 5, at_unix_ms: 0, message: "timed out".into() };
/// assert_eq!(failure.message, "timed out");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailure {
    /// When (breaker clock, nanoseconds).
    pub at_ns: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The error's `Display` (or `Debug`) text, `"panicked"`, or the slow call's duration.
    pub message: String,
}

/// How many transitions and recoveries a breaker keeps for the timeline.
pub(crate) const TIMELINE_LEN: usize = 64;

/// Transitions, outages and recoveries: written on transitions only, under a lock.
#[derive(Debug, Default)]
struct Events {
    timeline: VecDeque<Transition>,
    /// The generation each timeline entry created, to keep the timeline in transition order
    /// when two threads record neighbouring transitions at once.
    generations: VecDeque<u32>,
    /// When the current outage began, while one is under way.
    outage_since_ns: Option<u64>,
    recoveries: VecDeque<Recovery>,
    recovery_count: u64,
    sla_violations: u64,
    longest_recovery_ns: u64,
    longest_outage_ns: u64,
    /// Node calls and breaker failures when the breaker last closed: health counts from there.
    calls_at_close: u64,
    failures_at_close: u64,
}

/// Lifetime event counters.
#[derive(Debug, Default)]
struct Counters {
    failures: AtomicU64,
    slow_calls: AtomicU64,
    rejected: AtomicU64,
    fallbacks: AtomicU64,
    probes: AtomicU64,
    probe_successes: AtomicU64,
    probe_failures: AtomicU64,
    opened: AtomicU64,
    half_opened: AtomicU64,
    closed: AtomicU64,
}

/// One circuit breaker, shared by every function that names it.
pub(crate) struct Breaker {
    pub(crate) name: &'static str,
    pub(crate) config: BreakerConfig,
    word: AtomicU64,
    /// When the breaker last opened, valid for the generation in `opened_generation`: an opener
    /// publishes both after its compare-and-swap, and a reader that finds a different generation
    /// knows the breaker has only just opened.
    opened_at_ns: AtomicU64,
    opened_generation: AtomicU64,
    window: Option<Outcomes>,
    counters: Counters,
    events: Mutex<Events>,
    last_failure: Mutex<Option<LastFailure>>,
    /// The functions guarded by this breaker: their calls are the breaker's admitted calls.
    pub(crate) sites: Vec<&'static site::BreakerSite>,
    /// Converts breaker-clock nanoseconds to Unix milliseconds.
    unix_ms_at: fn(u64) -> u64,
}

impl Breaker {
    pub(crate) fn new(
        name: &'static str,
        config: BreakerConfig,
        sites: Vec<&'static site::BreakerSite>,
        unix_ms_at: fn(u64) -> u64,
    ) -> Self {
        Self {
            name,
            config,
            word: AtomicU64::new(Word::new(0, CLOSED, false).0),
            opened_at_ns: AtomicU64::new(0),
            opened_generation: AtomicU64::new(u64::MAX),
            window: config.failure_rate.map(|rate| Outcomes::new(rate.window)),
            counters: Counters::default(),
            events: Mutex::new(Events::default()),
            last_failure: Mutex::new(None),
            sites,
            unix_ms_at,
        }
    }

    fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    fn swap(&self, current: Word, new: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word)
    }

    /// The closed-state fast path: admitted, or `None` when the slow path must decide.
    #[inline(always)]
    pub(crate) fn admit_closed(&self) -> Option<Admission> {
        let word = Word(self.word.load(Ordering::Acquire));
        (word.state_bits() == CLOSED).then(|| Admission::Closed {
            generation: word.generation(),
        })
    }

    /// Admits a call or refuses it, moving an open breaker to half-open once its timeout passed.
    pub(crate) fn admit(&self, now_ns: u64) -> Result<Admission, Refusal> {
        let mut word = self.load();
        loop {
            match word.state_bits() {
                CLOSED => {
                    return Ok(Admission::Closed {
                        generation: word.generation(),
                    });
                }
                HALF_OPEN => {
                    if word.probes() >= self.config.half_open_probes {
                        return Err(self.refuse(BreakerState::HalfOpen, None));
                    }
                    match self.swap(word, word.with_probes(word.probes() + 1)) {
                        Ok(()) => {
                            self.counters.probes.fetch_add(1, Ordering::Relaxed);
                            return Ok(Admission::Probe {
                                generation: word.generation(),
                            });
                        }
                        Err(actual) => word = actual,
                    }
                }
                _ => {
                    if word.forced() {
                        return Err(self.refuse(BreakerState::Open, None));
                    }
                    let opened_at_ns = if self.opened_generation.load(Ordering::Acquire)
                        == u64::from(word.generation())
                    {
                        self.opened_at_ns.load(Ordering::Acquire)
                    } else {
                        // Its opener has not published the time yet: it opened just now.
                        now_ns
                    };
                    let probe_at_ns = opened_at_ns.saturating_add(self.config.timeout_ns);
                    if now_ns < probe_at_ns {
                        return Err(self.refuse(BreakerState::Open, Some(probe_at_ns - now_ns)));
                    }
                    let half_open = word.next(HALF_OPEN, false).with_probes(1);
                    match self.swap(word, half_open) {
                        Ok(()) => {
                            self.counters.half_opened.fetch_add(1, Ordering::Relaxed);
                            self.counters.probes.fetch_add(1, Ordering::Relaxed);
                            self.log(
                                half_open.generation(),
                                BreakerState::Open,
                                BreakerState::HalfOpen,
                                TransitionCause::TimeoutElapsed,
                                now_ns,
                            );
                            return Ok(Admission::Probe {
                                generation: half_open.generation(),
                            });
                        }
                        Err(actual) => word = actual,
                    }
                }
            }
        }
    }

    fn refuse(&self, state: BreakerState, retry_in_ns: Option<u64>) -> Refusal {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        Refusal { state, retry_in_ns }
    }

    /// Counts a rejected call served by the fallback.
    pub(crate) fn served_by_fallback(&self) {
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a successful call. `now_ns` is read only when needed.
    #[inline(always)]
    pub(crate) fn succeeded(&self, admission: Admission, now_ns: impl FnOnce() -> u64) {
        match admission {
            Admission::Closed { generation } => {
                if let Some(window) = &self.window {
                    let now_ns = if window.needs_time() { now_ns() } else { 0 };
                    self.record_in_window(generation, false, now_ns);
                    return;
                }
                let word = Word(self.word.load(Ordering::Relaxed));
                if word.count() != 0 {
                    self.reset_consecutive_failures(generation, word);
                }
            }
            Admission::Probe { generation } => self.probe_succeeded(generation, now_ns()),
        }
    }

    #[cold]
    fn reset_consecutive_failures(&self, generation: u32, mut word: Word) {
        while word.is(generation, CLOSED) && word.count() != 0 {
            match self.swap(word, word.with_count(0)) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// Records a failed call (an error the breaker counts, a panic, or a slow call).
    #[cold]
    pub(crate) fn failed(
        &self,
        admission: Admission,
        now_ns: u64,
        message: impl FnOnce() -> String,
    ) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        self.note_failure(now_ns, message);
        match admission {
            Admission::Closed { generation } => {
                if self.window.is_some() {
                    self.record_in_window(generation, true, now_ns);
                } else {
                    self.count_consecutive_failure(generation, now_ns);
                }
            }
            Admission::Probe { generation } => self.probe_failed(generation, now_ns),
        }
    }

    /// Counts a call that was slow enough to count as a failure.
    pub(crate) fn count_slow_call(&self) {
        self.counters.slow_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// An admitted call that neither succeeded nor failed: a future dropped before completing.
    /// A probe gives its slot back.
    pub(crate) fn abandoned(&self, admission: Admission) {
        let Admission::Probe { generation } = admission else {
            return;
        };
        let mut word = self.load();
        while word.is(generation, HALF_OPEN) && word.probes() > 0 {
            match self.swap(word, word.with_probes(word.probes() - 1)) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    fn note_failure(&self, now_ns: u64, message: impl FnOnce() -> String) {
        // Failures arriving together describe the same trouble: keeping any one of them is
        // enough, and no caller waits for another's message.
        if let Ok(mut last) = self.last_failure.try_lock() {
            *last = Some(LastFailure {
                at_ns: now_ns,
                at_unix_ms: (self.unix_ms_at)(now_ns),
                message: message(),
            });
        }
    }

    fn count_consecutive_failure(&self, generation: u32, now_ns: u64) {
        let mut word = self.load();
        while word.is(generation, CLOSED) && !word.forced() {
            let failures = word.count() + 1;
            if failures >= self.config.failure_threshold {
                match self.swap(word, word.next(OPEN, false)) {
                    Ok(()) => {
                        return self.opened(
                            word.generation().wrapping_add(1),
                            BreakerState::Closed,
                            TransitionCause::ConsecutiveFailures { failures },
                            now_ns,
                        );
                    }
                    Err(actual) => word = actual,
                }
            } else {
                match self.swap(word, word.with_count(failures)) {
                    Ok(()) => return,
                    Err(actual) => word = actual,
                }
            }
        }
    }

    fn record_in_window(&self, generation: u32, failed: bool, now_ns: u64) {
        let (Some(window), Some(rate)) = (&self.window, self.config.failure_rate) else {
            return;
        };
        let word = self.load();
        if !word.is(generation, CLOSED) {
            return;
        }
        window.record(failed, now_ns);
        if !failed || word.forced() {
            return;
        }
        let counts = window.counts(now_ns);
        if counts.calls < u64::from(rate.min_calls) || counts.failure_rate() < rate.threshold {
            return;
        }
        if self.swap(word, word.next(OPEN, false)).is_ok() {
            self.opened(
                word.generation().wrapping_add(1),
                BreakerState::Closed,
                TransitionCause::FailureRate {
                    calls: counts.calls,
                    failures: counts.failures,
                },
                now_ns,
            );
        }
    }

    fn probe_succeeded(&self, generation: u32, now_ns: u64) {
        self.counters
            .probe_successes
            .fetch_add(1, Ordering::Relaxed);
        let mut word = self.load();
        while word.is(generation, HALF_OPEN) {
            let successes = word.count() + 1;
            if successes >= self.config.success_threshold {
                match self.swap(word, word.next(CLOSED, false)) {
                    Ok(()) => return self.closed(word.generation().wrapping_add(1), now_ns),
                    Err(actual) => word = actual,
                }
            } else {
                let next = word
                    .with_count(successes)
                    .with_probes(word.probes().saturating_sub(1));
                match self.swap(word, next) {
                    Ok(()) => return,
                    Err(actual) => word = actual,
                }
            }
        }
    }

    fn probe_failed(&self, generation: u32, now_ns: u64) {
        self.counters.probe_failures.fetch_add(1, Ordering::Relaxed);
        let mut word = self.load();
        while word.is(generation, HALF_OPEN) {
            match self.swap(word, word.next(OPEN, false)) {
                Ok(()) => {
                    return self.opened(
                        word.generation().wrapping_add(1),
                        BreakerState::HalfOpen,
                        TransitionCause::ProbeFailed,
                        now_ns,
                    );
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Bookkeeping after this thread's swap opened the breaker into `generation`.
    fn opened(&self, generation: u32, from: BreakerState, cause: TransitionCause, now_ns: u64) {
        self.counters.opened.fetch_add(1, Ordering::Relaxed);
        if let Some(window) = &self.window {
            window.clear();
        }
        {
            let mut events = self.lock_events();
            if from == BreakerState::Closed {
                events.outage_since_ns = Some(now_ns);
            }
            self.push(
                &mut events,
                generation,
                from,
                BreakerState::Open,
                cause,
                now_ns,
            );
        }
        self.opened_at_ns.store(now_ns, Ordering::Release);
        self.opened_generation
            .store(u64::from(generation), Ordering::Release);
    }

    /// Bookkeeping after this thread's swap closed a half-open breaker into `generation`.
    fn closed(&self, generation: u32, now_ns: u64) {
        self.counters.closed.fetch_add(1, Ordering::Relaxed);
        let calls = self.node_calls();
        let failures = self.counters.failures.load(Ordering::Relaxed);
        let mut events = self.lock_events();
        events.calls_at_close = calls;
        events.failures_at_close = failures;
        if let Some(opened_at_ns) = events.outage_since_ns.take() {
            let probing_from_ns = self
                .opened_at_ns
                .load(Ordering::Acquire)
                .saturating_add(self.config.timeout_ns)
                .min(now_ns);
            let duration_ns = now_ns - probing_from_ns;
            let outage_ns = now_ns.saturating_sub(opened_at_ns);
            let within_sla = duration_ns <= self.config.recovery_ns;
            events.recovery_count += 1;
            events.sla_violations += u64::from(!within_sla);
            events.longest_recovery_ns = events.longest_recovery_ns.max(duration_ns);
            events.longest_outage_ns = events.longest_outage_ns.max(outage_ns);
            if events.recoveries.len() == TIMELINE_LEN {
                events.recoveries.pop_front();
            }
            events.recoveries.push_back(Recovery {
                opened_at_ns,
                probing_from_ns,
                closed_at_ns: now_ns,
                duration_ns,
                outage_ns,
                within_sla,
            });
        }
        self.push(
            &mut events,
            generation,
            BreakerState::HalfOpen,
            BreakerState::Closed,
            TransitionCause::ProbesSucceeded,
            now_ns,
        );
    }

    /// Forces the breaker open, closed, or back to a fresh closed state; returns the state it
    /// left. A forced state holds until the next `force` or reset: a forced-open breaker never
    /// probes, a forced-closed one never opens. An outage ended by force is not a recovery.
    pub(crate) fn force(&self, to: ForcedState, now_ns: u64) -> BreakerState {
        let (state, forced, cause) = match to {
            ForcedState::Open => (OPEN, true, TransitionCause::ForcedOpen),
            ForcedState::Closed => (CLOSED, true, TransitionCause::ForcedClosed),
            ForcedState::Reset => (CLOSED, false, TransitionCause::Reset),
        };
        let mut word = self.load();
        loop {
            let new = word.next(state, forced);
            match self.swap(word, new) {
                Ok(()) => {
                    if let Some(window) = &self.window {
                        window.clear();
                    }
                    let calls = self.node_calls();
                    let mut events = self.lock_events();
                    events.outage_since_ns = None;
                    if state == CLOSED {
                        events.calls_at_close = calls;
                        events.failures_at_close = self.counters.failures.load(Ordering::Relaxed);
                    }
                    let to = new.state();
                    self.push(
                        &mut events,
                        new.generation(),
                        word.state(),
                        to,
                        cause,
                        now_ns,
                    );
                    drop(events);
                    if state == OPEN {
                        self.opened_at_ns.store(now_ns, Ordering::Release);
                        self.opened_generation
                            .store(u64::from(new.generation()), Ordering::Release);
                    }
                    return word.state();
                }
                Err(actual) => word = actual,
            }
        }
    }

    fn lock_events(&self) -> crate::record::sync::MutexGuard<'_, Events> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log(
        &self,
        generation: u32,
        from: BreakerState,
        to: BreakerState,
        cause: TransitionCause,
        now_ns: u64,
    ) {
        let mut events = self.lock_events();
        self.push(&mut events, generation, from, to, cause, now_ns);
    }

    fn push(
        &self,
        events: &mut Events,
        generation: u32,
        from: BreakerState,
        to: BreakerState,
        cause: TransitionCause,
        now_ns: u64,
    ) {
        let transition = Transition {
            from,
            to,
            cause,
            at_ns: now_ns,
            at_unix_ms: (self.unix_ms_at)(now_ns),
        };
        // Generations increase by one per transition (wrapping); a transition recorded late
        // goes before the ones it preceded.
        let position = events
            .generations
            .iter()
            .rposition(|&logged| generation.wrapping_sub(logged) < u32::MAX / 2)
            .map_or(0, |index| index + 1);
        events.timeline.insert(position, transition);
        events.generations.insert(position, generation);
        if events.timeline.len() > TIMELINE_LEN {
            events.timeline.pop_front();
            events.generations.pop_front();
        }
    }

    fn node_calls(&self) -> u64 {
        self.sites
            .iter()
            .map(|site| site.node.shards.ended_calls())
            .sum()
    }
}

/// What [`Breaker::force`] moves a breaker to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForcedState {
    Open,
    Closed,
    Reset,
}

#[cfg(all(test, not(instrument_loom)))]
mod tests {
    use super::*;
    use crate::breaker::config::{FailureRate, Window};
    use crate::breaker::snapshot::Health;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;

    fn breaker(config: BreakerConfig) -> Breaker {
        Breaker::new("test", config, Vec::new(), |ns| ns / MS)
    }

    fn call(breaker: &Breaker, failed: bool, now_ns: u64) -> Result<Admission, Refusal> {
        let admission = breaker.admit(now_ns)?;
        if failed {
            breaker.failed(admission, now_ns, || "boom".to_owned());
        } else {
            breaker.succeeded(admission, || now_ns);
        }
        Ok(admission)
    }

    fn state(breaker: &Breaker) -> BreakerState {
        breaker.load().state()
    }

    fn causes(breaker: &Breaker) -> Vec<(BreakerState, BreakerState, TransitionCause, u64)> {
        breaker
            .snapshot(0)
            .timeline
            .iter()
            .map(|t| (t.from, t.to, t.cause, t.at_ns))
            .collect()
    }

    fn tripped(config: BreakerConfig, at_ns: u64) -> Breaker {
        let breaker = breaker(config);
        for _ in 0..config.failure_threshold {
            call(&breaker, true, at_ns).unwrap();
        }
        assert_eq!(state(&breaker), BreakerState::Open);
        breaker
    }

    #[test]
    fn consecutive_failures_open_it_and_a_success_starts_the_count_again() {
        let breaker = breaker(BreakerConfig::DEFAULT);
        for _ in 0..4 {
            call(&breaker, true, 0).unwrap();
        }
        call(&breaker, false, 0).unwrap();
        for _ in 0..4 {
            call(&breaker, true, 0).unwrap();
        }
        assert_eq!(state(&breaker), BreakerState::Closed);
        assert_eq!(breaker.snapshot(0).consecutive_failures, 4);
        call(&breaker, true, 7 * MS).unwrap();
        assert_eq!(state(&breaker), BreakerState::Open);
        assert_eq!(
            causes(&breaker),
            [(
                BreakerState::Closed,
                BreakerState::Open,
                TransitionCause::ConsecutiveFailures { failures: 5 },
                7 * MS
            )]
        );
    }

    #[test]
    fn open_rejects_until_the_timeout_then_admits_exactly_the_configured_probes() {
        let config = BreakerConfig {
            timeout_ns: 10 * S,
            half_open_probes: 2,
            ..BreakerConfig::DEFAULT
        };
        let breaker = tripped(config, S);
        let refusal = breaker.admit(S + 10 * S - 1).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                state: BreakerState::Open,
                retry_in_ns: Some(1)
            }
        );
        let first = breaker.admit(11 * S).unwrap();
        assert!(matches!(first, Admission::Probe { .. }));
        assert!(matches!(breaker.admit(11 * S), Ok(Admission::Probe { .. })));
        let refusal = breaker.admit(11 * S).unwrap_err();
        assert_eq!(
            refusal,
            Refusal {
                state: BreakerState::HalfOpen,
                retry_in_ns: None
            }
        );
        // a probe that ends gives its slot to the next caller
        breaker.abandoned(first);
        assert!(breaker.admit(11 * S).is_ok());
        let snapshot = breaker.snapshot(11 * S);
        assert_eq!((snapshot.rejected, snapshot.probes.admitted), (2, 3));
        assert_eq!(snapshot.transitions.half_opened, 1);
    }

    #[test]
    fn successful_probes_close_it_and_the_recovery_is_measured_against_the_sla() {
        let config = BreakerConfig {
            timeout_ns: S,
            recovery_ns: 2 * S,
            ..BreakerConfig::DEFAULT
        };
        let breaker = tripped(config, 0);
        call(&breaker, false, S).unwrap();
        assert_eq!(state(&breaker), BreakerState::HalfOpen);
        call(&breaker, false, 2 * S).unwrap();
        assert_eq!(state(&breaker), BreakerState::Closed);
        let recoveries = breaker.snapshot(2 * S).recoveries;
        assert_eq!((recoveries.count, recoveries.sla_violations), (1, 0));
        assert_eq!(
            recoveries.recent,
            [Recovery {
                opened_at_ns: 0,
                probing_from_ns: S,
                closed_at_ns: 2 * S,
                duration_ns: S,
                outage_ns: 2 * S,
                within_sla: true
            }]
        );
        // one nanosecond over the SLA, counted from when probing was allowed, is a violation
        for _ in 0..5 {
            call(&breaker, true, 10 * S).unwrap();
        }
        call(&breaker, false, 11 * S).unwrap();
        call(&breaker, false, 13 * S + 1).unwrap();
        let recoveries = breaker.snapshot(14 * S).recoveries;
        assert_eq!((recoveries.count, recoveries.sla_violations), (2, 1));
        assert_eq!(recoveries.longest_ns, 2 * S + 1);
        assert_eq!(recoveries.longest_outage_ns, 3 * S + 1);
    }

    #[test]
    fn the_default_settings_can_meet_their_recovery_sla() {
        // 60 s timeout, 2 s SLA: an outage lasts over a minute, a quick recovery is within it
        let breaker = tripped(BreakerConfig::DEFAULT, 0);
        call(&breaker, false, 60 * S).unwrap();
        call(&breaker, false, 61 * S).unwrap();
        let recoveries = breaker.snapshot(61 * S).recoveries;
        assert_eq!((recoveries.count, recoveries.sla_violations), (1, 0));
        assert_eq!(recoveries.longest_outage_ns, 61 * S);
        assert_eq!(
            breaker.snapshot(61 * S).health.status,
            crate::breaker::snapshot::Health::Healthy
        );
    }

    #[test]
    fn a_failed_probe_reopens_it_and_the_outage_runs_from_the_first_opening() {
        let config = BreakerConfig {
            timeout_ns: S,
            ..BreakerConfig::DEFAULT
        };
        let breaker = tripped(config, 0);
        call(&breaker, true, S).unwrap();
        assert_eq!(state(&breaker), BreakerState::Open);
        // the timeout counts from the reopening
        assert_eq!(
            breaker.admit(S + S / 2).unwrap_err().retry_in_ns,
            Some(S / 2)
        );
        call(&breaker, false, 2 * S).unwrap();
        call(&breaker, false, 2 * S).unwrap();
        let snapshot = breaker.snapshot(2 * S);
        let recovery = snapshot.recoveries.recent[0];
        assert_eq!(
            (recovery.outage_ns, recovery.probing_from_ns),
            (2 * S, 2 * S)
        );
        assert_eq!(
            recovery.duration_ns, 0,
            "recovery counts from the last reopening's timeout"
        );
        assert_eq!((snapshot.probes.succeeded, snapshot.probes.failed), (2, 1));
        assert_eq!(
            causes(&breaker)
                .iter()
                .map(|(_, _, cause, at)| (*cause, *at))
                .collect::<Vec<_>>(),
            [
                (TransitionCause::ConsecutiveFailures { failures: 5 }, 0),
                (TransitionCause::TimeoutElapsed, S),
                (TransitionCause::ProbeFailed, S),
                (TransitionCause::TimeoutElapsed, 2 * S),
                (TransitionCause::ProbesSucceeded, 2 * S),
            ]
        );
        assert_eq!(
            (
                snapshot.transitions.opened,
                snapshot.transitions.half_opened,
                snapshot.transitions.closed
            ),
            (2, 2, 1)
        );
    }

    #[test]
    fn outcomes_of_calls_admitted_before_a_transition_change_nothing() {
        let breaker = breaker(BreakerConfig {
            failure_threshold: 1,
            timeout_ns: S,
            ..BreakerConfig::DEFAULT
        });
        let late = breaker.admit(0).unwrap();
        call(&breaker, true, 0).unwrap();
        breaker.failed(late, 0, String::new);
        breaker.succeeded(late, || 0);
        assert_eq!(breaker.snapshot(0).transitions.opened, 1);
        let probe = breaker.admit(S).unwrap();
        // a closed-era success neither closes the half-open breaker nor frees the probe slot
        breaker.succeeded(late, || S);
        assert!(breaker.admit(S).is_err());
        breaker.failed(probe, S, String::new);
        assert_eq!(state(&breaker), BreakerState::Open);
    }

    #[test]
    fn the_failure_rate_trips_only_with_enough_calls_in_the_window() {
        let breaker = breaker(BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                window: Window::Calls(10),
                min_calls: 6,
            }),
            ..BreakerConfig::DEFAULT
        });
        for _ in 0..5 {
            call(&breaker, true, 0).unwrap();
        }
        assert_eq!(
            state(&breaker),
            BreakerState::Closed,
            "5 calls are below min_calls"
        );
        call(&breaker, true, 0).unwrap();
        assert_eq!(state(&breaker), BreakerState::Open);
        assert_eq!(
            causes(&breaker)[0].2,
            TransitionCause::FailureRate {
                calls: 6,
                failures: 6
            }
        );
        // opening empties the window
        assert_eq!(breaker.snapshot(0).window.unwrap().calls, 0);
    }

    #[test]
    fn a_time_window_forgets_failures_as_it_rolls_over() {
        let breaker = breaker(BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                window: Window::Nanos(10 * S),
                min_calls: 4,
            }),
            ..BreakerConfig::DEFAULT
        });
        call(&breaker, true, 0).unwrap();
        call(&breaker, true, 0).unwrap();
        call(&breaker, false, 5 * S).unwrap();
        call(&breaker, false, 5 * S).unwrap();
        // 2 of 4 failed, but only failures can trip it
        assert_eq!(state(&breaker), BreakerState::Closed);
        // at 10 s the first two failures have left the window: 1 of 3 is below 50%, and 3 < 4
        call(&breaker, true, 10 * S).unwrap();
        assert_eq!(state(&breaker), BreakerState::Closed);
        let window = breaker.snapshot(10 * S).window.unwrap();
        assert_eq!((window.calls, window.failures), (3, 1));
        call(&breaker, true, 10 * S).unwrap();
        assert_eq!(state(&breaker), BreakerState::Open, "2 of 4 is 50%");
    }

    #[test]
    fn forcing_holds_until_reset() {
        let breaker = breaker(BreakerConfig {
            failure_threshold: 1,
            timeout_ns: S,
            ..BreakerConfig::DEFAULT
        });
        assert_eq!(breaker.force(ForcedState::Open, 0), BreakerState::Closed);
        assert_eq!(
            breaker.admit(100 * S).unwrap_err().retry_in_ns,
            None,
            "forced open never probes"
        );
        breaker.force(ForcedState::Closed, 100 * S);
        call(&breaker, true, 100 * S).unwrap();
        call(&breaker, true, 100 * S).unwrap();
        assert_eq!(
            state(&breaker),
            BreakerState::Closed,
            "forced closed never opens"
        );
        assert!(breaker.snapshot(0).forced);
        breaker.force(ForcedState::Reset, 101 * S);
        call(&breaker, true, 101 * S).unwrap();
        assert_eq!(state(&breaker), BreakerState::Open);
        let snapshot = breaker.snapshot(101 * S);
        assert!(!snapshot.forced);
        assert_eq!(
            snapshot.recoveries.count, 0,
            "a forced outage is not a recovery"
        );
        let causes: Vec<_> = causes(&breaker).iter().map(|c| c.2).collect();
        assert_eq!(
            causes,
            [
                TransitionCause::ForcedOpen,
                TransitionCause::ForcedClosed,
                TransitionCause::Reset,
                TransitionCause::ConsecutiveFailures { failures: 1 },
            ]
        );
    }

    #[test]
    fn the_timeline_keeps_the_last_transitions() {
        let breaker = breaker(BreakerConfig::DEFAULT);
        for round in 0..40 {
            breaker.force(ForcedState::Open, round);
            breaker.force(ForcedState::Reset, round);
        }
        let timeline = breaker.snapshot(0).timeline;
        assert_eq!(timeline.len(), TIMELINE_LEN);
        assert_eq!(timeline.last().unwrap().cause, TransitionCause::Reset);
        assert_eq!(timeline.first().unwrap().at_ns, 8);
    }

    #[test]
    fn health_follows_the_state_and_the_success_rate() {
        let config = BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold: 0.9,
                window: Window::Calls(100),
                min_calls: 100,
            }),
            ..BreakerConfig::DEFAULT
        };
        let breaker = breaker(config);
        let health = |breaker: &Breaker| breaker.snapshot(0).health.status;
        assert_eq!(health(&breaker), Health::Healthy, "no calls yet");
        for call_index in 0..100 {
            call(&breaker, call_index == 99, 0).unwrap();
        }
        assert_eq!(health(&breaker), Health::Healthy, "99% is healthy");
        call(&breaker, true, 0).unwrap();
        assert_eq!(health(&breaker), Health::Degraded, "98% is degraded");
        for _ in 0..48 {
            call(&breaker, true, 0).unwrap();
        }
        assert!((breaker.snapshot(0).health.success_rate - 0.5).abs() < 1e-9);
        assert_eq!(health(&breaker), Health::Degraded, "50% is still degraded");
        call(&breaker, true, 0).unwrap();
        assert_eq!(health(&breaker), Health::Failing, "49% is failing");
        breaker.force(ForcedState::Open, 0);
        assert_eq!(health(&breaker), Health::Failing);
    }
}

/// Model checks: every interleaving of a few threads, explored by `loom`. Run with
/// `RUSTFLAGS="--cfg instrument_loom" cargo test -p instrument-runtime --lib --release breaker::loom`.
#[cfg(all(test, instrument_loom))]
mod loom_checks {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    fn breaker(config: BreakerConfig) -> Arc<Breaker> {
        Arc::new(Breaker::new("loom", config, Vec::new(), |ns| ns))
    }

    /// A breaker opened by one failure at 0 and half-open at 10, with both of its two probes
    /// admitted; `success_threshold` successes close it.
    fn two_probes_in_flight(success_threshold: u32) -> (Arc<Breaker>, Admission, Admission) {
        let breaker = breaker(BreakerConfig {
            failure_threshold: 1,
            success_threshold,
            timeout_ns: 10,
            half_open_probes: 2,
            ..BreakerConfig::DEFAULT
        });
        let admission = breaker.admit(0).unwrap();
        breaker.failed(admission, 0, String::new);
        let first = breaker.admit(10).unwrap();
        let second = breaker.admit(10).unwrap();
        (breaker, first, second)
    }

    #[test]
    fn half_open_never_admits_more_probes_than_configured_and_counts_every_refusal() {
        loom::model(|| {
            let breaker = breaker(BreakerConfig {
                failure_threshold: 1,
                timeout_ns: 10,
                half_open_probes: 2,
                ..BreakerConfig::DEFAULT
            });
            let admission = breaker.admit(0).unwrap();
            breaker.failed(admission, 0, String::new);
            // three callers race for two probe slots, one of them also moving it to half-open
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let breaker = breaker.clone();
                    thread::spawn(move || breaker.admit(10).is_ok())
                })
                .collect();
            let mine = breaker.admit(10).is_ok();
            let admitted = threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .chain([mine])
                .filter(|&admitted| admitted)
                .count();
            assert_eq!(admitted, 2);
            let snapshot = breaker.snapshot(10);
            assert_eq!(snapshot.rejected, 1);
            assert_eq!(snapshot.probes.admitted, 2);
            assert_eq!(snapshot.transitions.half_opened, 1);
            assert_eq!(snapshot.probes_in_flight, 2);
        });
    }

    #[test]
    fn concurrent_failures_open_the_breaker_exactly_once() {
        loom::model(|| {
            let breaker = breaker(BreakerConfig {
                failure_threshold: 2,
                ..BreakerConfig::DEFAULT
            });
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let breaker = breaker.clone();
                    thread::spawn(move || {
                        if let Ok(admission) = breaker.admit(0) {
                            breaker.failed(admission, 0, String::new);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let snapshot = breaker.snapshot(0);
            assert_eq!(snapshot.state, BreakerState::Open);
            assert_eq!(snapshot.transitions.opened, 1);
            assert_eq!(snapshot.timeline.len(), 1);
        });
    }

    #[test]
    fn concurrent_probe_outcomes_lose_no_transition() {
        loom::model(|| {
            let (breaker, first, second) = two_probes_in_flight(2);
            let other = {
                let breaker = breaker.clone();
                thread::spawn(move || breaker.succeeded(first, || 10))
            };
            breaker.succeeded(second, || 10);
            other.join().unwrap();
            let snapshot = breaker.snapshot(10);
            assert_eq!(snapshot.state, BreakerState::Closed);
            assert_eq!(snapshot.transitions.closed, 1);
            assert_eq!(snapshot.recoveries.count, 1);
            let states: Vec<_> = snapshot.timeline.iter().map(|t| t.to).collect();
            assert_eq!(
                states,
                [
                    BreakerState::Open,
                    BreakerState::HalfOpen,
                    BreakerState::Closed
                ]
            );
        });
    }

    #[test]
    fn a_probe_failing_while_another_succeeds_reopens_or_closes_consistently() {
        loom::model(|| {
            let (breaker, first, second) = two_probes_in_flight(1);
            let other = {
                let breaker = breaker.clone();
                thread::spawn(move || breaker.failed(first, 10, String::new))
            };
            breaker.succeeded(second, || 10);
            other.join().unwrap();
            let snapshot = breaker.snapshot(10);
            // whichever outcome lands first decides; the other is stale and changes nothing
            let transitions = snapshot.transitions.opened + snapshot.transitions.closed;
            assert_eq!(
                transitions, 2,
                "the first opening plus exactly one decision"
            );
            assert_eq!(snapshot.timeline.len(), 3);
            assert_eq!(snapshot.timeline.last().unwrap().to, snapshot.state);
        });
    }
}
