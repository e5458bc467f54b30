//! `hotpath` `#[measure]` with its guard built, which starts the drain thread that aggregates
//! measurements off the calling thread.

use std::sync::Once;
use std::time::Duration;

use crate::work;

/// hotpath's default interval between two sweeps of the per-thread queues.
const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `install` runs from `main` before the harness starts any thread (see
        // `crate::install`), so nothing reads the environment concurrently.
        unsafe { std::env::set_var("HOTPATH_METRICS_SERVER_OFF", "1") };
        // A zero timeout keeps the guard alive on a parked thread until the process exits.
        hotpath::HotpathGuardBuilder::new("instrument-bench").build_with_shutdown(Duration::ZERO);
    });
}

#[hotpath::measure]
#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    work(x)
}

/// hotpath has no public flush: waiting two drain intervals lets its worker aggregate every
/// queued measurement.
pub(crate) fn flush() {
    std::thread::sleep(2 * DRAIN_INTERVAL);
}
