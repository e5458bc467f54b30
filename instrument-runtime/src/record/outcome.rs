//! What counts as a failed call: decided by a trait on the return type, not by its name.

/// A return value that can report failure.
///
/// `#[counted]` counts a call as an error when its return value's `is_failure` is true. It is
/// implemented for every `Result` (so `io::Result`, `anyhow::Result` and your own aliases work);
/// implement it for your own types to count them too. Return types that do not implement it are
/// never counted as errors.
///
/// ```
/// use instrument_runtime::Outcome;
///
/// struct Response { status: u16 }
///
/// impl Outcome for Response {
///     fn is_failure(&self) -> bool {
///         self.status >= 500
///     }
/// }
///
/// #[instrument_runtime::counted(name = "outcome_doc_handler")]
/// fn handle(status: u16) -> Response {
///     Response { status }
/// }
///
/// handle(200);
/// handle(503);
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("outcome_doc_handler").unwrap().errors, 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say whether a call failed",
    label = "this return type does not implement `instrument_runtime::Outcome`",
    note = "return a `Result`, or implement `instrument_runtime::Outcome` for `{Self}`"
)]
pub trait Outcome {
    /// Whether this value means the call failed.
    fn is_failure(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

/// Autoref specialization: `(&Probe(&value)).instrument_is_failure()` picks [`ViaOutcome`] when
/// the value's type implements [`Outcome`] and falls back to [`ViaFallback`] (never a failure)
/// otherwise, without the macro having to know the type.
#[doc(hidden)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait ViaOutcome {
    fn instrument_is_failure(&self) -> bool;
}

impl<T: Outcome + ?Sized> ViaOutcome for Probe<'_, T> {
    #[inline(always)]
    fn instrument_is_failure(&self) -> bool {
        self.0.is_failure()
    }
}

#[doc(hidden)]
pub trait ViaFallback {
    fn instrument_is_failure(&self) -> bool;
}

impl<T: ?Sized> ViaFallback for &Probe<'_, T> {
    #[inline(always)]
    fn instrument_is_failure(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(
        clippy::needless_borrow,
        reason = "the explicit borrow is what selects the fallback"
    )]
    fn results_are_judged_and_other_types_never_fail() {
        let failed: std::io::Result<()> = Err(std::io::Error::other("x"));
        assert!((&Probe(&failed)).instrument_is_failure());
        assert!(!(&Probe(&Ok::<u8, ()>(1))).instrument_is_failure());
        assert!(!(&Probe(&5_u32)).instrument_is_failure());
    }
}
