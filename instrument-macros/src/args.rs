//! Parse: what the user wrote in each of our attributes, every value kept with its span.
//!
//! Values are kept as written (`syn::Expr`); `plan` gives them meaning. A key is declared once per
//! attribute kind and set once: the second occurrence is a "duplicate argument" error.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Meta, Token};

use crate::errors::Errors;

/// One of our attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Timed,
    Counted,
    Budget,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Timed, Kind::Counted, Kind::Budget];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Timed => "timed",
            Kind::Counted => "counted",
            Kind::Budget => "budget",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Timed => &["name"],
            Kind::Counted => &["name", "in_flight"],
            Kind::Budget => &[
                "name",
                "p50",
                "p90",
                "p95",
                "p99",
                "max",
                "tolerance",
                "min_samples",
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
}

/// One attribute as written.
pub(crate) struct AttrArgs {
    pub(crate) kind: Kind,
    /// The attribute's path, where errors about the attribute as a whole point.
    pub(crate) span: Span,
    pub(crate) args: Args,
}

/// Parses the arguments of the attribute being expanded.
pub(crate) fn parse_primary(kind: Kind, tokens: TokenStream, errors: &mut Errors) -> AttrArgs {
    let mut args = Args::default();
    if let Err(error) =
        (|input: ParseStream| parse_into(kind, input, &mut args, errors)).parse2(tokens)
    {
        errors.push_error(error);
    }
    AttrArgs {
        kind,
        span: Span::call_site(),
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
            &name_value.eq_token,
            format!("expected `#[{}(...)]`", kind.name()),
        )),
    };
    if let Err(error) = parsed {
        errors.push_error(error);
    }
    AttrArgs {
        kind,
        span: attr
            .path()
            .segments
            .last()
            .map_or_else(Span::call_site, |s| s.ident.span()),
        args,
    }
}

fn parse_into(
    kind: Kind,
    input: ParseStream,
    args: &mut Args,
    errors: &mut Errors,
) -> syn::Result<()> {
    let entries =
        Punctuated::<(Ident, Option<Expr>), Token![,]>::parse_terminated_with(input, |input| {
            let key = input.call(Ident::parse_any)?;
            let value = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            Ok((key, value))
        })?;
    for (key, value) in entries {
        let name = key.to_string();
        if !kind.keys().contains(&name.as_str()) {
            let expected: Vec<String> = kind.keys().iter().map(|key| format!("`{key}`")).collect();
            errors.push(
                key.span(),
                format!(
                    "unknown argument `{name}` for `#[{}]`; expected one of {}",
                    kind.name(),
                    expected.join(", ")
                ),
            );
            continue;
        }
        if name == "in_flight" {
            match value {
                None => args.in_flight.set(errors, key, ()),
                Some(value) => {
                    errors.push_error(syn::Error::new_spanned(value, "`in_flight` takes no value"))
                }
            }
            continue;
        }
        let Some(value) = value else {
            errors.push(key.span(), format!("expected a value: `{name} = ...`"));
            continue;
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
            _ => unreachable!("every key in `Kind::keys` is handled"),
        };
        setting.set(errors, key, value);
    }
    Ok(())
}
