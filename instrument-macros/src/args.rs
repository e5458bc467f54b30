//! Parse: what the user wrote in each of our attributes, every value kept with its span.
//!
//! Values are kept as written (`syn::Expr`); `plan` gives them meaning. Which keys each attribute
//! accepts, and whether they take a value, is the keyword table's (`keys`); a key is set once: the
//! second occurrence is a "duplicate argument" error.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens as _, quote};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::{Attribute, Expr, Ident, Meta, Token};

use crate::errors::Errors;
use crate::keys::{Form, Key, Kind};

/// An argument given as `key = value`: the key as written (for its span and spelling) and the
/// value; `None` when not given.
pub(crate) type Arg<'a> = Option<(&'a Ident, &'a Expr)>;

/// The arguments of one attribute as written, each key at most once.
#[derive(Default)]
pub(crate) struct Args {
    given: Vec<(Key, Ident, Option<Expr>)>,
    /// An argument could not be read (malformed or unknown), so a missing one may have been meant
    /// there: checks for missing arguments stay quiet rather than add a second error.
    pub(crate) incomplete: bool,
}

impl Args {
    /// The key as written and its value, for an argument given as `key = value`.
    pub(crate) fn get(&self, key: Key) -> Arg<'_> {
        self.given
            .iter()
            .find(|(given, _, _)| *given == key)
            .and_then(|(_, ident, value)| Some((ident, value.as_ref()?)))
    }

    /// Whether the argument is given, with or without a value.
    pub(crate) fn has(&self, key: Key) -> bool {
        self.given.iter().any(|(given, _, _)| *given == key)
    }

    fn set(&mut self, errors: &mut Errors, key: Key, ident: Ident, value: Option<Expr>) {
        if self.has(key) {
            errors.push(ident.span(), format!("duplicate argument `{ident}`"));
        } else {
            self.given.push((key, ident, value));
        }
    }
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
        let example = kind.example();
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

fn apply(kind: Kind, ident: Ident, value: Option<Expr>, args: &mut Args, errors: &mut Errors) {
    let name = ident.to_string();
    let Some(key) = Key::find(kind, &name) else {
        errors.push(ident.span(), unknown_argument(kind, &name));
        args.incomplete = true;
        return;
    };
    match (key.form(), value) {
        (Form::KeyValue, Some(value)) => args.set(errors, key, ident, Some(value)),
        (Form::Flag, None) => args.set(errors, key, ident, None),
        (Form::Flag, Some(value)) => errors.push_error(syn::Error::new_spanned(
            value,
            format!("`{name}` takes no value: write `{name}` alone"),
        )),
        (Form::KeyValue, None) => {
            let example = if key == Key::Name { "\"...\"" } else { "..." };
            errors.push(
                ident.span(),
                format!("expected a value: `{name} = {example}`"),
            );
        }
    }
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
