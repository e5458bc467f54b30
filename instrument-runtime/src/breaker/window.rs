//! The sliding windows of failure-rate breakers: lock-free, exact counts of the calls they hold.

use crate::breaker::config::Window;
use crate::record::sync::{AtomicU64, Ordering};

/// The outcomes of the calls in a failure-rate breaker's window.
pub(crate) enum Outcomes {
    Calls(CallWindow),
    Time(TimeWindow),
}

/// How many calls a window holds and how many of them failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WindowCounts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
}

impl WindowCounts {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a ratio of counts far below 2^53"
    )]
    pub(crate) fn failure_rate(self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.failures as f64 / self.calls as f64
        }
    }
}

impl Outcomes {
    pub(crate) fn new(window: Window) -> Self {
        match window {
            Window::Calls(size) => Self::Calls(CallWindow::new(size)),
            Window::Nanos(nanos) => Self::Time(TimeWindow::new(nanos)),
        }
    }

    pub(crate) fn record(&self, failed: bool, now_ns: u64) {
        match self {
            Self::Calls(window) => window.record(failed),
            Self::Time(window) => window.record(failed, now_ns),
        }
    }

    pub(crate) fn counts(&self, now_ns: u64) -> WindowCounts {
        match self {
            Self::Calls(window) => window.counts(),
            Self::Time(window) => window.counts(now_ns),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Self::Calls(window) => window.clear(),
            Self::Time(window) => window.clear(),
        }
    }

    pub(crate) fn needs_time(&self) -> bool {
        matches!(self, Self::Time(_))
    }
}

/// The last `size` calls: a ring of one bit per call (set = failed), written at a shared cursor.
pub(crate) struct CallWindow {
    size: u64,
    failed_bits: Box<[AtomicU64]>,
    recorded: AtomicU64,
    /// Set bits in `failed_bits`, kept alongside so reading the rate is one load. Wrapping: a
    /// clear racing ahead of the set it undoes may dip it below zero for a moment.
    failures: AtomicU64,
}

impl CallWindow {
    fn new(size: u32) -> Self {
        let size = u64::from(size.max(1));
        Self {
            size,
            failed_bits: (0..size.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            recorded: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn record(&self, failed: bool) {
        let index = self.recorded.fetch_add(1, Ordering::AcqRel) % self.size;
        let word = &self.failed_bits[usize::try_from(index / 64).expect("index below size")];
        let bit = 1 << (index % 64);
        if failed {
            if word.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
                self.failures.fetch_add(1, Ordering::AcqRel);
            }
        } else if word.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
            self.failures.fetch_sub(1, Ordering::AcqRel);
        }
    }

    #[allow(
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "the failure count is kept wrapping; read as signed it is never far from zero"
    )]
    fn counts(&self) -> WindowCounts {
        let calls = self.recorded.load(Ordering::Acquire).min(self.size);
        let failures = (self.failures.load(Ordering::Acquire) as i64).max(0) as u64;
        WindowCounts {
            calls,
            failures: failures.min(calls),
        }
    }

    fn clear(&self) {
        self.recorded.store(0, Ordering::Release);
        for word in &*self.failed_bits {
            word.store(0, Ordering::Release);
        }
        self.failures.store(0, Ordering::Release);
    }
}

/// The calls of the last `BUCKETS` bucket periods of `window / BUCKETS` each. A bucket is one
/// word (period tag, calls, failures) updated by compare-and-swap, so a roll-over never loses or
/// double counts a call.
pub(crate) struct TimeWindow {
    bucket_ns: u64,
    buckets: [AtomicU64; BUCKETS],
}

const BUCKETS: usize = 10;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const TAG_BITS: u32 = 64 - 2 * COUNT_BITS;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// A bucket word: the period it counts (its low `TAG_BITS`), then calls and failures, each
/// saturating at `COUNT_MAX`.
#[derive(Clone, Copy)]
struct Bucket {
    tag: u64,
    calls: u64,
    failures: u64,
}

impl Bucket {
    fn unpack(word: u64) -> Self {
        Self {
            tag: word >> (2 * COUNT_BITS),
            calls: (word >> COUNT_BITS) & COUNT_MAX,
            failures: word & COUNT_MAX,
        }
    }

    fn pack(self) -> u64 {
        (self.tag << (2 * COUNT_BITS)) | (self.calls << COUNT_BITS) | self.failures
    }
}

impl TimeWindow {
    fn new(window_ns: u64) -> Self {
        Self {
            bucket_ns: (window_ns / BUCKETS as u64).max(1),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn period(&self, now_ns: u64) -> u64 {
        now_ns / self.bucket_ns
    }

    fn record(&self, failed: bool, now_ns: u64) {
        let period = self.period(now_ns);
        let tag = period & TAG_MASK;
        let bucket = &self.buckets[usize::try_from(period % BUCKETS as u64).expect("below 10")];
        let mut current = bucket.load(Ordering::Acquire);
        loop {
            let old = Bucket::unpack(current);
            let (calls, failures) = if old.tag == tag {
                (old.calls, old.failures)
            } else {
                (0, 0)
            };
            let new = Bucket {
                tag,
                calls: (calls + 1).min(COUNT_MAX),
                failures: (failures + u64::from(failed)).min(COUNT_MAX),
            };
            match bucket.compare_exchange_weak(
                current,
                new.pack(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    fn counts(&self, now_ns: u64) -> WindowCounts {
        let period = self.period(now_ns);
        let mut counts = WindowCounts::default();
        for bucket in &self.buckets {
            let bucket = Bucket::unpack(bucket.load(Ordering::Acquire));
            let age = period.wrapping_sub(bucket.tag) & TAG_MASK;
            if age < BUCKETS as u64 {
                counts.calls += bucket.calls;
                counts.failures += bucket.failures;
            }
        }
        counts
    }

    fn clear(&self) {
        for bucket in &self.buckets {
            bucket.store(0, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(instrument_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_call_window_keeps_exactly_the_last_calls() {
        let window = Outcomes::new(Window::Calls(100));
        for call in 0..250 {
            window.record(call % 5 == 0, 0);
        }
        // calls 150..250 remain: every fifth failed
        assert_eq!(
            window.counts(0),
            WindowCounts {
                calls: 100,
                failures: 20
            }
        );
        for _ in 0..100 {
            window.record(false, 0);
        }
        assert_eq!(
            window.counts(0),
            WindowCounts {
                calls: 100,
                failures: 0
            }
        );
        window.clear();
        assert_eq!(window.counts(0), WindowCounts::default());
    }

    #[test]
    fn a_call_window_of_odd_size_wraps_exactly() {
        let window = Outcomes::new(Window::Calls(70));
        for call in 0..71 {
            window.record(call == 0 || call == 70, 0);
        }
        // the first call's failure fell out, the 71st's came in
        assert_eq!(
            window.counts(0),
            WindowCounts {
                calls: 70,
                failures: 1
            }
        );
    }

    #[test]
    fn a_time_window_rolls_over_one_bucket_at_a_time() {
        let second = 1_000_000_000;
        let window = Outcomes::new(Window::Nanos(10 * second));
        window.record(true, 0);
        window.record(false, second / 2);
        window.record(true, 5 * second);
        assert_eq!(
            window.counts(9 * second),
            WindowCounts {
                calls: 3,
                failures: 2
            }
        );
        // at 10 s the bucket of [0 s, 1 s) has left the window
        assert_eq!(
            window.counts(10 * second),
            WindowCounts {
                calls: 1,
                failures: 1
            }
        );
        assert_eq!(window.counts(15 * second), WindowCounts::default());
        // a bucket reused for a later period starts from zero
        window.record(false, 20 * second);
        assert_eq!(
            window.counts(20 * second),
            WindowCounts {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn concurrent_calls_are_all_counted() {
        let window = Outcomes::new(Window::Nanos(1_000));
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let window = &window;
                scope.spawn(move || {
                    for call in 0..10_000 {
                        window.record((call + thread) % 2 == 0, 0);
                    }
                });
            }
        });
        assert_eq!(
            window.counts(0),
            WindowCounts {
                calls: 40_000,
                failures: 20_000
            }
        );
    }
}
