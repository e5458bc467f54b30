//! The read side: snapshot and judging.

pub(crate) mod budget;
pub(crate) mod budgets_file;
mod build;
pub(crate) mod compare;
pub(crate) mod snapshot;
