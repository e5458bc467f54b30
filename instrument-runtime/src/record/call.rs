//! The guard generated code holds for the duration of one call; it records when dropped.
//!
//! Recording on drop covers every way a call can end with one code path: a return (including
//! early `return` and `?`), a panic unwinding through the frame, and a future dropped before it
//! completed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::thread::LocalKey;

use crate::record::alloc;
use crate::record::clock;
use crate::record::node::Node;
use crate::record::shard::{CallEnd, LocalShard, with_shard};

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
    /// How far an async call got ([`RUNNING`] and on); sync calls leave it alone. Atomic only so
    /// that the [`Watched`] future can hold a shared reference and the call's future stays `Send`.
    async_state: AtomicU8,
    failed: bool,
    /// A call made from a destructor while a panic unwinds did not panic itself.
    began_during_panic: bool,
}

impl<const FLAGS: u8> Call<FLAGS> {
    #[doc(hidden)]
    #[inline(always)]
    pub fn start(node: &'static Node, local: &'static LocalKey<LocalShard>) -> Self {
        if FLAGS & flags::IN_FLIGHT != 0 {
            with_shard(node, local, crate::record::shard::Shard::start);
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
            async_state: AtomicU8::new(RUNNING),
            failed: false,
            began_during_panic: std::thread::panicking(),
        }
    }

    /// Marks an async call as having run to completion (not cancelled).
    #[doc(hidden)]
    #[inline(always)]
    pub fn complete(&mut self) {
        *self.async_state.get_mut() = COMPLETED;
    }

    /// The async function's own body, polled under watch: a poll that unwinds marks the call as
    /// panicked, so the call knows a panic of its own from an unrelated unwind dropping it.
    #[doc(hidden)]
    #[inline(always)]
    pub fn watch<F: Future>(&self, body: F) -> Watched<'_, F> {
        Watched {
            body,
            async_state: &self.async_state,
        }
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

/// [`Call::async_state`]: the body has not finished.
const RUNNING: u8 = 0;
/// The body returned; the wrapper is reading its value.
const BODY_DONE: u8 = 1;
/// A poll of the body unwound.
const BODY_PANICKED: u8 = 2;
/// The wrapper is done: the call returned.
const COMPLETED: u8 = 3;

pin_project_lite::pin_project! {
    /// An async function's body, polled by [`Call::watch`].
    #[doc(hidden)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Watched<'call, F> {
        #[pin]
        body: F,
        async_state: &'call AtomicU8,
    }
}

impl<F: Future> Future for Watched<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Runs only when a poll of the body unwinds: the normal path forgets it.
        struct MarkUnwind<'call>(&'call AtomicU8);

        impl Drop for MarkUnwind<'_> {
            #[cold]
            fn drop(&mut self) {
                self.0.store(BODY_PANICKED, Ordering::Relaxed);
            }
        }

        let this = self.project();
        let mark = MarkUnwind(this.async_state);
        let poll = this.body.poll(cx);
        std::mem::forget(mark);
        if poll.is_ready() {
            this.async_state.store(BODY_DONE, Ordering::Relaxed);
        }
        poll
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
        let end = if FLAGS & flags::ASYNC != 0 {
            match self.async_state.load(Ordering::Relaxed) {
                BODY_PANICKED => CallEnd::Panicked,
                // Between the body's end and `complete` there is no `.await`: only an unwind of
                // the failure check or the breaker's verdict drops the call there.
                BODY_DONE if std::thread::panicking() => CallEnd::Panicked,
                COMPLETED if self.failed => CallEnd::Failed,
                COMPLETED => CallEnd::Returned,
                // Dropped while suspended, even while some other panic unwinds.
                _ => CallEnd::Cancelled,
            }
        } else if std::thread::panicking() && !self.began_during_panic {
            CallEnd::Panicked
        } else if self.failed {
            CallEnd::Failed
        } else {
            CallEnd::Returned
        };
        with_shard(self.node, self.local, |shard| shard.finish(end, elapsed_ns));
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::Waker;

    use super::*;
    use crate::record::node::test_node;

    test_node!(SYNC, SYNC_LOCAL, "call_unit_sync");
    test_node!(ASYNC, ASYNC_LOCAL, "call_unit_async");

    const SYNC_FLAGS: u8 = flags::TIMED;
    const ASYNC_FLAGS: u8 = flags::TIMED | flags::ASYNC;

    /// The ends counted on `node` so far: calls, errors, panics, cancelled.
    fn ends(node: &'static Node) -> [u64; 4] {
        let totals = node.shards.totals();
        [totals.calls, totals.errors, totals.panics, totals.cancelled]
    }

    /// What the macro expands an async fn to: the call, its body under watch, then `complete`.
    async fn instrumented(body: impl Future<Output = Result<(), ()>>) -> Result<(), ()> {
        let mut call = Call::<ASYNC_FLAGS>::start(&ASYNC, &ASYNC_LOCAL);
        let value = call.watch(body).await;
        call.failed_if(value.is_err());
        call.complete();
        value
    }

    /// Pending on its first poll, ready with `value` on the next.
    fn after_one_yield<T>(value: T) -> impl Future<Output = T> {
        let mut value = Some(value);
        let mut yielded = false;
        std::future::poll_fn(move |_| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(value.take().expect("polled after completion"))
            } else {
                Poll::Pending
            }
        })
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_sync_call_ends_as_returned_failed_or_panicked() {
        std::thread::spawn(|| {
            drop(Call::<SYNC_FLAGS>::start(&SYNC, &SYNC_LOCAL));
            let mut failing = Call::<SYNC_FLAGS>::start(&SYNC, &SYNC_LOCAL);
            failing.failed_if(true);
            drop(failing);
            let unwound = catch_unwind(|| {
                let _call = Call::<SYNC_FLAGS>::start(&SYNC, &SYNC_LOCAL);
                panic!("inside the call");
            });
            assert!(unwound.is_err());
        })
        .join()
        .unwrap();
        assert_eq!(ends(&SYNC), [3, 1, 1, 0]);
    }

    #[test]
    fn an_async_call_is_told_apart_from_its_cancellation_and_its_panic() {
        std::thread::spawn(|| {
            let mut returned = std::pin::pin!(instrumented(after_one_yield(Ok(()))));
            assert!(poll_once(returned.as_mut()).is_pending());
            assert_eq!(poll_once(returned.as_mut()), Poll::Ready(Ok(())));

            let mut failed = std::pin::pin!(instrumented(after_one_yield(Err(()))));
            assert!(poll_once(failed.as_mut()).is_pending());
            assert_eq!(poll_once(failed.as_mut()), Poll::Ready(Err(())));

            let mut cancelled = Box::pin(instrumented(after_one_yield(Ok(()))));
            assert!(poll_once(cancelled.as_mut()).is_pending());
            drop(cancelled);

            let mut panicking = Box::pin(instrumented(async {
                after_one_yield(()).await;
                panic!("inside the body")
            }));
            assert!(poll_once(panicking.as_mut()).is_pending());
            let unwound = catch_unwind(AssertUnwindSafe(|| poll_once(panicking.as_mut())));
            assert!(unwound.is_err());
            drop(panicking);
        })
        .join()
        .unwrap();
        assert_eq!(ends(&ASYNC), [3, 1, 1, 1]);
    }
}
