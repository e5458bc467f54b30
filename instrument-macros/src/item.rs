//! The function being instrumented, parsed leniently: the signature in full, the body kept as
//! tokens, so a half-written body still expands and its errors stay the compiler's own.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::ToTokens as _;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Signature, Stmt, Token, Visibility};

use crate::keys::Kind;

const MISSING_BODY: &str =
    "expected a function body: instrument the implementation, not the declaration";

/// The error for an item that did not parse as a function: a declaration without a body keeps
/// its own message and span; anything else is "not a function", on the item's first token.
pub(crate) fn not_a_function(kind: Kind, item: &TokenStream, error: syn::Error) -> syn::Error {
    if error.to_string() == MISSING_BODY {
        return error;
    }
    syn::Error::new(
        first_token_span(item),
        format!("`#[{}]` can only be applied to a function", kind.name()),
    )
}

fn first_token_span(tokens: &TokenStream) -> Span {
    (tokens.clone().into_iter().next()).map_or_else(Span::call_site, |token| token.span())
}

/// The error for an attribute written on a closure, on its first token, pointing at the block
/// form.
pub(crate) fn closure(kind: Kind, closure: &TokenStream) -> syn::Error {
    syn::Error::new(
        first_token_span(closure),
        format!(
            "`#[{}]` cannot be applied to a closure; closures: use the block form, \
             `let _node = instrument_runtime::timed_scope!(\"name\");` inside the closure",
            kind.name()
        ),
    )
}

pub(crate) struct MaybeFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    /// `#![...]` attributes at the top of the body: they must stay first in the expanded body.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The body, braces included, minus its inner attributes.
    pub(crate) body: Group,
}

impl Parse for MaybeFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let defaultness = input.parse()?;
        let sig = input.parse()?;
        if input.peek(Token![;]) {
            return Err(input.error(
                "expected a function body: instrument the implementation, not the declaration",
            ));
        }
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected a function body"));
        }
        let (inner_attrs, statements) = syn::parse::Parser::parse2(
            |input: ParseStream| {
                Ok((
                    input.call(Attribute::parse_inner)?,
                    input.parse::<TokenStream>()?,
                ))
            },
            body.stream(),
        )?;
        let mut body_without_inner_attrs = Group::new(Delimiter::Brace, statements);
        body_without_inner_attrs.set_span(body.span());
        Ok(Self {
            attrs,
            vis,
            defaultness,
            sig,
            inner_attrs,
            body: body_without_inner_attrs,
        })
    }
}

impl MaybeFn {
    /// The block of `Box::pin(async move { .. })` when that is the whole body, as `#[async_trait]`
    /// generates it.
    pub(crate) fn async_trait_future(&self) -> Option<syn::Block> {
        let block: syn::Block = syn::parse2(self.body.to_token_stream()).ok()?;
        let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
            return None;
        };
        let Expr::Path(func) = &*call.func else {
            return None;
        };
        let is_box_pin = func.path.segments.len() >= 2
            && func
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "pin")
            && func
                .path
                .segments
                .iter()
                .rev()
                .nth(1)
                .is_some_and(|segment| segment.ident == "Box");
        let is_async_block =
            matches!(call.args.first(), Some(Expr::Async(_))) && call.args.len() == 1;
        (is_box_pin && is_async_block).then_some(block)
    }
}
