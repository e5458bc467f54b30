//! The function being instrumented, parsed leniently: the signature in full, the body kept as
//! tokens, so a half-written body still expands and its errors stay the compiler's own.

use proc_macro2::{Delimiter, Group, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Token, Visibility};

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
