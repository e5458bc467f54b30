//! The clock every measurement reads, and a hand-driven replacement for tests.
//!
//! In production a reading is one inline `rdtsc`, calibrated once per process through quanta; the
//! conversion to nanoseconds is one multiply and shift per call, on the delta. Where the TSC is
//! unusable (or off x86-64), quanta's clock is read instead. Tests install a
//! [`ManualClock`] on their thread and move time by hand, so budget tests are exact and never
//! depend on how fast the machine is.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// quanta calibrates the TSC against the OS clock once per process (and falls back to the OS
/// clock where the TSC is unusable); it is also the clock off x86-64.
#[cfg(not(miri))]
static QUANTA: OnceLock<quanta::Clock> = OnceLock::new();

/// What the hot path reads, kept together on one read-mostly cache line.
#[repr(align(64))]
struct ClockState {
    /// `UNCALIBRATED`, `TSC` or `QUANTA`.
    source: AtomicU8,
    /// With `TSC`: nanoseconds per tick, times 2^32.
    nanos_per_tick_q32: AtomicU64,
    /// Reasons to leave the hot path: the [`ManualClockGuard`]s alive in the process, plus one
    /// once the counting allocator is in use. While there are none, the hot path never looks at
    /// the thread-local override, and calls never reach the allocator's hook.
    detours: AtomicUsize,
    /// The [`ManualClockGuard`]s alive in the process, read off the hot path only.
    manual_clocks: AtomicUsize,
}

const UNCALIBRATED: u8 = 0;
const TSC: u8 = 1;
const QUANTA_SOURCE: u8 = 2;

static STATE: ClockState = ClockState {
    source: AtomicU8::new(UNCALIBRATED),
    nanos_per_tick_q32: AtomicU64::new(0),
    detours: AtomicUsize::new(0),
    manual_clocks: AtomicUsize::new(0),
};

/// Readings of a manual clock carry this bit, so a delta knows which clock produced it. A TSC or
/// monotonic reading reaches 2^63 only after about a century of uptime.
const MANUAL_BIT: u64 = 1 << 63;

thread_local! {
    static MANUAL_CLOCK: RefCell<Option<ManualClock>> = const { RefCell::new(None) };
}

/// Reads the clock of the current thread: the TSC, or a [`ManualClock`] installed on this thread.
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if STATE.source.load(Ordering::Relaxed) == TSC && STATE.detours.load(Ordering::Relaxed) == 0 {
        // SAFETY: `rdtsc` exists on every x86-64 CPU; `calibrate` chose it only after checking
        // that quanta reads the same counter.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    now_slow()
}

/// A bit of a reading that the clock leaves to its caller: [`now_or`]'s detour may set it (the
/// counting allocator marks the calls it measures). No reading of [`now_or`]'s slow path carries
/// it; a TSC or monotonic reading reaches 2^62 only after decades of uptime.
pub(crate) const TAG_BIT: u64 = 1 << 62;

/// [`now`], running `detour` when the fast path is left and adding the bits it returns (only
/// [`TAG_BIT`]) to the reading. The counting allocator's per-call hook is such a detour: it
/// costs the hot path nothing while no counting allocator is installed.
#[inline(always)]
pub(crate) fn now_or(detour: impl FnOnce() -> u64) -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if STATE.source.load(Ordering::Relaxed) == TSC && STATE.detours.load(Ordering::Relaxed) == 0 {
        // SAFETY: as in `now`.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    now_or_slow(detour)
}

/// Out of line, so the fast path of its callers keeps the registers it had without a detour.
#[cold]
#[inline(never)]
fn now_or_slow(detour: impl FnOnce() -> u64) -> u64 {
    // Read first: calibrating on a first call may allocate, which no call should be charged for.
    let reading = now_slow() & !TAG_BIT;
    reading | detour()
}

/// Makes every call take the slow path from now on, for good: the counting allocator calls it
/// when it first counts.
pub(crate) fn add_detour() {
    STATE.detours.fetch_add(1, Ordering::Release);
}

#[cold]
#[inline(never)]
fn now_slow() -> u64 {
    if STATE.manual_clocks.load(Ordering::Relaxed) != 0
        && let Some(reading) = manual_reading()
    {
        return reading;
    }
    match STATE.source.load(Ordering::Acquire) {
        UNCALIBRATED => {
            calibrate();
            now()
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        // SAFETY: as in `now`.
        TSC => unsafe { core::arch::x86_64::_rdtsc() },
        _ => os_clock_raw(),
    }
}

/// Nanoseconds between two readings of [`now`].
#[inline(always)]
pub(crate) fn elapsed_ns(start: u64, end: u64) -> u64 {
    if (start | end) & MANUAL_BIT != 0 || STATE.source.load(Ordering::Relaxed) != TSC {
        return elapsed_ns_slow(start, end);
    }
    let ticks = u128::from(end.saturating_sub(start));
    let nanos_per_tick_q32 = u128::from(STATE.nanos_per_tick_q32.load(Ordering::Relaxed));
    u64::try_from((ticks * nanos_per_tick_q32) >> 32).unwrap_or(u64::MAX)
}

#[cold]
#[inline(never)]
fn elapsed_ns_slow(start: u64, end: u64) -> u64 {
    if (start | end) & MANUAL_BIT != 0 {
        return manual_delta(start, end);
    }
    os_clock_delta_ns(start, end)
}

/// The first real reading of the breaker clock, with the wall time it corresponds to.
struct Origin {
    reading: u64,
    unix_ms: u64,
}

static ORIGIN: OnceLock<Origin> = OnceLock::new();

fn origin() -> &'static Origin {
    ORIGIN.get_or_init(|| {
        calibrate();
        let reading = match STATE.source.load(Ordering::Acquire) {
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            // SAFETY: as in `now`.
            TSC => unsafe { core::arch::x86_64::_rdtsc() },
            _ => os_clock_raw(),
        };
        Origin {
            reading,
            unix_ms: unix_ms_now(),
        }
    })
}

/// The wall clock, in milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Nanoseconds on the clock breakers keep time by: since the process first read it, or the
/// time of a [`ManualClock`] installed on this thread.
pub(crate) fn breaker_now_ns() -> u64 {
    let reading = now();
    if reading & MANUAL_BIT != 0 {
        return reading & !MANUAL_BIT;
    }
    elapsed_ns(origin().reading, reading)
}

/// Milliseconds since the Unix epoch at a time of [`breaker_now_ns`].
pub(crate) fn unix_ms_at(breaker_ns: u64) -> u64 {
    origin().unix_ms + breaker_ns / 1_000_000
}

#[cfg(not(miri))]
fn quanta_clock() -> &'static quanta::Clock {
    QUANTA.get_or_init(quanta::Clock::new)
}

/// A reading of the OS clock, where the TSC is not read directly.
#[cfg(not(miri))]
fn os_clock_raw() -> u64 {
    quanta_clock().raw()
}

/// Nanoseconds between two [`os_clock_raw`] readings.
#[cfg(not(miri))]
fn os_clock_delta_ns(start: u64, end: u64) -> u64 {
    quanta_clock().delta_as_nanos(start, end)
}

/// Under Miri the OS clock is `std::time::Instant`: quanta probes the CPU with `cpuid` and the
/// TSC with `rdtsc`, which Miri cannot run. A reading is nanoseconds since the first one.
#[cfg(miri)]
fn os_clock_raw() -> u64 {
    static FIRST: OnceLock<std::time::Instant> = OnceLock::new();
    let first = *FIRST.get_or_init(std::time::Instant::now);
    u64::try_from(first.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds between two [`os_clock_raw`] readings.
#[cfg(miri)]
fn os_clock_delta_ns(start: u64, end: u64) -> u64 {
    end.saturating_sub(start)
}

/// Calibrates the clock (up to 200 ms, once per process), ahead of the first measured call when
/// called from `report_at_exit`, else on the first call.
pub(crate) fn calibrate() {
    if STATE.source.load(Ordering::Acquire) != UNCALIBRATED {
        return;
    }
    #[cfg(miri)]
    let source = QUANTA_SOURCE;
    #[cfg(not(miri))]
    let clock = quanta_clock();
    #[cfg(not(miri))]
    let source = if reads_the_tsc(clock) {
        // quanta's own conversion, sampled over 2^32 ticks: a multiply and a shift per call.
        STATE
            .nanos_per_tick_q32
            .store(clock.delta_as_nanos(1, 1 + (1 << 32)), Ordering::Relaxed);
        TSC
    } else {
        QUANTA_SOURCE
    };
    STATE.source.store(source, Ordering::Release);
}

/// Whether quanta's raw reading is the TSC itself (and not its OS-clock fallback).
#[cfg(not(miri))]
fn reads_the_tsc(clock: &quanta::Clock) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (0..3).any(|_| {
            // SAFETY: `rdtsc` exists on every x86-64 CPU.
            let before = unsafe { core::arch::x86_64::_rdtsc() };
            let reading = clock.raw();
            // SAFETY: as above.
            let after = unsafe { core::arch::x86_64::_rdtsc() };
            (before..=after).contains(&reading)
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = clock;
        false
    }
}

#[cold]
fn manual_reading() -> Option<u64> {
    MANUAL_CLOCK
        .try_with(|slot| {
            slot.borrow()
                .as_ref()
                .map(|clock| clock.nanos() | MANUAL_BIT)
        })
        .ok()
        .flatten()
}

#[cold]
fn manual_delta(start: u64, end: u64) -> u64 {
    // A clock swapped in the middle of a call cannot give a meaningful duration.
    if start & end & MANUAL_BIT == 0 {
        return 0;
    }
    (end & !MANUAL_BIT).saturating_sub(start & !MANUAL_BIT)
}

/// A clock that only moves when told to, for tests.
///
/// Clones share one time source. [`install`](ManualClock::install) makes the calling thread's
/// instrumented calls read it until the returned guard is dropped; other threads keep the real
/// clock, so tests running in parallel do not disturb each other.
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::ManualClock;
///
/// #[instrument_runtime::timed(name = "manual_clock_doc")]
/// fn step(clock: &ManualClock) {
///     clock.advance(Duration::from_millis(3));
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// step(&clock);
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("manual_clock_doc").unwrap();
/// let max = node.latency.as_ref().unwrap().max_ns;
/// // exact to the histogram's resolution, 1/128
/// assert!(max.abs_diff(3_000_000) <= 3_000_000 / 128, "{max}");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = instrument_runtime::ManualClock::new();
    /// clock.advance(Duration::from_micros(250));
    /// assert_eq!(clock.now(), Duration::from_micros(250));
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// The time elapsed since the clock was created, as moved by [`advance`](Self::advance).
    ///
    /// ```
    /// assert_eq!(instrument_runtime::ManualClock::new().now(), std::time::Duration::ZERO);
    /// ```
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    fn nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst) & !MANUAL_BIT
    }

    /// Makes this thread's instrumented calls read this clock until the guard is dropped.
    ///
    /// ```
    /// let clock = instrument_runtime::ManualClock::new();
    /// {
    ///     let _installed = clock.install();
    ///     // instrumented calls on this thread now read `clock`
    /// }
    /// // and the real clock again here
    /// ```
    #[must_use = "the clock is uninstalled when the guard is dropped"]
    pub fn install(&self) -> ManualClockGuard {
        let previous = MANUAL_CLOCK.with(|slot| slot.replace(Some(self.clone())));
        STATE.manual_clocks.fetch_add(1, Ordering::SeqCst);
        STATE.detours.fetch_add(1, Ordering::SeqCst);
        ManualClockGuard {
            previous,
            _not_send: std::marker::PhantomData,
        }
    }
}

/// Keeps a [`ManualClock`] installed on the current thread; restores the previous clock on drop.
#[derive(Debug)]
pub struct ManualClockGuard {
    previous: Option<ManualClock>,
    // Installed on one thread, so it must be uninstalled on that thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ManualClockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The slot is gone only while the thread's locals are being destroyed: nothing to restore.
        let _ = MANUAL_CLOCK.try_with(|slot| slot.replace(previous));
        STATE.detours.fetch_sub(1, Ordering::SeqCst);
        STATE.manual_clocks.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_readings_measure_exactly_what_was_advanced() {
        let clock = ManualClock::new();
        let _installed = clock.install();
        let start = now();
        clock.advance(Duration::from_micros(1500));
        assert_eq!(elapsed_ns(start, now()), 1_500_000);
    }

    #[test]
    fn other_threads_keep_the_real_clock() {
        let clock = ManualClock::new();
        let _installed = clock.install();
        let reading = std::thread::spawn(now).join().unwrap();
        assert_eq!(reading & MANUAL_BIT, 0);
    }

    #[test]
    fn uninstalling_restores_the_real_clock_and_a_mixed_pair_measures_zero() {
        let clock = ManualClock::new();
        let guard = clock.install();
        let manual = now();
        drop(guard);
        let real = now();
        assert_eq!(real & MANUAL_BIT, 0);
        assert_eq!(elapsed_ns(manual, real), 0);
    }

    #[test]
    #[cfg(not(miri))] // quanta cannot run under Miri: the clock reads `Instant` there
    fn the_inline_conversion_agrees_with_quanta() {
        calibrate();
        let start = now();
        std::thread::sleep(Duration::from_millis(3));
        let end = now();
        let ours = elapsed_ns(start, end);
        let quanta = quanta_clock().delta_as_nanos(start, end);
        assert!(
            ours.abs_diff(quanta) <= quanta / 10_000,
            "{ours} vs {quanta}"
        );
    }

    #[test]
    fn the_real_clock_moves_forward() {
        let start = now();
        std::thread::sleep(Duration::from_millis(2));
        assert!(elapsed_ns(start, now()) >= 1_000_000);
    }
}
