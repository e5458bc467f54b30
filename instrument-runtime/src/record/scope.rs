//! The block form of `#[timed]`, for code that cannot carry an attribute: closures, and any
//! stretch of a function body.

/// Times a scope, or an expression, as a node of its own: what `#[timed]` does for a function,
/// for code that cannot carry an attribute.
///
/// **Closures: use the block form.** Rust does not allow attributes on closures (they are
/// expressions), and the per-item work of a parallel walker or an iterator pipeline usually
/// lives in one. Each use declares one static node, registered like the attributes' (listed by
/// [`nodes`](crate::record::nodes), in every export, named as given).
///
/// `timed_scope!("name")` returns a guard: the scope is timed until the guard is dropped. Bind it
/// to a named variable; `let _ = ...` drops it at once and times nothing. A panic while the guard
/// lives is counted as a panic of the node, as for a function.
///
/// ```
/// let lengths: Vec<usize> = ["a", "bc", "def"]
///     .iter()
///     .map(|entry| {
///         let _node = instrument_runtime::timed_scope!("scope_doc_visit_entry");
///         entry.len()
///     })
///     .collect();
/// assert_eq!(lengths, [1, 2, 3]);
/// let snapshot = instrument_runtime::snapshot();
/// assert_eq!(snapshot.node("scope_doc_visit_entry").unwrap().calls, 3);
/// ```
///
/// `timed_scope!("name", expression)` times the expression and returns its value:
///
/// ```
/// let total: usize = ["a", "bc"]
///     .iter()
///     .map(|entry| instrument_runtime::timed_scope!("scope_doc_measure", entry.len()))
///     .sum();
/// assert_eq!(total, 3);
/// assert_eq!(instrument_runtime::snapshot().node("scope_doc_measure").unwrap().calls, 2);
/// ```
#[cfg(feature = "enabled")]
#[macro_export]
macro_rules! timed_scope {
    ($name:literal $(,)?) => {{
        static __INSTRUMENT_NODE: $crate::__private::Node =
            $crate::__private::Node::new($crate::__private::NodeMeta {
                name: $name,
                path: ::core::option::Option::None,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: ::core::line!(),
                instruments: $crate::__private::Instruments {
                    timed: true,
                    counted: false,
                    in_flight: false,
                    budget: false,
                },
                budget: ::core::option::Option::None,
            });
        ::std::thread_local! {
            static __INSTRUMENT_LOCAL: $crate::__private::LocalShard =
                const { $crate::__private::LocalShard::new() };
        }
        $crate::__private::inventory::submit! {
            $crate::__private::NodeRef(&__INSTRUMENT_NODE)
        }
        $crate::__private::Call::<{ $crate::__private::flags::TIMED }>::start(
            &__INSTRUMENT_NODE,
            &__INSTRUMENT_LOCAL,
        )
    }};
    ($name:literal, $body:expr $(,)?) => {{
        let __instrument_scope = $crate::timed_scope!($name);
        $body
    }};
}

/// Without the default feature `enabled`, the block form is its expression alone, as the
/// attributes are the bare function: no node, no guard worth the name.
#[cfg(not(feature = "enabled"))]
#[macro_export]
macro_rules! timed_scope {
    ($name:literal $(,)?) => {
        ()
    };
    ($name:literal, $body:expr $(,)?) => {
        $body
    };
}
