//! How a breaker is configured: what `#[circuit_breaker(...)]` declares.

use serde::{Deserialize, Serialize};

/// A circuit breaker's settings, as declared with `#[circuit_breaker(...)]`.
///
/// Every function naming the same breaker must declare the same settings; a mismatch is reported
/// when the breakers are first set up.
///
/// ```
/// use instrument_runtime::breaker::BreakerConfig;
///
/// let config = BreakerConfig::DEFAULT;
/// assert_eq!((config.failure_threshold, config.success_threshold), (5, 2));
/// assert_eq!(config.timeout_ns, 60_000_000_000);
/// assert!(config.failure_rate.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker (when no `failure_rate` is set).
    pub failure_threshold: u32,
    /// Consecutive successful probes that close a half-open breaker.
    pub success_threshold: u32,
    /// How long an open breaker rejects calls before it lets a probe through.
    pub timeout_ns: u64,
    /// The recovery SLA: the longest the breaker may take to close once probing is allowed
    /// (`timeout_ns` after it last opened).
    pub recovery_ns: u64,
    /// Probes allowed in flight at once while half-open.
    pub half_open_probes: u32,
    /// Trip on the failure rate over a sliding window instead of on consecutive failures.
    pub failure_rate: Option<FailureRate>,
    /// Calls slower than this count as failures.
    pub slow_call_ns: Option<u64>,
    /// Success rate at or above which a closed breaker is healthy (a fraction: 0.99 = 99%).
    pub healthy_above: f64,
    /// Success rate below which a breaker is failing (a fraction).
    pub failing_below: f64,
}

impl BreakerConfig {
    /// What `#[circuit_breaker]` starts from: 5 consecutive failures open it, 60 s open, 1 probe,
    /// 2 successful probes close it, a 2 s recovery SLA, healthy at 99% and failing below 50%.
    pub const DEFAULT: BreakerConfig = BreakerConfig {
        failure_threshold: 5,
        success_threshold: 2,
        timeout_ns: 60_000_000_000,
        recovery_ns: 2_000_000_000,
        half_open_probes: 1,
        failure_rate: None,
        slow_call_ns: None,
        healthy_above: 0.99,
        failing_below: 0.50,
    };
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Failure-rate mode: the breaker opens when, over the window, at least `min_calls` calls were
/// seen and the share of failures reaches `threshold`.
///
/// ```
/// use instrument_runtime::breaker::{FailureRate, Window};
///
/// let rate = FailureRate { threshold: 0.5, window: Window::Calls(100), min_calls: 10 };
/// assert_eq!(rate.window, Window::Calls(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureRate {
    /// Share of failed calls that opens the breaker (a fraction: 0.5 = 50%).
    pub threshold: f64,
    /// Which calls the rate is computed over.
    pub window: Window,
    /// Calls the window must hold before the breaker may open.
    pub min_calls: u32,
}

/// The sliding window of a failure-rate breaker.
///
/// ```
/// use instrument_runtime::breaker::Window;
///
/// let by_time = Window::Nanos(30_000_000_000);
/// assert_ne!(by_time, Window::Calls(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    /// The last this-many calls.
    Calls(u32),
    /// The calls of the last this-many nanoseconds, in ten buckets: the window moves one tenth
    /// at a time.
    Nanos(u64),
}
