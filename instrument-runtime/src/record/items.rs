//! Items and warnings a node reports from inside its body: how much work a call did, how much it
//! expected to do, and what went wrong short of an error.
//!
//! The macros name the node statics the attribute declares in the function's body, so they work
//! anywhere in an instrumented function's body: in sync and `async fn`s, in methods, and in
//! closures the body creates. Outside an instrumented function they do not compile (the statics
//! are not in scope). Counts go to the calling thread's shard of the node, written by that thread
//! alone, like every other counter; the per-call path does not change.

use std::thread::LocalKey;

use crate::record::node::Node;
use crate::record::shard::{LocalShard, with_shard};

/// An integer count of items: any primitive integer type.
///
/// Negative counts are taken as zero and counts above `u64::MAX` as `u64::MAX`.
///
/// ```
/// use instrument_runtime::record::ItemCount;
///
/// assert_eq!(3_usize.to_count(), 3);
/// assert_eq!((-2_i32).to_count(), 0);
/// assert_eq!(u128::MAX.to_count(), u64::MAX);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a count of items",
    label = "expected an integer count",
    note = "item counts are integers, e.g. `items!(batch.len())`"
)]
pub trait ItemCount {
    /// The count as a `u64`, clamped to `0..=u64::MAX`.
    fn to_count(self) -> u64;
}

macro_rules! unsigned_counts {
    ($($ty:ty),*) => {$(
        impl ItemCount for $ty {
            fn to_count(self) -> u64 {
                u64::try_from(self).unwrap_or(u64::MAX)
            }
        }
    )*};
}

macro_rules! signed_counts {
    ($($ty:ty),*) => {$(
        impl ItemCount for $ty {
            fn to_count(self) -> u64 {
                u64::try_from(self.max(0)).unwrap_or(u64::MAX)
            }
        }
    )*};
}

unsigned_counts!(u8, u16, u32, u64, u128, usize);
signed_counts!(i8, i16, i32, i64, i128, isize);

/// Adds `n` to the items the enclosing instrumented function has processed.
///
/// With [`items_total!`](crate::items_total) it gives the node's progress (processed / total)
/// and, for a timed node, its throughput (items per second of the node's total duration) in
/// `phase_metrics.json`. Usable only in the body of a function carrying `#[timed]`,
/// `#[counted]`, `#[budget]` or `#[circuit_breaker]`: elsewhere it does not compile.
///
/// ```
/// #[instrument_runtime::timed(name = "items_doc_embed")]
/// fn embed(batch: &[&str]) -> Vec<usize> {
///     instrument_runtime::items!(batch.len());
///     batch.iter().map(|text| text.len()).collect()
/// }
///
/// embed(&["a", "bc", "def"]);
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("items_doc_embed").unwrap().items_processed, 3);
/// ```
///
/// Outside an instrumented function there is no node to count for: a compile error
/// (``cannot find value `__INSTRUMENT_NODE` ``).
///
/// ```compile_fail,E0425
/// fn not_instrumented() {
///     instrument_runtime::items!(1);
/// }
/// ```
#[macro_export]
macro_rules! items {
    ($n:expr $(,)?) => {
        $crate::__private::add_items(&__INSTRUMENT_NODE, &__INSTRUMENT_LOCAL, $n)
    };
}

/// Adds `n` to the items the enclosing instrumented function expects to process.
///
/// Totals add up over calls, like [`items!`](crate::items): a function called once per batch
/// reports each batch's size. Usable only in the body of an instrumented function.
///
/// ```
/// #[instrument_runtime::counted(name = "items_total_doc_index")]
/// fn index(documents: &[&str]) {
///     instrument_runtime::items_total!(documents.len());
///     for document in documents.iter().filter(|document| !document.is_empty()) {
///         instrument_runtime::items!(1);
///         let _ = document;
///     }
/// }
///
/// index(&["a", "", "c", "d"]);
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("items_total_doc_index").unwrap();
/// assert_eq!((node.items_processed, node.items_total), (3, 4));
/// ```
#[macro_export]
macro_rules! items_total {
    ($n:expr $(,)?) => {
        $crate::__private::add_items_total(&__INSTRUMENT_NODE, &__INSTRUMENT_LOCAL, $n)
    };
}

/// Counts one warning for the enclosing instrumented function: something worth reporting that
/// is not an error. Usable only in the body of an instrumented function.
///
/// ```
/// #[instrument_runtime::timed(name = "warning_doc_parse")]
/// fn parse(text: &str) -> u32 {
///     text.parse().unwrap_or_else(|_| {
///         instrument_runtime::warning!();
///         0
///     })
/// }
///
/// parse("12");
/// parse("twelve");
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("warning_doc_parse").unwrap().warnings, 1);
/// ```
#[macro_export]
macro_rules! warning {
    () => {
        $crate::__private::add_warnings(&__INSTRUMENT_NODE, &__INSTRUMENT_LOCAL, 1_u64)
    };
}

/// What [`items!`](crate::items) expands to.
#[doc(hidden)]
#[inline]
pub fn add_items(node: &'static Node, local: &'static LocalKey<LocalShard>, n: impl ItemCount) {
    let n = n.to_count();
    with_shard(node, local, |shard| shard.add_items(n));
}

/// What [`items_total!`](crate::items_total) expands to.
#[doc(hidden)]
#[inline]
pub fn add_items_total(
    node: &'static Node,
    local: &'static LocalKey<LocalShard>,
    n: impl ItemCount,
) {
    let n = n.to_count();
    with_shard(node, local, |shard| shard.add_items_total(n));
}

/// What [`warning!`](crate::warning) expands to.
#[doc(hidden)]
#[inline]
pub fn add_warnings(node: &'static Node, local: &'static LocalKey<LocalShard>, n: u64) {
    with_shard(node, local, |shard| shard.add_warnings(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_clamped_to_u64() {
        assert_eq!(0_u8.to_count(), 0);
        assert_eq!(u64::MAX.to_count(), u64::MAX);
        assert_eq!((u128::from(u64::MAX) + 1).to_count(), u64::MAX);
        assert_eq!(i64::MIN.to_count(), 0);
        assert_eq!(i128::MAX.to_count(), u64::MAX);
        assert_eq!(7_isize.to_count(), 7);
    }
}
