//! Per-thread statistics of a node, and the pool that hands them to threads.
//!
//! A thread's first call to a node takes a shard from the node's pool (one lock, one allocation if
//! the pool is empty) and keeps it in a thread-local slot; every later call writes only that
//! shard, with plain stores. When the thread exits, its shard goes back to the pool with its
//! counts intact, so the next thread continues it: nothing is lost, nothing is merged twice, and
//! memory is bounded by the largest number of threads that ever ran the node at once.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::LocalKey;

use crate::record::alloc::{MemoryCounters, MemoryTotals};
use crate::record::counts::{LatencyCounts, fold};
use crate::record::histogram::LatencyHistogram;
use crate::record::node::Node;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallEnd {
    Returned,
    Failed,
    Panicked,
    Cancelled,
}

/// One thread's statistics for one node. Written only by the thread that holds it.
///
/// What a timed call writes comes first, so that it shares one cache line: the call count, the
/// sum, and the latency counts' dirty bits (the counter itself is in an octave block elsewhere).
#[repr(C, align(64))] // its own cache lines: no false sharing with another thread's shard
pub(crate) struct Shard {
    calls: AtomicU64,
    sum_ns: AtomicU64,
    latency: LatencyCounts,
    started: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
    cancelled: AtomicU64,
    // Bumped only by the explicit `items!` / `items_total!` / `warning!` API, never per call.
    items: AtomicU64,
    items_total: AtomicU64,
    warnings: AtomicU64,
    node: &'static Node,
    // Written only by the counting allocator, on this shard's thread.
    memory: MemoryCounters,
}

/// Increments a counter that only the current thread writes: a plain load and store, no lock.
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Release,
    );
}

impl Shard {
    fn new(node: &'static Node) -> Self {
        Self {
            calls: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            latency: LatencyCounts::new(),
            started: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            items: AtomicU64::new(0),
            items_total: AtomicU64::new(0),
            warnings: AtomicU64::new(0),
            node,
            memory: MemoryCounters::new(),
        }
    }

    /// What the counting allocator charges this thread's calls of the node to.
    pub(crate) fn memory(&'static self) -> &'static MemoryCounters {
        &self.memory
    }

    #[inline(always)]
    pub(crate) fn start(&self) {
        bump(&self.started, 1);
    }

    #[inline(always)]
    pub(crate) fn finish(&self, end: CallEnd, elapsed_ns: Option<u64>) {
        match end {
            CallEnd::Returned => {}
            CallEnd::Failed => bump(&self.errors, 1),
            // A panic is a call but not a latency sample: by the time the unwind ends the call,
            // the panic hook has run (a backtrace can take hundreds of milliseconds).
            CallEnd::Panicked => {
                bump(&self.panics, 1);
                return bump(&self.calls, 1);
            }
            // A cancelled future did not complete: it is neither a call nor a latency sample.
            CallEnd::Cancelled => return bump(&self.cancelled, 1),
        }
        if let Some(elapsed_ns) = elapsed_ns {
            self.latency.record(elapsed_ns);
            bump(&self.sum_ns, elapsed_ns);
        }
        // Last: a reader that sees this count sees the latency and sum of every call it counts.
        bump(&self.calls, 1);
    }

    /// Counts items processed (`items!`).
    pub(crate) fn add_items(&self, n: u64) {
        bump(&self.items, n);
    }

    /// Counts items expected (`items_total!`).
    pub(crate) fn add_items_total(&self, n: u64) {
        bump(&self.items_total, n);
    }

    /// Counts warnings (`warning!`).
    pub(crate) fn add_warnings(&self, n: u64) {
        bump(&self.warnings, n);
    }
}

/// A thread's handle on its shard of one node; declared by generated code as a `thread_local!`.
#[doc(hidden)]
pub struct LocalShard(Cell<Option<&'static Shard>>);

impl LocalShard {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Self(Cell::new(None))
    }
}

impl Drop for LocalShard {
    fn drop(&mut self) {
        if let Some(shard) = self.0.take() {
            shard.node.shards.release(shard);
        }
    }
}

/// Runs `record` on the current thread's shard of `node`.
#[inline(always)]
pub(crate) fn with_shard(
    node: &'static Node,
    local: &'static LocalKey<LocalShard>,
    record: impl FnOnce(&Shard),
) {
    match local.try_with(|slot| slot.0.get()) {
        Ok(Some(shard)) => record(shard),
        Ok(None) => record(first_use(node, local)),
        Err(_) => node.shards.record_orphan(node, record),
    }
}

/// The current thread's shard of `node`, taken on first use; `None` while the thread's locals are
/// being torn down.
pub(crate) fn local_shard(
    node: &'static Node,
    local: &'static LocalKey<LocalShard>,
) -> Option<&'static Shard> {
    match local.try_with(|slot| slot.0.get()) {
        Ok(Some(shard)) => Some(shard),
        Ok(None) => Some(first_use(node, local)),
        Err(_) => None,
    }
}

/// Runs `record` on the shard `slot` holds for `node`, taking one on first use: for runtime
/// nodes, whose handles sit in one thread-local table instead of a `thread_local!` each.
#[inline]
pub(crate) fn with_slot(node: &'static Node, slot: &LocalShard, record: impl FnOnce(&Shard)) {
    let shard = match slot.0.get() {
        Some(shard) => shard,
        None => crate::record::alloc::unattributed(|| {
            let shard = node.shards.acquire(node);
            slot.0.set(Some(shard));
            shard
        }),
    };
    record(shard);
}

#[cold]
#[inline(never)]
fn first_use(node: &'static Node, local: &'static LocalKey<LocalShard>) -> &'static Shard {
    // Instrument's own memory: not charged to the call running.
    crate::record::alloc::unattributed(|| {
        let shard = node.shards.acquire(node);
        local.with(|slot| slot.0.set(Some(shard)));
        shard
    })
}

/// Every shard of a node: the ones threads hold, the ones waiting for a thread, and one for calls
/// made while a thread's locals are being torn down.
#[derive(Debug, Default)]
pub(crate) struct ShardPool(Mutex<Shards>);

#[derive(Debug, Default)]
struct Shards {
    all: Vec<&'static Shard>,
    free: Vec<&'static Shard>,
    orphan: Option<&'static Shard>,
    /// Every latency the shards hold, as of the last read: each read folds in what changed.
    latency: LatencyHistogram,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl Shards {
    /// A new shard, owned by the pool for the rest of the process.
    fn create(&mut self, node: &'static Node) -> &'static Shard {
        let shard: &'static Shard = Box::leak(Box::new(Shard::new(node)));
        self.all.push(shard);
        shard
    }
}

impl ShardPool {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(Shards {
            all: Vec::new(),
            free: Vec::new(),
            orphan: None,
            latency: LatencyHistogram::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Shards> {
        // The lists stay consistent even if a holder panicked: every push is a single step.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self, node: &'static Node) -> &'static Shard {
        let mut shards = self.lock();
        match shards.free.pop() {
            Some(shard) => shard,
            None => shards.create(node),
        }
    }

    fn release(&self, shard: &'static Shard) {
        self.lock().free.push(shard);
    }

    #[cold]
    pub(crate) fn record_orphan(&self, node: &'static Node, record: impl FnOnce(&Shard)) {
        let mut shards = self.lock();
        if shards.orphan.is_none() {
            shards.orphan = Some(shards.create(node));
        }
        let shard = shards.orphan.expect("set above");
        // Writers of the orphan shard take turns under the lock, so it too has one writer at a time.
        record(shard);
    }

    /// How many shards the node has: at most the threads that ever held one at once, plus one.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.lock().all.len()
    }

    /// Calls that ended, summed over every shard: what a breaker's health counts from.
    pub(crate) fn ended_calls(&self) -> u64 {
        let shards = self.lock().all.clone();
        shards
            .iter()
            .map(|shard| shard.calls.load(Ordering::Acquire))
            .sum()
    }

    /// Sums every shard. Calls that end while this runs may be only partly seen; once recording
    /// threads are quiet, the totals are exact.
    ///
    /// The latency histogram costs what changed since the last call, not what was ever recorded:
    /// the pool keeps it, and folds in only the counters its shards changed meanwhile.
    pub(crate) fn totals(&self) -> Totals {
        let mut pool = self.lock();
        let mut totals = Totals::default();
        // Ended calls are read before started ones: a call seen ended was seen started, so the
        // in-flight count is never negative. They are read before the latency counts, so that
        // the histogram holds at least every call counted.
        for shard in &pool.all {
            totals.calls += shard.calls.load(Ordering::Acquire);
            totals.errors += shard.errors.load(Ordering::Acquire);
            totals.panics += shard.panics.load(Ordering::Acquire);
            totals.cancelled += shard.cancelled.load(Ordering::Acquire);
            totals.items = totals
                .items
                .saturating_add(shard.items.load(Ordering::Acquire));
            totals.items_total = totals
                .items_total
                .saturating_add(shard.items_total.load(Ordering::Acquire));
            totals.warnings += shard.warnings.load(Ordering::Acquire);
            shard.memory.add_to(&mut totals.memory);
            totals.sum_ns = totals
                .sum_ns
                .saturating_add(shard.sum_ns.load(Ordering::Acquire));
        }
        let started: u64 = (pool.all.iter())
            .map(|shard| shard.started.load(Ordering::Acquire))
            .sum();
        totals.in_flight = started.saturating_sub(totals.calls + totals.cancelled);
        let Shards { all, latency, .. } = &mut *pool;
        let counts: Vec<&LatencyCounts> = all.iter().map(|shard| &shard.latency).collect();
        fold(latency, &counts);
        totals.latency = (!latency.is_empty()).then(|| latency.clone());
        totals
    }
}

/// The sums of a node's shards at one moment.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) panics: u64,
    pub(crate) cancelled: u64,
    pub(crate) in_flight: u64,
    pub(crate) sum_ns: u64,
    pub(crate) items: u64,
    pub(crate) items_total: u64,
    pub(crate) warnings: u64,
    pub(crate) latency: Option<LatencyHistogram>,
    pub(crate) memory: MemoryTotals,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_eight_cache_lines_and_a_timed_call_writes_the_first() {
        // The call count, the sum and the dirty bits of the latency counts share line 0.
        assert_eq!(std::mem::offset_of!(Shard, latency), 16);
        assert_eq!(std::mem::size_of::<Shard>(), 512);
    }
}
