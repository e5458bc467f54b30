//! `async fn` and async methods, polled to completion by a tiny executor.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Polls a future to completion on this thread; enough for futures that never wait.
fn block_on<F: Future>(future: F) -> F::Output {
    struct NoopWake;
    impl Wake for NoopWake {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(NoopWake));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Returns `Pending` once, so the instrumented future is polled more than once.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            context.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[instrument_runtime::timed(name = "async_timed")]
async fn fetch(id: u32) -> u32 {
    YieldOnce(false).await;
    id * 2
}

#[instrument_runtime::counted(name = "async_counted", in_flight)]
async fn fetch_checked(id: u32) -> Result<u32, String> {
    if id == 0 {
        return Err("zero".to_owned());
    }
    let doubled = fetch(id).await;
    Ok(doubled)
}

#[instrument_runtime::budget(name = "async_budget", p95 = "1s")]
#[instrument_runtime::counted]
async fn no_output() {
    YieldOnce(false).await;
}

#[instrument_runtime::counted(name = "async_borrowing")]
async fn first<'a>(items: &'a [u32]) -> Option<&'a u32> {
    items.first()
}

struct Client {
    base: u32,
}

impl Client {
    #[instrument_runtime::timed(name = "async_method_ref")]
    async fn get(&self, id: u32) -> u32 {
        self.base + fetch(id).await
    }

    #[instrument_runtime::counted(name = "async_method_mut")]
    async fn set(&mut self, base: u32) -> Result<(), String> {
        self.base = base;
        Ok(())
    }
}

fn main() {
    assert_eq!(block_on(fetch(2)), 4);
    assert_eq!(block_on(fetch_checked(3)), Ok(6));
    assert_eq!(block_on(fetch_checked(0)), Err("zero".to_owned()));
    block_on(no_output());
    assert_eq!(block_on(first(&[5, 6])), Some(&5));
    let mut client = Client { base: 10 };
    assert_eq!(block_on(client.set(100)), Ok(()));
    assert_eq!(futures::executor::block_on(client.get(1)), 102);
}
