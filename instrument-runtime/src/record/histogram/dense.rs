//! A histogram's counts in memory: per octave its latency spans, 32-bit counts with a subtotal
//! per chunk of eight, every octave's total, and 64-bit counts for the rare chunk past four
//! billion calls; the counts a node's reader sets in place.

use super::{
    CHUNK_LEN, CHUNK_MAGNITUDE, CHUNKS, COUNTS_LEN, OCTAVE_LEN, OCTAVE_MAGNITUDE, OCTAVES,
};

/// The counts of the octaves that hold calls, and every octave's total.
#[derive(Clone)]
pub(super) struct Dense {
    pub(super) totals: [u64; OCTAVES],
    /// Where each octave's counts are in `octaves`, or [`ABSENT`].
    pub(super) at: [u8; OCTAVES],
    /// In the order the octaves were first reached: a node's latency spans a few of them.
    pub(super) octaves: Vec<Octave>,
    /// The chunks whose sum passed `u32::MAX`, with their counts at 64 bits: a chunk that held
    /// four billion calls, which few histograms ever see.
    pub(super) wide: Vec<WideChunk>,
}

/// One octave's counts, and their sums by chunk. Aligned to a cache line, so that a chunk's
/// eight counts are half a line: a read that changes a chunk writes one line, not two.
///
/// Counts are 32-bit, half the lines a read writes and half the memory of 64-bit ones; a chunk
/// whose sum passes `u32::MAX` keeps its counts in [`Dense::wide`] from then on, so no count is
/// ever capped below `u64::MAX`. A chunk's sum says which: at most `u32::MAX`, every count of the
/// chunk fits in 32 bits.
#[derive(Clone)]
#[repr(C, align(64))]
pub(super) struct Octave {
    pub(super) chunks: [u64; CHUNKS],
    pub(super) counts: [u32; OCTAVE_LEN],
}

/// The counts of one chunk whose sum passed `u32::MAX`.
#[derive(Clone)]
pub(super) struct WideChunk {
    /// The chunk's first slot.
    first: usize,
    counts: [u64; CHUNK_LEN],
}

pub(super) const ABSENT: u8 = u8::MAX;

impl Dense {
    pub(super) fn new() -> Self {
        Self {
            totals: [0; OCTAVES],
            at: [ABSENT; OCTAVES],
            octaves: Vec::new(),
            wide: Vec::new(),
        }
    }

    pub(super) fn octave(&self, octave: usize) -> Option<&Octave> {
        // `ABSENT` is past the end of `octaves`, which holds at most `OCTAVES` of them.
        self.octaves.get(usize::from(self.at[octave]))
    }

    /// Where the counts of `octave` are in `octaves`, made empty first if it holds none yet.
    pub(super) fn at_or_new(&mut self, octave: usize) -> usize {
        if self.at[octave] == ABSENT {
            self.at[octave] = u8::try_from(self.octaves.len()).expect("at most 36 octaves");
            // Exactly: doubling would leave up to half of every node's counts allocated unused.
            self.octaves.reserve_exact(1);
            self.octaves.push(Octave {
                chunks: [0; CHUNKS],
                counts: [0; OCTAVE_LEN],
            });
        }
        usize::from(self.at[octave])
    }

    /// The counts of the chunk that starts at slot `first`, whose octave holds `counts`.
    pub(super) fn chunk(&self, counts: &Octave, first: usize) -> [u64; CHUNK_LEN] {
        let within = first & (OCTAVE_LEN - 1);
        if !narrow(counts.chunks[within >> CHUNK_MAGNITUDE]) {
            let wide = self.wide.iter().find(|wide| wide.first == first);
            return wide.expect("a chunk past u32::MAX is wide").counts;
        }
        std::array::from_fn(|slot| u64::from(counts.counts[within + slot]))
    }

    pub(super) fn count(&self, slot: usize) -> u64 {
        self.octave(slot >> OCTAVE_MAGNITUDE).map_or(0, |counts| {
            self.chunk(counts, slot & !(CHUNK_LEN - 1))[slot & (CHUNK_LEN - 1)]
        })
    }

    /// Calls in the slots up to `slot`, counted from the octave totals below it.
    pub(super) fn through(&self, slot: usize, octaves_below: u64, octave: usize) -> u64 {
        self.octave(octave).map_or(octaves_below, |counts| {
            let within = slot & (OCTAVE_LEN - 1);
            let chunk = within >> CHUNK_MAGNITUDE;
            let first = slot & !(CHUNK_LEN - 1);
            octaves_below
                + counts.chunks[..chunk].iter().sum::<u64>()
                + self.chunk(counts, first)[..=slot - first]
                    .iter()
                    .sum::<u64>()
        })
    }

    /// The slot within `octave` of the call of rank `rank`, counting from `below` calls before
    /// the octave, if the octave reaches it.
    pub(super) fn rank(&self, octave: usize, mut below: u64, rank: u64) -> Option<usize> {
        let counts = self.octave(octave)?;
        let chunk = counts.chunks.iter().position(|&count| {
            below += count;
            below >= rank
        })?;
        below -= counts.chunks[chunk];
        let first = chunk * CHUNK_LEN;
        let within = (self
            .chunk(counts, octave << OCTAVE_MAGNITUDE | first)
            .iter())
        .position(|&count| {
            below += count;
            below >= rank
        })?;
        Some(first + within)
    }
}

/// Sets the counts of the chunk that starts at slot `first`, in `octave`, to `counts` (whose sum
/// is `sum`, at least the chunk's present sum): at 32 bits while the sum fits, else in `wide`.
/// Returns how many calls that added. The new sum less the old is what the chunk gained, so
/// the old counts are not read.
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    reason = "each count is at most the chunk's sum, which fits in 32 bits there"
)]
pub(super) fn store_chunk(
    octave: &mut Octave,
    wide: &mut Vec<WideChunk>,
    first: usize,
    counts: &[u64],
    sum: u64,
) -> u64 {
    let within = first & (OCTAVE_LEN - 1);
    let old = std::mem::replace(&mut octave.chunks[within >> CHUNK_MAGNITUDE], sum);
    debug_assert!(sum >= old, "counts only grow");
    if narrow(sum) {
        for (narrow, &count) in (octave.counts[within..within + CHUNK_LEN].iter_mut()).zip(counts) {
            *narrow = count as u32;
        }
    } else {
        let counts = counts.try_into().expect("a chunk's counts");
        match wide.iter_mut().find(|wide| wide.first == first) {
            Some(wide) => wide.counts = counts,
            None => wide.push(WideChunk { first, counts }),
        }
    }
    sum - old
}

/// Whether a chunk whose counts sum to `sum` keeps them at 32 bits: then every one of them fits.
fn narrow(sum: u64) -> bool {
    u32::try_from(sum).is_ok()
}

/// The `(slot, count)` pairs of the buckets that hold calls, slots ascending.
pub(super) struct Slots<'a> {
    counts: Option<&'a Dense>,
    next: usize,
    left: usize,
}

impl<'a> Slots<'a> {
    pub(super) fn new(counts: Option<&'a Dense>) -> Self {
        let left = counts.map_or(0, |dense| {
            (0..COUNTS_LEN)
                .step_by(CHUNK_LEN)
                .filter_map(|first| {
                    Some(dense.chunk(dense.octave(first >> OCTAVE_MAGNITUDE)?, first))
                })
                .flatten()
                .filter(|&count| count != 0)
                .count()
        });
        Self {
            counts,
            next: 0,
            left,
        }
    }
}

impl Iterator for Slots<'_> {
    type Item = (usize, u64);

    fn next(&mut self) -> Option<Self::Item> {
        let dense = self.counts?;
        while self.left > 0 {
            let (slot, octave) = (self.next, self.next >> OCTAVE_MAGNITUDE);
            match dense.octave(octave) {
                Some(_) if dense.totals[octave] != 0 => {
                    self.next += 1;
                    let count = dense.count(slot);
                    if count != 0 {
                        self.left -= 1;
                        return Some((slot, count));
                    }
                }
                _ => self.next = (octave + 1) << OCTAVE_MAGNITUDE,
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Slots<'_> {}
