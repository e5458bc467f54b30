//! The guard generated code holds for the duration of one call; it records when dropped.
//!
//! Recording on drop covers every way a call can end with one code path: a return (including
//! early `return` and `?`), a panic unwinding through the frame, and a future dropped before it
//! completed.

use std::thread::LocalKey;

use crate::alloc;
use crate::clock;
use crate::node::Node;
use crate::shard::{CallEnd, LocalShard, with_shard};

/// Bits of the `FLAGS` parameter of [`Call`], chosen by the macro for each function.
#[doc(hidden)]
pub mod flags {
    /// Read the clock at start and end; record the latency.
    pub const TIMED: u8 = 1;
    /// Count the call as started when it starts, for the in-flight gauge.
    pub const IN_FLIGHT: u8 = 2;
    /// The call is a future: dropping the guard before [`Call::complete`] means cancellation.
    ///
    /// [`Call::complete`]: super::Call::complete
    pub const ASYNC: u8 = 4;
}

/// One call in progress. Generated code creates it first thing in the function body.
#[doc(hidden)]
#[must_use]
pub struct Call<const FLAGS: u8> {
    node: &'static Node,
    local: &'static LocalKey<LocalShard>,
    /// The clock reading at the start (0 when untimed), with [`alloc::ENTERED`] when the counting
    /// allocator measures the call.
    start: u64,
    completed: bool,
    failed: bool,
    /// A call made from a destructor while a panic unwinds did not panic itself.
    began_during_panic: bool,
}

impl<const FLAGS: u8> Call<FLAGS> {
    #[doc(hidden)]
    #[inline(always)]
    pub fn start(node: &'static Node, local: &'static LocalKey<LocalShard>) -> Self {
        if FLAGS & flags::IN_FLIGHT != 0 {
            with_shard(node, local, crate::shard::Shard::start);
        }
        // The counting allocator's hook: timed calls reach it only off the clock's fast path,
        // which its first allocation closes; async calls are not measured (see `alloc`).
        let start = if FLAGS & flags::TIMED != 0 {
            clock::now_or(move || {
                if FLAGS & flags::ASYNC == 0 {
                    alloc::enter(node, local)
                } else {
                    0
                }
            })
        } else if FLAGS & flags::ASYNC == 0 && alloc::is_active() {
            alloc::enter(node, local)
        } else {
            0
        };
        Self {
            node,
            local,
            start,
            completed: false,
            failed: false,
            began_during_panic: std::thread::panicking(),
        }
    }

    /// Marks an async call as having run to completion (not cancelled).
    #[doc(hidden)]
    #[inline(always)]
    pub fn complete(&mut self) {
        self.completed = true;
    }

    /// Marks the call as failed when its return value says so (see [`Outcome`](crate::Outcome)).
    #[doc(hidden)]
    #[inline(always)]
    pub fn failed_if(&mut self, failed: bool) {
        self.failed = failed;
    }

    /// Ends the call's memory measurement, if it has one; a detour of the end reading.
    #[inline(always)]
    fn leave(&mut self) -> u64 {
        if self.start & alloc::ENTERED != 0 {
            self.start &= !alloc::ENTERED;
            alloc::exit();
        }
        0
    }
}

/// Runs a function body given as a closure, as `FnOnce`: a closure called in place would be
/// inferred `FnMut` and could not return a borrow of what it captured (`&mut self.field`).
#[doc(hidden)]
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

impl<const FLAGS: u8> Drop for Call<FLAGS> {
    #[inline(always)]
    fn drop(&mut self) {
        let elapsed_ns = if FLAGS & flags::TIMED != 0 {
            // A measured call started off the fast path, and the end is off it too: its start
            // has no tag by the time it is read.
            let end = clock::now_or(|| self.leave());
            Some(clock::elapsed_ns(self.start, end))
        } else {
            if self.start != 0 {
                self.leave();
            }
            None
        };
        let end = if std::thread::panicking() && !self.began_during_panic {
            CallEnd::Panicked
        } else if FLAGS & flags::ASYNC != 0 && !self.completed {
            CallEnd::Cancelled
        } else if self.failed {
            CallEnd::Failed
        } else {
            CallEnd::Returned
        };
        with_shard(self.node, self.local, |shard| shard.finish(end, elapsed_ns));
    }
}
