//! The read side: snapshot and judging.

pub(crate) mod budget;
pub(crate) mod budgets_file;
pub(crate) mod compare;
pub(crate) mod snapshot;
