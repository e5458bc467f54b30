//! `#[circuit_breaker]`: the runtime's `BreakerConfig`, checked against the bounds the runtime
//! packs it into, and what the function must look like to be guarded.

use syn::{Expr, ExprLit, Lit, ReturnType, Signature, Type};

use super::node::UnrawName as _;
use super::values::{
    FunctionPath, Percent, as_written, duration, function_path, name_literal, percentage,
};
use crate::args::{Arg, Args, AttrArgs};
use crate::errors::Errors;
use crate::item::MaybeFn;
use crate::keys::Key;

/// A `#[circuit_breaker]`: the runtime's `BreakerConfig`, plus what the expansion calls.
pub(crate) struct BreakerPlan {
    /// The breaker's name, not the node's: several functions may share one breaker.
    pub(crate) name: String,
    pub(crate) function: String,
    pub(crate) failure_threshold: u32,
    pub(crate) success_threshold: u32,
    pub(crate) timeout_ns: u64,
    pub(crate) recovery_ns: u64,
    pub(crate) half_open_probes: u32,
    pub(crate) failure_rate: Option<FailureRatePlan>,
    pub(crate) slow_call_ns: Option<u64>,
    /// Fractions, `0.99` for `"99%"`.
    pub(crate) healthy_above: f64,
    pub(crate) failing_below: f64,
    /// Called with the function's arguments in place of the body while the breaker rejects calls.
    pub(crate) fallback: Option<FunctionPath>,
    /// Decides which errors count against the breaker (default: every `Outcome` failure).
    pub(crate) is_failure: Option<FunctionPath>,
}

pub(crate) struct FailureRatePlan {
    /// A fraction, `0.5` for `"50%"`.
    pub(crate) threshold: f64,
    pub(crate) window: WindowPlan,
    pub(crate) min_calls: u32,
}

#[derive(Clone, Copy)]
pub(crate) enum WindowPlan {
    Calls(u32),
    Nanos(u64),
}

const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;
const DEFAULT_TIMEOUT_NS: u64 = 60_000_000_000;
const DEFAULT_RECOVERY_NS: u64 = 2_000_000_000;
const DEFAULT_HALF_OPEN_PROBES: u32 = 1;
const DEFAULT_WINDOW_CALLS: u32 = 100;
const DEFAULT_MIN_CALLS: u32 = 10;
const DEFAULT_HEALTHY_ABOVE_PERCENT: f64 = 99.0;
const DEFAULT_FAILING_BELOW_PERCENT: f64 = 50.0;
/// The runtime packs the breaker's counters into bitfields of one atomic word.
const MAX_THRESHOLD: u64 = 65_535;
const MAX_HALF_OPEN_PROBES: u64 = 8_191;
const MAX_WINDOW_CALLS: u64 = 100_000;

/// What `#[circuit_breaker]` can wrap: a function whose return value says whether the call failed.
pub(super) fn check_target(attr: &AttrArgs, function: &MaybeFn, errors: &mut Errors) {
    if function.async_trait_future().is_some() {
        errors.push_spanned(
            &attr.at,
            "`#[circuit_breaker]` does not support `#[async_trait]` methods yet; put it on an inherent `async fn`",
        );
        return;
    }
    let message = "`#[circuit_breaker]` needs a function that returns a `Result` (or a type implementing `instrument_runtime::Outcome`)";
    let sig = &function.sig;
    match &sig.output {
        // Only a slow call can fail a call that returns nothing, and only a fallback can stand in
        // for it while the breaker is open.
        ReturnType::Default => match (attr.args.get(Key::SlowCall), attr.args.get(Key::Fallback)) {
            (Some(_), Some(_)) => {}
            (None, _) => errors.push_spanned(
                sig,
                format!("{message}; a function returning `()` never fails unless it is slow: give it `slow_call = \"...\"` and a `fallback`"),
            ),
            (Some(_), None) => errors.push_spanned(
                sig,
                "`#[circuit_breaker]` on a function returning `()` needs a `fallback`, to run in its place while the breaker is open",
            ),
        },
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => {
            errors.push_spanned(&sig.output, message);
        }
        ReturnType::Type(..) => {}
    }
}

pub(super) fn plan(attr: &AttrArgs, sig: &Signature, errors: &mut Errors) -> BreakerPlan {
    let args = &attr.args;
    let name = match args.get(Key::Name) {
        Some((_, value)) => name_literal("breaker", value, errors).unwrap_or_default(),
        None => sig.ident.unraw_name(),
    };
    let failure_threshold = count(args.get(Key::FailureThreshold), MAX_THRESHOLD, errors);
    let success_threshold = count(args.get(Key::SuccessThreshold), MAX_THRESHOLD, errors);
    let half_open_probes = count(args.get(Key::HalfOpenProbes), MAX_HALF_OPEN_PROBES, errors);
    let (healthy_above, failing_below) = health_bounds(args, errors);
    BreakerPlan {
        name,
        function: sig.ident.unraw_name(),
        failure_threshold: failure_threshold.unwrap_or(DEFAULT_FAILURE_THRESHOLD),
        success_threshold: success_threshold.unwrap_or(DEFAULT_SUCCESS_THRESHOLD),
        timeout_ns: duration(args.get(Key::Timeout), errors)
            .map_or(DEFAULT_TIMEOUT_NS, |(nanos, _)| nanos),
        recovery_ns: duration(args.get(Key::Recovery), errors)
            .map_or(DEFAULT_RECOVERY_NS, |(nanos, _)| nanos),
        half_open_probes: half_open_probes.unwrap_or(DEFAULT_HALF_OPEN_PROBES),
        failure_rate: failure_rate(args, errors),
        slow_call_ns: duration(args.get(Key::SlowCall), errors).map(|(nanos, _)| nanos),
        healthy_above,
        failing_below,
        fallback: function_path(args.get(Key::Fallback), "embed_cached", errors),
        is_failure: function_path(args.get(Key::IsFailure), "is_transient", errors),
    }
}

/// Failure-rate mode, chosen by `failure_rate`; `window` and `min_calls` belong to it.
fn failure_rate(args: &Args, errors: &mut Errors) -> Option<FailureRatePlan> {
    let window = window(args.get(Key::Window), errors);
    let min_calls = count(args.get(Key::MinCalls), u64::from(u32::MAX), errors);
    let Some((rate_key, _)) = args.get(Key::FailureRate) else {
        // A malformed entry may have been the missing `failure_rate`.
        if !args.incomplete {
            for (key, _) in [args.get(Key::Window), args.get(Key::MinCalls)]
                .into_iter()
                .flatten()
            {
                errors.push(
                    key.span(),
                    format!("`{key}` only applies with `failure_rate`: add `failure_rate = \"50%\"`, or remove `{key}`"),
                );
            }
        }
        return None;
    };
    if let Some((threshold_key, _)) = args.get(Key::FailureThreshold) {
        errors.push(
            threshold_key.span(),
            format!(
                "`{threshold_key}` and `{rate_key}` choose different ways to trip; give one of them"
            ),
        );
    }
    let threshold = percentage(args.get(Key::FailureRate), "50%", errors).and_then(|percent| {
        if percent.value > 0.0 && percent.value <= 100.0 {
            return Some(percent.value / 100.0);
        }
        errors.push(
            percent.span,
            format!(
                "failure rate `{}` is outside 0..100%: it must be above `0%` and at most `100%`",
                percent.text
            ),
        );
        None
    });
    let window = window.unwrap_or(WindowPlan::Calls(DEFAULT_WINDOW_CALLS));
    let min_calls = match (window, min_calls, args.get(Key::MinCalls)) {
        (WindowPlan::Calls(size), Some(min_calls), Some((_, value))) if min_calls > size => {
            errors.push_spanned(
                value,
                format!("`min_calls` ({min_calls}) is more than the window holds ({size} calls): the breaker could never trip"),
            );
            min_calls
        }
        (_, Some(min_calls), _) => min_calls,
        // The default, but never more than a window of calls holds.
        (WindowPlan::Calls(size), None, _) => DEFAULT_MIN_CALLS.min(size),
        (WindowPlan::Nanos(_), None, _) => DEFAULT_MIN_CALLS,
    };
    Some(FailureRatePlan {
        // A bad rate was reported; any value lets validation go on.
        threshold: threshold.unwrap_or(0.5),
        window,
        min_calls,
    })
}

/// `window = 100` (calls) or `window = "30s"` (a duration).
fn window(arg: Arg<'_>, errors: &mut Errors) -> Option<WindowPlan> {
    let (_, value) = arg?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) if lit.suffix().is_empty() || lit.suffix() == "u32" => {
            count(arg, MAX_WINDOW_CALLS, errors).map(WindowPlan::Calls)
        }
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if !lit.value().trim().is_empty()
            && lit.value().trim().chars().all(|c| c.is_ascii_digit()) =>
        {
            errors.push_spanned(
                value,
                format!(
                    "expected a number of calls like `{0}` (no quotes) or a duration like `\"30s\"`, found `\"{0}\"`",
                    lit.value()
                ),
            );
            None
        }
        Expr::Lit(_) => duration(arg, errors).map(|(nanos, _)| WindowPlan::Nanos(nanos)),
        other => {
            errors.push_spanned(
                other,
                format!(
                    "expected a number of calls like `100` or a duration like `\"30s\"`, found `{}`",
                    as_written(other)
                ),
            );
            None
        }
    }
}

/// The health bands of a breaker's success rate: `failing_below` must not be above `healthy_above`.
fn health_bounds(args: &Args, errors: &mut Errors) -> (f64, f64) {
    let mut bound = |key: Key| {
        let percent = percentage(args.get(key), "99%", errors)?;
        if (0.0..=100.0).contains(&percent.value) {
            return Some(percent);
        }
        errors.push(
            percent.span,
            format!(
                "`{}` must be between 0% and 100%, found `{}`",
                key.name(),
                percent.text
            ),
        );
        None
    };
    let healthy = bound(Key::HealthyAbove);
    let failing = bound(Key::FailingBelow);
    let healthy_above = healthy
        .as_ref()
        .map_or(DEFAULT_HEALTHY_ABOVE_PERCENT, |percent| percent.value);
    let failing_below = failing
        .as_ref()
        .map_or(DEFAULT_FAILING_BELOW_PERCENT, |percent| percent.value);
    if failing_below > healthy_above {
        let shown = |percent: &Option<Percent>, value: f64| match percent {
            Some(percent) => percent.text.clone(),
            None => format!("{value}%, the default"),
        };
        let message = format!(
            "`failing_below` ({}) is above `healthy_above` ({}): a success rate cannot be failing and healthy at once",
            shown(&failing, failing_below),
            shown(&healthy, healthy_above),
        );
        // On the value the user wrote; on `failing_below` when both were written.
        let span = failing
            .as_ref()
            .or(healthy.as_ref())
            .map(|percent| percent.span);
        if let Some(span) = span {
            errors.push(span, message);
        }
    }
    (healthy_above / 100.0, failing_below / 100.0)
}

/// A count of calls from 1 to `max`: thresholds, probes, `min_calls`, a window of calls.
fn count(arg: Arg<'_>, max: u64, errors: &mut Errors) -> Option<u32> {
    let (key, value) = arg?;
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = value
    else {
        errors.push_spanned(
            value,
            format!(
                "expected a whole number like `5`, found `{}`",
                as_written(value)
            ),
        );
        return None;
    };
    if !(lit.suffix().is_empty() || lit.suffix() == "u32") {
        errors.push_spanned(
            value,
            format!(
                "expected a whole number like `5`, found `{}`",
                as_written(value)
            ),
        );
        return None;
    }
    // Beyond `u64` is beyond any maximum.
    let number = lit.base10_parse::<u64>().unwrap_or(u64::MAX);
    if number == 0 {
        errors.push_spanned(value, format!("`{key}` must be at least 1, found `0`"));
        return None;
    }
    if number > max {
        errors.push_spanned(
            value,
            format!(
                "`{key}` must be at most {max}, found `{}`",
                lit.base10_digits()
            ),
        );
        return None;
    }
    u32::try_from(number).ok()
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::{BreakerPlan, WindowPlan};
    use crate::args::parse_primary;
    use crate::errors::Errors;
    use crate::item::MaybeFn;
    use crate::keys::Kind;
    use crate::plan::{NodeName, build};

    /// `#[circuit_breaker(args)]` on `function`: the breaker's plan and every error message.
    fn breaker_on(args: TokenStream, function: TokenStream) -> (BreakerPlan, Vec<String>) {
        let mut errors = Errors::default();
        let attr = parse_primary(Kind::CircuitBreaker, args, &mut errors);
        let function: MaybeFn = syn::parse2(function).expect("a function");
        let plan = build(&[attr], &function, &mut errors);
        (plan.breaker.expect("a breaker"), errors.messages())
    }

    fn breaker(args: TokenStream) -> (BreakerPlan, Vec<String>) {
        breaker_on(
            args,
            quote!(
                fn embed(text: &str) -> Result<u32, String> {
                    Ok(1)
                }
            ),
        )
    }

    #[test]
    fn defaults() {
        let (plan, errors) = breaker(quote!());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(plan.name, "embed");
        assert_eq!(plan.function, "embed");
        assert_eq!((plan.failure_threshold, plan.success_threshold), (5, 2));
        assert_eq!(
            (plan.timeout_ns, plan.recovery_ns),
            (60_000_000_000, 2_000_000_000)
        );
        assert_eq!(plan.half_open_probes, 1);
        assert!(plan.failure_rate.is_none() && plan.slow_call_ns.is_none());
        assert!((plan.healthy_above - 0.99).abs() < 1e-12);
        assert!((plan.failing_below - 0.5).abs() < 1e-12);
        assert!(plan.fallback.is_none() && plan.is_failure.is_none());
    }

    #[test]
    fn every_argument() {
        let (plan, errors) = breaker(quote!(
            name = "embedding",
            success_threshold = 3,
            timeout = "30s",
            recovery = 500ms,
            fallback = Self::cached,
            half_open_probes = 4,
            failure_rate = "25%",
            window = "10s",
            min_calls = 20,
            slow_call = "1.5ms",
            is_failure = errors::is_transient,
            healthy_above = "95%",
            failing_below = "80%",
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(plan.name, "embedding");
        assert_eq!(plan.function, "embed");
        assert_eq!(plan.success_threshold, 3);
        assert_eq!(
            (plan.timeout_ns, plan.recovery_ns),
            (30_000_000_000, 500_000_000)
        );
        assert_eq!(plan.half_open_probes, 4);
        let rate = plan.failure_rate.expect("failure-rate mode");
        assert!((rate.threshold - 0.25).abs() < 1e-12);
        assert!(matches!(rate.window, WindowPlan::Nanos(10_000_000_000)));
        assert_eq!(rate.min_calls, 20);
        assert_eq!(plan.slow_call_ns, Some(1_500_000));
        assert_eq!(plan.fallback.expect("a fallback").written, "Self::cached");
        assert_eq!(
            plan.is_failure.expect("a predicate").written,
            "errors::is_transient"
        );
        assert!((plan.healthy_above - 0.95).abs() < 1e-12);
        assert!((plan.failing_below - 0.8).abs() < 1e-12);
    }

    #[test]
    fn failure_rate_window_defaults() {
        let (plan, errors) = breaker(quote!(failure_rate = "50%"));
        assert!(errors.is_empty(), "{errors:?}");
        let rate = plan.failure_rate.expect("failure-rate mode");
        assert!(matches!(rate.window, WindowPlan::Calls(100)));
        assert_eq!(rate.min_calls, 10);
        // A window smaller than the default `min_calls` lowers it: the breaker can still trip.
        let (plan, errors) = breaker(quote!(failure_rate = "100%", window = 4));
        assert!(errors.is_empty(), "{errors:?}");
        let rate = plan.failure_rate.expect("failure-rate mode");
        assert!(matches!(rate.window, WindowPlan::Calls(4)));
        assert_eq!(rate.min_calls, 4);
    }

    #[test]
    fn the_breaker_name_is_not_the_node_name() {
        let mut errors = Errors::default();
        let attrs = [
            parse_primary(Kind::Timed, quote!(name = "embed_step"), &mut errors),
            parse_primary(
                Kind::CircuitBreaker,
                quote!(name = "embedding"),
                &mut errors,
            ),
        ];
        let function: MaybeFn = syn::parse2(quote!(
            fn embed() -> Result<(), ()> {
                Ok(())
            }
        ))
        .expect("a function");
        let plan = build(&attrs, &function, &mut errors);
        assert!(errors.is_empty(), "{:?}", errors.messages());
        assert!(matches!(&plan.name, NodeName::Given(name) if name == "embed_step"));
        assert!(plan.counted && plan.timed);
        assert_eq!(plan.breaker.expect("a breaker").name, "embedding");
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "one table of every message")]
    fn mistakes_are_named() {
        let cases = [
            (
                quote!(name = ""),
                "breaker name must not be empty; leave `name` out to use the function's name",
            ),
            (
                quote!(name = embedding),
                "expected a breaker name in quotes like `\"embedding\"`, found `embedding`",
            ),
            (
                quote!(name = "a\tb"),
                "breaker name must not contain control characters, found `\\t`; names are \
                 printed in tables, logs and metrics",
            ),
            (
                quote!(failure_threshold = 0),
                "`failure_threshold` must be at least 1, found `0`",
            ),
            (
                quote!(success_threshold = 0),
                "`success_threshold` must be at least 1, found `0`",
            ),
            (
                quote!(half_open_probes = 0),
                "`half_open_probes` must be at least 1, found `0`",
            ),
            (
                quote!(failure_threshold = 65536),
                "`failure_threshold` must be at most 65535, found `65536`",
            ),
            (
                quote!(success_threshold = 99999999999999999999999),
                "`success_threshold` must be at most 65535, found `99999999999999999999999`",
            ),
            (
                quote!(half_open_probes = 8192),
                "`half_open_probes` must be at most 8191, found `8192`",
            ),
            (
                quote!(failure_rate = "50%", window = 100001),
                "`window` must be at most 100000, found `100001`",
            ),
            (
                quote!(failure_rate = "50%", window = 0),
                "`window` must be at least 1, found `0`",
            ),
            (
                quote!(failure_rate = "50%", min_calls = 0),
                "`min_calls` must be at least 1, found `0`",
            ),
            (
                quote!(failure_threshold = "5"),
                "expected a whole number like `5`, found `\"5\"`",
            ),
            (
                quote!(failure_threshold = 5u8),
                "expected a whole number like `5`, found `5u8`",
            ),
            (
                quote!(failure_threshold = -1),
                "expected a whole number like `5`, found `-1`",
            ),
            (
                quote!(timeout = "60"),
                "missing unit in `60`; expected a duration like `60ms`, with one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
            ),
            (
                quote!(timeout = "0s"),
                "a duration must be greater than zero, found `0s`",
            ),
            (
                quote!(recovery = "0ms"),
                "a duration must be greater than zero, found `0ms`",
            ),
            (
                quote!(slow_call = "0us"),
                "a duration must be greater than zero, found `0us`",
            ),
            (
                quote!(failure_rate = "50%", window = "0s"),
                "a duration must be greater than zero, found `0s`",
            ),
            (
                quote!(failure_rate = "50%", window = "100"),
                "expected a number of calls like `100` (no quotes) or a duration like `\"30s\"`, found `\"100\"`",
            ),
            (
                quote!(failure_rate = "50%", window = calls),
                "expected a number of calls like `100` or a duration like `\"30s\"`, found `calls`",
            ),
            (
                quote!(failure_rate = "0%"),
                "failure rate `0%` is outside 0..100%: it must be above `0%` and at most `100%`",
            ),
            (
                quote!(failure_rate = "150%"),
                "failure rate `150%` is outside 0..100%: it must be above `0%` and at most `100%`",
            ),
            (
                quote!(failure_rate = "-5%"),
                "failure rate `-5%` is outside 0..100%: it must be above `0%` and at most `100%`",
            ),
            (
                quote!(failure_rate = "half"),
                "expected a percentage like `50%`, found `half`",
            ),
            (
                quote!(failure_rate = 0.5),
                "expected a percentage in quotes like `\"50%\"`, found `0.5`",
            ),
            (
                quote!(failure_threshold = 5, failure_rate = "50%"),
                "`failure_threshold` and `failure_rate` choose different ways to trip; give one of them",
            ),
            (
                quote!(window = 100),
                "`window` only applies with `failure_rate`: add `failure_rate = \"50%\"`, or remove `window`",
            ),
            (
                quote!(min_calls = 10),
                "`min_calls` only applies with `failure_rate`: add `failure_rate = \"50%\"`, or remove `min_calls`",
            ),
            (
                quote!(failure_rate = "50%", window = 20, min_calls = 30),
                "`min_calls` (30) is more than the window holds (20 calls): the breaker could never trip",
            ),
            (
                quote!(healthy_above = "101%"),
                "`healthy_above` must be between 0% and 100%, found `101%`",
            ),
            (
                quote!(failing_below = "-1%"),
                "`failing_below` must be between 0% and 100%, found `-1%`",
            ),
            (
                quote!(healthy_above = "90%", failing_below = "95%"),
                "`failing_below` (95%) is above `healthy_above` (90%): a success rate cannot be failing and healthy at once",
            ),
            (
                quote!(failing_below = "99.5%"),
                "`failing_below` (99.5%) is above `healthy_above` (99%, the default): a success rate cannot be failing and healthy at once",
            ),
            (
                quote!(healthy_above = "40%"),
                "`failing_below` (50%, the default) is above `healthy_above` (40%): a success rate cannot be failing and healthy at once",
            ),
            (
                quote!(fallback = 42),
                "expected a path to a function like `fallback = embed_cached`, found `42`",
            ),
            (
                quote!(fallback = "embed_cached"),
                "expected a path to a function, found a string: write `fallback = embed_cached` without quotes",
            ),
            (
                quote!(is_failure = |error| error.is_timeout()),
                "expected a path to a function, found a closure: write it as a function and give its path, like `is_failure = is_transient`",
            ),
            (
                quote!(is_failure = <E as Check>::check),
                "expected a path to a function like `is_failure = is_transient`, found `< E as Check >::check`",
            ),
        ];
        for (args, message) in cases {
            let written = args.to_string();
            let (_, errors) = breaker(args);
            assert_eq!(errors, [message], "{written}");
        }
    }

    #[test]
    fn a_malformed_argument_silences_the_missing_failure_rate() {
        let (_, errors) = breaker(quote!(failure_rat = "50%", window = 100));
        assert_eq!(
            errors,
            [
                "unknown argument `failure_rat` for `#[circuit_breaker]`; a similar argument is `failure_rate`"
            ]
        );
    }

    #[test]
    fn the_function_must_return_a_value() {
        let message = "`#[circuit_breaker]` needs a function that returns a `Result` (or a type implementing `instrument_runtime::Outcome`)";
        let unit = format!(
            "{message}; a function returning `()` never fails unless it is slow: give it `slow_call = \"...\"` and a `fallback`"
        );
        for (function, expected) in [
            (
                quote!(
                    fn embed() {}
                ),
                unit.as_str(),
            ),
            (
                quote!(
                    async fn embed() {}
                ),
                unit.as_str(),
            ),
            (
                quote!(
                    fn embed() -> ! {
                        loop {}
                    }
                ),
                message,
            ),
        ] {
            let written = function.to_string();
            let (_, errors) = breaker_on(quote!(), function);
            assert_eq!(errors, [expected], "{written}");
        }
        let (_, errors) = breaker_on(
            quote!(slow_call = "1s", fallback = later),
            quote!(
                fn notify() {}
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let (_, errors) = breaker_on(
            quote!(),
            quote!(
                fn load(&self) -> Pin<Box<dyn Future<Output = u32>>> {
                    Box::pin(async move { 1 })
                }
            ),
        );
        assert_eq!(
            errors,
            [
                "`#[circuit_breaker]` does not support `#[async_trait]` methods yet; put it on an inherent `async fn`"
            ]
        );
    }
}
