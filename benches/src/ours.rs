//! instrument's own attributes, on the shared function.

use std::io;

use crate::{ok, work};

#[instrument_runtime::timed]
#[inline(never)]
pub(crate) fn timed(x: u64) -> u64 {
    work(x)
}

/// A timed call whose body allocates and frees 64 bytes: with the counting allocator installed,
/// the allocation is charged to the node.
#[instrument_runtime::timed]
#[inline(never)]
pub(crate) fn timed_alloc_free(x: u64) -> u64 {
    crate::baseline::alloc_free_body(x)
}

#[instrument_runtime::counted]
#[inline(never)]
pub(crate) fn counted(x: u64) -> u64 {
    work(x)
}

#[instrument_runtime::budget(p95 = "1ms")]
#[inline(never)]
pub(crate) fn budget(x: u64) -> u64 {
    work(x)
}

// The breaker cases. A breaker judges the return value, so the body returns a `Result`
// (`io::Error` already converts from `CircuitOpen`); it is inlined into an `#[inline(never)]`
// `fn(u64) -> u64`, the shape of every contender, which unwraps it. A breaker also counts outcomes (it implies `#[counted]`), so
// `timed_counted` is the same shape without the breaker: `timed_breaker` minus `timed_counted` is
// the breaker's own cost.

#[instrument_runtime::timed]
#[instrument_runtime::counted]
#[inline(always)]
fn timed_counted_result(x: u64) -> io::Result<u64> {
    Ok(work(x))
}

#[inline(never)]
pub(crate) fn timed_counted(x: u64) -> u64 {
    ok(timed_counted_result(x))
}

#[instrument_runtime::timed]
#[instrument_runtime::circuit_breaker(name = "bench_timed_breaker")]
#[inline(always)]
fn timed_breaker_result(x: u64) -> io::Result<u64> {
    Ok(work(x))
}

#[inline(never)]
pub(crate) fn timed_breaker(x: u64) -> u64 {
    ok(timed_breaker_result(x))
}
