//! Memory per node: an opt-in counting global allocator that charges each allocation to the
//! innermost instrumented call running on the thread, and the process's resident memory.
//!
//! What is measured, per node and per thread, while [`CountingAllocator`] is the global
//! allocator:
//!
//! - *allocations* and *bytes*: every `alloc`, `alloc_zeroed` and `realloc` is charged to the
//!   innermost synchronous instrumented call (`#[timed]`, `#[counted]`, `#[budget]`, ...) running
//!   on the allocating thread; a `realloc` counts as one allocation of its whole new size. Nested
//!   calls are charged to themselves, not to their callers; allocations made outside any
//!   instrumented call, or by another thread, are not charged to the call.
//! - *peak live bytes*: the most the thread's heap grew during one call, from the call's start,
//!   nested calls included: bytes allocated minus bytes freed by that thread, whoever allocated
//!   the freed block (a `realloc` changes it by the difference of the sizes). A call that hands a
//!   buffer to its caller still counts it at its peak; a call that frees what it was given may
//!   have a peak of 0. The node keeps the largest over its calls.
//!
//! Counting needs no lock and never allocates: a thread-local cell holds the counters of the
//! innermost call, set when a call starts and restored when it ends. Calls of `async fn`s are
//! not measured (their body runs in polls, between which the thread runs other tasks); what they
//! allocate is charged to the synchronous call polling them, if any. Calls nested deeper than
//! 32 measured calls on one thread are charged to the 32nd. Instrument's own bookkeeping (the
//! per-thread statistics a thread's first call of a node sets up) is charged to no call.
//!
//! Without the allocator, `#[timed]` calls run exactly the instructions they ran before: the hook
//! rides on the clock's existing fast-path check ([`clock::now_or`]), which the allocator closes
//! for good when it first counts. Untimed sync calls check a flag (one load and branch at each
//! end).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::LocalKey;

use serde::{Deserialize, Serialize};

use crate::record::clock;
use crate::record::node::Node;
use crate::record::shard::{LocalShard, bump, local_shard};

/// A global allocator that counts what every instrumented function allocates, wrapping another
/// allocator ([`System`] by default) that does the allocating.
///
/// Install it in the program's binary crate; from then on each node's snapshot has
/// [`NodeSnapshot::memory`](crate::NodeSnapshot::memory): allocations and bytes per call and the
/// peak live bytes of a call. Programs that do not install it pay nothing for it. Each
/// allocation costs a few more instructions: a thread-local read and a handful of plain adds
/// (the overhead benchmark measures it).
///
/// ```
/// use instrument_runtime::CountingAllocator;
///
/// #[global_allocator]
/// static ALLOCATOR: CountingAllocator = CountingAllocator::system();
///
/// #[instrument_runtime::timed(name = "counting_allocator_doc")]
/// fn read_block() -> usize {
///     let block: Vec<u8> = Vec::with_capacity(4096);
///     block.capacity()
/// }
///
/// fn main() {
///     for _ in 0..3 {
///         read_block();
///     }
///     let snapshot = instrument_runtime::snapshot();
///     let memory = snapshot.node("counting_allocator_doc").unwrap().memory.unwrap();
///     assert_eq!((memory.calls, memory.allocations, memory.bytes), (3, 3, 3 * 4096));
///     assert_eq!((memory.allocations_per_call, memory.bytes_per_call), (1.0, 4096.0));
///     assert_eq!(memory.peak_live_bytes, 4096);
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator<A = System> {
    inner: A,
}

impl<A> CountingAllocator<A> {
    /// Counts the allocations `inner` makes.
    ///
    /// ```
    /// use std::alloc::System;
    /// use instrument_runtime::CountingAllocator;
    ///
    /// // Any `GlobalAlloc` can be wrapped, e.g. a jemalloc or mimalloc allocator.
    /// static ALLOCATOR: CountingAllocator<System> = CountingAllocator::new(System);
    /// # let _ = &ALLOCATOR;
    /// ```
    pub const fn new(inner: A) -> Self {
        Self { inner }
    }

    /// The allocator that does the allocating.
    ///
    /// ```
    /// let counting = instrument_runtime::CountingAllocator::system();
    /// let _system: &std::alloc::System = counting.inner();
    /// ```
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

impl CountingAllocator<System> {
    /// Counts the allocations of the system allocator, Rust's default.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOCATOR: instrument_runtime::CountingAllocator =
    ///     instrument_runtime::CountingAllocator::system();
    /// # fn main() {}
    /// ```
    pub const fn system() -> Self {
        Self::new(System)
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged and returns what
// it returned; counting only touches plain thread-local cells and the calling thread's counters,
// and neither allocates nor unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is `inner.alloc`'s.
        let block = unsafe { self.inner.alloc(layout) };
        if !block.is_null() {
            allocated(layout.size());
        }
        block
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { self.inner.alloc_zeroed(layout) };
        if !block.is_null() {
            allocated(layout.size());
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract; the block came from `inner`, since
        // every allocation of this allocator does.
        unsafe { self.inner.dealloc(block, layout) };
        freed(layout.size());
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        let moved = unsafe { self.inner.realloc(block, layout, new_size) };
        if !moved.is_null() {
            reallocated(layout.size(), new_size);
        }
        moved
    }
}

/// Set once the allocator has counted something: from then on calls tell it which node runs.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether a thread has started turning counting on (only one does).
static ARMED: AtomicBool = AtomicBool::new(false);

/// How deeply instrumented calls may nest on one thread and still be measured; deeper calls are
/// charged to the call at this depth (and are not counted as measured calls).
const MAX_DEPTH: usize = 32;

/// The bit a call's start reading (or, untimed, its start value) carries when it entered: its end
/// must [`exit`]. Real clock readings never carry it (see [`clock::TAG_BIT`]).
pub(crate) const ENTERED: u64 = clock::TAG_BIT;

/// What a call saves when it enters, to restore when it ends.
#[derive(Clone, Copy)]
struct Frame {
    outer: Option<&'static MemoryCounters>,
    outer_high: i64,
    start_net: i64,
}

impl Frame {
    const EMPTY: Self = Self {
        outer: None,
        outer_high: 0,
        start_net: 0,
    };
}

/// One thread's counting state. Only `Cell`s of plain values, with a constant initializer and no
/// destructor: reading it never allocates and works while the thread's locals are torn down.
struct ThreadMemory {
    /// The counters of the innermost measured call running on this thread.
    current: Cell<Option<&'static MemoryCounters>>,
    /// Bytes this thread allocated minus bytes it freed, since it started counting.
    net: Cell<i64>,
    /// The highest `net` since the innermost measured call started.
    high: Cell<i64>,
    /// Measured calls running on this thread; `frames[..depth]` are theirs, outermost first.
    depth: Cell<usize>,
    frames: [Cell<Frame>; MAX_DEPTH],
}

thread_local! {
    static THREAD: ThreadMemory = const {
        ThreadMemory {
            current: Cell::new(None),
            net: Cell::new(0),
            high: Cell::new(0),
            depth: Cell::new(0),
            frames: [const { Cell::new(Frame::EMPTY) }; MAX_DEPTH],
        }
    };
}

/// A `Layout` size is at most `isize::MAX`, so it fits an `i64`.
#[allow(
    clippy::cast_possible_wrap,
    reason = "layout sizes are at most isize::MAX"
)]
#[inline(always)]
fn signed(size: usize) -> i64 {
    size as i64
}

/// Charges an allocation of `size` bytes that changed the thread's live bytes by `growth`.
#[inline(always)]
fn charge(size: usize, growth: i64) {
    if !ACTIVE.load(Ordering::Relaxed) {
        activate();
    }
    let _ = THREAD.try_with(|thread| {
        let net = thread.net.get().wrapping_add(growth);
        thread.net.set(net);
        if net > thread.high.get() {
            thread.high.set(net);
        }
        if let Some(counters) = thread.current.get() {
            counters.allocated(size as u64);
        }
    });
}

#[inline(always)]
fn allocated(size: usize) {
    charge(size, signed(size));
}

/// A `realloc` is one allocation of its new size; live bytes change by the difference (whether
/// the block moved is the inner allocator's business).
#[inline(always)]
fn reallocated(old_size: usize, new_size: usize) {
    charge(new_size, signed(new_size).wrapping_sub(signed(old_size)));
}

#[inline(always)]
fn freed(size: usize) {
    let _ = THREAD.try_with(|thread| thread.net.set(thread.net.get().wrapping_sub(signed(size))));
}

/// Turns counting on, once: the clock's fast path is left from now on, so calls reach [`enter`].
#[cold]
#[inline(never)]
fn activate() {
    if !ARMED.swap(true, Ordering::Relaxed) {
        clock::add_detour();
        // After the detour: a call that sees `ACTIVE` (with `Acquire`) also sees the detour, so
        // its end takes the slow path too and exits.
        ACTIVE.store(true, Ordering::Release);
    }
}

/// Whether a counting allocator is in use: its first allocation turned counting on.
#[inline(always)]
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Makes a starting call of `node` the thread's innermost measured call. Returns [`ENTERED`] when
/// it did, 0 when the call is not measured (no counting allocator, too deep, or the thread's
/// locals are being torn down).
#[cold]
#[inline(never)]
pub(crate) fn enter(node: &'static Node, local: &'static LocalKey<LocalShard>) -> u64 {
    if !ACTIVE.load(Ordering::Acquire) {
        return 0;
    }
    THREAD
        .try_with(|thread| {
            let depth = thread.depth.get();
            if depth >= MAX_DEPTH {
                return 0;
            }
            let Some(shard) = local_shard(node, local) else {
                return 0;
            };
            let outer = thread.current.get();
            let net = thread.net.get();
            thread.frames[depth].set(Frame {
                outer,
                outer_high: thread.high.get(),
                start_net: net,
            });
            thread.depth.set(depth + 1);
            thread.high.set(net);
            thread.current.set(Some(shard.memory()));
            ENTERED
        })
        .unwrap_or(0)
}

/// Runs `f` as if it allocated nothing: instrument's own memory (a thread's first call of a node
/// takes a shard, kept for the whole process) is charged to no call and counts in no peak.
pub(crate) fn unattributed<R>(f: impl FnOnce() -> R) -> R {
    let saved = THREAD
        .try_with(|thread| (thread.current.take(), thread.net.get(), thread.high.get()))
        .ok();
    let result = f();
    if let Some((current, net, high)) = saved {
        let _ = THREAD.try_with(|thread| {
            thread.current.set(current);
            thread.net.set(net);
            thread.high.set(high);
        });
    }
    result
}

/// Ends the innermost measured call: records its peak and restores its caller's state.
#[cold]
#[inline(never)]
pub(crate) fn exit() {
    let _ = THREAD.try_with(|thread| {
        let Some(depth) = thread.depth.get().checked_sub(1) else {
            return;
        };
        let frame = thread.frames[depth].get();
        thread.depth.set(depth);
        let high = thread.high.get();
        if let Some(counters) = thread.current.get() {
            counters.ended(u64::try_from(high.wrapping_sub(frame.start_net)).unwrap_or(0));
        }
        thread.high.set(high.max(frame.outer_high));
        thread.current.set(frame.outer);
    });
}

/// One thread's memory counters for one node, kept in its shard: written only by that thread.
#[derive(Debug, Default)]
pub(crate) struct MemoryCounters {
    calls: AtomicU64,
    allocations: AtomicU64,
    bytes: AtomicU64,
    peak_live_bytes: AtomicU64,
}

impl MemoryCounters {
    pub(crate) const fn new() -> Self {
        Self {
            calls: AtomicU64::new(0),
            allocations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            peak_live_bytes: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn allocated(&self, bytes: u64) {
        bump(&self.allocations, 1);
        bump(&self.bytes, bytes);
    }

    fn ended(&self, peak_live_bytes: u64) {
        bump(&self.calls, 1);
        if peak_live_bytes > self.peak_live_bytes.load(Ordering::Relaxed) {
            self.peak_live_bytes
                .store(peak_live_bytes, Ordering::Release);
        }
    }

    /// Adds this thread's counts to `totals`.
    pub(crate) fn add_to(&self, totals: &mut MemoryTotals) {
        totals.calls += self.calls.load(Ordering::Acquire);
        totals.allocations += self.allocations.load(Ordering::Acquire);
        totals.bytes = totals
            .bytes
            .saturating_add(self.bytes.load(Ordering::Acquire));
        totals.peak_live_bytes = totals
            .peak_live_bytes
            .max(self.peak_live_bytes.load(Ordering::Acquire));
    }
}

/// A node's memory counters summed over its threads (the peak is the largest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryTotals {
    pub(crate) calls: u64,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
    pub(crate) peak_live_bytes: u64,
}

/// What a node allocated, measured by [`CountingAllocator`]; `None` in a snapshot when the node
/// had no measured call (no counting allocator, never called, or an `async fn`).
///
/// Allocations and bytes are the node's own: what its nested instrumented calls allocate is
/// theirs. The peak is inclusive: the most the thread's heap grew during one call, nested calls
/// included (see [`CountingAllocator`]).
///
/// ```
/// use instrument_runtime::NodeMemory;
///
/// let memory = NodeMemory::of(4, 6, 6_000, 2_048);
/// assert_eq!((memory.allocations_per_call, memory.bytes_per_call), (1.5, 1_500.0));
/// assert_eq!(NodeMemory::of(0, 0, 0, 0).bytes_per_call, 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeMemory {
    /// Calls measured: calls that ended while the counting allocator was in use.
    pub calls: u64,
    /// Allocations (`alloc`, `alloc_zeroed` and `realloc`) made by the node's own code.
    pub allocations: u64,
    /// Bytes those allocations asked for (a `realloc`, its whole new size).
    pub bytes: u64,
    /// `allocations / calls`.
    pub allocations_per_call: f64,
    /// `bytes / calls`.
    pub bytes_per_call: f64,
    /// The most the thread's heap grew during one call, nested calls included.
    pub peak_live_bytes: u64,
}

impl NodeMemory {
    /// The figures of `calls` measured calls, with the per-call means (0 without calls).
    ///
    /// ```
    /// let memory = instrument_runtime::NodeMemory::of(10, 10, 10_000, 1_000);
    /// assert_eq!(memory.bytes_per_call, 1_000.0);
    /// ```
    #[allow(
        clippy::cast_precision_loss,
        reason = "a mean; exact below 2^53 allocations"
    )]
    pub fn of(calls: u64, allocations: u64, bytes: u64, peak_live_bytes: u64) -> Self {
        let per_call = |count: u64| {
            if calls == 0 {
                0.0
            } else {
                count as f64 / calls as f64
            }
        };
        Self {
            calls,
            allocations,
            bytes,
            allocations_per_call: per_call(allocations),
            bytes_per_call: per_call(bytes),
            peak_live_bytes,
        }
    }

    /// The snapshot's figures, when the node had a measured call.
    pub(crate) fn from_totals(totals: &MemoryTotals) -> Option<Self> {
        (totals.calls > 0).then(|| {
            Self::of(
                totals.calls,
                totals.allocations,
                totals.bytes,
                totals.peak_live_bytes,
            )
        })
    }
}

/// The process's resident memory, from `/proc/self/status` (Linux); see `proc(5)`.
///
/// ```
/// let process = instrument_runtime::record::ProcessMemory::read();
/// # #[cfg(target_os = "linux")]
/// assert!(process.is_some_and(|process| process.rss_bytes <= process.peak_rss_bytes));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessMemory {
    /// Resident set size now (`VmRSS`).
    pub rss_bytes: u64,
    /// The largest resident set size so far (`VmHWM`, the high-water mark).
    pub peak_rss_bytes: u64,
}

impl ProcessMemory {
    /// Reads it now; `None` where `/proc/self/status` cannot be read (systems other than Linux).
    ///
    /// ```
    /// if let Some(process) = instrument_runtime::record::ProcessMemory::read() {
    ///     assert!(process.rss_bytes > 0);
    /// }
    /// ```
    pub fn read() -> Option<Self> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        Self::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    fn parse(status: &str) -> Option<Self> {
        let bytes = |name| crate::record::procfs::kib_field(status, name)?.checked_mul(1024);
        Some(Self {
            rss_bytes: bytes("VmRSS:")?,
            peak_rss_bytes: bytes("VmHWM:")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::call::{Call, flags};
    use crate::record::node::test_node as node;

    node!(OUTER, OUTER_LOCAL, "alloc_unit_outer");
    node!(INNER, INNER_LOCAL, "alloc_unit_inner");
    node!(UNTIMED, UNTIMED_LOCAL, "alloc_unit_untimed");
    node!(ASYNC, ASYNC_LOCAL, "alloc_unit_async");

    /// A counting allocator used directly, not installed: only what goes through it is counted,
    /// so the figures are exact whatever else the test process allocates.
    static COUNTING: CountingAllocator = CountingAllocator::system();

    #[derive(Clone, Copy)]
    struct Block(*mut u8, Layout);

    fn allocate(size: usize) -> Block {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: a non-zero size.
        let block = unsafe { COUNTING.alloc(layout) };
        assert!(!block.is_null());
        Block(block, layout)
    }

    fn free(block: Block) {
        // SAFETY: allocated by `COUNTING` with this layout.
        unsafe { COUNTING.dealloc(block.0, block.1) };
    }

    fn memory(node: &'static Node) -> MemoryTotals {
        node.shards.totals().memory
    }

    #[test]
    fn allocations_are_charged_to_the_innermost_call_and_peaks_include_nested_calls() {
        free(allocate(1)); // turns counting on, charged to no node
        std::thread::spawn(|| {
            for _ in 0..2 {
                let outer = Call::<{ flags::TIMED }>::start(&OUTER, &OUTER_LOCAL);
                let kept = allocate(100);
                {
                    let inner = Call::<{ flags::TIMED }>::start(&INNER, &INNER_LOCAL);
                    let (a, b) = (allocate(1000), allocate(3000));
                    free(a);
                    let block = allocate(10);
                    // SAFETY: grown from its own layout.
                    let grown = unsafe { COUNTING.realloc(block.0, block.1, 20) };
                    free(Block(grown, Layout::from_size_align(20, 8).unwrap()));
                    free(b);
                    drop(inner);
                }
                free(kept);
                drop(outer);
            }
            let untimed = Call::<{ flags::IN_FLIGHT }>::start(&UNTIMED, &UNTIMED_LOCAL);
            free(allocate(64));
            drop(untimed);
            let future = Call::<{ flags::TIMED | flags::ASYNC }>::start(&ASYNC, &ASYNC_LOCAL);
            free(allocate(64));
            drop(future);
        })
        .join()
        .unwrap();
        assert_eq!(
            memory(&OUTER),
            MemoryTotals {
                calls: 2,
                allocations: 2,
                bytes: 200,
                // 100 kept, then 1000 + 3000 at once in the nested call
                peak_live_bytes: 4100,
            }
        );
        assert_eq!(
            memory(&INNER),
            MemoryTotals {
                calls: 2,
                // 1000, 3000, 10 and the realloc to 20
                allocations: 8,
                bytes: 8060,
                peak_live_bytes: 4000,
            }
        );
        assert_eq!(
            memory(&UNTIMED),
            MemoryTotals {
                calls: 1,
                allocations: 1,
                bytes: 64,
                peak_live_bytes: 64,
            }
        );
        // Async calls are not measured.
        assert_eq!(memory(&ASYNC), MemoryTotals::default());
    }

    #[test]
    fn process_memory_reads_rss_and_its_high_water_mark() {
        let status = "Name:\tdemo\nVmPeak:\t 20000 kB\nVmHWM:\t    6144 kB\nVmRSS:\t   5120 kB\n";
        assert_eq!(
            ProcessMemory::parse(status),
            Some(ProcessMemory {
                rss_bytes: 5120 * 1024,
                peak_rss_bytes: 6144 * 1024
            })
        );
        assert_eq!(ProcessMemory::parse("VmRSS:\t 5120 kB\n"), None);
        if cfg!(target_os = "linux") {
            let process = ProcessMemory::read().unwrap();
            assert!(process.rss_bytes > 0 && process.rss_bytes <= process.peak_rss_bytes);
        }
    }

    #[test]
    #[allow(clippy::float_cmp, reason = "exact quotients of small integers")]
    fn per_call_figures_are_means_over_measured_calls() {
        let memory = NodeMemory::of(3, 3, 3_000, 1_000);
        assert_eq!(memory.allocations_per_call, 1.0);
        assert_eq!(memory.bytes_per_call, 1_000.0);
        assert_eq!(NodeMemory::of(0, 0, 0, 0).allocations_per_call, 0.0);
        assert_eq!(NodeMemory::from_totals(&MemoryTotals::default()), None);
    }

    #[test]
    fn totals_sum_counts_and_keep_the_largest_peak() {
        let (a, b) = (MemoryCounters::new(), MemoryCounters::new());
        a.allocated(100);
        a.ended(100);
        b.allocated(10);
        b.allocated(20);
        b.ended(30);
        b.ended(5);
        let mut totals = MemoryTotals::default();
        a.add_to(&mut totals);
        b.add_to(&mut totals);
        assert_eq!(
            totals,
            MemoryTotals {
                calls: 3,
                allocations: 3,
                bytes: 130,
                peak_live_bytes: 100
            }
        );
    }
}
