//! Parse: what the user wrote in each of our attributes, every value kept with its span.
//!
//! Values are kept as written (`syn::Expr`); `plan` gives them meaning. A key is declared once per
//! attribute kind and set once: the second occurrence is a "duplicate argument" error.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens as _, quote};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::{Attribute, Expr, Ident, Meta, Token};

use crate::errors::Errors;

/// One of our attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Timed,
    Counted,
    Budget,
    CircuitBreaker,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Timed,
        Kind::Counted,
        Kind::Budget,
        Kind::CircuitBreaker,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Timed => "timed",
            Kind::Counted => "counted",
            Kind::Budget => "budget",
            Kind::CircuitBreaker => "circuit_breaker",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Timed => &["name", "is_failure"],
            Kind::Counted => &["name", "in_flight", "is_failure"],
            Kind::Budget => &[
                "name",
                "is_failure",
                "p50",
                "p90",
                "p95",
                "p99",
                "max",
                "tolerance",
                "min_samples",
            ],
            Kind::CircuitBreaker => &[
                "name",
                "failure_threshold",
                "success_threshold",
                "timeout",
                "recovery",
                "fallback",
                "half_open_probes",
                "failure_rate",
                "window",
                "min_calls",
                "slow_call",
                "is_failure",
                "healthy_above",
                "failing_below",
            ],
        }
    }

    /// Which of our attributes `attr` is: `#[timed]`, `#[instrument_runtime::timed]`, ...
    pub(crate) fn of(attr: &Attribute) -> Option<Kind> {
        let path = attr.path();
        let last = path.segments.last()?;
        let crate_prefixed = path.segments.len() == 2
            && matches!(
                path.segments[0].ident.to_string().as_str(),
                "instrument_runtime" | "instrument_macros"
            );
        if path.segments.len() != 1 && !crate_prefixed {
            return None;
        }
        Kind::ALL.into_iter().find(|kind| last.ident == kind.name())
    }
}

/// A value that may be given once.
pub(crate) struct Setting<T> {
    value: Option<(Ident, T)>,
}

impl<T> Default for Setting<T> {
    fn default() -> Self {
        Self { value: None }
    }
}

impl<T> Setting<T> {
    fn set(&mut self, errors: &mut Errors, key: Ident, value: T) {
        if self.value.is_some() {
            errors.push(key.span(), format!("duplicate argument `{key}`"));
        } else {
            self.value = Some((key, value));
        }
    }

    /// The key as written and its value.
    pub(crate) fn get(&self) -> Option<(&Ident, &T)> {
        self.value.as_ref().map(|(key, value)| (key, value))
    }
}

/// Every argument our attributes accept; each attribute kind accepts a subset (see `Kind::keys`).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Setting<Expr>,
    pub(crate) in_flight: Setting<()>,
    pub(crate) p50: Setting<Expr>,
    pub(crate) p90: Setting<Expr>,
    pub(crate) p95: Setting<Expr>,
    pub(crate) p99: Setting<Expr>,
    pub(crate) max: Setting<Expr>,
    pub(crate) tolerance: Setting<Expr>,
    pub(crate) min_samples: Setting<Expr>,
    pub(crate) failure_threshold: Setting<Expr>,
    pub(crate) success_threshold: Setting<Expr>,
    pub(crate) timeout: Setting<Expr>,
    pub(crate) recovery: Setting<Expr>,
    pub(crate) fallback: Setting<Expr>,
    pub(crate) half_open_probes: Setting<Expr>,
    pub(crate) failure_rate: Setting<Expr>,
    pub(crate) window: Setting<Expr>,
    pub(crate) min_calls: Setting<Expr>,
    pub(crate) slow_call: Setting<Expr>,
    pub(crate) is_failure: Setting<Expr>,
    pub(crate) healthy_above: Setting<Expr>,
    pub(crate) failing_below: Setting<Expr>,
    /// An argument could not be read (malformed or unknown), so a missing one may have been meant
    /// there: checks for missing arguments stay quiet rather than add a second error.
    pub(crate) incomplete: bool,
}

/// One attribute as written.
pub(crate) struct AttrArgs {
    pub(crate) kind: Kind,
    /// Where errors about the attribute as a whole point: the arguments of the attribute being
    /// expanded (the compiler gives no span for its path), the path of a sibling attribute.
    pub(crate) at: TokenStream,
    pub(crate) args: Args,
}

/// Parses the arguments of the attribute being expanded.
pub(crate) fn parse_primary(kind: Kind, tokens: TokenStream, errors: &mut Errors) -> AttrArgs {
    let mut args = Args::default();
    if let Err(error) =
        (|input: ParseStream| parse_into(kind, input, &mut args, errors)).parse2(tokens.clone())
    {
        errors.push_error(error);
    }
    AttrArgs {
        kind,
        at: tokens,
        args,
    }
}

/// Parses one of our attributes found on the same function.
pub(crate) fn parse_sibling(kind: Kind, attr: &Attribute, errors: &mut Errors) -> AttrArgs {
    let mut args = Args::default();
    let parsed = match &attr.meta {
        Meta::Path(_) => Ok(()),
        Meta::List(list) => {
            list.parse_args_with(|input: ParseStream| parse_into(kind, input, &mut args, errors))
        }
        Meta::NameValue(name_value) => Err(syn::Error::new_spanned(
            {
                let (eq, value) = (&name_value.eq_token, &name_value.value);
                quote!(#eq #value)
            },
            format!(
                "expected `#[{0}]` or `#[{0}(...)]`, found `#[{0} = ...]`",
                kind.name()
            ),
        )),
    };
    if let Err(error) = parsed {
        errors.push_error(error);
    }
    AttrArgs {
        kind,
        at: attr
            .path()
            .segments
            .last()
            .map(|segment| segment.ident.to_token_stream())
            .unwrap_or_default(),
        args,
    }
}

/// Parses `key = value, key, ...`. A malformed entry is reported and skipped up to the next comma,
/// so the mistakes after it are reported in the same compile.
fn parse_into(
    kind: Kind,
    input: ParseStream,
    args: &mut Args,
    errors: &mut Errors,
) -> syn::Result<()> {
    while !input.is_empty() {
        match parse_entry(kind, input) {
            Ok((key, value)) => apply(kind, key, value, args, errors),
            Err(error) => {
                errors.push_error(error);
                args.incomplete = true;
                skip_past_comma(input)?;
                continue;
            }
        }
        if input.is_empty() {
            break;
        }
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else {
            errors.push_error(syn::Error::new(
                input.span(),
                format!(
                    "expected `,` between arguments, found `{}`",
                    next_token(input)
                ),
            ));
            args.incomplete = true;
            skip_past_comma(input)?;
        }
    }
    Ok(())
}

fn parse_entry(kind: Kind, input: ParseStream) -> syn::Result<(Ident, Option<Expr>)> {
    if !input.peek(Ident::peek_any) {
        let example = match kind {
            Kind::Budget => "p95 = \"50ms\"",
            Kind::CircuitBreaker => "failure_threshold = 5",
            Kind::Timed | Kind::Counted => "name = \"...\"",
        };
        let found = next_token(input);
        let message = if input.peek(syn::LitStr) {
            format!("expected `name = {found}`, found `{found}`")
        } else {
            format!("expected an argument like `{example}`, found `{found}`")
        };
        return Err(syn::Error::new(input.span(), message));
    }
    let key = input.call(Ident::parse_any)?;
    if !input.peek(Token![=]) {
        return Ok((key, None));
    }
    let eq = input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new_spanned(
            quote!(#key #eq),
            format!("expected a value after `{key} =`"),
        ));
    }
    Ok((key, Some(without_invisible_groups(input.parse::<Expr>()?))))
}

/// A value passed through `macro_rules!` as a `$value:literal` (or `:expr`) fragment arrives
/// wrapped in an invisible group; what the user wrote is inside.
fn without_invisible_groups(mut value: Expr) -> Expr {
    while let Expr::Group(group) = value {
        value = *group.expr;
    }
    value
}

/// The next token as written, for messages.
fn next_token(input: ParseStream) -> String {
    input
        .cursor()
        .token_tree()
        .map_or_else(String::new, |(token, _)| token.to_string())
}

fn skip_past_comma(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            rest = next;
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
        }
        Ok(((), rest))
    })
}

fn apply(kind: Kind, key: Ident, value: Option<Expr>, args: &mut Args, errors: &mut Errors) {
    let name = key.to_string();
    if !kind.keys().contains(&name.as_str()) {
        errors.push(key.span(), unknown_argument(kind, &name));
        args.incomplete = true;
        return;
    }
    if name == "in_flight" {
        match value {
            None => args.in_flight.set(errors, key, ()),
            Some(value) => errors.push_error(syn::Error::new_spanned(
                value,
                "`in_flight` takes no value: write `in_flight` alone",
            )),
        }
        return;
    }
    let Some(value) = value else {
        let example = if name == "name" { "\"...\"" } else { "..." };
        errors.push(
            key.span(),
            format!("expected a value: `{name} = {example}`"),
        );
        return;
    };
    let setting = match name.as_str() {
        "name" => &mut args.name,
        "p50" => &mut args.p50,
        "p90" => &mut args.p90,
        "p95" => &mut args.p95,
        "p99" => &mut args.p99,
        "max" => &mut args.max,
        "tolerance" => &mut args.tolerance,
        "min_samples" => &mut args.min_samples,
        "failure_threshold" => &mut args.failure_threshold,
        "success_threshold" => &mut args.success_threshold,
        "timeout" => &mut args.timeout,
        "recovery" => &mut args.recovery,
        "fallback" => &mut args.fallback,
        "half_open_probes" => &mut args.half_open_probes,
        "failure_rate" => &mut args.failure_rate,
        "window" => &mut args.window,
        "min_calls" => &mut args.min_calls,
        "slow_call" => &mut args.slow_call,
        "is_failure" => &mut args.is_failure,
        "healthy_above" => &mut args.healthy_above,
        "failing_below" => &mut args.failing_below,
        _ => unreachable!("every key in `Kind::keys` is handled"),
    };
    setting.set(errors, key, value);
}

/// Names the attribute a misplaced key belongs to, or the closest key for a typo.
fn unknown_argument(kind: Kind, name: &str) -> String {
    let attr = kind.name();
    if let Some(owner) = Kind::ALL
        .into_iter()
        .find(|other| other.keys().contains(&name))
    {
        return format!(
            "`{name}` is an argument of `#[{}]`, not `#[{attr}]`",
            owner.name()
        );
    }
    if let Some(key) = instrument_duration::suggest::closest(name, kind.keys().iter().copied()) {
        return format!("unknown argument `{name}` for `#[{attr}]`; a similar argument is `{key}`");
    }
    let expected: Vec<String> = kind.keys().iter().map(|key| format!("`{key}`")).collect();
    let expected = match expected.as_slice() {
        [only] => only.clone(),
        _ => format!("one of {}", expected.join(", ")),
    };
    format!("unknown argument `{name}` for `#[{attr}]`; expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::{Kind, unknown_argument};

    #[test]
    fn unknown_arguments_are_explained() {
        let cases = [
            (
                Kind::Timed,
                "in_flight",
                "`in_flight` is an argument of `#[counted]`, not `#[timed]`",
            ),
            (
                Kind::Counted,
                "p95",
                "`p95` is an argument of `#[budget]`, not `#[counted]`",
            ),
            (
                Kind::Timed,
                "nmae",
                "unknown argument `nmae` for `#[timed]`; a similar argument is `name`",
            ),
            (
                Kind::Counted,
                "inflight",
                "unknown argument `inflight` for `#[counted]`; a similar argument is `in_flight`",
            ),
            (
                Kind::Budget,
                "p59",
                "unknown argument `p59` for `#[budget]`; a similar argument is `p95`",
            ),
            (
                Kind::Budget,
                "min_sample",
                "unknown argument `min_sample` for `#[budget]`; a similar argument is `min_samples`",
            ),
            (
                Kind::Timed,
                "timeout",
                "`timeout` is an argument of `#[circuit_breaker]`, not `#[timed]`",
            ),
            (
                Kind::CircuitBreaker,
                "p95",
                "`p95` is an argument of `#[budget]`, not `#[circuit_breaker]`",
            ),
            (
                Kind::CircuitBreaker,
                "failure_treshold",
                "unknown argument `failure_treshold` for `#[circuit_breaker]`; a similar argument is `failure_threshold`",
            ),
            (
                Kind::CircuitBreaker,
                "timout",
                "unknown argument `timout` for `#[circuit_breaker]`; a similar argument is `timeout`",
            ),
            (
                Kind::CircuitBreaker,
                "windows",
                "unknown argument `windows` for `#[circuit_breaker]`; a similar argument is `window`",
            ),
            (
                Kind::Timed,
                "colour",
                "unknown argument `colour` for `#[timed]`; expected one of `name`, `is_failure`",
            ),
            (
                Kind::Budget,
                "colour",
                "unknown argument `colour` for `#[budget]`; expected one of `name`, `is_failure`, `p50`, `p90`, `p95`, `p99`, `max`, `tolerance`, `min_samples`",
            ),
        ];
        for (kind, name, message) in cases {
            assert_eq!(unknown_argument(kind, name), message, "{name}");
        }
    }
}
