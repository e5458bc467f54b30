//! What the macros declare about each instrumented function: one static descriptor per source fn.

use serde::{Deserialize, Serialize};

use crate::record::shard::ShardPool;

/// The static description of one instrumented function, as written in its attributes.
///
/// One exists per source function (a generic function has one for all its instantiations).
/// [`nodes`](crate::record::nodes) lists them all.
///
/// ```
/// #[instrument_runtime::counted(name = "node_meta_doc")]
/// fn step() {}
///
/// let node = instrument_runtime::record::nodes().into_iter().find(|n| n.name == "node_meta_doc").unwrap();
/// assert!(node.file.ends_with(".rs") && node.line > 0);
/// assert!(node.instruments.counted && node.budget.is_none());
/// ```
#[derive(Debug)]
pub struct NodeMeta {
    /// The name as written: `name = "..."` from an attribute, or the function's identifier.
    /// Reports and exports use [`qualified_name`](Self::qualified_name).
    pub name: &'static str,
    /// For a node named by default, the type name of an item nested in its static: a path that
    /// includes the function's, from which [`qualified_name`](Self::qualified_name) takes the `Self` type of a method.
    #[doc(hidden)]
    pub path: Option<fn() -> &'static str>,
    /// `module_path!()` where the function is defined.
    pub module_path: &'static str,
    /// Source file of the function.
    pub file: &'static str,
    /// Line of the function's name in [`file`](Self::file).
    pub line: u32,
    /// Which attributes the function carries.
    pub instruments: Instruments,
    /// The latency budget declared with `#[budget(...)]`, if any.
    pub budget: Option<Budget>,
}

impl NodeMeta {
    /// The node's name in reports and exports: `name = "..."` when given, else the function's path
    /// within its module, so that methods of different types never share a name: `Store::get`
    /// for a method, `<Store as Cache>::get` for a trait method, `parse` for a free function.
    ///
    /// An item declared inside a function has that function in its path (`main::Store::get`).
    ///
    /// ```
    /// struct Store;
    ///
    /// impl Store {
    ///     #[instrument_runtime::timed]
    ///     fn get(&self) {}
    /// }
    ///
    /// #[instrument_runtime::timed(name = "qualified_name_doc")]
    /// fn named() {}
    ///
    /// fn main() {
    ///     let nodes = instrument_runtime::record::nodes();
    ///     let names: Vec<_> = nodes.iter().map(|node| node.qualified_name()).collect();
    ///     assert!(names.iter().any(|name| name == "Store::get"));
    ///     assert!(names.iter().any(|name| name == "qualified_name_doc"));
    /// #   Store.get();
    /// #   named();
    /// }
    /// ```
    pub fn qualified_name(&self) -> std::borrow::Cow<'static, str> {
        match self.path {
            Some(path) => qualify(path(), self.module_path).into(),
            None => self.name.into(),
        }
    }
}

/// The function the generated node static is declared in, qualified within its module:
/// `app::store::Store::get::__INSTRUMENT_NODE::__instrument_path` in `app::store` -> `Store::get`.
fn qualify(path: &str, module_path: &str) -> String {
    let mut path = path
        .strip_suffix("::__INSTRUMENT_NODE::__instrument_path")
        .unwrap_or(path);
    // The body of an `async fn` is a closure of it.
    while let Some(function) = path.strip_suffix("::{{closure}}") {
        path = function;
    }
    path.replace(&format!("{module_path}::"), "")
}

/// Which of instrument's attributes a node carries.
///
/// ```
/// #[instrument_runtime::budget(name = "instruments_doc", p99 = "5ms")]
/// fn step() {}
///
/// let node = instrument_runtime::record::nodes().into_iter().find(|n| n.name == "instruments_doc").unwrap();
/// assert!(node.instruments.timed && node.instruments.budget && !node.instruments.counted);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per attribute, read as a record"
)]
pub struct Instruments {
    /// Latency is recorded (`#[timed]`, or implied by `#[budget]`).
    pub timed: bool,
    /// The function carries `#[counted]` (every attribute counts calls, errors, panics and
    /// cancellations).
    pub counted: bool,
    /// An in-flight gauge is kept (`#[counted(in_flight)]`).
    pub in_flight: bool,
    /// A latency budget is declared (`#[budget]`).
    pub budget: bool,
}

/// A latency budget: the most each quantile may take, before tolerance.
///
/// ```
/// use instrument_runtime::Budget;
///
/// let budget = Budget { p95_ns: Some(50_000_000), p99_ns: Some(80_000_000), ..Budget::DEFAULT };
/// assert_eq!(budget.allowed_ns(50_000_000), 55_000_000); // 10% tolerance by default
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Budget for the median.
    pub p50_ns: Option<u64>,
    /// Budget for the 90th percentile.
    pub p90_ns: Option<u64>,
    /// Budget for the 95th percentile.
    pub p95_ns: Option<u64>,
    /// Budget for the 99th percentile.
    pub p99_ns: Option<u64>,
    /// Budget for the slowest call.
    pub max_ns: Option<u64>,
    /// How far over budget a quantile may go before it fails, as a fraction (0.1 = 10%).
    pub tolerance: f64,
    /// Fewer calls than this and the node is reported as not exercised instead of judged.
    pub min_samples: u64,
}

impl Budget {
    /// No quantile budgeted, 10% tolerance, 100 samples needed: what `#[budget]` starts from.
    pub const DEFAULT: Budget = Budget {
        p50_ns: None,
        p90_ns: None,
        p95_ns: None,
        p99_ns: None,
        max_ns: None,
        tolerance: 0.10,
        min_samples: 100,
    };

    /// The most a quantile with this budget may take: `budget × (1 + tolerance)`.
    ///
    /// ```
    /// let budget = instrument_runtime::Budget { tolerance: 0.05, ..instrument_runtime::Budget::DEFAULT };
    /// assert_eq!(budget.allowed_ns(2_000_000), 2_100_000);
    /// ```
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rounded product of a duration and a factor near 1, far below 2^53"
    )]
    pub fn allowed_ns(&self, budget_ns: u64) -> u64 {
        (budget_ns as f64 * (1.0 + self.tolerance)).round() as u64
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A node: its descriptor plus the per-thread statistics recorded for it.
///
/// Generated code declares one `static` per instrumented function; users never build one.
#[derive(Debug)]
pub struct Node {
    pub(crate) meta: NodeMeta,
    pub(crate) shards: ShardPool,
}

impl Node {
    #[doc(hidden)]
    pub const fn new(meta: NodeMeta) -> Self {
        Self {
            meta,
            shards: ShardPool::new(),
        }
    }

    /// The node's static description.
    pub fn meta(&self) -> &NodeMeta {
        &self.meta
    }
}

/// What `inventory` collects: a pointer to a node static.
#[doc(hidden)]
#[derive(Debug)]
pub struct NodeRef(pub &'static Node);

inventory::collect!(NodeRef);

/// Declares a timed node and its thread-local shard slot, as generated code does, for unit tests
/// that drive [`Call`](crate::call::Call) by hand.
#[cfg(test)]
macro_rules! test_node {
    ($node:ident, $local:ident, $name:literal) => {
        static $node: $crate::record::node::Node = $crate::record::node::Node::new($crate::record::node::NodeMeta {
            name: $name,
            path: None,
            module_path: module_path!(),
            file: file!(),
            line: line!(),
            instruments: $crate::record::node::Instruments {
                timed: true,
                counted: false,
                in_flight: false,
                budget: false,
            },
            budget: None,
        });
        thread_local! {
            static $local: $crate::record::shard::LocalShard = const { $crate::record::shard::LocalShard::new() };
        }
    };
}
#[cfg(test)]
pub(crate) use test_node;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_that_is_never_called_costs_under_a_kibibyte() {
        // The static, the value inventory registers and its list link (a reference and an
        // `Option<&Node>`), and one thread-local slot with its state word per thread.
        let per_node = std::mem::size_of::<Node>()
            + std::mem::size_of::<NodeRef>()
            + 3 * std::mem::size_of::<usize>()
            + std::mem::size_of::<crate::record::shard::LocalShard>()
            + std::mem::size_of::<usize>();
        assert!(per_node < 1024, "{per_node} bytes");
    }

    #[test]
    fn a_default_name_is_the_path_within_the_module() {
        let cases = [
            (
                "app::store::Store::get::__INSTRUMENT_NODE::__instrument_path",
                "Store::get",
            ),
            (
                "<app::store::Store as app::store::Cache>::get::__INSTRUMENT_NODE::__instrument_path",
                "<Store as Cache>::get",
            ),
            (
                "<app::store::Store as app::Cache>::get::__INSTRUMENT_NODE::__instrument_path",
                "<Store as app::Cache>::get",
            ),
            (
                "app::store::Pair<_>::get::__INSTRUMENT_NODE::__instrument_path",
                "Pair<_>::get",
            ),
            (
                "app::store::parse::__INSTRUMENT_NODE::__instrument_path",
                "parse",
            ),
        ];
        for (path, name) in cases {
            assert_eq!(qualify(path, "app::store"), name, "{path}");
        }
    }

    #[test]
    fn tolerance_scales_the_budget() {
        let budget = Budget {
            tolerance: 0.0,
            ..Budget::DEFAULT
        };
        assert_eq!(budget.allowed_ns(3_000_000), 3_000_000);
        assert_eq!(Budget::DEFAULT.allowed_ns(3_000_000), 3_300_000);
    }
}
