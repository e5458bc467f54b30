//! The bucket layout every latency is counted in, and [`LatencyHistogram`], a node's merged counts.
//!
//! The layout is exactly `hdrhistogram::Histogram::new_with_bounds(1, 1 h, 2)`'s: a value's slot
//! is computed with the same formula, so converting to and from `hdrhistogram` is a lossless copy
//! of counts. Each power-of-two range ("octave") of values above 255 ns is split into 128 equal
//! slots; values up to 255 ns have a slot each.
//!
//! # Error bound
//!
//! A quantile is reported as the highest value of the slot its rank falls in, as `hdrhistogram`
//! reports it. Binning keeps the order of values, so the exact order statistic `x` at that rank
//! lies in that same slot, whose lowest value `L` and width `w` satisfy `w = 1` or `L >= 128 w`.
//! The reported value `q = L + w - 1` therefore satisfies `x <= q < x + w <= x (1 + 1/128)`:
//! never below the exact order statistic, and above it by less than 0.79% (exact below 256 ns).
//! That is within the 1% a p95 or p99 budget needs, with a tenth of the counters three
//! significant figures would take.

use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::record::prefetch::prefetch;

mod dense;

use dense::{ABSENT, Dense, Slots, store_chunk};

/// Lowest value told apart from zero: 1 ns.
pub(crate) const LOWEST_NS: u64 = 1;
/// Highest value recorded as itself: one hour. Longer calls are recorded as one hour.
pub(crate) const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;
/// Significant decimal digits kept for every value: 2, that is 128 slots per octave.
pub(crate) const SIGNIFICANT_FIGURES: u8 = 2;

// The layout constants below are what hdrhistogram derives from the three bounds above (see
// `Histogram::new_with_bounds`); `layout_matches_hdrhistogram` checks them against the crate.
/// Slots per octave, as a power of two.
pub(crate) const OCTAVE_MAGNITUDE: u32 = 7;
/// Slots per octave.
pub(crate) const OCTAVE_LEN: usize = 1 << OCTAVE_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 << OCTAVE_MAGNITUDE) - 1;
const LEADING_ZERO_COUNT_BASE: u32 = 64 - (OCTAVE_MAGNITUDE + 1);
const BUCKET_COUNT: usize = 35;
/// Number of slots from 0 to one hour.
pub(crate) const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * OCTAVE_LEN;
/// Slots per chunk, as a power of two: the recorder's dirty bit covers a chunk, and the
/// histogram keeps a subtotal per chunk so that a rank or a bound is found in a few lines.
pub(crate) const CHUNK_MAGNITUDE: u32 = 3;
/// Slots per chunk.
pub(crate) const CHUNK_LEN: usize = 1 << CHUNK_MAGNITUDE;
const CHUNKS: usize = OCTAVE_LEN / CHUNK_LEN;
/// Number of octaves, each of [`OCTAVE_LEN`] slots.
pub(crate) const OCTAVES: usize = COUNTS_LEN / OCTAVE_LEN;

/// The counter slot of a value, as hdrhistogram computes it (`unit_magnitude` is 0 for a lowest
/// value of 1).
#[inline(always)]
pub(crate) fn slot_of(value: u64) -> usize {
    let value = value.min(HIGHEST_NS);
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    // Both casts are lossless: `bucket` < 36 and the sub-bucket index < 256.
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << OCTAVE_MAGNITUDE) + sub_bucket - OCTAVE_LEN
}

/// The lowest value that lands in `slot`: the inverse of [`slot_of`].
fn value_of(slot: usize) -> u64 {
    let sub_bucket = (slot & (OCTAVE_LEN - 1)) + OCTAVE_LEN;
    // Slots below the first half-bucket belong to bucket 0's lower half.
    let (bucket, sub_bucket) = match (slot >> OCTAVE_MAGNITUDE).checked_sub(1) {
        Some(bucket) => (bucket, sub_bucket),
        None => (0, sub_bucket - OCTAVE_LEN),
    };
    (sub_bucket as u64) << bucket
}

/// An empty histogram with the bounds every node uses.
pub(crate) fn empty() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_FIGURES)
        .expect("constant histogram bounds are valid")
}

/// The highest value that lands in `slot`.
fn highest_of(slot: usize) -> u64 {
    let equivalent_range = 1u64 << (slot >> OCTAVE_MAGNITUDE).saturating_sub(1);
    value_of(slot) + equivalent_range - 1
}

/// A node's merged latency histogram, in nanoseconds.
///
/// The bucket layout is that of `hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000,
/// 2)`: 1 ns to one hour, 128 buckets per power of two. A quantile is the highest value of the
/// bucket holding the call at its rank, a bucket at most 1/128 as wide as its lowest value, so it
/// is never below the exact order statistic and less than 0.79% above it; it is what
/// `hdrhistogram` would answer. The 128 counts of a power of two are stored once a call lands in
/// it, with their total (640 bytes per power of two the latency spans: 32-bit counts, 64-bit
/// for a group of eight that passes four billion calls), so a quantile walks the
/// totals and then one power of two, not every bucket; [`to_hdr`](Self::to_hdr) gives the
/// `hdrhistogram` form when a tool needs it. Cloning shares the counts until one of the clones
/// changes.
///
/// ```
/// use instrument_runtime::LatencyHistogram;
///
/// let mut histogram = LatencyHistogram::new();
/// histogram.record_n(1_000_000, 99); // 99 calls of 1 ms
/// histogram.record(40_000_000); // one of 40 ms
/// assert_eq!(histogram.len(), 100);
/// assert_eq!(histogram.value_at_quantile(0.5), 1_003_519); // 1 ms, within 0.79%
/// assert_eq!(histogram.value_at_quantile(1.0), histogram.max());
/// assert_eq!(histogram.count_above(2_000_000), 1);
/// ```
#[derive(Clone, Default)]
pub struct LatencyHistogram {
    /// Shared between a node's cumulative histogram and the snapshots taken of it until one of
    /// them changes, so a snapshot copies no counts.
    counts: Option<Arc<Dense>>,
    len: u64,
}

impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.slots().eq(other.slots())
    }
}

impl Eq for LatencyHistogram {}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("len", &self.len)
            .field("slots", &self.slots().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The calls of one histogram bucket: every value from `lowest_ns` to `highest_ns` is recorded
/// as the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyBin {
    /// The lowest value of the bucket.
    pub lowest_ns: u64,
    /// The highest value of the bucket.
    pub highest_ns: u64,
    /// Calls recorded in it.
    pub count: u64,
}

impl LatencyHistogram {
    /// An empty histogram.
    ///
    /// ```
    /// assert!(instrument_runtime::LatencyHistogram::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            counts: None,
            len: 0,
        }
    }

    fn dense(&self) -> Option<&Dense> {
        self.counts.as_deref()
    }

    /// The counts, copied first if a snapshot still shares them.
    fn dense_mut(&mut self) -> &mut Dense {
        Arc::make_mut(self.counts.get_or_insert_with(|| Arc::new(Dense::new())))
    }

    fn slots(&self) -> Slots<'_> {
        Slots::new(self.dense())
    }

    /// Records `count` calls of `value_ns` (values above one hour are recorded as one hour).
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(5_120, 3);
    /// assert_eq!((histogram.len(), histogram.min()), (3, 5_120));
    /// ```
    pub fn record_n(&mut self, value_ns: u64, count: u64) {
        self.add_to_slot(slot_of(value_ns), count);
    }

    fn add_to_slot(&mut self, slot: usize, count: u64) {
        if count == 0 {
            return;
        }
        let (octave, first) = (slot >> OCTAVE_MAGNITUDE, slot & !(CHUNK_LEN - 1));
        let dense = self.dense_mut();
        let at = dense.at_or_new(octave);
        let counts = &dense.octaves[at];
        let sum = counts.chunks[(slot & (OCTAVE_LEN - 1)) >> CHUNK_MAGNITUDE].saturating_add(count);
        let mut chunk = dense.chunk(counts, first);
        chunk[slot - first] = chunk[slot - first].saturating_add(count);
        let added = store_chunk(&mut dense.octaves[at], &mut dense.wide, first, &chunk, sum);
        dense.totals[octave] = dense.totals[octave].saturating_add(added);
        self.len = self.len.saturating_add(added);
    }

    /// Records one call of `value_ns`.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record(5_000);
    /// assert_eq!(histogram.len(), 1);
    /// ```
    pub fn record(&mut self, value_ns: u64) {
        self.record_n(value_ns, 1);
    }

    /// Adds every call of `other`, losslessly: merging the histograms of several runs or
    /// processes gives the histogram of all their calls.
    ///
    /// ```
    /// use instrument_runtime::LatencyHistogram;
    ///
    /// let (mut first, mut second) = (LatencyHistogram::new(), LatencyHistogram::new());
    /// first.record_n(1_000, 2);
    /// second.record_n(1_000, 1);
    /// second.record(9_000);
    /// first.add(&second);
    /// assert_eq!((first.len(), first.count_above(1_000)), (4, 1));
    /// ```
    pub fn add(&mut self, other: &Self) {
        for (slot, count) in other.slots() {
            self.add_to_slot(slot, count);
        }
    }

    /// The calls recorded since `earlier`, a histogram of the same counts taken before: each
    /// bucket's count minus its count then.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(1_000, 5);
    /// let earlier = histogram.clone();
    /// histogram.record_n(9_216, 2);
    /// let since = histogram.since(&earlier);
    /// assert_eq!((since.len(), since.min()), (2, 9_216));
    /// ```
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let mut since = Self::new();
        for (slot, count) in self.slots() {
            let before = earlier.dense().map_or(0, |dense| dense.count(slot));
            since.add_to_slot(slot, count.saturating_sub(before));
        }
        since
    }

    /// Calls recorded.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::LatencyHistogram::new().len(), 0);
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no call is recorded.
    ///
    /// ```
    /// assert!(instrument_runtime::LatencyHistogram::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lowest value equivalent to the fastest call (0 when empty).
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record(123_500);
    /// assert_eq!(histogram.min(), 123_392); // its bucket's lowest value: within 0.79%
    /// ```
    pub fn min(&self) -> u64 {
        self.edge(false).map_or(0, value_of)
    }

    /// The highest value equivalent to the slowest call (0 when empty).
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record(123_500);
    /// assert_eq!(histogram.max(), 123_903); // its bucket's highest value: within 0.79%
    /// ```
    pub fn max(&self) -> u64 {
        self.edge(true).map_or(0, highest_of)
    }

    /// The slot of the fastest call, or of the slowest when `last`: found from the octave
    /// totals, then within one octave.
    fn edge(&self, last: bool) -> Option<usize> {
        let dense = self.dense()?;
        let holds_calls = |&octave: &usize| dense.totals[octave] != 0;
        let octave = if last {
            (0..OCTAVES).rev().find(holds_calls)?
        } else {
            (0..OCTAVES).find(holds_calls)?
        };
        let counts = dense.octave(octave)?;
        // The chunk first, then its slots: two lines read, not the octave's sixteen.
        let find = |values: &[u64]| {
            let mut held = values.iter().map(|&count| count != 0);
            if last {
                held.rposition(|held| held)
            } else {
                held.position(|held| held)
            }
        };
        let first = find(&counts.chunks)? << CHUNK_MAGNITUDE;
        let within = first + find(&dense.chunk(counts, octave << OCTAVE_MAGNITUDE | first))?;
        Some(octave << OCTAVE_MAGNITUDE | within)
    }

    /// The value at `quantile` (0 to 1), exactly as `hdrhistogram::Histogram::value_at_quantile`
    /// answers it: the highest value equivalent to the call at that rank (the lowest for
    /// quantile 0); 0 when empty.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// (1..=100).for_each(|ms| histogram.record(ms * 1_000_000));
    /// assert_eq!(histogram.value_at_quantile(0.95), 95_420_415);
    /// ```
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        self.values_at_quantiles([quantile])[0]
    }

    /// [`value_at_quantile`](Self::value_at_quantile) of each of `quantiles` (ascending): the
    /// octave totals are walked once, then the counts of the octave each rank falls in.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "the rank is a rounded product of a count and a fraction at most 1"
    )]
    pub(crate) fn values_at_quantiles<const N: usize>(&self, quantiles: [f64; N]) -> [u64; N] {
        debug_assert!(quantiles.is_sorted(), "quantiles ascending");
        let mut values = [0; N];
        let Some(dense) = self.dense().filter(|_| self.len > 0) else {
            return values;
        };
        // Calls in the octaves below `octave`.
        let (mut octave, mut below) = (0, 0u64);
        for (value, quantile) in values.iter_mut().zip(quantiles) {
            let quantile = quantile.min(1.0);
            let rank = ((quantile * self.len as f64).ceil() as u64).max(1);
            while octave < OCTAVES && below + dense.totals[octave] < rank {
                below += dense.totals[octave];
                octave += 1;
            }
            let Some(within) = (octave < OCTAVES)
                .then(|| dense.rank(octave, below, rank))
                .flatten()
            else {
                break;
            };
            let slot = octave << OCTAVE_MAGNITUDE | within;
            *value = if quantile == 0.0 {
                value_of(slot)
            } else {
                highest_of(slot)
            };
        }
        values
    }

    /// Makes room for the counts of those of `octaves` that hold none yet, in one allocation
    /// (a node's first read reaches every octave its latency spans at once), and copies the
    /// counts first if a snapshot still shares them: the caller is about to change them.
    pub(crate) fn reserve_octaves(&mut self, octaves: impl Iterator<Item = usize>) {
        let dense = self.dense_mut();
        let new = octaves.filter(|&octave| dense.at[octave] == ABSENT).count();
        dense.octaves.reserve_exact(new);
    }

    /// Where the counts of `octave` are, if it holds calls: for the reader to prefetch them.
    pub(crate) fn octave_counts(&self, octave: usize) -> Option<*const u32> {
        Some(self.dense()?.octave(octave)?.counts.as_ptr())
    }

    /// Raises the counts of some slots of one octave to new totals: each chunk whose bit is set
    /// in `chunks` takes its counts from the same places of `totals`, each at least the slot's
    /// present count. A node's reader sets the slots its shards changed since the last read, in
    /// place (unless a snapshot still shares the counts), so a read costs what changed, not what
    /// was ever recorded.
    pub(crate) fn raise_octave(
        &mut self,
        octave: usize,
        mut chunks: u64,
        totals: &[u64; OCTAVE_LEN],
    ) {
        let dense = self.dense_mut();
        let at = dense.at_or_new(octave);
        let (counts, wide) = (&mut dense.octaves[at], &mut dense.wide);
        let mut added = 0;
        while chunks != 0 {
            let chunk = chunks.trailing_zeros() as usize;
            chunks &= chunks - 1;
            let within = chunk << CHUNK_MAGNITUDE;
            let news = &totals[within..within + CHUNK_LEN];
            let first = octave << OCTAVE_MAGNITUDE | within;
            added += store_chunk(counts, wide, first, news, news.iter().sum());
        }
        dense.totals[octave] += added;
        self.len = self.len.saturating_add(added);
    }

    /// Calls whose bucket lies wholly above `threshold_ns`: the calls this histogram can tell
    /// were slower than it.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(1_000_000, 3);
    /// histogram.record(5_000_000);
    /// assert_eq!(histogram.count_above(1_000_000), 1);
    /// ```
    pub fn count_above(&self, threshold_ns: u64) -> u64 {
        self.len - self.count_at_or_below(threshold_ns)
    }

    /// Calls whose bucket starts at or below `bound_ns`: those that cannot be told from a value
    /// at or below it (`hdrhistogram`'s `count_between(0, bound_ns)`).
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(1_000_000, 3);
    /// histogram.record(5_000_000);
    /// assert_eq!(histogram.count_at_or_below(1_000_000), 3);
    /// ```
    pub fn count_at_or_below(&self, bound_ns: u64) -> u64 {
        self.counts_at_or_below(&[bound_ns])
            .next()
            .map_or(0, |(_, count)| count)
    }

    /// `(bound, count_at_or_below(bound))` for each of `bounds_ns`, ascending, in one walk of the
    /// octave totals. A bucket counts under a bound when its lowest value is at or below it,
    /// that is when its slot is at or below the bound's slot: compared as slots, no bucket's
    /// value is computed, and only the octave a bound falls in is summed bucket by bucket. An
    /// iterator, so that a scrape writes each node's bucket lines without collecting them.
    pub(crate) fn counts_at_or_below<'h>(
        &'h self,
        bounds_ns: &'h [u64],
    ) -> impl Iterator<Item = (u64, u64)> + 'h {
        debug_assert!(bounds_ns.is_sorted(), "bounds ascending");
        let dense = self.dense();
        // Calls in the octaves below `octave`.
        let (mut octave, mut below) = (0, 0);
        (bounds_ns.iter()).map(move |&bound| {
            let Some(dense) = dense else {
                return (bound, 0);
            };
            let slot = slot_of(bound);
            while octave < slot >> OCTAVE_MAGNITUDE {
                below += dense.totals[octave];
                octave += 1;
            }
            (bound, dense.through(slot, below, octave))
        })
    }

    /// Asks the cache, without waiting, for the octave totals and index that
    /// [`counts_at_or_below`](Self::counts_at_or_below) starts from. A writer going through a
    /// thousand histograms asks for the lines of the ones ahead, so that their misses overlap
    /// its work instead of following it.
    pub(crate) fn prefetch_totals(&self) {
        if let Some(dense) = self.dense() {
            let start = std::ptr::from_ref(dense).cast::<u8>();
            for offset in (0..size_of::<Dense>()).step_by(64) {
                prefetch(start.wrapping_add(offset));
            }
        }
    }

    /// Asks the cache, without waiting, for the chunk subtotals and counts that
    /// [`counts_at_or_below`](Self::counts_at_or_below) of `bounds_ns` reads. It reads the octave
    /// index to find them, so it pays off a while after [`prefetch_totals`](Self::prefetch_totals).
    pub(crate) fn prefetch_chunks_at(&self, bounds_ns: &[u64]) {
        let Some(dense) = self.dense() else {
            return;
        };
        for &bound in bounds_ns {
            let slot = slot_of(bound);
            if let Some(counts) = dense.octave(slot >> OCTAVE_MAGNITUDE) {
                let within = slot & (OCTAVE_LEN - 1);
                prefetch(&raw const counts.chunks[within >> CHUNK_MAGNITUDE]);
                prefetch(&raw const counts.counts[within]);
            }
        }
    }

    /// Every bucket that holds calls, fastest first.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(5_000, 2);
    /// let bins: Vec<_> = histogram.bins().collect();
    /// assert_eq!((bins.len(), bins[0].lowest_ns, bins[0].highest_ns, bins[0].count), (1, 4_992, 5_023, 2));
    /// ```
    pub fn bins(&self) -> impl ExactSizeIterator<Item = LatencyBin> + '_ {
        self.slots().map(|(slot, count)| LatencyBin {
            lowest_ns: value_of(slot),
            highest_ns: highest_of(slot),
            count,
        })
    }

    /// The same counts as an `hdrhistogram::Histogram`, for tools built on that crate.
    ///
    /// ```
    /// let mut histogram = instrument_runtime::LatencyHistogram::new();
    /// histogram.record_n(70_000, 9);
    /// let hdr = histogram.to_hdr();
    /// assert_eq!((hdr.len(), hdr.value_at_quantile(0.5)), (9, histogram.value_at_quantile(0.5)));
    /// ```
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut hdr = empty();
        for (slot, count) in self.slots() {
            // Every slot's value lies within the bounds, so the count is recorded whole.
            hdr.saturating_record_n(value_of(slot), count);
        }
        hdr
    }

    /// The counts of an `hdrhistogram::Histogram`. Lossless when it has this layout (1 ns to one
    /// hour, 2 significant figures, as [`to_hdr`](Self::to_hdr) and the `latency_histograms.json`
    /// encoding give); a histogram of another precision is rebucketed to this one.
    ///
    /// ```
    /// let mut hdr = hdrhistogram::Histogram::<u64>::new(2).unwrap();
    /// hdr.record_n(2_500, 4).unwrap();
    /// let histogram = instrument_runtime::LatencyHistogram::from_hdr(&hdr);
    /// assert_eq!(histogram.to_hdr(), {
    ///     let mut full = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 2).unwrap();
    ///     full.record_n(2_500, 4).unwrap();
    ///     full
    /// });
    /// ```
    pub fn from_hdr(hdr: &Histogram<u64>) -> Self {
        let mut histogram = Self::new();
        for value in hdr.iter_recorded() {
            histogram.record_n(
                hdr.lowest_equivalent(value.value_iterated_to()),
                value.count_at_value(),
            );
        }
        histogram
    }

    /// Appends the histogram in `HdrHistogram`'s V2 encoding (uncompressed): the header, then the
    /// counts up to the slowest call, runs of empty buckets as negative zig-zag varints.
    pub(crate) fn write_v2(&self, out: &mut Vec<u8>) {
        const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
        let start = out.len();
        out.extend_from_slice(&V2_COOKIE.to_be_bytes());
        out.extend_from_slice(&[0; 4]); // payload length, filled in below
        out.extend_from_slice(&0u32.to_be_bytes()); // normalizing index offset
        out.extend_from_slice(&u32::from(SIGNIFICANT_FIGURES).to_be_bytes());
        out.extend_from_slice(&LOWEST_NS.to_be_bytes());
        out.extend_from_slice(&HIGHEST_NS.to_be_bytes());
        out.extend_from_slice(&1.0f64.to_be_bytes()); // integer-to-double conversion ratio
        let payload_start = out.len();
        if self.is_empty() {
            out.push(0); // the count of slot 0, as `hdrhistogram` writes an empty histogram
        }
        let mut next_slot = 0;
        for (slot, count) in self.slots() {
            match slot - next_slot {
                0 => {}
                1 => out.push(0),
                empty => write_zig_zag(out, -i64::try_from(empty).expect("fewer than 2^16 slots")),
            }
            write_zig_zag(out, i64::try_from(count).unwrap_or(i64::MAX));
            next_slot = slot + 1;
        }
        let payload = u32::try_from(out.len() - payload_start).expect("payload under 4 GiB");
        out[start + 4..start + 8].copy_from_slice(&payload.to_be_bytes());
    }
}

/// In JSON, the buckets that hold calls as `[lowest value in ns, count]` pairs, fastest first:
/// lossless, and readable without an `HdrHistogram` decoder.
impl serde::Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.bins().map(|bin| (bin.lowest_ns, bin.count)))
    }
}

impl<'de> serde::Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(u64, u64)>::deserialize(deserializer)?;
        let mut histogram = Self::new();
        for (value_ns, count) in pairs {
            histogram.record_n(value_ns, count);
        }
        Ok(histogram)
    }
}

/// `HdrHistogram`'s variable-length integer: zig-zag, then 7 bits per byte, low bits first, the
/// ninth byte holding the last 8 bits whole.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "bit manipulation of the encoding: every cast keeps the low bits on purpose"
)]
fn write_zig_zag(out: &mut Vec<u8>, value: i64) {
    let mut rest = ((value << 1) ^ (value >> 63)) as u64;
    for _ in 0..8 {
        if rest < 0x80 {
            out.push(rest as u8);
            return;
        }
        out.push(rest as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Asserts that `ours` answers as `reference` does: its length, its extremes, and every
    /// quantile on a grid of thousandths, `every` thousandths apart.
    fn assert_answers_as(ours: &LatencyHistogram, reference: &Histogram<u64>, every: usize) {
        assert_eq!(ours.len(), reference.len());
        assert_eq!((ours.min(), ours.max()), (reference.min(), reference.max()));
        for step in (0..=1000).step_by(every) {
            let quantile = f64::from(step) / 1000.0;
            assert_eq!(
                ours.value_at_quantile(quantile),
                reference.value_at_quantile(quantile),
                "quantile {quantile}"
            );
        }
    }

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

    /// Values spread over every octave up to the highest trackable value, with the edges.
    pub(crate) fn spread_values() -> Vec<u64> {
        let mut values = vec![0, 1, 2, 255, 256, 257, 511, 512, 4095, 4096, HIGHEST_NS];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        // Fewer under Miri, which checks every memory access of them one by one.
        for _ in 0..if cfg!(miri) { 2_000 } else { 20_000 } {
            // xorshift
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> (x % 40 + 22)) % HIGHEST_NS);
        }
        values
    }

    #[test]
    fn recorded_values_land_where_hdrhistogram_puts_them() {
        let values = spread_values();
        let mut merged = LatencyHistogram::new();
        let mut reference = empty();
        for &value in &values {
            merged.record(value);
            reference.record(value).unwrap();
        }
        assert_eq!(merged.to_hdr(), reference);
        assert_eq!(LatencyHistogram::from_hdr(&reference), merged);
        // Every quantile query walks every bucket of the reference: under Miri, a sample of them.
        assert_answers_as(&merged, &reference, if cfg!(miri) { 50 } else { 1 });
        for bin in merged.bins() {
            assert_eq!(bin.lowest_ns, reference.lowest_equivalent(bin.lowest_ns));
            assert_eq!(bin.highest_ns, reference.highest_equivalent(bin.lowest_ns));
            assert_eq!(bin.count, reference.count_at(bin.lowest_ns));
        }
        let bounds = [
            0,
            1,
            1_500,
            2_048,
            1_000_000,
            123_456_789,
            HIGHEST_NS,
            u64::MAX,
        ];
        for bound in bounds {
            assert_eq!(
                merged.count_at_or_below(bound),
                reference.count_between(0, bound)
            );
        }
    }

    #[test]
    fn counts_under_many_bounds_in_one_walk_agree_with_one_bound_at_a_time() {
        let mut merged = LatencyHistogram::new();
        for value in spread_values() {
            merged.record(value);
        }
        // The one-walk form agrees at every bound, on a slot's edges too (of a hundred values:
        // the reference walks every bucket per bound, which Miri runs slowly).
        let edges: Vec<u64> = (spread_values().iter().step_by(200))
            .flat_map(|&value| {
                let slot = slot_of(value);
                [
                    value_of(slot).saturating_sub(1),
                    value_of(slot),
                    highest_of(slot),
                ]
            })
            .chain([0, 1, HIGHEST_NS, u64::MAX])
            .collect::<std::collections::BTreeSet<u64>>()
            .into_iter()
            .collect();
        // Summed bucket by bucket, as the definition reads.
        let expected: Vec<(u64, u64)> = (edges.iter())
            .map(|&bound| {
                let below = (merged.bins())
                    .take_while(|bin| bin.lowest_ns <= bound)
                    .map(|bin| bin.count)
                    .sum();
                (bound, below)
            })
            .collect();
        assert_eq!(
            merged.counts_at_or_below(&edges).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn histograms_add_and_record_like_hdrhistogram() {
        let values = spread_values();
        let (mut left, mut right, mut reference) =
            (LatencyHistogram::new(), LatencyHistogram::new(), empty());
        for (index, &value) in values.iter().enumerate() {
            if index % 3 == 0 {
                left.record(value);
            } else {
                right.record_n(value, 2);
            }
            reference
                .record_n(value, if index % 3 == 0 { 1 } else { 2 })
                .unwrap();
        }
        left.add(&right);
        assert_eq!(left.to_hdr(), reference);
        assert_eq!(
            left.count_above(4_096),
            reference.len() - reference.count_between(0, 4_096)
        );
    }

    #[test]
    fn v2_encoding_is_byte_for_byte_hdrhistograms() {
        use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
        let mut histogram = LatencyHistogram::new();
        let mut reference = empty();
        for (index, value) in (0u64..).zip(spread_values()) {
            // counts from 1 to 2^60, so every varint length is written
            let count = if index == 0 {
                1 << 60
            } else {
                1 + (index % 7) * (1 << (index % 8 * 7))
            };
            histogram.record_n(value, count);
            reference.record_n(value, count).unwrap();
        }
        for histogram_and_reference in [(LatencyHistogram::new(), empty()), (histogram, reference)]
        {
            let (ours, reference) = histogram_and_reference;
            let mut encoded = Vec::new();
            ours.write_v2(&mut encoded);
            let mut expected = Vec::new();
            V2Serializer::new()
                .serialize(&reference, &mut expected)
                .unwrap();
            assert_eq!(encoded, expected);
            let decoded: Histogram<u64> =
                Deserializer::new().deserialize(&mut &encoded[..]).unwrap();
            assert_eq!(decoded, reference);
        }
    }

    #[test]
    fn counts_past_u32_max_stay_exact_whether_recorded_or_raised() {
        let big = u64::from(u32::MAX);
        // Slots and chunks on both sides of `u32::MAX`: one slot alone past it, or a chunk whose
        // slots each fit but whose sum does not.
        let counted: Vec<(u64, u64)> = (0usize..)
            .zip(
                spread_values()
                    .into_iter()
                    .step_by(if cfg!(miri) { 40 } else { 4 }),
            )
            .map(|(index, value)| (value, [1, big - 1, big / 3, big + 2][index % 4]))
            .collect();
        let (mut recorded, mut reference) = (LatencyHistogram::new(), empty());
        for &(value, count) in &counted {
            recorded.record_n(value, count);
            reference.record_n(value, count).unwrap();
        }
        // As a node's reader builds it: every octave raised to half the counts, then to all.
        let mut raised = LatencyHistogram::new();
        let mut half = LatencyHistogram::new();
        for step in [2, 1] {
            for octave in 0..OCTAVES {
                let totals: [u64; OCTAVE_LEN] = std::array::from_fn(|within| {
                    let value = value_of(octave << OCTAVE_MAGNITUDE | within);
                    reference.count_at(value) / step
                });
                if totals.iter().any(|&count| count != 0) {
                    raised.raise_octave(octave, u64::MAX >> (64 - CHUNKS), &totals);
                }
            }
            if step == 2 {
                half = raised.clone();
            }
        }
        for ours in [&recorded, &raised] {
            assert_eq!(ours.to_hdr(), reference);
            assert_answers_as(ours, &reference, if cfg!(miri) { 100 } else { 1 });
            for &(value, _) in counted.iter().step_by(7) {
                assert_eq!(
                    ours.count_at_or_below(value),
                    reference.count_between(0, value)
                );
            }
        }
        let since = raised.since(&half);
        let since = since.dense().expect("calls since");
        for &(value, _) in &counted {
            let count = reference.count_at(value);
            assert_eq!(since.count(slot_of(value)), count - count / 2, "{value}");
        }
    }

    #[test]
    fn json_keeps_every_bucket() {
        let mut histogram = LatencyHistogram::new();
        for value in spread_values() {
            histogram.record(value);
        }
        let json = serde_json::to_string(&histogram).unwrap();
        assert_eq!(
            serde_json::from_str::<LatencyHistogram>(&json).unwrap(),
            histogram
        );
        let mut small = LatencyHistogram::new();
        small.record_n(5_001, 2);
        assert_eq!(serde_json::to_string(&small).unwrap(), "[[4992,2]]");
    }
}
