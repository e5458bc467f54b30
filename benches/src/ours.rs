//! instrument's own attributes, on the shared function.

use crate::work;

#[instrument_runtime::timed]
#[inline(never)]
pub(crate) fn timed(x: u64) -> u64 {
    work(x)
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
