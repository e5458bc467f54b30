//! Latency counts recorded on the hot path, in the exact bucket layout of an HDR histogram.
//!
//! Each thread records into its own array of counters laid out like
//! `hdrhistogram::Histogram::new_with_bounds(1, 1 h, 3)`: a value's slot is computed with the same
//! formula, so merging is a lossless copy of counts and every quantile carries HDR's stated error
//! (3 significant figures: a reported value is within 0.1% of a recorded one). Only the owning
//! thread writes a counter, so an increment is a plain load and store, not a locked instruction.

use std::alloc::{Layout, alloc_zeroed, handle_alloc_error};
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

/// Lowest value told apart from zero: 1 ns.
pub(crate) const LOWEST_NS: u64 = 1;
/// Highest value recorded as itself: one hour. Longer calls are recorded as one hour.
pub(crate) const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
/// Significant decimal digits kept for every value.
pub(crate) const SIGNIFICANT_FIGURES: u8 = 3;

// The layout constants below are what hdrhistogram derives from the three bounds above (see
// `Histogram::new_with_bounds`); `layout_matches_hdrhistogram` checks them against the crate.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 << SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
const LEADING_ZERO_COUNT_BASE: u32 = 64 - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);
const BUCKET_COUNT: usize = 32;
/// Number of counters in one thread's latency array.
pub(crate) const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT;

/// The counter slot of a value, as hdrhistogram computes it (`unit_magnitude` is 0 for a lowest
/// value of 1).
#[inline(always)]
fn slot_of(value: u64) -> usize {
    let value = value.min(HIGHEST_NS);
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    // Both casts are lossless: `bucket` < 33 and the sub-bucket index < 2048.
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// The lowest value that lands in `slot`: the inverse of [`slot_of`].
fn value_of(slot: usize) -> u64 {
    let sub_bucket = (slot & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    // Slots below the first half-bucket belong to bucket 0's lower half.
    let (bucket, sub_bucket) = match (slot >> SUB_BUCKET_HALF_COUNT_MAGNITUDE).checked_sub(1) {
        Some(bucket) => (bucket, sub_bucket),
        None => (0, sub_bucket - SUB_BUCKET_HALF_COUNT),
    };
    (sub_bucket as u64) << bucket
}

/// An empty histogram with the bounds every node uses.
pub(crate) fn empty() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_FIGURES)
        .expect("constant histogram bounds are valid")
}

/// One thread's latency counters for one node.
///
/// About 264 KiB of address space, allocated zeroed: the operating system backs only the pages a
/// thread actually writes (typically two to six 4 KiB pages for a function whose latency spans a
/// few octaves).
pub(crate) struct LatencyCounts {
    counts: Box<[AtomicU64]>,
}

impl LatencyCounts {
    pub(crate) fn new() -> Self {
        let layout = Layout::array::<AtomicU64>(COUNTS_LEN).expect("constant layout");
        // SAFETY: the layout is non-zero-sized; all-zero bytes are a valid `AtomicU64` array of
        // `COUNTS_LEN` elements, which is exactly what the slice pointer describes, and the
        // global allocator allocated it with the layout `Box` will free it with.
        let counts = unsafe {
            #[allow(
                clippy::cast_ptr_alignment,
                reason = "allocated with `AtomicU64`'s layout"
            )]
            let ptr = alloc_zeroed(layout).cast::<AtomicU64>();
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, COUNTS_LEN))
        };
        Self { counts }
    }

    /// Counts one value. Only the thread that owns this array may call it.
    #[inline(always)]
    pub(crate) fn record(&self, value_ns: u64) {
        let counter = &self.counts[slot_of(value_ns)];
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Adds these counts to `into`, losslessly.
    pub(crate) fn add_to(&self, into: &mut Histogram<u64>) {
        for (slot, counter) in self.counts.iter().enumerate() {
            let count = counter.load(Ordering::Relaxed);
            if count != 0 {
                into.record_n(value_of(slot), count)
                    .expect("every slot's value lies within the histogram's bounds");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_hdrhistogram() {
        let reference = empty();
        assert_eq!(reference.distinct_values(), COUNTS_LEN);
        assert_eq!(usize::from(reference.buckets()), BUCKET_COUNT);
    }

    #[test]
    fn every_reachable_slot_round_trips() {
        // Slots past the one-hour value exist in hdrhistogram's layout but are never written.
        for slot in 0..=slot_of(HIGHEST_NS) {
            assert_eq!(slot_of(value_of(slot)), slot, "slot {slot}");
        }
    }

    #[test]
    fn recorded_values_land_where_hdrhistogram_puts_them() {
        let mut values = vec![
            0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, HIGHEST_NS,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            // xorshift: values spread over every octave up to the highest trackable value
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> (x % 40 + 22)) % HIGHEST_NS);
        }
        let ours = LatencyCounts::new();
        let mut reference = empty();
        for &value in &values {
            ours.record(value);
            reference.record(value).unwrap();
        }
        let mut merged = empty();
        ours.add_to(&mut merged);
        assert_eq!(merged, reference);
        for quantile in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.value_at_quantile(quantile),
                reference.value_at_quantile(quantile)
            );
        }
    }

    #[test]
    fn values_beyond_an_hour_are_clamped_not_lost() {
        let ours = LatencyCounts::new();
        ours.record(u64::MAX);
        let mut merged = empty();
        ours.add_to(&mut merged);
        assert_eq!(merged.len(), 1);
        assert!(merged.equivalent(merged.max(), HIGHEST_NS));
    }
}
