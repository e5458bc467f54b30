//! The read side: the snapshot, which merges every node's shards and judges its budget; the
//! verdicts and the budgets file applied while it is taken; snapshots built by hand; comparing
//! two runs' histograms; the activity between two snapshots. Public through the crate root,
//! [`budgets`](crate::budgets), [`interval`](crate::interval) and [`gate`](crate::gate).

pub(crate) mod alert_rule;
pub(crate) mod alert_state;
pub(crate) mod budget;
pub(crate) mod budgets_file;
mod build;
pub(crate) mod compare;
pub(crate) mod interval;
pub(crate) mod snapshot;
