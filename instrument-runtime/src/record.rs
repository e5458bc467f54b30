//! The recording core, what a call touches: each node's static descriptor and the registry of
//! them, the per-thread shards and their latency counters, the clock (and the manual clock for
//! tests), the outcome of a call, the counting allocator, item counts, and the `/proc` readers
//! the memory figures come from.
//!
//! It imports nothing from the rest of the crate, so no change above it can add work to a call.
//! The crate root re-exports what most programs name; the rest is here.

pub(crate) mod alloc;
pub(crate) mod call;
pub(crate) mod clock;
pub(crate) mod counts;
pub(crate) mod env;
pub(crate) mod histogram;
pub(crate) mod items;
pub(crate) mod node;
pub(crate) mod outcome;
pub(crate) mod prefetch;
pub(crate) mod procfs;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod runtime_node;
pub(crate) mod scope;
pub(crate) mod shard;
pub(crate) mod sync;

pub use alloc::{CountingAllocator, NodeMemory, ProcessMemory};
pub use clock::{ManualClock, ManualClockGuard};
pub use histogram::{LatencyBin, LatencyHistogram};
pub use items::ItemCount;
pub use node::{Budget, Instruments, NodeMeta};
pub use outcome::Outcome;
pub use registry::{NameConflict, conflicts, nodes};
pub use run::run_id;
pub use runtime_node::{
    DEFAULT_RUNTIME_NODE_CAP, MAX_OUTCOMES, OVERFLOW_NODE, RuntimeNode, RuntimeNodeCounts,
    RuntimeNodeSpec, RuntimeNodes, Timing,
};
