//! Expand: a validated plan plus the function -> the instrumented function.
//!
//! The signature is re-emitted untouched; the body is wrapped in place: a node static and its
//! registration, a guard created before the user's block, and the block itself. The guard records
//! when dropped, so early `return`, `?` and panics need no special handling.

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::{ToTokens as _, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{Expr, ReturnType, Stmt, Type};

use crate::args::{self, Kind};
use crate::errors::Errors;
use crate::item::{self, MaybeFn};
use crate::plan::{self, BudgetPlan, Plan};

/// Everything one attribute expansion does: parse, validate, expand, or report.
#[allow(
    clippy::needless_pass_by_value,
    reason = "mirrors the proc-macro entry point's owned streams"
)]
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let primary = args::parse_primary(kind, args, &mut errors);
    let mut function: MaybeFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push_error(item::not_a_function(kind, &item, error));
            return quote!(#item)
                .into_iter()
                .chain(errors.into_compile_errors())
                .collect();
        }
    };
    // The first of our attributes to expand takes the others on the same function with it, so
    // stacking them generates one wrapper that records once.
    let mut attrs = vec![primary];
    function.attrs.retain(|attr| match Kind::of(attr) {
        Some(kind) => {
            attrs.push(args::parse_sibling(kind, attr, &mut errors));
            false
        }
        None => true,
    });
    let plan = plan::build(&attrs, &function.sig, &mut errors);
    if errors.is_empty() {
        instrumented(&plan, function)
    } else {
        // The function still compiles as written, so one typo does not cascade into other errors.
        let mut tokens = uninstrumented(function);
        tokens.extend(errors.into_compile_errors());
        tokens
    }
}

fn uninstrumented(function: MaybeFn) -> TokenStream {
    let statements = function.body.stream();
    assemble(function, &statements)
}

fn instrumented(plan: &Plan, function: MaybeFn) -> TokenStream {
    let sig = &function.sig;
    let body = function.body.to_token_stream();
    let node = node_declaration(plan, sig);
    let is_async = sig.asyncness.is_some();
    // `()` cannot fail and `!` never returns: neither has a value to judge.
    let check_failure = plan.counted
        && match &sig.output {
            ReturnType::Default => false,
            ReturnType::Type(_, ty) => !matches!(**ty, Type::Never(_)),
        };
    let wrapped = if is_async {
        async_body(plan, &body, &sig.output, check_failure)
    } else if let Some(mut future_body) = async_trait_future(&body) {
        // `#[async_trait]` already turned `async fn` into `Box::pin(async move { .. })`: the future
        // inside is what runs, so it is what gets measured.
        let mut wrap = WrapAsyncBlock {
            plan,
            check_failure: plan.counted,
            done: false,
        };
        wrap.visit_block_mut(&mut future_body);
        future_body.to_token_stream()
    } else {
        sync_body(plan, &body, &sig.output, check_failure)
    };
    assemble(function, &quote!(#node #wrapped))
}

/// The function with new body contents. The braces keep the user's span: rustc then still
/// reports an unused instrumented fn as dead code, and errors about the body as a whole point at
/// the user's block.
fn assemble(function: MaybeFn, contents: &TokenStream) -> TokenStream {
    let MaybeFn {
        attrs,
        vis,
        defaultness,
        sig,
        inner_attrs,
        body,
    } = function;
    let mut new_body = Group::new(Delimiter::Brace, quote!(#(#inner_attrs)* #contents));
    new_body.set_span(body.span());
    quote!(#(#attrs)* #vis #defaultness #sig #new_body)
}

const TIMED: u8 = 1;
const IN_FLIGHT: u8 = 2;
const ASYNC: u8 = 4;

fn start_call(plan: &Plan, is_async: bool) -> TokenStream {
    let flags = (u8::from(plan.timed) * TIMED)
        | (u8::from(plan.in_flight) * IN_FLIGHT)
        | (u8::from(is_async) * ASYNC);
    quote! {
        let mut __instrument_call = ::instrument_runtime::__private::Call::<#flags>::start(
            &__INSTRUMENT_NODE,
            &__INSTRUMENT_LOCAL,
        );
    }
}

/// Sets the guard's failure flag from the return value, when its type says (`Outcome`).
fn observe_failure() -> TokenStream {
    quote! {
        __instrument_call.failed_if({
            #[allow(unused_imports)]
            use ::instrument_runtime::__private::{ViaFallback as _, ViaOutcome as _};
            (&::instrument_runtime::__private::Probe(&__instrument_ret)).instrument_is_failure()
        });
    }
}

fn sync_body(
    plan: &Plan,
    block: &TokenStream,
    output: &ReturnType,
    check_failure: bool,
) -> TokenStream {
    let start = start_call(plan, false);
    if !check_failure {
        return quote! {
            #[allow(unused_mut)]
            #start
            #block
        };
    }
    // The value is needed on every way out of the body, early `return` and `?` included, so the
    // body runs as a closure; its return type is the function's, with `impl Trait` left to
    // inference (a closure cannot name an opaque type). Passing it to a function that takes
    // `FnOnce` lets the body move out of its captures, e.g. return `&mut self.field`.
    let return_type = closure_return_type(output);
    let observe = observe_failure();
    quote! {
        #start
        let __instrument_ret = ::instrument_runtime::__private::call_once(move || #return_type #block);
        #observe
        __instrument_ret
    }
}

fn async_body(
    plan: &Plan,
    block: &TokenStream,
    output: &ReturnType,
    check_failure: bool,
) -> TokenStream {
    let start = start_call(plan, true);
    // `return` in the body must end the inner block, not skip the completion mark.
    let (annotation, observe) = if check_failure {
        let ty = let_type(output);
        (quote!(: #ty), observe_failure())
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    quote! {
        #start
        let __instrument_ret #annotation = async move #block.await;
        #observe
        __instrument_call.complete();
        __instrument_ret
    }
}

fn closure_return_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => TokenStream::new(),
        ReturnType::Type(arrow, _) => {
            let ty = let_type(output);
            quote!(#arrow #ty)
        }
    }
}

/// The return type with every `impl Trait` replaced by `_`, usable on a `let` or a closure.
fn let_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty: Type = (**ty).clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            ty.to_token_stream()
        }
    }
}

struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            let span = syn::spanned::Spanned::span(impl_trait);
            *ty = syn::parse_quote_spanned!(span=> _);
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

/// The block of `Box::pin(async move { .. })` when that is the whole body, as `#[async_trait]`
/// generates it.
fn async_trait_future(body: &TokenStream) -> Option<syn::Block> {
    let block: syn::Block = syn::parse2(body.clone()).ok()?;
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
    let is_async_block = matches!(call.args.first(), Some(Expr::Async(_))) && call.args.len() == 1;
    (is_box_pin && is_async_block).then_some(block)
}

/// Wraps the async block inside `Box::pin(..)` in place.
struct WrapAsyncBlock<'a> {
    plan: &'a Plan,
    check_failure: bool,
    done: bool,
}

impl VisitMut for WrapAsyncBlock<'_> {
    fn visit_expr_async_mut(&mut self, future: &mut syn::ExprAsync) {
        if self.done {
            return;
        }
        self.done = true;
        let inner = future.block.to_token_stream();
        let start = start_call(self.plan, true);
        let observe = if self.check_failure {
            observe_failure()
        } else {
            TokenStream::new()
        };
        future.block = syn::parse_quote!({
            #start
            let __instrument_ret = async move #inner.await;
            #observe
            __instrument_call.complete();
            __instrument_ret
        });
    }
}

fn node_declaration(plan: &Plan, sig: &syn::Signature) -> TokenStream {
    let name = &plan.name;
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let (timed, counted, in_flight) = (plan.timed, plan.counted, plan.in_flight);
    let has_budget = plan.budget.is_some();
    let budget = option_tokens(plan.budget.as_ref().map(budget_tokens));
    quote! {
        static __INSTRUMENT_NODE: ::instrument_runtime::__private::Node =
            ::instrument_runtime::__private::Node::new(::instrument_runtime::__private::NodeMeta {
                name: #name,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                instruments: ::instrument_runtime::__private::Instruments {
                    timed: #timed,
                    counted: #counted,
                    in_flight: #in_flight,
                    budget: #has_budget,
                },
                budget: #budget,
            });
        ::std::thread_local! {
            static __INSTRUMENT_LOCAL: ::instrument_runtime::__private::LocalShard =
                const { ::instrument_runtime::__private::LocalShard::new() };
        }
        ::instrument_runtime::__private::inventory::submit! {
            ::instrument_runtime::__private::NodeRef(&__INSTRUMENT_NODE)
        }
    }
}

fn budget_tokens(budget: &BudgetPlan) -> TokenStream {
    let nanos = |value: Option<u64>| option_tokens(value.map(|nanos| quote!(#nanos)));
    let (p50, p90, p95, p99, max) = (
        nanos(budget.p50_ns),
        nanos(budget.p90_ns),
        nanos(budget.p95_ns),
        nanos(budget.p99_ns),
        nanos(budget.max_ns),
    );
    let tolerance = budget.tolerance;
    let min_samples = budget.min_samples;
    quote! {
        ::instrument_runtime::__private::Budget {
            p50_ns: #p50,
            p90_ns: #p90,
            p95_ns: #p95,
            p99_ns: #p99,
            max_ns: #max,
            tolerance: #tolerance,
            min_samples: #min_samples,
        }
    }
}

fn option_tokens(value: Option<TokenStream>) -> TokenStream {
    value.map_or_else(
        || quote!(::core::option::Option::None),
        |value| quote!(::core::option::Option::Some(#value)),
    )
}
