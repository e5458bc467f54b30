//! Validate: every attribute on one function, merged into one typed plan. All mistakes are
//! collected, each on the token that causes it.

use proc_macro2::Span;
use quote::ToTokens as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Ident, Lit, Signature};

use crate::args::{AttrArgs, Kind, Setting};
use crate::duration::parse_nanos;
use crate::errors::Errors;

/// What to generate for one function.
pub(crate) struct Plan {
    pub(crate) name: String,
    pub(crate) timed: bool,
    pub(crate) counted: bool,
    pub(crate) in_flight: bool,
    pub(crate) budget: Option<BudgetPlan>,
}

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

pub(crate) fn build(attrs: &[AttrArgs], sig: &Signature, errors: &mut Errors) -> Plan {
    let primary = attrs[0].kind;
    check_signature(primary, sig, errors);
    for (index, attr) in attrs.iter().enumerate() {
        if attrs[..index]
            .iter()
            .any(|earlier| earlier.kind == attr.kind)
        {
            errors.push_spanned(
                &attr.at,
                format!("duplicate attribute `#[{}]`", attr.kind.name()),
            );
        }
    }
    let mut plan = Plan {
        name: node_name(attrs, sig, errors),
        timed: false,
        counted: false,
        in_flight: false,
        budget: None,
    };
    for attr in attrs {
        match attr.kind {
            Kind::Timed => plan.timed = true,
            Kind::Counted => {
                plan.counted = true;
                plan.in_flight |= attr.args.in_flight.get().is_some();
            }
            Kind::Budget => {
                plan.timed = true;
                plan.budget = Some(budget(attr, errors));
            }
        }
    }
    plan
}

fn check_signature(primary: Kind, sig: &Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.push(
            constness.span,
            format!("`#[{}]` cannot instrument a `const fn`: it reads the clock and records at run time", primary.name()),
        );
    }
}

/// The node name: `name = "..."` (the same in every attribute that gives one), else the fn's name.
fn node_name(attrs: &[AttrArgs], sig: &Signature, errors: &mut Errors) -> String {
    let mut chosen: Option<(String, Span)> = None;
    for attr in attrs {
        let Some((_, value)) = attr.args.name.get() else {
            continue;
        };
        let Some(name) = node_name_literal(value, errors) else {
            continue;
        };
        if name.trim().is_empty() {
            errors.push(
                value.span(),
                "node name must not be empty; leave `name` out to use the function's name",
            );
            continue;
        }
        match &chosen {
            Some((first, _)) if *first != name => errors.push(
                value.span(),
                format!("conflicting node names `{first}` and `{name}`; give `name` once"),
            ),
            Some(_) => {}
            None => chosen = Some((name, value.span())),
        }
    }
    chosen.map_or_else(|| sig.ident.unraw_name(), |(name, _)| name)
}

trait UnrawName {
    fn unraw_name(&self) -> String;
}

impl UnrawName for Ident {
    fn unraw_name(&self) -> String {
        let name = self.to_string();
        name.strip_prefix("r#")
            .map_or_else(|| name.clone(), str::to_owned)
    }
}

fn budget(attr: &AttrArgs, errors: &mut Errors) -> BudgetPlan {
    let args = &attr.args;
    let quantiles = [
        ("p50", &args.p50),
        ("p90", &args.p90),
        ("p95", &args.p95),
        ("p99", &args.p99),
        ("max", &args.max),
    ]
    .map(|(key, setting)| (key, duration(setting, errors)));
    if quantiles.iter().all(|(_, value)| value.is_none())
        && !has_any(&[&args.p50, &args.p90, &args.p95, &args.p99, &args.max])
        && !args.incomplete
    {
        errors.push_spanned(
            &attr.at,
            "`#[budget]` needs at least one of `p50`, `p90`, `p95`, `p99`, `max`, like `p95 = \"50ms\"`",
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
        tolerance: tolerance(&args.tolerance, errors).unwrap_or(DEFAULT_TOLERANCE),
        min_samples: min_samples(&args.min_samples, errors).unwrap_or(DEFAULT_MIN_SAMPLES),
    }
}

fn has_any(settings: &[&Setting<Expr>]) -> bool {
    settings.iter().any(|setting| setting.get().is_some())
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
                    show_nanos(nanos),
                    show_nanos(later_nanos)
                ),
            );
        }
    }
}

fn show_nanos(nanos: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (scale, unit) = UNITS
        .into_iter()
        .find(|(scale, _)| nanos.is_multiple_of(*scale))
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / scale)
}

/// A duration: `"50ms"`, or unquoted `50ms` (a suffixed literal).
fn duration(setting: &Setting<Expr>, errors: &mut Errors) -> Option<(u64, Span)> {
    let (_, value) = setting.get()?;
    let text = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.value(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.to_string(),
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.to_string(),
        other => {
            errors.push_spanned(
                other,
                format!(
                    "expected a duration like `\"50ms\"`, found `{}`",
                    as_written(other)
                ),
            );
            return None;
        }
    };
    match parse_nanos(&text) {
        Ok(nanos) => Some((nanos, value.span())),
        Err(message) => {
            errors.push(value.span(), message);
            None
        }
    }
}

/// A tolerance: `"10%"`, `"2.5%"`, between 0% and 100%.
fn tolerance(setting: &Setting<Expr>, errors: &mut Errors) -> Option<f64> {
    let (_, value) = setting.get()?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        errors.push_spanned(
            value,
            format!(
                "expected a percentage in quotes like `\"10%\"`, found `{}`",
                as_written(value)
            ),
        );
        return None;
    };
    let text = lit.value();
    let parsed = text
        .trim()
        .strip_suffix('%')
        .and_then(|number| number.trim().parse::<f64>().ok())
        .filter(|percent| percent.is_finite());
    match parsed {
        None => errors.push(
            value.span(),
            format!("expected a percentage like `10%`, found `{text}`"),
        ),
        Some(percent) if !(0.0..=100.0).contains(&percent) => errors.push(
            value.span(),
            format!("tolerance must be between 0% and 100%, found `{text}`"),
        ),
        Some(percent) => return Some(percent / 100.0),
    }
    None
}

fn min_samples(setting: &Setting<Expr>, errors: &mut Errors) -> Option<u64> {
    let (_, value) = setting.get()?;
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

fn node_name_literal(value: &Expr, errors: &mut Errors) -> Option<String> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        return Some(lit.value());
    }
    let found = as_written(value);
    // An identifier or a number was most likely meant as the name itself.
    let example = match value {
        Expr::Path(path) if path.path.get_ident().is_some() => format!("\"{found}\""),
        Expr::Lit(_) => format!("\"{found}\""),
        _ => "\"checkout\"".to_owned(),
    };
    errors.push_spanned(
        value,
        format!("expected a node name in quotes like `{example}`, found `{found}`"),
    );
    None
}

/// An expression as the user wrote it, near enough for a message: the compiler prints tokens
/// spaced (`- 1`, `time :: Duration`), which is tightened where that is unambiguous.
fn as_written(value: &Expr) -> String {
    let text = value.to_token_stream().to_string();
    let text = text.replace(" :: ", "::").replace(":: ", "::");
    match text.strip_prefix("- ") {
        Some(number) => format!("-{number}"),
        None => text,
    }
}
