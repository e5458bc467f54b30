//! What generated code talks to: one static site per function carrying `#[circuit_breaker]`,
//! resolved on first use to the breaker it names, and the permit a call holds while it runs.

use std::fmt;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use crate::breaker::config::BreakerConfig;
use crate::breaker::{Admission, Breaker, BreakerState, Refusal, table};
use crate::record::clock;
use crate::record::node::Node;
use crate::record::outcome::Outcome;

/// What one `#[circuit_breaker(...)]` attribute declares.
#[doc(hidden)]
#[derive(Debug)]
pub struct BreakerDecl {
    pub name: &'static str,
    pub function: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub fallback: Option<&'static str>,
    pub config: BreakerConfig,
}

/// A function guarded by a breaker: its declaration, its node, and, once resolved, the breaker.
#[doc(hidden)]
#[derive(Debug)]
pub struct BreakerSite {
    pub(crate) decl: &'static BreakerDecl,
    pub(crate) node: &'static Node,
    pub(crate) breaker: AtomicPtr<Breaker>,
}

/// What `inventory` collects: a pointer to a breaker site static.
#[doc(hidden)]
#[derive(Debug)]
pub struct BreakerSiteRef(pub &'static BreakerSite);

inventory::collect!(BreakerSiteRef);

impl BreakerSite {
    #[doc(hidden)]
    pub const fn new(decl: &'static BreakerDecl, node: &'static Node) -> Self {
        Self {
            decl,
            node,
            breaker: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The breaker this site names.
    #[inline(always)]
    pub(crate) fn breaker(&'static self) -> &'static Breaker {
        let breaker = self.breaker.load(Ordering::Acquire);
        if breaker.is_null() {
            return table::resolve(self);
        }
        // SAFETY: only `table::resolve` stores here, and only pointers to breakers it leaked.
        unsafe { &*breaker }
    }

    /// Lets a call through, or says why not.
    #[doc(hidden)]
    #[inline(always)]
    pub fn admit(&'static self) -> Result<Permit, Rejection> {
        let breaker = self.breaker();
        let admission = match breaker.admit_closed() {
            Some(admission) => admission,
            None => breaker
                .admit(clock::breaker_now_ns())
                .map_err(|refusal| Rejection { breaker, refusal })?,
        };
        let started = if breaker.config.slow_call_ns.is_some() {
            clock::now()
        } else {
            0
        };
        Ok(Permit {
            breaker,
            admission,
            started,
            began_during_panic: std::thread::panicking(),
        })
    }
}

/// A call the breaker let through. [`finish`](Self::finish) consumes it without running its
/// destructor; dropped instead, it records a panic as a failure and a cancelled future as neither.
#[doc(hidden)]
#[must_use]
pub struct Permit {
    breaker: &'static Breaker,
    admission: Admission,
    started: u64,
    began_during_panic: bool,
}

impl Permit {
    /// Records how the call ended; `describe` is called only for a failure.
    #[doc(hidden)]
    #[inline(always)]
    pub fn finish(self, failed: bool, describe: impl FnOnce() -> String) {
        // Every field is a reference or a number: nothing leaks, and the ending path is not a
        // call into the destructor on every call.
        let this = std::mem::ManuallyDrop::new(self);
        let breaker = this.breaker;
        if let Some(slow_call_ns) = breaker.config.slow_call_ns {
            let elapsed_ns = clock::elapsed_ns(this.started, clock::now());
            if !failed && elapsed_ns > slow_call_ns {
                breaker.count_slow_call();
                return breaker.failed(this.admission, clock::breaker_now_ns(), || {
                    format!(
                        "slow call: {} over the {} limit",
                        crate::format::format_duration(
                            elapsed_ns,
                            crate::format::TableStyle::Ascii
                        ),
                        crate::format::format_duration(
                            slow_call_ns,
                            crate::format::TableStyle::Ascii
                        )
                    )
                });
            }
        }
        if failed {
            breaker.failed(this.admission, clock::breaker_now_ns(), describe);
        } else {
            breaker.succeeded(this.admission, clock::breaker_now_ns);
        }
    }
}

impl Drop for Permit {
    #[cold]
    fn drop(&mut self) {
        if std::thread::panicking() && !self.began_during_panic {
            self.breaker
                .failed(self.admission, clock::breaker_now_ns(), || {
                    "panicked".to_owned()
                });
        } else {
            self.breaker.abandoned(self.admission);
        }
    }
}

/// A call the breaker refused.
#[doc(hidden)]
#[must_use]
pub struct Rejection {
    breaker: &'static Breaker,
    refusal: Refusal,
}

impl Rejection {
    /// Counts the fallback about to serve the call.
    #[doc(hidden)]
    pub fn served_by_fallback(self) {
        self.breaker.served_by_fallback();
    }

    fn into_circuit_open(self) -> CircuitOpen {
        CircuitOpen {
            name: self.breaker.name,
            state: self.refusal.state,
            retry_in: self.refusal.retry_in_ns.map(Duration::from_nanos),
        }
    }
}

/// The error a breaker without a fallback answers a refused call with, converted into the
/// function's error type through `From`.
///
/// ```
/// use instrument_runtime::{BreakerState, CircuitOpen};
///
/// #[derive(Debug)]
/// enum FetchError {
///     Unavailable(CircuitOpen),
///     Timeout,
/// }
///
/// impl From<CircuitOpen> for FetchError {
///     fn from(open: CircuitOpen) -> Self {
///         FetchError::Unavailable(open)
///     }
/// }
///
/// #[instrument_runtime::circuit_breaker(name = "circuit_open_doc", failure_threshold = 1)]
/// fn fetch() -> Result<u32, FetchError> {
///     Err(FetchError::Timeout)
/// }
///
/// assert!(matches!(fetch(), Err(FetchError::Timeout)));
/// let Err(FetchError::Unavailable(open)) = fetch() else { panic!("the breaker is open") };
/// assert_eq!((open.name(), open.state()), ("circuit_open_doc", BreakerState::Open));
/// assert!(open.retry_in().is_some());
/// # instrument_runtime::breaker("circuit_open_doc").unwrap().reset();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitOpen {
    name: &'static str,
    state: BreakerState,
    retry_in: Option<Duration>,
}

impl CircuitOpen {
    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `Open`, or `HalfOpen` when every probe slot was taken.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// How long until the breaker lets a probe through; `None` while half-open (a probe is
    /// already running) or while forced open.
    pub fn retry_in(&self) -> Option<Duration> {
        self.retry_in
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.state, self.retry_in) {
            (BreakerState::HalfOpen, _) => write!(
                f,
                "circuit breaker `{}` is half-open and its probe slots are taken",
                self.name
            ),
            (_, Some(retry_in)) => write!(
                f,
                "circuit breaker `{}` is open; next probe in {}",
                self.name,
                crate::format::format_duration(
                    u64::try_from(retry_in.as_nanos()).unwrap_or(u64::MAX),
                    crate::format::TableStyle::Ascii
                )
            ),
            (_, None) => write!(f, "circuit breaker `{}` is forced open", self.name),
        }
    }
}

impl std::error::Error for CircuitOpen {}

impl From<CircuitOpen> for std::io::Error {
    fn from(open: CircuitOpen) -> Self {
        std::io::Error::other(open)
    }
}

/// An error type that can stand for a call the breaker refused: every type with
/// `From<CircuitOpen>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot stand for a call the circuit breaker rejected",
    label = "the error type cannot be built from `instrument_runtime::CircuitOpen`",
    note = "implement `From<instrument_runtime::CircuitOpen>` for `{Self}`, or give the breaker a `fallback = path` with the function's signature"
)]
pub trait FromCircuitOpen {
    /// The error for a refused call.
    fn from_circuit_open(open: CircuitOpen) -> Self;
}

impl<E: From<CircuitOpen>> FromCircuitOpen for E {
    fn from_circuit_open(open: CircuitOpen) -> Self {
        E::from(open)
    }
}

/// A return type that can carry an error: what lets a breaker without a `fallback` answer a
/// refused call. Implemented for every `Result`; implement it for your own types to guard them
/// without a fallback.
///
/// ```
/// use instrument_runtime::{breaker::Fallible, CircuitOpen, Outcome};
///
/// struct Reason(String);
///
/// impl From<CircuitOpen> for Reason {
///     fn from(open: CircuitOpen) -> Self {
///         Reason(open.to_string())
///     }
/// }
///
/// enum Response {
///     Ok(String),
///     Unavailable(Reason),
/// }
///
/// impl Outcome for Response {
///     fn is_failure(&self) -> bool {
///         matches!(self, Response::Unavailable(_))
///     }
/// }
///
/// impl Fallible for Response {
///     type Error = Reason;
///     fn from_error(reason: Reason) -> Self {
///         Response::Unavailable(reason)
///     }
/// }
///
/// #[instrument_runtime::circuit_breaker(name = "fallible_doc", failure_threshold = 1)]
/// fn handle(up: bool) -> Response {
///     if up { Response::Ok("hi".into()) } else { Response::Unavailable(Reason("down".into())) }
/// }
///
/// handle(false);
/// let Response::Unavailable(Reason(message)) = handle(true) else { panic!("the breaker is open") };
/// assert!(message.starts_with("circuit breaker `fallible_doc` is open"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot answer a call the circuit breaker refused",
    label = "not a `Result`",
    note = "give the breaker a `fallback = path` with the function's signature, or return a `Result` whose error type implements `From<instrument_runtime::CircuitOpen>`"
)]
pub trait Fallible {
    /// The error it carries.
    type Error;
    /// The value for a failed call with this error.
    fn from_error(error: Self::Error) -> Self;
}

impl<T, E> Fallible for Result<T, E> {
    type Error = E;

    fn from_error(error: E) -> Self {
        Err(error)
    }
}

/// The return value of a refused call without a fallback.
#[doc(hidden)]
pub fn reject<R: Fallible>(rejection: Rejection) -> R
where
    R::Error: FromCircuitOpen,
{
    R::from_error(R::Error::from_circuit_open(rejection.into_circuit_open()))
}

/// Whether the breaker counts this return value as a failure.
#[doc(hidden)]
#[inline(always)]
pub fn breaker_failed<R: Outcome + ?Sized>(ret: &R) -> bool {
    ret.is_failure()
}

/// Whether the breaker counts this return value as a failure, deciding errors with the
/// function's `is_failure`.
#[doc(hidden)]
#[inline(always)]
pub fn breaker_failed_with<T, E>(ret: &Result<T, E>, is_failure: impl FnOnce(&E) -> bool) -> bool {
    ret.as_ref().err().is_some_and(is_failure)
}

/// Autoref specialization for the text of a failure: the error's `Display`, else its `Debug`,
/// else the return type's name. `(&&Describe(&value)).instrument_describe()`.
#[doc(hidden)]
pub struct Describe<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait DescribeViaDisplay {
    fn instrument_describe(&self) -> String;
}

impl<T, E: fmt::Display> DescribeViaDisplay for &Describe<'_, Result<T, E>> {
    fn instrument_describe(&self) -> String {
        self.0
            .as_ref()
            .err()
            .map_or_else(String::new, ToString::to_string)
    }
}

#[doc(hidden)]
pub trait DescribeViaDebug {
    fn instrument_describe(&self) -> String;
}

impl<T, E: fmt::Debug> DescribeViaDebug for &&Describe<'_, Result<T, E>> {
    fn instrument_describe(&self) -> String {
        self.0
            .as_ref()
            .err()
            .map_or_else(String::new, |error| format!("{error:?}"))
    }
}

#[doc(hidden)]
pub trait DescribeViaName {
    fn instrument_describe(&self) -> String;
}

impl<T: ?Sized> DescribeViaName for Describe<'_, T> {
    fn instrument_describe(&self) -> String {
        format!("failed ({})", std::any::type_name::<T>())
    }
}

#[cfg(all(test, not(instrument_loom)))]
mod tests {
    use super::*;
    use crate::record::node::test_node;

    test_node!(GUARDED, GUARDED_LOCAL, "site_unit_guarded");

    static DECL: BreakerDecl = BreakerDecl {
        name: "site_unit_breaker",
        function: "guarded",
        module_path: module_path!(),
        file: file!(),
        line: line!(),
        fallback: None,
        config: BreakerConfig::DEFAULT,
    };
    static SITE: BreakerSite = BreakerSite::new(&DECL, &GUARDED);
    inventory::submit! { BreakerSiteRef(&SITE) }

    #[test]
    fn a_site_resolves_its_breaker_once_then_reads_the_stored_pointer() {
        assert!(SITE.breaker.load(Ordering::Acquire).is_null());
        let resolved = SITE.breaker();
        assert!(!SITE.breaker.load(Ordering::Acquire).is_null());
        assert!(std::ptr::eq(SITE.breaker(), resolved));
        SITE.admit().ok().unwrap().finish(false, String::new);
        SITE.admit()
            .ok()
            .unwrap()
            .finish(true, || "failed".to_owned());
        drop(SITE.admit().ok().unwrap());
        let breaker = crate::breaker::table::all()
            .iter()
            .find(|breaker| breaker.name == "site_unit_breaker")
            .unwrap();
        assert!(std::ptr::eq(*breaker, resolved));
    }

    #[test]
    #[allow(
        clippy::needless_borrow,
        reason = "the explicit borrows are what select the implementation"
    )]
    fn failures_are_described_by_display_then_debug_then_type_name() {
        #[derive(Debug)]
        struct OnlyDebug;
        struct Opaque;
        let display: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
        assert_eq!((&&Describe(&display)).instrument_describe(), "disk full");
        let debug: Result<(), OnlyDebug> = Err(OnlyDebug);
        assert_eq!((&&Describe(&debug)).instrument_describe(), "OnlyDebug");
        let opaque: Result<(), Opaque> = Err(Opaque);
        assert!(
            (&&Describe(&opaque))
                .instrument_describe()
                .starts_with("failed (")
        );
    }

    #[test]
    fn is_failure_decides_only_errors() {
        let not_the_dependency: Result<(), &str> = Err("validation");
        assert!(!breaker_failed_with(&not_the_dependency, |error| *error != "validation"));
        assert!(breaker_failed_with(
            &Err::<(), _>("timeout"),
            |error| *error != "validation"
        ));
        assert!(!breaker_failed_with(&Ok::<(), &str>(()), |_| true));
    }
}
