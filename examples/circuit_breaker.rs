//! `#[circuit_breaker]` with a fallback: a dependency goes down for a while, and callers get a
//! degraded answer instead of waiting on it or failing.
//!
//! ```text
//! cargo run --release --example circuit_breaker
//! ```
//!
//! It prints one character per call, then what the breaker went through. The exact trace depends
//! on the machine's timing (the breaker's timeout is wall time), its shape does not:
//!
//! ```text
//! ..........xxxccccccccxcccccccc..............
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether the price service is down; `main` decides, to stage an outage.
static DOWN: AtomicBool = AtomicBool::new(false);

/// What the caller gets: the service's answer, or the fallback's.
enum Price {
    Fresh(u32),
    Cached(u32),
}

/// The service did not answer. The breaker counts every `Err` as a failure (`is_failure` can
/// narrow that down).
#[derive(Debug)]
struct Unavailable;

/// Asks the price service. Three failures in a row open the breaker: calls are no longer made but
/// answered by `last_known_price`. After `timeout` one call goes through as a probe; two probes
/// in a row that succeed close the breaker, a failed one opens it again. The 20 ms timeout suits
/// a demo; a real one would be seconds.
#[instrument_runtime::circuit_breaker(
    failure_threshold = 3,
    timeout = "20ms",
    success_threshold = 2,
    fallback = last_known_price
)]
fn price(item: u32) -> Result<Price, Unavailable> {
    if DOWN.load(Ordering::Relaxed) {
        Err(Unavailable)
    } else {
        Ok(Price::Fresh(100 + item))
    }
}

/// Answers in `price`'s place while its breaker is open, with the same arguments and the same
/// signature: here a stale price, which keeps the caller going where an error would stop it.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn last_known_price(item: u32) -> Result<Price, Unavailable> {
    Ok(Price::Cached(90 + item))
}

fn main() {
    instrument_runtime::report_at_exit();

    let (mut trace, mut priced) = (String::new(), 0);
    for call in 0..60 {
        // The service is down for calls 10 to 29, about 40 ms at one call every 2 ms.
        DOWN.store((10..30).contains(&call), Ordering::Relaxed);
        let (mark, amount) = match price(call) {
            Ok(Price::Fresh(amount)) => ('.', amount),
            Ok(Price::Cached(amount)) => ('c', amount),
            Err(Unavailable) => ('x', 0),
        };
        trace.push(mark);
        priced += amount;
        std::thread::sleep(Duration::from_millis(2));
    }
    println!("{trace}");
    println!(
        "(. the service answered, x it failed, c the fallback answered; {priced} priced in all)"
    );

    // The breaker is named after the function; the report at exit has the same figures and its
    // timeline of transitions.
    let snapshot = instrument_runtime::snapshot();
    let breaker = snapshot
        .breaker("price")
        .expect("a breaker per guarded function");
    println!(
        "price: {}; {} calls, {} failures, {} answered by the fallback; opened {} times, closed {}",
        breaker.state.as_str(),
        breaker.calls,
        breaker.failures,
        breaker.fallbacks,
        breaker.transitions.opened,
        breaker.transitions.closed
    );
}
