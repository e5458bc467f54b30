//! The four attributes, documented where they are re-exported: `timed`, `counted`, `budget` and
//! `circuit_breaker`. The macro crate parses and expands them; what they record lives in
//! [`record`](crate::record).

/// Records the wall time of every call into the node's latency histogram.
///
/// Works on free functions, methods with any receiver, trait impl methods, generic functions (one
/// node per source function), `const`- and lifetime-generic functions, functions returning
/// `impl Trait`, `unsafe fn`, `async fn` (timed from first poll to completion; a future dropped
/// before completion counts as cancelled) and methods of `#[async_trait]` impls. Early `return`
/// and `?` keep their meaning. A panic is counted and propagates unchanged; its latency is not
/// recorded, since the panic hook has run by the time the unwind ends the call. A returned value
/// that is a failure is counted as an error (see [`Outcome`](crate::Outcome)). Stacks with `#[counted]` and
/// `#[budget]` in any order, recording once. Closures cannot carry attributes: use the block form,
/// [`timed_scope!`](crate::timed_scope).
///
/// # Arguments
///
/// ## `name`
///
/// The node's name. By default, the function's path within its module: `parse` for a free
/// function, `Store::get` for a method, `<Store as Cache>::get` for a trait method (see
/// [`NodeMeta::qualified_name`](crate::record::NodeMeta::qualified_name)). Two functions given one name are reported as a conflict (see
/// [`conflicts`](crate::record::conflicts)), never merged, and each is named with its site in the exports. Any printable
/// text will do (`Store::get`, `checkout v2`); an empty name or one with a control character
/// (`\r`, `\x1b`) is a compile error, since names are printed in tables, logs and metrics.
///
/// ## `is_failure`
///
/// The path of a function `fn(&E) -> bool` deciding which `Err(E)` count as errors, for code
/// where an `Err` is control flow (default: every `Err`). The same on `#[counted]` and
/// `#[budget]`.
///
/// # Example
///
/// ```
/// #[instrument_runtime::timed(name = "timed_doc_embedding")]
/// fn embed(batch: &[&str]) -> Vec<f32> {
///     batch.iter().map(|text| text.len() as f32).collect()
/// }
///
/// embed(&["a", "bc"]);
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("timed_doc_embedding").unwrap();
/// assert_eq!(node.calls, 1);
/// assert!(node.latency.is_some());
/// ```
#[doc(inline)]
pub use instrument_macros::timed;

/// Counts calls, failures, panics and cancellations.
///
/// A call fails when its return value's [`Outcome::is_failure`](crate::Outcome::is_failure) says so: every `Result` (aliases
/// such as `io::Result` included) fails on `Err`; implement [`Outcome`](crate::Outcome) for your own types.
/// Return types without it are counted, never as failures. Does not read the clock.
///
/// # Arguments
///
/// ## `name`
///
/// The node's name (default: the function's path within its module), as for [`timed`].
///
/// ## `is_failure`
///
/// Which errors count as failures, as for [`timed`]:
///
/// ```
/// fn is_malformed(error: &std::num::ParseIntError) -> bool {
///     !matches!(error.kind(), std::num::IntErrorKind::Empty)
/// }
///
/// #[instrument_runtime::counted(name = "counted_doc_is_failure", is_failure = is_malformed)]
/// fn optional_number(text: &str) -> Result<u32, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// let _ = optional_number("");
/// let _ = optional_number("x");
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("counted_doc_is_failure").unwrap().errors, 1);
/// ```
///
/// ## `in_flight`
///
/// Also keep a gauge of calls running right now; it stays right when a call panics or a future
/// is dropped before completing.
///
/// # Example
///
/// ```
/// #[instrument_runtime::counted(name = "counted_doc_parse", in_flight)]
/// fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// let _ = parse("12");
/// let _ = parse("twelve");
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("counted_doc_parse").unwrap();
/// assert_eq!((node.calls, node.errors, node.in_flight), (2, 1, Some(0)));
/// ```
#[doc(inline)]
pub use instrument_macros::counted;

/// Declares the node's latency budget at compile time; implies `#[timed]`.
///
/// [`check_budgets`](crate::check_budgets) judges it; the report at exit shows the verdict. Durations are written as
/// `"250us"`, `"1.5ms"`, `"2s"`, `"1m"` (units `ns`, `us`, `µs`, `ms`, `s`, `m`; integer or
/// decimal; the quotes may be left out: `p95 = 50ms`). Every mistake is a compile error on the
/// offending token.
///
/// # Arguments
///
/// ## `p50`, `p90`, `p95`, `p99`, `max`
///
/// The most each statistic may take. At least one is required, and they must not decrease
/// (`p95` above `p99` is an error).
///
/// ## `tolerance`
///
/// How far over budget a statistic may go before it fails, as a percentage from `"0%"` to
/// `"100%"`. Default `"10%"`: a `p95 = "50ms"` budget fails above 55 ms.
///
/// ## `min_samples`
///
/// Calls needed before the node is judged (default 100); with fewer it is reported as not
/// exercised.
///
/// ## `name`
///
/// The node's name (default: the function's path within its module), as for [`timed`].
///
/// ## `is_failure`
///
/// Which errors count as failures, as for [`timed`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{ManualClock, VerdictStatus};
///
/// #[instrument_runtime::budget(name = "budget_doc_sanitize", p95 = "2ms", p99 = "3ms", min_samples = 10)]
/// fn sanitize(clock: &ManualClock) {
///     clock.advance(Duration::from_micros(1500));
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// for _ in 0..10 {
///     sanitize(&clock);
/// }
/// let snapshot = instrument_runtime::snapshot();
/// let verdict = snapshot.node("budget_doc_sanitize").unwrap().verdict.as_ref().unwrap();
/// assert_eq!(verdict.status, VerdictStatus::Pass);
/// ```
#[doc(inline)]
pub use instrument_macros::budget;

/// Guards the function with a circuit breaker; implies `#[counted]`.
///
/// While the breaker is closed, calls go through and their outcomes are counted; after enough
/// failures it opens and rejects calls without running the body: a rejected call returns the
/// `fallback`'s value, or, without one, `Err` of the error type made from [`CircuitOpen`](crate::CircuitOpen) (its
/// `From<CircuitOpen>` impl; `io::Error` has one). After `timeout` it lets probes through; enough
/// successful probes close it again, a failed one reopens it. Rejected calls are not calls of the
/// node. A call fails as for `#[counted]` ([`Outcome`](crate::Outcome)), so the function must return a `Result` or
/// another [`Outcome`](crate::Outcome) type. Several functions may share one breaker by giving the same `name`
/// and the same settings; see [`breaker`](crate::breaker()), [`breaker_health`](crate::breaker::breaker_health) and [`Snapshot::breakers`](crate::Snapshot::breakers) for its
/// state. Every mistake in the arguments is a compile error on the offending token.
///
/// # Arguments
///
/// ## `name`
///
/// The breaker's name (default: the function's name). It names the breaker, not the node: the
/// node keeps its own name. Like a node's name, it must not be empty or hold control characters.
///
/// ## `failure_threshold`
///
/// Failures in a row that open the breaker, from 1 to 65535 (default 5). Cannot be combined with
/// `failure_rate`.
///
/// ## `failure_rate`, `window`, `min_calls`
///
/// Open on the share of failed calls instead: `failure_rate = "50%"` (above `0%`, up to `100%`)
/// over a `window` of the last calls (`window = 100`, at most 100000; the default) or of the last
/// stretch of time (`window = "30s"`), once the window holds `min_calls` calls (default 10, or the
/// window's size when smaller). `window` and `min_calls` need `failure_rate`.
///
/// ## `timeout`
///
/// How long the breaker stays open before it lets a probe through (default `"60s"`). Durations
/// are written as for [`budget`]: `"500ms"`, `"2s"`, `"1m"`.
///
/// ## `half_open_probes`
///
/// Probe calls let through at once while half-open, from 1 to 8191 (default 1).
///
/// ## `success_threshold`
///
/// Successful probes in a row that close the breaker, from 1 to 65535 (default 2).
///
/// ## `recovery`
///
/// The recovery SLA: the longest the breaker should take to close once probing is allowed, that
/// is from `timeout` after it last opened to closed (default `"2s"`); longer recoveries are
/// counted as violations. The outage, from opening to closing again, lasts at least `timeout`
/// and is reported as its own figure, not judged against the SLA.
///
/// ## `fallback`
///
/// A function called with the same arguments (`self` first for methods) and returning the same
/// type, serving calls the breaker rejects: `fallback = embed_cached`, `fallback = Self::cached`.
/// For an `async fn`, an `async fn` too.
///
/// ## `is_failure`
///
/// A function `fn(&E) -> bool` deciding which errors count against the breaker, for a function
/// returning `Result<T, E>` (default: every `Err`), e.g. to ignore "not found".
///
/// ## `slow_call`
///
/// Calls slower than this also count as failures (default: none).
///
/// ## `healthy_above`, `failing_below`
///
/// The success rates at or above which the breaker reports healthy (default `"99%"`) and below
/// which it reports failing (default `"50%"`); `failing_below` must not be above `healthy_above`.
///
/// # Example
///
/// ```
/// use instrument_runtime::BreakerState;
///
/// #[instrument_runtime::circuit_breaker(
///     name = "circuit_breaker_doc_embedding",
///     failure_threshold = 2,
///     fallback = embed_cached
/// )]
/// fn embed(text: &str) -> Result<Vec<f32>, String> {
///     Err(format!("the embedding service is down, cannot embed `{text}`"))
/// }
///
/// fn embed_cached(_text: &str) -> Result<Vec<f32>, String> {
///     Ok(vec![0.0; 4])
/// }
///
/// assert!(embed("a").is_err());
/// assert!(embed("b").is_err());
/// // Open: the service is not called, the fallback answers.
/// assert_eq!(embed("c"), Ok(vec![0.0; 4]));
/// let breaker = instrument_runtime::breaker("circuit_breaker_doc_embedding").unwrap();
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert_eq!(breaker.snapshot().fallbacks, 1);
/// ```
#[doc(inline)]
pub use instrument_macros::circuit_breaker;
