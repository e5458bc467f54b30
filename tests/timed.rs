//! `#[timed]` on every kind of function, with a hand-driven clock so latencies are exact.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use instrument_runtime::{ManualClock, NodeSnapshot, snapshot, timed};

const MS: u64 = 1_000_000;

fn node(name: &str) -> NodeSnapshot {
    snapshot()
        .node(name)
        .unwrap_or_else(|| panic!("node `{name}` is not registered"))
        .clone()
}

/// The histogram reports a value within 1/128 (0.79%) of what was recorded.
fn assert_close(observed_ns: u64, expected_ns: u64) {
    assert!(
        observed_ns.abs_diff(expected_ns) <= expected_ns / 128,
        "{observed_ns} ns is not within 0.79% of {expected_ns} ns"
    );
}

#[timed]
fn free_fn(clock: &ManualClock, took: Duration) -> u32 {
    clock.advance(took);
    7
}

#[test]
fn a_free_fn_records_every_call_latency() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for ms in 1..=100 {
        assert_eq!(free_fn(&clock, Duration::from_millis(ms)), 7);
    }
    let node = node("free_fn");
    assert_eq!(node.calls, 100);
    assert_eq!((node.errors, node.panics, node.cancelled), (0, 0, 0));
    let latency = node.latency.unwrap();
    assert_close(latency.min_ns, MS);
    assert_close(latency.max_ns, 100 * MS);
    assert_close(latency.p50_ns, 50 * MS);
    assert_close(latency.p95_ns, 95 * MS);
    assert_close(latency.p99_ns, 99 * MS);
    assert_eq!(
        latency.mean_ns, 50_500_000,
        "the mean is exact, not bucketed"
    );
    assert_eq!(node.module_path, "timed");
    assert!(node.file.ends_with("timed.rs"));
}

#[timed(name = "custom_name")]
fn renamed() {}

#[test]
fn a_name_replaces_the_fn_name() {
    renamed();
    assert_eq!(node("custom_name").calls, 1);
    assert!(snapshot().node("renamed").is_none());
}

struct Service {
    clock: ManualClock,
    hits: u32,
}

impl Service {
    #[timed(name = "by_value")]
    fn by_value(self) -> u32 {
        self.clock.advance(Duration::from_millis(1));
        self.hits
    }

    #[timed(name = "by_ref")]
    fn by_ref(&self) -> &str {
        self.clock.advance(Duration::from_millis(2));
        "borrowed from self"
    }

    #[timed(name = "by_mut")]
    fn by_mut(&mut self) {
        self.clock.advance(Duration::from_millis(3));
        self.hits += 1;
    }

    #[timed(name = "by_box")]
    #[allow(clippy::boxed_local, reason = "the receiver kind is what is tested")]
    fn by_box(self: Box<Self>) -> u32 {
        self.clock.advance(Duration::from_millis(4));
        self.hits
    }
}

#[test]
fn methods_with_every_receiver() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut service = Service {
        clock: clock.clone(),
        hits: 0,
    };
    service.by_mut();
    assert_eq!(service.by_ref(), "borrowed from self");
    assert_eq!(
        Box::new(Service {
            clock: clock.clone(),
            hits: 5
        })
        .by_box(),
        5
    );
    assert_eq!(service.by_value(), 1);
    for (name, ms) in [("by_value", 1), ("by_ref", 2), ("by_mut", 3), ("by_box", 4)] {
        let node = node(name);
        assert_eq!(node.calls, 1, "{name}");
        assert_close(node.latency.unwrap().max_ns, ms * MS);
    }
}

trait Step {
    fn run(&self, input: u64) -> u64;
}

struct Doubler;

impl Step for Doubler {
    #[timed(name = "trait_impl_method")]
    fn run(&self, input: u64) -> u64 {
        input * 2
    }
}

#[timed(name = "generic_fn")]
fn generic_fn<T: Clone>(value: &T) -> T {
    value.clone()
}

#[timed(name = "const_generic_fn")]
fn const_generic_fn<const N: usize>() -> [u8; N] {
    [1; N]
}

#[timed(name = "lifetime_generic_fn")]
fn lifetime_generic_fn<'a, 'b: 'a>(left: &'a str, _right: &'b str) -> &'a str {
    left
}

#[timed(name = "returns_impl_trait")]
fn returns_impl_trait(n: u32) -> impl Iterator<Item = u32> {
    (0..n).map(|x| x * x)
}

#[test]
fn trait_methods_generics_and_impl_trait() {
    assert_eq!(Doubler.run(21), 42);
    assert_eq!(generic_fn(&5_u8), 5);
    assert_eq!(generic_fn(&String::from("x")), "x");
    assert_eq!(generic_fn(&vec![1, 2]), vec![1, 2]);
    assert_eq!(const_generic_fn::<3>(), [1, 1, 1]);
    assert_eq!(const_generic_fn::<1>(), [1]);
    assert_eq!(lifetime_generic_fn("a", "b"), "a");
    assert_eq!(returns_impl_trait(4).sum::<u32>(), 14);
    assert_eq!(node("trait_impl_method").calls, 1);
    assert_eq!(node("const_generic_fn").calls, 2);
    assert_eq!(node("lifetime_generic_fn").calls, 1);
    assert_eq!(node("returns_impl_trait").calls, 1);
    // One node per source function, not per instantiation.
    assert_eq!(node("generic_fn").calls, 3);
    let generic_nodes = instrument_runtime::record::nodes()
        .into_iter()
        .filter(|node| node.name == "generic_fn")
        .count();
    assert_eq!(generic_nodes, 1);
}

#[timed(name = "unsafe_fn")]
unsafe fn unsafe_fn(pointer: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *pointer }
}

#[test]
fn unsafe_fns() {
    let value = 9;
    // SAFETY: a pointer to a live local.
    assert_eq!(unsafe { unsafe_fn(&raw const value) }, 9);
    assert_eq!(node("unsafe_fn").calls, 1);
}

#[timed(name = "early_exits")]
fn early_exits(input: &str) -> Result<u32, std::num::ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    let parsed: u32 = input.parse()?;
    Ok(parsed + 1)
}

#[test]
fn early_return_and_question_mark_keep_their_meaning() {
    assert_eq!(early_exits(""), Ok(0));
    assert_eq!(early_exits("41"), Ok(42));
    assert!(early_exits("x").is_err());
    let node = node("early_exits");
    assert_eq!(node.calls, 3);
    // Reproduces `errors 0` shown for a #[timed] function that returned `Err`.
    assert_eq!(node.errors, 1, "#[timed] counts the `Err` it returned");
}

#[derive(Debug, PartialEq)]
struct Boom(u32);

#[timed(name = "panics_sometimes")]
fn panics_sometimes(clock: &ManualClock, fail: bool) -> u32 {
    clock.advance(Duration::from_millis(8));
    if fail {
        std::panic::panic_any(Boom(42));
    }
    1
}

#[test]
fn a_panic_is_counted_but_not_timed_and_propagated_unchanged() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    assert_eq!(panics_sometimes(&clock, false), 1);
    let payload = std::panic::catch_unwind(|| panics_sometimes(&clock, true)).unwrap_err();
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(42)));
    let node = node("panics_sometimes");
    assert_eq!((node.calls, node.panics), (2, 1));
    assert_eq!(node.histogram.as_ref().unwrap().len(), 1);
    assert_close(node.latency.unwrap().max_ns, 8 * MS);
}

/// A panic whose hook takes long, as printing a backtrace does.
struct SlowHookPanic(ManualClock);

#[timed(name = "panics_under_a_slow_hook")]
fn panics_under_a_slow_hook(clock: &ManualClock, panic: bool) {
    clock.advance(Duration::from_millis(2));
    if panic {
        std::panic::panic_any(SlowHookPanic(clock.clone()));
    }
}

#[test]
fn reproduces_a_panic_hook_s_time_counted_as_the_call_s_latency() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(SlowHookPanic(clock)) = info.payload().downcast_ref() {
            clock.advance(Duration::from_millis(228));
        } else {
            default_hook(info);
        }
    }));
    let clock = ManualClock::new();
    let _installed = clock.install();
    panics_under_a_slow_hook(&clock, false);
    assert!(std::panic::catch_unwind(|| panics_under_a_slow_hook(&clock, true)).is_err());
    let node = node("panics_under_a_slow_hook");
    assert_eq!((node.calls, node.panics), (2, 1));
    // The panicking call is out of the histogram: p99 and max are the call that returned.
    assert_close(node.latency.unwrap().max_ns, 2 * MS);
}

struct CallsInDrop(ManualClock);

impl Drop for CallsInDrop {
    fn drop(&mut self) {
        // Runs while the panic below unwinds; it returns normally, so it is not a panic.
        free_fn_called_during_unwinding(&self.0);
    }
}

#[timed(name = "called_during_unwinding")]
fn free_fn_called_during_unwinding(clock: &ManualClock) {
    clock.advance(Duration::from_millis(1));
}

#[test]
fn a_call_made_while_another_panic_unwinds_is_not_a_panic() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let _ = std::panic::catch_unwind(|| {
        let _calls_in_drop = CallsInDrop(clock.clone());
        panic!("unrelated");
    });
    let node = node("called_during_unwinding");
    assert_eq!((node.calls, node.panics), (1, 0));
}

/// Pending once, then ready: a real suspension point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[timed(name = "async_fn")]
async fn async_fn(clock: &ManualClock, input: u32) -> u32 {
    clock.advance(Duration::from_millis(5));
    YieldOnce(false).await;
    clock.advance(Duration::from_millis(2));
    input + 1
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[test]
fn async_fns_are_timed_from_first_poll_to_completion_and_stay_send() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let future = assert_send(async_fn(&clock, 1));
    // Time before the first poll is not part of the call.
    clock.advance(Duration::from_millis(100));
    assert_eq!(futures::executor::block_on(future), 2);
    let node = node("async_fn");
    assert_eq!((node.calls, node.cancelled), (1, 0));
    assert_close(node.latency.unwrap().max_ns, 7 * MS);
}

#[timed(name = "never_finishes")]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[test]
fn a_future_dropped_before_completion_is_cancelled_not_a_call() {
    let mut future = Box::pin(never_finishes());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    drop(future);
    // A future never polled never started: it is not counted at all.
    drop(never_finishes());
    let node = node("never_finishes");
    assert_eq!((node.calls, node.cancelled), (0, 1));
    assert!(node.latency.is_none());
}

#[timed(name = "async_panics")]
async fn async_panics() -> u32 {
    YieldOnce(false).await;
    panic!("inside the future")
}

#[test]
fn an_async_panic_caught_by_the_executor_is_a_panic_not_a_cancellation() {
    // Executors such as tokio catch a task's panic, then drop the task after the unwind ended.
    let mut future = Box::pin(async_panics());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = future.as_mut().poll(&mut cx);
    }));
    assert!(caught.is_err(), "the panic propagates");
    drop(future);
    let node = node("async_panics");
    assert_eq!((node.calls, node.panics, node.cancelled), (1, 1, 0));
}

#[timed(name = "async_dropped_while_unwinding")]
async fn async_dropped_while_unwinding() {
    std::future::pending::<()>().await;
}

#[test]
fn a_future_dropped_during_an_unrelated_unwind_is_cancelled() {
    let mut future = Box::pin(async_dropped_while_unwinding());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _owned_by_this_frame = future;
        panic!("unrelated");
    }));
    let node = node("async_dropped_while_unwinding");
    assert_eq!((node.calls, node.panics, node.cancelled), (0, 0, 1));
}

#[async_trait::async_trait]
trait Fetch {
    async fn fetch(&self, clock: &ManualClock) -> Result<u32, String>;
}

struct Remote;

#[async_trait::async_trait]
impl Fetch for Remote {
    #[timed(name = "async_trait_method")]
    async fn fetch(&self, clock: &ManualClock) -> Result<u32, String> {
        clock.advance(Duration::from_millis(3));
        YieldOnce(false).await;
        Ok(3)
    }
}

#[test]
fn async_trait_methods_time_the_inner_future() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let future = Remote.fetch(&clock);
    clock.advance(Duration::from_millis(50));
    assert_eq!(futures::executor::block_on(future), Ok(3));
    let node = node("async_trait_method");
    assert_eq!(node.calls, 1);
    assert_close(node.latency.unwrap().max_ns, 3 * MS);
}

#[timed(name = "registered_but_never_called")]
#[allow(dead_code, reason = "registration without a call is what is tested")]
fn registered_but_never_called() {}

#[test]
fn nodes_lists_functions_never_called() {
    let meta = instrument_runtime::record::nodes()
        .into_iter()
        .find(|node| node.name == "registered_but_never_called")
        .expect("registered at startup");
    assert!(meta.instruments.timed);
    assert!(!meta.instruments.counted);
    let node = node("registered_but_never_called");
    assert_eq!(node.calls, 0);
    assert!(node.latency.is_none());
}

mod first {
    #[instrument_runtime::timed(name = "shared_name")]
    pub(crate) fn step() -> u8 {
        1
    }
}

mod second {
    #[instrument_runtime::timed(name = "shared_name")]
    pub(crate) fn step() -> u8 {
        2
    }
}

#[test]
fn two_nodes_with_one_name_are_a_conflict_never_merged() {
    assert_eq!(first::step() + second::step(), 3);
    let snapshot = snapshot();
    let conflict = snapshot
        .conflicts
        .iter()
        .find(|conflict| conflict.name == "shared_name")
        .expect("the conflict is reported");
    assert_eq!(conflict.sites.len(), 2);
    assert!(conflict.sites[0].starts_with("timed::first ("));
    assert!(conflict.sites[1].starts_with("timed::second ("));
    let calls: Vec<u64> = snapshot
        .nodes
        .iter()
        .filter(|node| node.name.starts_with("shared_name (tests/timed.rs:"))
        .map(|node| node.calls)
        .collect();
    assert_eq!(calls, vec![1, 1]);
}

#[test]
fn reproduces_closures_having_no_way_to_be_timed() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let visited: Vec<u64> = [1, 2, 3]
        .into_iter()
        .map(|ms| {
            let _node = instrument_runtime::timed_scope!("scope_visit_entry");
            clock.advance(Duration::from_millis(ms));
            ms * 10
        })
        .collect();
    assert_eq!(visited, [10, 20, 30]);
    let doubled = instrument_runtime::timed_scope!("scope_expression", {
        clock.advance(Duration::from_millis(5));
        21 * 2
    });
    assert_eq!(doubled, 42);
    let visit = node("scope_visit_entry");
    assert_eq!(visit.calls, 3);
    assert_close(visit.latency.unwrap().max_ns, 3 * MS);
    assert!(visit.file.ends_with("timed.rs"));
    assert_close(node("scope_expression").latency.unwrap().max_ns, 5 * MS);
}
