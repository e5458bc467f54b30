//! What `#[timed]` and `#[counted]` decide, and every attribute shares: the node's name, and
//! which errors count as its failures.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Ident, Signature};

use super::values::{FunctionPath, function_path, name_literal};
use crate::args::AttrArgs;
use crate::errors::Errors;
use crate::keys::{Key, Kind};

/// A node's name as the attributes decide it.
pub(crate) enum NodeName {
    /// `name = "..."`.
    Given(String),
    /// The function's identifier; the runtime qualifies it with the function's path.
    Default(String),
}

/// The node's name: given with `name = "..."` (the same in every attribute that gives one), or
/// the function's.
pub(super) fn name(attrs: &[AttrArgs], sig: &Signature, errors: &mut Errors) -> NodeName {
    let mut chosen: Option<(String, Span)> = None;
    // A breaker's `name` names the breaker, which several nodes may share.
    for attr in attrs
        .iter()
        .filter(|attr| attr.kind != Kind::CircuitBreaker)
    {
        let Some((_, value)) = attr.args.get(Key::Name) else {
            continue;
        };
        let Some(name) = name_literal("node", value, errors) else {
            continue;
        };
        match &chosen {
            Some((first, _)) if *first != name => errors.push(
                value.span(),
                format!("conflicting node names `{first}` and `{name}`; give `name` once"),
            ),
            Some(_) => {}
            None => chosen = Some((name, value.span())),
        }
    }
    chosen.map_or_else(
        || NodeName::Default(sig.ident.unraw_name()),
        |(name, _)| NodeName::Given(name),
    )
}

/// The node's `is_failure`, from whichever attribute gives it: at most one may. A breaker's
/// `is_failure` decides only what trips the breaker, so it is not the node's.
pub(super) fn is_failure(attr: &AttrArgs, chosen: &mut Option<FunctionPath>, errors: &mut Errors) {
    if attr.kind == Kind::CircuitBreaker {
        return;
    }
    let arg = attr.args.get(Key::IsFailure);
    let Some((key, _)) = arg else {
        return;
    };
    if chosen.is_some() {
        errors.push(key.span(), format!("duplicate argument `{key}`"));
    } else {
        *chosen = function_path(arg, "is_absent", errors);
    }
}

/// An identifier without its `r#`: the name a node or breaker is known by.
pub(super) trait UnrawName {
    fn unraw_name(&self) -> String;
}

impl UnrawName for Ident {
    fn unraw_name(&self) -> String {
        let name = self.to_string();
        name.strip_prefix("r#")
            .map_or_else(|| name.clone(), str::to_owned)
    }
}
