//! The recording core.

pub(crate) mod alloc;
pub(crate) mod call;
pub(crate) mod clock;
pub(crate) mod counts;
pub(crate) mod env;
pub(crate) mod histogram;
pub(crate) mod items;
pub(crate) mod node;
pub(crate) mod outcome;
pub(crate) mod procfs;
pub(crate) mod registry;
pub(crate) mod run;
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
