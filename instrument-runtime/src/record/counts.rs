//! One thread's latency counts for one node, written on the hot path, and the read that folds
//! what changed in them into the node's cumulative histogram.
//!
//! # Layout
//!
//! The counts live in blocks of one octave each (128 counters of 16 bits, 256 bytes, four cache
//! lines), taken the first time the thread records a value in that octave, from regions shared
//! by every node and thread: memory follows the octaves a node's latency actually spans (a
//! 10 µs .. 10 ms spread touches 11 of them), never more than [`OCTAVES`] blocks, and a thread's
//! blocks sit next to each other rather than each in a page-aligned region of its own.
//!
//! Sixteen bits, not 32 or 64: a read sums every shard's counters of each chunk that changed, so
//! the bytes a read goes through, and the memory a (node, thread) holds, are those of the
//! counters; half the width is half of both. A counter about to pass `u16::MAX` (65,535 calls of
//! one thread in one slot) carries into a 64-bit counter of that octave's carry block, which the
//! shard allocates then (1 KiB, for the octaves of hot nodes only), under a sequence number the
//! reader checks, as a seqlock: the hot path only tests for it, and a carry costs a few stores
//! once per 65,536 calls of a slot.
//!
//! # Reading only what changed
//!
//! Next to the block pointers, a dirty bit per 8 counters (16 bytes) says which counters
//! changed since the last read; the bits of every latency under a second share the shard's first
//! line with its call count. A call stores its counter, then stores the dirty word with the
//! bit set (always: a plain `Release` store, no locked instruction), then the shard's call count.
//! The reader takes a dirty word with an atomic swap to zero. That swap either reads a value the
//! writer stored after the counter (then the `Release`/`Acquire` pair makes the counter visible
//! to the reads that follow) or precedes that store in the word's modification order (then the
//! bit is set again for the next read). Either way no count is missed, and none is counted twice:
//! the reader sets each changed slot to the sum of every shard's counter, it never adds a delta.
//! A writer's stale load of the word can only bring back bits the reader cleared, which costs a
//! re-read, not a count.

use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU16, AtomicU64, Ordering, fence};

use crate::record::histogram::{
    CHUNK_LEN, CHUNK_MAGNITUDE, COUNTS_LEN, LatencyHistogram, OCTAVE_LEN, OCTAVE_MAGNITUDE,
    OCTAVES, slot_of,
};
use crate::record::prefetch::prefetch;

// Counters per dirty bit: 8 (16 bytes), so that a read of sparse activity reads few
// counters that did not change.
const DIRTY_WORDS: usize = COUNTS_LEN.div_ceil(CHUNK_LEN * 64);
const CHUNKS_PER_OCTAVE: usize = OCTAVE_LEN / CHUNK_LEN;
/// An octave's dirty bits, at the low end of a word: octaves never straddle two words.
const OCTAVE_CHUNKS_MASK: u64 = (1 << CHUNKS_PER_OCTAVE) - 1;
const _: () = assert!(64 % CHUNKS_PER_OCTAVE == 0);

/// One octave of counters.
#[repr(C, align(64))]
pub(crate) struct Block([AtomicU16; OCTAVE_LEN]);

/// How many times each counter of one octave carried past `u16::MAX`.
type CarryBlock = [AtomicU64; OCTAVE_LEN];

/// Chunks whose counters share a cache line of a block.
const CHUNKS_PER_LINE: usize = 64 / (CHUNK_LEN * size_of::<AtomicU16>());

/// One thread's latency counts for one node. Only the owning thread records into it.
#[repr(C)]
pub(crate) struct LatencyCounts {
    // First, so that they share a cache line with the shard's call count and sum.
    dirty: [AtomicU64; DIRTY_WORDS],
    blocks: [AtomicPtr<Block>; OCTAVES],
    /// Odd while the writer carries a counter into `carries`.
    carrying: AtomicU64,
    /// Each octave's carry block, or null: [`OCTAVES`] pointers, or null until the first carry.
    carries: AtomicPtr<AtomicPtr<CarryBlock>>,
}

impl LatencyCounts {
    pub(crate) const fn new() -> Self {
        Self {
            dirty: [const { AtomicU64::new(0) }; DIRTY_WORDS],
            blocks: [const { AtomicPtr::new(std::ptr::null_mut()) }; OCTAVES],
            carrying: AtomicU64::new(0),
            carries: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Counts one value. Only the thread that owns these counts may call it.
    #[inline(always)]
    pub(crate) fn record(&self, value_ns: u64) {
        let slot = slot_of(value_ns);
        let octave = &self.blocks[slot >> OCTAVE_MAGNITUDE];
        let mut block = octave.load(Ordering::Relaxed);
        if block.is_null() {
            block = grow(octave);
        }
        // SAFETY: a non-null block pointer is a leaked, never freed `Block`.
        let counter = unsafe { &(*block).0[slot & (OCTAVE_LEN - 1)] };
        let count = counter.load(Ordering::Relaxed);
        if count == u16::MAX {
            self.carry(slot, counter);
        } else {
            counter.store(count + 1, Ordering::Relaxed);
        }
        let chunk = slot >> CHUNK_MAGNITUDE;
        let word = &self.dirty[chunk / 64];
        // Stored even when the bit is already set: that store is what publishes the counter.
        word.store(
            word.load(Ordering::Relaxed) | 1 << (chunk % 64),
            Ordering::Release,
        );
    }

    /// The chunks that changed since the last call, as one bit each; clears them.
    fn take_dirty(&self, into: &mut [u64; DIRTY_WORDS]) {
        for (taken, word) in into.iter_mut().zip(&self.dirty) {
            // A plain load first: a shard that did not change is read, never written.
            if word.load(Ordering::Relaxed) != 0 {
                *taken |= word.swap(0, Ordering::Acquire);
            }
        }
    }

    /// Counts the call that takes `counter` past `u16::MAX`: 2^16 into the octave's carry
    /// block, 0 into the counter, as a seqlock's writer.
    #[cold]
    #[inline(never)]
    fn carry(&self, slot: usize, counter: &AtomicU16) {
        let mut table = self.carries.load(Ordering::Relaxed);
        if table.is_null() {
            table = crate::record::alloc::unattributed(|| {
                let nulls: Vec<AtomicPtr<CarryBlock>> = (0..OCTAVES)
                    .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                    .collect();
                Box::leak(nulls.into_boxed_slice()).as_mut_ptr()
            });
            // `Release`, as every pointer stored here: a reader that sees it sees what it
            // points to initialized.
            self.carries.store(table, Ordering::Release);
        }
        // SAFETY: a non-null table holds `OCTAVES` pointers and is never freed.
        let octave = unsafe { &*table.add(slot >> OCTAVE_MAGNITUDE) };
        let mut block = octave.load(Ordering::Relaxed);
        if block.is_null() {
            block = crate::record::alloc::unattributed(|| {
                Box::into_raw(Box::new([const { AtomicU64::new(0) }; OCTAVE_LEN]))
            });
            octave.store(block, Ordering::Release);
        }
        // SAFETY: a non-null carry block is leaked, never freed.
        let carried = unsafe { &(*block)[slot & (OCTAVE_LEN - 1)] };
        let sequence = self.carrying.load(Ordering::Relaxed);
        self.carrying.store(sequence + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        carried.store(carried.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        counter.store(0, Ordering::Relaxed);
        self.carrying.store(sequence + 2, Ordering::Release);
    }

    /// Asks the cache for the lines of the chunks of `octave` whose bits are set in `chunks`, so
    /// that the misses of every shard's block overlap instead of following one another.
    fn prefetch_octave(&self, octave: usize, chunks: u64) {
        let block = self.blocks[octave].load(Ordering::Relaxed);
        if !block.is_null() {
            for first in chunk_starts(line_chunks(chunks)) {
                prefetch(block.cast::<AtomicU16>().wrapping_add(first));
            }
        }
    }

    /// The block of `octave`, if a call of this thread reached it (else its counts are all
    /// zero). `Acquire`: the counters of a block seen are seen zeroed, at least.
    fn block(&self, octave: usize) -> Option<&Block> {
        // SAFETY: as in `record`.
        unsafe { self.blocks[octave].load(Ordering::Acquire).as_ref() }
    }

    /// The carry's sequence number before a read of the counters, or `None` while the writer
    /// is between the two stores of a carry (a few instructions).
    fn carry_sequence(&self) -> Option<u64> {
        let sequence = self.carrying.load(Ordering::Acquire);
        sequence.is_multiple_of(2).then_some(sequence)
    }

    /// Whether no carry ran since [`carry_sequence`](Self::carry_sequence) gave `sequence`:
    /// then the counters read in between are consistent with `carries`.
    fn carried_none_since(&self, sequence: u64) -> bool {
        fence(Ordering::Acquire);
        self.carrying.load(Ordering::Relaxed) == sequence
    }

    /// Adds what the counters of the chunks of `octave` whose bits are set in `chunks` carried
    /// past `u16::MAX` to the same places of `totals`.
    fn add_carries(&self, octave: usize, chunks: u64, totals: &mut [u64; OCTAVE_LEN]) {
        let table = self.carries.load(Ordering::Acquire);
        if table.is_null() {
            return;
        }
        // SAFETY: as in `carry`.
        let block = unsafe { &*table.add(octave) }.load(Ordering::Acquire);
        // SAFETY: as in `carry`.
        let Some(carried) = (unsafe { block.as_ref() }) else {
            return;
        };
        for first in chunk_starts(chunks) {
            let chunk = first..first + CHUNK_LEN;
            for (total, carries) in totals[chunk.clone()].iter_mut().zip(&carried[chunk]) {
                *total += carries.load(Ordering::Relaxed) << 16;
            }
        }
    }

    /// Blocks taken, for the memory accounting of tests and benchmarks.
    #[cfg(test)]
    fn blocks_taken(&self) -> usize {
        (self.blocks.iter())
            .filter(|block| !block.load(Ordering::Relaxed).is_null())
            .count()
    }
}

/// Octaves whose lines are asked for ahead of the one being summed.
const LOOKAHEAD: usize = 3;

/// Folds what changed in a node's shards since the last call into `cumulative`, the histogram
/// of every count the shards hold. The caller keeps the shard list stable (the pool's lock) and
/// calls it from one thread at a time.
pub(crate) fn fold(cumulative: &mut LatencyHistogram, shards: &[&LatencyCounts]) {
    let mut dirty = [0u64; DIRTY_WORDS];
    for shard in shards {
        shard.take_dirty(&mut dirty);
    }
    if dirty.iter().all(|&word| word == 0) {
        return;
    }
    let dirty_octaves = || (0..OCTAVES).filter(|&octave| octave_chunks(&dirty, octave) != 0);
    cumulative.reserve_octaves(dirty_octaves());
    let prefetch_octave = |octave: usize, cumulative: &LatencyHistogram| {
        let chunks = octave_chunks(&dirty, octave);
        for shard in shards {
            shard.prefetch_octave(octave, chunks);
        }
        if let Some(counts) = cumulative.octave_counts(octave) {
            for first in chunk_starts(chunks) {
                prefetch(counts.wrapping_add(first));
            }
        }
    };
    // Each octave's lines are asked for while the octaves before it are summed, so that the
    // misses of one overlap the work on the others.
    let mut ahead = dirty_octaves();
    for octave in ahead.by_ref().take(LOOKAHEAD) {
        prefetch_octave(octave, cumulative);
    }
    let mut totals = [0u64; OCTAVE_LEN];
    // The blocks of the octave being read, and each shard's carry sequence number.
    let mut blocks: Vec<&Block> = Vec::with_capacity(shards.len());
    let mut sequences: Vec<u64> = Vec::with_capacity(shards.len());
    for octave in dirty_octaves() {
        let chunks = octave_chunks(&dirty, octave);
        if let Some(following) = ahead.next() {
            prefetch_octave(following, cumulative);
        }
        // Counters only grow, so each sum is at least what the last read saw.
        'consistent: loop {
            sequences.clear();
            for shard in shards {
                let Some(sequence) = shard.carry_sequence() else {
                    std::thread::yield_now();
                    continue 'consistent;
                };
                sequences.push(sequence);
            }
            blocks.clear();
            blocks.extend(shards.iter().filter_map(|shard| shard.block(octave)));
            // Chunk by chunk, summing the shards in registers: each sum is stored once,
            // instead of every shard adding into it in memory.
            for first in chunk_starts(chunks) {
                let mut sums = [0u64; CHUNK_LEN];
                for block in &blocks {
                    for (sum, counter) in sums.iter_mut().zip(&block.0[first..first + CHUNK_LEN]) {
                        *sum += u64::from(counter.load(Ordering::Relaxed));
                    }
                }
                totals[first..first + CHUNK_LEN].copy_from_slice(&sums);
            }
            for shard in shards {
                shard.add_carries(octave, chunks, &mut totals);
            }
            // A carry that ran meanwhile made the sums inconsistent: the octave is read again.
            if !(shards.iter().zip(&sequences))
                .all(|(shard, &sequence)| shard.carried_none_since(sequence))
            {
                continue;
            }
            break;
        }
        cumulative.raise_octave(octave, chunks, &totals);
    }
}

/// The dirty bits of `octave`'s chunks, at the low end of the word.
fn octave_chunks(dirty: &[u64; DIRTY_WORDS], octave: usize) -> u64 {
    let first_chunk = octave * CHUNKS_PER_OCTAVE;
    dirty[first_chunk / 64] >> (first_chunk % 64) & OCTAVE_CHUNKS_MASK
}

/// Of `chunks`, an octave's dirty bits, only the first chunk of each cache line of a block that
/// holds one of them: a line is asked for once.
fn line_chunks(chunks: u64) -> u64 {
    let mut lines = 0;
    for line in (0..CHUNKS_PER_OCTAVE).step_by(CHUNKS_PER_LINE) {
        if chunks >> line & ((1 << CHUNKS_PER_LINE) - 1) != 0 {
            lines |= 1 << line;
        }
    }
    lines
}

/// The first counter of each chunk whose bit is set in `chunks`, an octave's dirty bits.
fn chunk_starts(mut chunks: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (chunks != 0).then(|| {
            let chunk = chunks.trailing_zeros() as usize;
            chunks &= chunks - 1;
            chunk << CHUNK_MAGNITUDE
        })
    })
}

/// Takes a block for `octave`, the first time its thread records a value in it.
#[cold]
#[inline(never)]
fn grow(octave: &AtomicPtr<Block>) -> *mut Block {
    let block = crate::record::alloc::unattributed(take_block);
    // `Release`: a reader that sees the pointer sees the zeroed counters.
    octave.store(block, Ordering::Release);
    block
}

/// Blocks are carved from regions allocated zeroed and never freed: a block takes no allocator
/// header and no alignment padding. The first region is small (128 KiB), so that a program with
/// a few nodes keeps a small footprint (pages no block touched stay unbacked); later ones are
/// 2 MiB, aligned to 2 MiB and advised as huge pages, so that a read walking thousands of
/// shards' blocks does not pay a page walk per block: a program needs that many blocks only when
/// many nodes run on many threads.
const FIRST_REGION_BLOCKS: usize = (128 << 10) / size_of::<Block>();
const REGION_BLOCKS: usize = HUGE_PAGE / size_of::<Block>();
const HUGE_PAGE: usize = 2 << 20;

/// The unused rest of the current region: its next block and the blocks left, and whether a
/// region was taken yet. An atomic pointer only to be a `Sync` static holding a real pointer
/// (Miri's leak check follows it); the lock orders every access.
static REGION: Mutex<(AtomicPtr<Block>, usize, bool)> =
    Mutex::new((AtomicPtr::new(std::ptr::null_mut()), 0, false));

fn take_block() -> *mut Block {
    let mut region = REGION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (next, left, taken) = &mut *region;
    if *left == 0 {
        let blocks = if *taken {
            REGION_BLOCKS
        } else {
            FIRST_REGION_BLOCKS
        };
        *next.get_mut() = allocate_region(blocks);
        (*left, *taken) = (blocks, true);
    }
    let block = *next.get_mut();
    // Within the region, or one past its end once the last block is taken.
    *next.get_mut() = block.wrapping_add(1);
    *left -= 1;
    block
}

/// A zeroed region of `blocks` blocks, never freed.
fn allocate_region(blocks: usize) -> *mut Block {
    let layout = std::alloc::Layout::array::<Block>(blocks).expect("constant layout");
    let huge = layout.size() == HUGE_PAGE;
    let layout = if huge {
        layout.align_to(HUGE_PAGE).expect("constant layout")
    } else {
        layout
    };
    // SAFETY: the layout is non-zero-sized.
    let start = unsafe {
        if huge {
            std::alloc::alloc(layout)
        } else {
            std::alloc::alloc_zeroed(layout)
        }
    };
    if start.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    if huge {
        // Advised before the first write, so that the first touch takes a huge page.
        #[cfg(all(target_os = "linux", not(miri)))]
        // SAFETY: the range is this allocation; the advice changes no content.
        unsafe {
            libc::madvise(start.cast(), HUGE_PAGE, libc::MADV_HUGEPAGE);
        }
        // SAFETY: the allocation is `HUGE_PAGE` bytes long.
        unsafe { start.write_bytes(0, HUGE_PAGE) };
    }
    #[allow(
        clippy::cast_ptr_alignment,
        reason = "allocated with the layout of `Block`s, so aligned for them"
    )]
    start.cast::<Block>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::histogram::empty;
    use crate::record::histogram::tests::spread_values;

    fn leaked() -> &'static LatencyCounts {
        Box::leak(Box::new(LatencyCounts::new()))
    }

    #[test]
    fn shards_fold_into_what_hdrhistogram_records() {
        let shards = [leaked(), leaked(), leaked()];
        let mut reference = empty();
        let mut cumulative = LatencyHistogram::new();
        for (index, &value) in spread_values().iter().enumerate() {
            shards[index % 3].record(value);
            reference.record(value).unwrap();
            // Reads between recordings: each folds only what changed since the one before.
            if index % 997 == 0 {
                fold(&mut cumulative, &shards);
                assert_eq!(cumulative.len(), index as u64 + 1);
            }
        }
        fold(&mut cumulative, &shards);
        assert_eq!(cumulative.to_hdr(), reference);
        // Nothing changed: nothing is read, and the histogram stays as it is.
        let before = cumulative.clone();
        fold(&mut cumulative, &shards);
        assert_eq!(cumulative, before);
        assert!(shards.iter().all(|shard| {
            shard
                .dirty
                .iter()
                .all(|word| word.load(Ordering::Relaxed) == 0)
        }));
    }

    /// A small xorshift generator: the property test needs reproducible noise, not a crate.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A value spread evenly over the powers of two below `2^bits`.
        fn log_uniform(&mut self, bits: u64) -> u64 {
            let magnitude = self.next() % bits;
            self.next() >> (63 - magnitude)
        }
    }

    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "ranks of a few thousand calls"
    )]
    fn every_quantile_is_within_the_stated_error_of_the_exact_order_statistic() {
        // Miri runs a few short cases: it checks the memory accesses, not the statistics.
        let (cases, longest) = if cfg!(miri) { (3, 300) } else { (200, 5_000) };
        let mut noise = Noise(0x2545_F491_4F6C_DD1D);
        for case in 0..cases {
            let shards = [leaked(), leaked(), leaked(), leaked()];
            let len = 1 + noise.next() % longest;
            // Some cases span every octave to an hour, some three decades, some a narrow cluster.
            let (floor, bits) = match case % 3 {
                0 => (0, 42),
                1 => (10_000, 10),
                _ => (noise.next() % 1_000_000_000, 8),
            };
            let mut values: Vec<u64> = (0..len)
                .map(|_| {
                    (floor + noise.log_uniform(bits)).min(crate::record::histogram::HIGHEST_NS)
                })
                .collect();
            let mut cumulative = LatencyHistogram::new();
            for (index, &value) in values.iter().enumerate() {
                shards[index % shards.len()].record(value);
                if noise.next().is_multiple_of(500) {
                    fold(&mut cumulative, &shards);
                }
            }
            fold(&mut cumulative, &shards);
            values.sort_unstable();
            for step in 0..=1_000 {
                let quantile = f64::from(step) / 1_000.0;
                let rank = ((quantile * len as f64).ceil() as usize).max(1);
                let exact = values[rank - 1];
                let reported = cumulative.value_at_quantile(quantile);
                if quantile == 0.0 {
                    assert!(
                        reported <= exact && exact - reported <= exact / 128,
                        "{exact}"
                    );
                } else {
                    // Never below the exact order statistic, less than 1/128 (0.79%) above it.
                    assert!(
                        reported >= exact && reported - exact <= exact / 128,
                        "case {case}, q {quantile}: reported {reported}, exact {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_narrow_latency_takes_one_block_and_one_dirty_bit() {
        let shard = leaked();
        shard.record(1_000_000);
        shard.record(1_000_001);
        let dirty: u32 = (shard.dirty.iter())
            .map(|word| word.load(Ordering::Relaxed).count_ones())
            .sum();
        assert_eq!((shard.blocks_taken(), dirty), (1, 1));
        let mut cumulative = LatencyHistogram::new();
        fold(&mut cumulative, &[shard]);
        assert_eq!(cumulative.len(), 2);
    }

    #[test]
    fn a_snapshot_taken_before_a_read_keeps_its_counts() {
        let shard = leaked();
        let mut cumulative = LatencyHistogram::new();
        shard.record(5_000);
        fold(&mut cumulative, &[shard]);
        let snapshot = cumulative.clone();
        shard.record(5_000);
        shard.record(9_000_000);
        fold(&mut cumulative, &[shard]);
        assert_eq!((snapshot.len(), cumulative.len()), (1, 3));
    }

    #[test]
    fn the_dirty_bit_of_a_call_under_a_second_is_in_the_first_line() {
        let chunk = slot_of(999_999_999) >> CHUNK_MAGNITUDE;
        // Six dirty words follow the shard's call count and sum in its first 64 bytes.
        assert!(chunk / 64 < 6, "{chunk}");
        assert_eq!(std::mem::offset_of!(LatencyCounts, dirty), 0);
    }

    #[test]
    fn a_counter_past_sixty_five_thousand_carries_into_64_bits() {
        let shard = leaked();
        let counter = |value| {
            let slot = slot_of(value);
            let block = shard.blocks[slot >> OCTAVE_MAGNITUDE].load(Ordering::Relaxed);
            // SAFETY: the block was taken by a call recorded in it.
            unsafe { &(*block).0[slot & (OCTAVE_LEN - 1)] }
        };
        let (fast, slow) = (70_000, 5_000_000);
        shard.record(fast);
        shard.record(slow);
        // 65,534 calls in two slots of two octaves, without making them; then each carries.
        counter(fast).store(u16::MAX - 1, Ordering::Relaxed);
        counter(slow).store(u16::MAX - 1, Ordering::Relaxed);
        for _ in 0..3 {
            shard.record(fast);
            shard.record(slow);
        }
        let mut cumulative = LatencyHistogram::new();
        fold(&mut cumulative, &[shard]);
        assert_eq!(cumulative.len(), 2 * (65_536 + 1));
        // The second carry of a slot, read after the first one was.
        counter(slow).store(u16::MAX - 1, Ordering::Relaxed);
        shard.record(slow);
        shard.record(slow);
        fold(&mut cumulative, &[shard]);
        let mut reference = empty();
        reference.record_n(fast, 65_536 + 1).unwrap();
        reference.record_n(slow, 2 * 65_536).unwrap();
        assert_eq!(cumulative.to_hdr(), reference);
        // Three carries, two stores of the sequence each.
        assert_eq!(shard.carrying.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn blocks_past_the_first_region_are_zeroed_distinct_and_aligned() {
        // Enough blocks to leave the small first region whatever other tests took.
        let mut blocks: Vec<usize> = (0..FIRST_REGION_BLOCKS + 8)
            .map(|_| {
                let block = take_block();
                // SAFETY: a block just taken is valid and owned by no shard.
                let counters = unsafe { &(*block).0 };
                assert!(
                    counters
                        .iter()
                        .all(|counter| counter.load(Ordering::Relaxed) == 0)
                );
                counters[OCTAVE_LEN - 1].store(1, Ordering::Relaxed);
                assert_eq!(size_of::<Block>(), 256);
                block as usize
            })
            .collect();
        assert!(blocks.iter().all(|&block| block % 64 == 0));
        blocks.sort_unstable();
        assert!(
            blocks
                .windows(2)
                .all(|pair| pair[1] - pair[0] >= size_of::<Block>())
        );
    }

    #[test]
    fn values_beyond_an_hour_are_clamped_not_lost() {
        let shard = leaked();
        shard.record(u64::MAX);
        let mut cumulative = LatencyHistogram::new();
        fold(&mut cumulative, &[shard]);
        assert_eq!(cumulative.len(), 1);
        assert!(empty().equivalent(cumulative.max(), crate::record::histogram::HIGHEST_NS));
    }
}
