//! The kinds of value the attributes share: durations, percentages, paths to functions, names.

use proc_macro2::Span;
use quote::ToTokens as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, ExprPath, Lit};

use crate::args::Arg;
use crate::errors::Errors;
use instrument_duration::parse_nanos;

/// A function named in an argument: the path, and the path as written for reports.
pub(crate) struct FunctionPath {
    pub(crate) path: syn::Path,
    pub(crate) written: String,
}

/// A function given by path, like `fallback = embed_cached` or `fallback = Self::cached`.
pub(super) fn function_path(
    arg: Arg<'_>,
    example: &str,
    errors: &mut Errors,
) -> Option<FunctionPath> {
    let (key, value) = arg?;
    if let Expr::Path(ExprPath {
        attrs,
        qself: None,
        path,
    }) = value
        && attrs.is_empty()
    {
        return Some(FunctionPath {
            path: path.clone(),
            written: as_written(value),
        });
    }
    let message = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if syn::parse_str::<syn::Path>(&lit.value()).is_ok() => format!(
            "expected a path to a function, found a string: write `{key} = {}` without quotes",
            lit.value()
        ),
        Expr::Closure(_) => format!(
            "expected a path to a function, found a closure: write it as a function and give its path, like `{key} = {example}`"
        ),
        _ => format!(
            "expected a path to a function like `{key} = {example}`, found `{}`",
            as_written(value)
        ),
    };
    errors.push_spanned(value, message);
    None
}

/// A duration: `"50ms"`, or unquoted `50ms` (a suffixed literal).
pub(super) fn duration(arg: Arg<'_>, errors: &mut Errors) -> Option<(u64, Span)> {
    let (_, value) = arg?;
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

/// A percentage as written, not yet range-checked.
pub(super) struct Percent {
    pub(super) value: f64,
    pub(super) text: String,
    pub(super) span: Span,
}

/// A percentage in quotes: `"10%"`, `"2.5%"`.
pub(super) fn percentage(arg: Arg<'_>, example: &str, errors: &mut Errors) -> Option<Percent> {
    let (_, value) = arg?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        errors.push_spanned(
            value,
            format!(
                "expected a percentage in quotes like `\"{example}\"`, found `{}`",
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
    let Some(percent) = parsed else {
        errors.push(
            value.span(),
            format!("expected a percentage like `{example}`, found `{text}`"),
        );
        return None;
    };
    Some(Percent {
        value: percent,
        text,
        span: value.span(),
    })
}

/// A node or breaker name: a non-empty string without control characters.
///
/// Names end up in terminal tables, CI logs, metrics and dashboards; a carriage return or an
/// escape sequence would rewrite what those show. Anything printable is fine (`Store::get`,
/// `checkout v2`, `größe`); the compiler already refuses text-direction overrides in literals.
pub(super) fn name_literal(what: &str, value: &Expr, errors: &mut Errors) -> Option<String> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        let name = lit.value();
        if name.trim().is_empty() {
            errors.push(
                value.span(),
                format!(
                    "{what} name must not be empty; leave `name` out to use the function's name"
                ),
            );
            return None;
        }
        if let Some(control) = name.chars().find(|c| c.is_control()) {
            errors.push(
                value.span(),
                format!(
                    "{what} name must not contain control characters, found `{}`; names are \
                     printed in tables, logs and metrics",
                    control.escape_default()
                ),
            );
            return None;
        }
        return Some(name);
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
        format!("expected a {what} name in quotes like `{example}`, found `{found}`"),
    );
    None
}

/// An expression as the user wrote it, near enough for a message: the compiler prints tokens
/// spaced (`- 1`, `time :: Duration`), which is tightened where that is unambiguous.
pub(super) fn as_written(value: &Expr) -> String {
    let text = value.to_token_stream().to_string();
    let text = text.replace(" :: ", "::").replace(":: ", "::");
    match text.strip_prefix("- ") {
        Some(number) => format!("-{number}"),
        None => text,
    }
}
