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
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod scope;
pub(crate) mod shard;
pub(crate) mod sync;
