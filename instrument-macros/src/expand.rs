//! Expand: a validated plan plus the function -> the instrumented function.
//!
//! The signature is re-emitted untouched; the body is wrapped in place: a node static and its
//! registration, a guard created before the user's block, and the block itself. The guard records
//! when dropped, so early `return`, `?` and panics need no special handling.
//!
//! A circuit breaker adds its own static, asks it before the guard starts, and tells it how the
//! call went after. Its one change to the signature: with a fallback, a parameter written as a
//! pattern gets a name, so the arguments can be passed on.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{FnArg, GenericArgument, Pat, PatIdent, PathArguments, ReturnType, Signature, Type};

use crate::args;
use crate::errors::Errors;
use crate::item::{self, MaybeFn};
use crate::keys::Kind;
use crate::plan::{self, BreakerPlan, BudgetPlan, FailureRatePlan, NodeName, Plan, WindowPlan};

/// Everything one attribute expansion does: parse, validate, expand, or report.
#[allow(
    clippy::needless_pass_by_value,
    reason = "mirrors the proc-macro entry point's owned streams"
)]
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    expand(kind, args, &item, !cfg!(feature = "enabled"))
}

/// `bare`: the function exactly as written, once its attributes are checked, so a build without
/// the runtime's default feature `enabled` carries no instrumentation and still refuses a bad
/// attribute.
fn expand(kind: Kind, args: TokenStream, item: &TokenStream, bare: bool) -> TokenStream {
    let mut errors = Errors::default();
    let primary = args::parse_primary(kind, args, &mut errors);
    let mut function: MaybeFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            if syn::parse2::<syn::ExprClosure>(item.clone()).is_ok() {
                // Past rustc's own "attributes on expressions are experimental": in expression
                // position only one expression is read, so the error and the closure are one.
                errors.push_error(item::closure(kind, item));
                let compile_errors = errors.into_compile_errors();
                return quote!({ #compile_errors #item });
            }
            errors.push_error(item::not_a_function(kind, item, error));
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
    let plan = plan::build(&attrs, &function, &mut errors);
    if errors.is_empty() && bare {
        uninstrumented(function)
    } else if errors.is_empty() {
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

fn instrumented(plan: &Plan, mut function: MaybeFn) -> TokenStream {
    let fallback = plan
        .breaker
        .as_ref()
        .and_then(|breaker| breaker.fallback.as_ref());
    // The fallback is called with the function's arguments, so each needs a name.
    let unpack = if fallback.is_some() {
        name_arguments(&mut function.sig)
    } else {
        TokenStream::new()
    };
    let sig = &function.sig;
    // The braces are the macro's, located at the user's: rustc would otherwise take a one-line
    // body (`{ self.id }`) now nested in the wrapper for braces the user wrote in vain, and warn
    // `unused_braces` with a fix that breaks the build.
    let mut block = function.body.clone();
    block.set_span(Span::call_site().located_at(function.body.span()));
    let block = block.to_token_stream();
    let node = node_declaration(plan, sig);
    // `()` cannot fail and `!` never returns: neither has a value to judge.
    let check_failure = match &sig.output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => !matches!(**ty, Type::Never(_)),
    };
    let async_trait_future = if sig.asyncness.is_none() {
        function.async_trait_future()
    } else {
        None
    };
    let wrapped = if let Some(mut future_body) = async_trait_future {
        // `#[async_trait]` already turned `async fn` into `Box::pin(async move { .. })`: the future
        // inside is what runs, so it is what gets measured. (Validation keeps breakers off it.)
        let mut wrap = WrapAsyncBlock {
            plan,
            check_failure: true,
            done: false,
        };
        wrap.visit_block_mut(&mut future_body);
        future_body.to_token_stream()
    } else {
        let run = if sig.asyncness.is_some() {
            // `return` in the body must end the inner block, not skip the completion mark.
            let annotation = if check_failure {
                let ty = let_type(&sig.output);
                quote!(: #ty)
            } else {
                TokenStream::new()
            };
            Run::Async(annotation)
        } else {
            Run::Sync(&sig.output)
        };
        let breaker = match &plan.breaker {
            Some(breaker) => {
                let declaration = breaker_declaration(breaker, sig);
                let admission = admission(breaker, sig);
                BreakerParts {
                    before: quote!(#declaration #admission #unpack),
                    after: finish_breaker(breaker, &sig.output),
                }
            }
            None => BreakerParts::default(),
        };
        wrap_block(plan, &block, run, check_failure, &breaker)
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

/// Sets the guard's failure flag from the return value: by the node's `is_failure` function when
/// it has one, else when the value's type says (`Outcome`).
fn observe_failure(plan: &Plan) -> TokenStream {
    if let Some(is_failure) = &plan.is_failure {
        let path = &is_failure.path;
        // As the breaker's: a closure, so a wrong argument type is reported on the path.
        let call = quote_spanned! {path.span()=>
            ::instrument_runtime::__private::breaker_failed_with(
                &__instrument_ret,
                |__instrument_error| #path(__instrument_error),
            )
        };
        return quote! {
            #[allow(clippy::redundant_closure)]
            __instrument_call.failed_if(#call);
        };
    }
    quote! {
        __instrument_call.failed_if({
            #[allow(unused_imports)]
            use ::instrument_runtime::__private::{ViaFallback as _, ViaOutcome as _};
            (&::instrument_runtime::__private::Probe(&__instrument_ret)).instrument_is_failure()
        });
    }
}

/// How the user's block runs inside the wrapper.
enum Run<'a> {
    /// As a closure returning the function's type.
    Sync(&'a ReturnType),
    /// As an inner `async move` block, awaited; the value's `let` annotated as given.
    Async(TokenStream),
}

/// What a circuit breaker adds to the wrapper: its statics and admission before the guard, its
/// verdict on the return value after the call.
#[derive(Default)]
struct BreakerParts {
    before: TokenStream,
    after: TokenStream,
}

/// The new body: the guard created first, the user's block, then what the guard and the breaker
/// read from the value.
fn wrap_block(
    plan: &Plan,
    block: &TokenStream,
    run: Run,
    check_failure: bool,
    breaker: &BreakerParts,
) -> TokenStream {
    let BreakerParts { before, after } = breaker;
    let is_async = matches!(run, Run::Async(_));
    let start = start_call(plan, is_async);
    let run = match run {
        // Nothing to read from the value and nothing to tell a breaker after the call: the block
        // is the body's tail expression.
        Run::Sync(_) if !check_failure && after.is_empty() => {
            return quote! {
                #before
                #[allow(unused_mut)]
                #start
                #block
            };
        }
        Run::Sync(output) => {
            // The value is needed on every way out of the body, early `return` and `?` included,
            // so the body runs as a closure; its return type is the function's, with `impl Trait`
            // left to inference (a closure cannot name an opaque type). Passing it to a function
            // that takes `FnOnce` lets the body move out of its captures, e.g. return
            // `&mut self.field`.
            let return_type = closure_return_type(output);
            quote! {
                let __instrument_ret = ::instrument_runtime::__private::call_once(move || #return_type #block);
            }
        }
        Run::Async(annotation) => quote! {
            let __instrument_ret #annotation = __instrument_call.watch(async move #block).await;
        },
    };
    let observe = if check_failure {
        observe_failure(plan)
    } else {
        TokenStream::new()
    };
    let complete = if is_async {
        quote!(__instrument_call.complete();)
    } else {
        TokenStream::new()
    };
    quote! {
        #before
        #start
        #run
        #observe
        #after
        #complete
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
        let wrapped = wrap_block(
            self.plan,
            &inner,
            Run::Async(TokenStream::new()),
            self.check_failure,
            &BreakerParts::default(),
        );
        future.block = syn::parse_quote!({ #wrapped });
    }
}

fn node_declaration(plan: &Plan, sig: &Signature) -> TokenStream {
    let (name, default_name) = match &plan.name {
        NodeName::Given(name) => (name, false),
        NodeName::Default(name) => (name, true),
    };
    // The type name of an item nested in the node static is its path, the function's with its
    // `Self` type included (`app::Store::get::__INSTRUMENT_NODE::__instrument_path`): the runtime
    // qualifies a default name with it.
    let path = option_tokens(default_name.then(|| {
        quote! {{
            fn __instrument_path() -> &'static str {
                ::core::any::type_name_of_val(&__instrument_path)
            }
            __instrument_path
        }}
    }));
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let (timed, counted, in_flight) = (plan.timed, plan.counted, plan.in_flight);
    let has_budget = plan.budget.is_some();
    let budget = option_tokens(plan.budget.as_ref().map(budget_tokens));
    quote! {
        static __INSTRUMENT_NODE: ::instrument_runtime::__private::Node =
            ::instrument_runtime::__private::Node::new(::instrument_runtime::__private::NodeMeta {
                name: #name,
                path: #path,
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

/// The breaker's static declaration and its registration; the site links it to the node.
fn breaker_declaration(breaker: &BreakerPlan, sig: &Signature) -> TokenStream {
    let BreakerPlan {
        name,
        function,
        failure_threshold,
        success_threshold,
        timeout_ns,
        recovery_ns,
        half_open_probes,
        healthy_above,
        failing_below,
        ..
    } = breaker;
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let fallback = option_tokens(breaker.fallback.as_ref().map(|fallback| {
        let written = &fallback.written;
        quote!(#written)
    }));
    let failure_rate = option_tokens(breaker.failure_rate.as_ref().map(failure_rate_tokens));
    let slow_call = option_tokens(breaker.slow_call_ns.map(|nanos| quote!(#nanos)));
    quote! {
        static __INSTRUMENT_BREAKER_DECL: ::instrument_runtime::__private::BreakerDecl =
            ::instrument_runtime::__private::BreakerDecl {
                name: #name,
                function: #function,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                fallback: #fallback,
                config: ::instrument_runtime::__private::BreakerConfig {
                    failure_threshold: #failure_threshold,
                    success_threshold: #success_threshold,
                    timeout_ns: #timeout_ns,
                    recovery_ns: #recovery_ns,
                    half_open_probes: #half_open_probes,
                    failure_rate: #failure_rate,
                    slow_call_ns: #slow_call,
                    healthy_above: #healthy_above,
                    failing_below: #failing_below,
                },
            };
        static __INSTRUMENT_BREAKER: ::instrument_runtime::__private::BreakerSite =
            ::instrument_runtime::__private::BreakerSite::new(
                &__INSTRUMENT_BREAKER_DECL,
                &__INSTRUMENT_NODE,
            );
        ::instrument_runtime::__private::inventory::submit! {
            ::instrument_runtime::__private::BreakerSiteRef(&__INSTRUMENT_BREAKER)
        }
    }
}

fn failure_rate_tokens(rate: &FailureRatePlan) -> TokenStream {
    let (threshold, min_calls) = (rate.threshold, rate.min_calls);
    let window = match rate.window {
        WindowPlan::Calls(calls) => quote!(::instrument_runtime::__private::Window::Calls(#calls)),
        WindowPlan::Nanos(nanos) => quote!(::instrument_runtime::__private::Window::Nanos(#nanos)),
    };
    quote! {
        ::instrument_runtime::__private::FailureRate {
            threshold: #threshold,
            window: #window,
            min_calls: #min_calls,
        }
    }
}

/// Asks the breaker before the call starts, so a rejected call is not one of the node's calls.
/// A rejected call returns the fallback's value, or the error the return type makes of
/// `CircuitOpen`. Each is spanned at what the user wrote, so a fallback with the wrong signature
/// or an error type without `From<CircuitOpen>` is reported there.
fn admission(breaker: &BreakerPlan, sig: &Signature) -> TokenStream {
    let rejected = if let Some(fallback) = &breaker.fallback {
        let path = &fallback.path;
        let span = path.span();
        let arguments = argument_names(sig, span);
        let call = if sig.asyncness.is_some() {
            quote_spanned!(span=> #path(#(#arguments),*).await)
        } else {
            quote_spanned!(span=> #path(#(#arguments),*))
        };
        quote! {
            __instrument_rejection.served_by_fallback();
            return #call;
        }
    } else {
        // At the error type when it is written out, so a missing `From<CircuitOpen>` is reported
        // on it; rustc reports the path over the range from its first token to its last.
        let (first, last) = span_range(error_type(&sig.output));
        let reject = quote_spanned!(last=> reject);
        quote_spanned! {first=>
            return ::instrument_runtime::__private::#reject(__instrument_rejection);
        }
    };
    quote! {
        let __instrument_permit = match __INSTRUMENT_BREAKER.admit() {
            ::core::result::Result::Ok(__instrument_permit) => __instrument_permit,
            ::core::result::Result::Err(__instrument_rejection) => {
                #rejected
            }
        };
    }
}

/// Tells the breaker how the call went: failed (by `Outcome`, or by the `is_failure` function),
/// and a description of the value for its report.
fn finish_breaker(breaker: &BreakerPlan, output: &ReturnType) -> TokenStream {
    let failed = if matches!(output, ReturnType::Default) {
        // Nothing returned, nothing failed: only the slow-call limit judges the call.
        quote!(let __instrument_failed = false;)
    } else if let Some(is_failure) = &breaker.is_failure {
        let path = &is_failure.path;
        // Called from a closure: an argument of the wrong type is then reported on the path as a
        // plain mismatch, not with a suggestion to write a closure (which the attribute rejects).
        let call = quote_spanned! {path.span()=>
            ::instrument_runtime::__private::breaker_failed_with(
                &__instrument_ret,
                |__instrument_error| #path(__instrument_error),
            )
        };
        quote! {
            #[allow(clippy::redundant_closure)]
            let __instrument_failed = #call;
        }
    } else {
        // At the return type: a type that cannot fail is reported there.
        let (first, _) = span_range(return_type(output));
        quote_spanned! {first=>
            let __instrument_failed = ::instrument_runtime::__private::breaker_failed(&__instrument_ret);
        }
    };
    quote! {
        #failed
        __instrument_permit.finish(__instrument_failed, || {
            #[allow(unused_imports)]
            use ::instrument_runtime::__private::{
                DescribeViaDebug as _, DescribeViaDisplay as _, DescribeViaName as _,
            };
            (&&::instrument_runtime::__private::Describe(&__instrument_ret)).instrument_describe()
        });
    }
}

fn return_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Type(_, ty) => ty.to_token_stream(),
        ReturnType::Default => TokenStream::new(),
    }
}

/// `E` of a return type written `Result<T, E>` (any name with two type arguments); else the
/// whole return type, as for an alias like `io::Result<T>`.
fn error_type(output: &ReturnType) -> TokenStream {
    if let ReturnType::Type(_, ty) = output
        && let Type::Path(path) = &**ty
        && let Some(last) = path.path.segments.last()
        && let PathArguments::AngleBracketed(arguments) = &last.arguments
        && let [GenericArgument::Type(_), GenericArgument::Type(error)] =
            Vec::from_iter(&arguments.args).as_slice()
    {
        return error.to_token_stream();
    }
    return_type(output)
}

/// The spans of the first and last tokens: an expression starting with one and ending with the
/// other is reported over everything between (what `syn::Error::new_spanned` relies on too).
fn span_range(tokens: TokenStream) -> (Span, Span) {
    let mut tokens = tokens.into_iter().map(|token| token.span());
    let first = tokens.next().unwrap_or_else(Span::call_site);
    (first, tokens.last().unwrap_or(first))
}

/// Renames every parameter that is a pattern (`(a, b): (u32, u32)`, `_`) to `__instrument_arg{N}`
/// so it can be passed on; returns the `let`s that destructure them again before the body runs.
fn name_arguments(sig: &mut Signature) -> TokenStream {
    let mut unpack = TokenStream::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        if let Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ..
        }) = &*typed.pat
        {
            continue;
        }
        let name = format_ident!("__instrument_arg{index}");
        let pattern = std::mem::replace(&mut *typed.pat, syn::parse_quote!(#name));
        // `let _ = ..` would bind nothing; the value stays in the parameter, as it did.
        if !matches!(pattern, Pat::Wild(_)) {
            unpack.extend(quote!(let #pattern = #name;));
        }
    }
    unpack
}

/// The arguments to pass on, `self` first, located at `span` (the fallback's path). They resolve
/// as the macro's own tokens, so rustc does not suggest editing the path to fix a wrong count.
fn argument_names(sig: &Signature, span: Span) -> Vec<TokenStream> {
    sig.inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(receiver) => {
                let mut token = receiver.self_token;
                token.span = Span::call_site().located_at(span);
                token.to_token_stream()
            }
            FnArg::Typed(typed) => {
                let Pat::Ident(PatIdent { ident, .. }) = &*typed.pat else {
                    unreachable!("`name_arguments` names every parameter")
                };
                let mut ident = ident.clone();
                ident.set_span(Span::call_site().located_at(span));
                ident.to_token_stream()
            }
        })
        .collect()
}

fn option_tokens(value: Option<TokenStream>) -> TokenStream {
    value.map_or_else(
        || quote!(::core::option::Option::None),
        |value| quote!(::core::option::Option::Some(#value)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_emits_the_function_as_written_without_any_of_our_attributes() {
        let item = quote! {
            /// Adds one.
            #[instrument_runtime::counted]
            #[inline]
            pub fn next(x: u32) -> u32 { x + 1 }
        };
        let bare = expand(Kind::Budget, quote!(p95 = "1ms"), &item, true);
        let written = quote! {
            /// Adds one.
            #[inline]
            pub fn next(x: u32) -> u32 { x + 1 }
        };
        assert_eq!(bare.to_string(), written.to_string());
    }

    #[test]
    fn bare_still_refuses_a_bad_attribute() {
        let item = quote!(
            fn next(x: u32) -> u32 {
                x + 1
            }
        );
        let bare = expand(Kind::Budget, quote!(p95 = "fifty"), &item, true).to_string();
        assert!(bare.contains("compile_error"), "{bare}");
    }
}
