//! Exact counts under concurrency: many threads on one node, threads that exit before the
//! snapshot, and calls made while a thread's locals are torn down.

use std::cell::RefCell;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use instrument_runtime::{ManualClock, counted, snapshot, timed};

const THREADS: u64 = 8;
const CALLS_PER_THREAD: u64 = 20_000;

#[timed(name = "hammered")]
#[counted]
fn hammered(i: u64) -> Result<u64, u64> {
    if i.is_multiple_of(7) { Err(i) } else { Ok(i) }
}

#[test]
fn every_call_from_every_thread_is_counted_once() {
    let barrier = Barrier::new(usize::try_from(THREADS).unwrap());
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                barrier.wait();
                for i in 0..CALLS_PER_THREAD {
                    let _ = hammered(i);
                }
            });
        }
        // Snapshots taken while the threads run never see more than what was recorded.
        for _ in 0..20 {
            let calls = snapshot().node("hammered").unwrap().calls;
            assert!(calls <= THREADS * CALLS_PER_THREAD);
        }
    });
    // Every thread has exited: their counts must still be there, exactly.
    let node = snapshot().node("hammered").unwrap().clone();
    assert_eq!(node.calls, THREADS * CALLS_PER_THREAD);
    let errors_per_thread = CALLS_PER_THREAD.div_ceil(7);
    assert_eq!(node.errors, THREADS * errors_per_thread);
    assert_eq!(node.histogram.unwrap().len(), THREADS * CALLS_PER_THREAD);
}

#[timed(name = "one_latency")]
fn one_latency(clock: &ManualClock) {
    clock.advance(Duration::from_micros(70));
}

#[test]
fn the_carries_of_a_hot_slot_lose_no_call_and_reads_racing_them_never_go_back() {
    // Every call in one slot: its 16-bit counter carries every 65,536 calls, while snapshots
    // read it; a read torn between a carry's two stores would see the count drop by 65,535.
    const CALLS: u64 = 600_000;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let clock = ManualClock::new();
            let _installed = clock.install();
            for _ in 0..CALLS {
                one_latency(&clock);
            }
            done.store(true, Ordering::Release);
        });
        let mut last = 0;
        while !done.load(Ordering::Acquire) {
            let Some(node) = snapshot().node("one_latency").cloned() else {
                continue;
            };
            let recorded = node.histogram.map_or(0, |histogram| histogram.len());
            assert!(
                recorded >= last && recorded <= CALLS,
                "{last} then {recorded}"
            );
            last = recorded;
        }
    });
    let node = snapshot().node("one_latency").unwrap().clone();
    assert_eq!(node.calls, CALLS);
    assert_eq!(node.histogram.unwrap().len(), CALLS);
}

#[timed(name = "churned")]
fn churned() {}

#[test]
fn short_lived_threads_lose_nothing() {
    for round in 0..40 {
        let handles: Vec<_> = (0..3)
            .map(|_| std::thread::spawn(|| (0..250).for_each(|_| churned())))
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(
            snapshot().node("churned").unwrap().calls,
            (round + 1) * 3 * 250
        );
    }
}

#[counted(name = "called_from_a_thread_local_destructor")]
fn called_from_a_thread_local_destructor() {}

struct CallsOnExit;

impl Drop for CallsOnExit {
    fn drop(&mut self) {
        for _ in 0..10 {
            called_from_a_thread_local_destructor();
        }
    }
}

thread_local! {
    static CALLS_ON_EXIT: RefCell<Option<CallsOnExit>> = const { RefCell::new(None) };
}

#[test]
fn calls_made_while_a_thread_exits_are_kept() {
    for _ in 0..4 {
        std::thread::spawn(|| {
            called_from_a_thread_local_destructor();
            CALLS_ON_EXIT.with(|slot| *slot.borrow_mut() = Some(CallsOnExit));
        })
        .join()
        .unwrap();
    }
    let node = snapshot()
        .node("called_from_a_thread_local_destructor")
        .unwrap()
        .clone();
    assert_eq!(node.calls, 4 * 11);
}
