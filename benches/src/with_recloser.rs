//! `recloser` 1.4, a circuit breaker over a ring buffer of the last calls' outcomes, with its
//! defaults (`Recloser::default()`: 50% failure rate over the last 100 calls), closed, wrapping
//! the shared function: alone, and under `#[instrument_runtime::timed]` to compare with
//! `#[timed] #[circuit_breaker]`.
//!
//! Each closed-state call pins a `crossbeam-epoch` guard, loads the state and, on completion,
//! records the outcome in the ring buffer under its spin lock: one buffer every thread shares.

use std::io;
use std::sync::LazyLock;

use recloser::Recloser;

use crate::{ok, work};

static RECLOSER: LazyLock<Recloser> = LazyLock::new(Recloser::default);

/// Builds the breaker before anything is measured.
pub(crate) fn install() {
    LazyLock::force(&RECLOSER);
}

#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    ok(RECLOSER.call(|| Ok::<_, io::Error>(work(x))))
}

#[instrument_runtime::timed]
#[inline(always)]
fn timed_result(x: u64) -> Result<u64, recloser::Error<io::Error>> {
    RECLOSER.call(|| Ok(work(x)))
}

#[inline(never)]
pub(crate) fn timed(x: u64) -> u64 {
    ok(timed_result(x))
}
