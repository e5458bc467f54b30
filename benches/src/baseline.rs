//! Reference points: the bare function, the clock alone, and the floor any latency histogram
//! has to pay (two TSC reads and one HDR record on a histogram only this thread touches).

use std::cell::RefCell;
use std::sync::LazyLock;

use hdrhistogram::Histogram;

use crate::work;

/// The same clock instrument reads: raw TSC, converted to nanoseconds once per call.
pub(crate) static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

thread_local! {
    /// The bounds instrument's histograms use: 1 ns to 1 h, 3 significant figures.
    static FLOOR_HISTOGRAM: RefCell<Histogram<u64>> = RefCell::new(
        Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("constant bounds are valid"),
    );
}

/// Calibrates the clock (up to 200 ms) before anything is measured.
pub(crate) fn install() {
    LazyLock::force(&CLOCK);
}

#[inline(never)]
pub(crate) fn bare(x: u64) -> u64 {
    work(x)
}

/// One heap allocation of 64 bytes and its free, through the global allocator: the system
/// allocator in the `cpu` harness, the counting allocator in the `alloc` harness.
#[inline(never)]
pub(crate) fn alloc_free(x: u64) -> u64 {
    alloc_free_body(x)
}

#[inline(always)]
pub(crate) fn alloc_free_body(x: u64) -> u64 {
    let block = Box::new([x; 8]);
    work(std::hint::black_box(&block)[7])
}

#[inline(never)]
pub(crate) fn tsc_x2(x: u64) -> u64 {
    let clock = &*CLOCK;
    let start = clock.raw();
    let out = work(x);
    let end = clock.raw();
    std::hint::black_box(end.wrapping_sub(start));
    out
}

#[inline(never)]
pub(crate) fn floor(x: u64) -> u64 {
    let clock = &*CLOCK;
    let start = clock.raw();
    let out = work(x);
    let end = clock.raw();
    // Nanoseconds, as instrument records them: a histogram bounded in nanoseconds needs them.
    let elapsed_ns = clock.delta_as_nanos(start, end);
    FLOOR_HISTOGRAM.with(|histogram| histogram.borrow_mut().saturating_record(elapsed_ns));
    out
}
