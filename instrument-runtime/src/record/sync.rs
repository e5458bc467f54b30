//! The synchronization primitives of the breaker state machine: `std`'s, or `loom`'s when the
//! crate's unit tests are built with `--cfg instrument_loom` so the model checker can explore
//! every interleaving. A cfg of our own, not `loom`: a user who model-checks their own code with
//! `--cfg loom` builds this crate as usual. loom is a dev-dependency, so it never enters a
//! user's lockfile.

#[cfg(all(test, instrument_loom))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(all(test, instrument_loom))]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(all(test, instrument_loom)))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(all(test, instrument_loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard};
