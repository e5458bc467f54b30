//! The attribute macros of instrument. Depend on `instrument-runtime`, which re-exports them and
//! provides everything the generated code uses; the documentation lives there.

mod args;
mod errors;
mod expand;
mod item;
mod keys;
mod plan;

use proc_macro::TokenStream;

use crate::keys::Kind;

/// Records the wall time of every call into the node's latency histogram.
///
/// See `instrument_runtime::timed` for the full documentation.
#[proc_macro_attribute]
pub fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Timed, args.into(), item.into()).into()
}

/// Counts calls, errors, panics and cancellations.
///
/// See `instrument_runtime::counted` for the full documentation.
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Counted, args.into(), item.into()).into()
}

/// Declares the node's latency budget; implies `#[timed]`.
///
/// See `instrument_runtime::budget` for the full documentation.
#[proc_macro_attribute]
pub fn budget(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Budget, args.into(), item.into()).into()
}

/// Guards the function with a circuit breaker; implies `#[counted]`.
///
/// See `instrument_runtime::circuit_breaker` for the full documentation.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}
