//! The types of the 1,000 generated nodes (`render_nodes.rs`, written by `build.rs`) that the
//! `render` and `scrape` harnesses call: what a call does, and what each node declares.

use std::io;

use instrument_runtime::ManualClock;

/// What one call does: how long it takes on the manual clock, and how it ends.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// How far the call advances its thread's manual clock.
    pub latency_ns: u64,
    /// Items the call reports (on the nodes that count items).
    pub items: u64,
    /// Whether the call raises a warning (on the nodes that can).
    pub warn: bool,
    /// Whether the call returns an error.
    pub fail: bool,
}

impl Call {
    /// How the call ends.
    ///
    /// ```
    /// let call = instrument_bench::Call { latency_ns: 1, items: 0, warn: false, fail: true };
    /// assert!(call.outcome().is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// When the call is one that fails.
    pub fn outcome(self) -> io::Result<()> {
        if self.fail {
            Err(io::Error::other("upstream failed"))
        } else {
            Ok(())
        }
    }
}

/// One generated node: the function, its budgeted p95, and its breaker's number if it has one.
pub struct NodeSpec {
    /// The node's function.
    pub call: fn(&ManualClock, Call) -> io::Result<()>,
    /// Its `#[budget]`'s p95, in milliseconds.
    pub p95_ms: u64,
    /// The number of its `#[circuit_breaker]`, if it has one.
    pub breaker: Option<usize>,
}
