//! `#[budget]`: the latency budget, checked as far as the macro can (durations read, quantile
//! budgets not decreasing).

use proc_macro2::Span;
use syn::{Expr, ExprLit, Lit};

use super::values::{as_written, duration, percentage};
use crate::args::{Arg, AttrArgs};
use crate::errors::Errors;
use crate::keys::Key;
use instrument_duration::{BudgetKey, format_nanos};

pub(crate) struct BudgetPlan {
    pub(crate) p50_ns: Option<u64>,
    pub(crate) p90_ns: Option<u64>,
    pub(crate) p95_ns: Option<u64>,
    pub(crate) p99_ns: Option<u64>,
    pub(crate) max_ns: Option<u64>,
    pub(crate) tolerance: f64,
    pub(crate) min_samples: u64,
}

const DEFAULT_TOLERANCE: f64 = 0.10;
const DEFAULT_MIN_SAMPLES: u64 = 100;

/// The quantile budgets, in increasing order.
const QUANTILES: [BudgetKey; 5] = [
    BudgetKey::P50,
    BudgetKey::P90,
    BudgetKey::P95,
    BudgetKey::P99,
    BudgetKey::Max,
];

pub(super) fn plan(attr: &AttrArgs, errors: &mut Errors) -> BudgetPlan {
    let args = &attr.args;
    let quantiles = QUANTILES.map(|key| (key.name(), duration(args.get(Key::budget(key)), errors)));
    if quantiles.iter().all(|(_, value)| value.is_none())
        && !QUANTILES.iter().any(|&key| args.has(Key::budget(key)))
        && !args.incomplete
    {
        let quantiles: Vec<String> = QUANTILES
            .iter()
            .map(|key| format!("`{}`", key.name()))
            .collect();
        errors.push_spanned(
            &attr.at,
            format!(
                "`#[budget]` needs at least one of {}, like `p95 = \"50ms\"`",
                quantiles.join(", ")
            ),
        );
    }
    check_non_decreasing(&quantiles, errors);
    let [p50_ns, p90_ns, p95_ns, p99_ns, max_ns] =
        quantiles.map(|(_, value)| value.map(|(nanos, _)| nanos));
    BudgetPlan {
        p50_ns,
        p90_ns,
        p95_ns,
        p99_ns,
        max_ns,
        tolerance: tolerance(args.get(Key::Tolerance), errors).unwrap_or(DEFAULT_TOLERANCE),
        min_samples: min_samples(args.get(Key::MinSamples), errors).unwrap_or(DEFAULT_MIN_SAMPLES),
    }
}

/// Quantile budgets must not decrease: a p95 budget above the p99 budget cannot be met as meant.
fn check_non_decreasing(quantiles: &[(&str, Option<(u64, Span)>); 5], errors: &mut Errors) {
    let given: Vec<(&str, u64, Span)> = quantiles
        .iter()
        .filter_map(|(key, value)| value.map(|(nanos, span)| (*key, nanos, span)))
        .collect();
    for (index, &(key, nanos, span)) in given.iter().enumerate() {
        if let Some(&(later_key, later_nanos, _)) = given[index + 1..]
            .iter()
            .find(|(_, later, _)| *later < nanos)
        {
            errors.push(
                span,
                format!(
                    "`{key}` budget ({}) is larger than `{later_key}` ({}): quantile budgets must not decrease",
                    format_nanos(nanos),
                    format_nanos(later_nanos)
                ),
            );
        }
    }
}

/// A tolerance: `"10%"`, `"2.5%"`, between 0% and 100%.
fn tolerance(arg: Arg<'_>, errors: &mut Errors) -> Option<f64> {
    let percent = percentage(arg, "10%", errors)?;
    if !(0.0..=100.0).contains(&percent.value) {
        errors.push(
            percent.span,
            format!(
                "tolerance must be between 0% and 100%, found `{}`",
                percent.text
            ),
        );
        return None;
    }
    Some(percent.value / 100.0)
}

fn min_samples(arg: Arg<'_>, errors: &mut Errors) -> Option<u64> {
    let (_, value) = arg?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = value
        && (lit.suffix().is_empty() || lit.suffix() == "u64")
        && let Ok(count) = lit.base10_parse::<u64>()
    {
        return Some(count);
    }
    errors.push_spanned(
        value,
        format!(
            "expected a whole number of calls like `100`, found `{}`",
            as_written(value)
        ),
    );
    None
}
