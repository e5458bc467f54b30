//! Every node linked into the binary, discovered through `inventory` at startup. The only reader
//! of the inventory.

use serde::{Deserialize, Serialize};

use crate::record::node::{Node, NodeMeta, NodeRef};

/// Every registered node, sorted by qualified name, then module, then line.
pub(crate) fn registered() -> Vec<&'static Node> {
    registry().nodes.clone()
}

/// The registered nodes, in the order of [`registered`], with their qualified names, and the
/// names claimed twice among them. Computed once: `inventory` is complete before `main` runs,
/// and a snapshot would otherwise qualify, sort and compare a thousand names each time.
pub(crate) struct Registry {
    pub(crate) nodes: Vec<&'static Node>,
    pub(crate) names: Vec<String>,
    pub(crate) conflicts: Vec<NameConflict>,
}

pub(crate) fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut nodes: Vec<&'static Node> = inventory::iter::<NodeRef>
            .into_iter()
            .map(|node| node.0)
            .collect();
        nodes.sort_by_cached_key(|node| {
            (
                node.meta.qualified_name(),
                node.meta.module_path,
                node.meta.file,
                node.meta.line,
            )
        });
        let metas: Vec<&NodeMeta> = nodes.iter().map(|node| node.meta()).collect();
        Registry {
            names: (metas.iter())
                .map(|meta| meta.qualified_name().into_owned())
                .collect(),
            conflicts: conflicts_among(&metas),
            nodes,
        }
    })
}

/// Every instrumented function in the binary, called or not, sorted by name.
///
/// ```
/// #[instrument_runtime::timed(name = "nodes_doc_never_called")]
/// fn never_called() {}
///
/// assert!(instrument_runtime::record::nodes().iter().any(|node| node.name == "nodes_doc_never_called"));
/// ```
pub fn nodes() -> Vec<&'static NodeMeta> {
    registered().into_iter().map(Node::meta).collect()
}

/// Two or more functions registered under one node name, or a function and a node created at run
/// time (a route named like a function).
///
/// Their statistics are never merged: each stays a node of its own, named in the snapshot and
/// every export with its site (`step (src/a.rs:12)`, `step (http)` for the runtime node), and the
/// conflict is reported in the snapshot and in the report at exit so the names can be made
/// unique.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameConflict {
    /// The shared name.
    pub name: String,
    /// Where each function carrying it is defined, as `module (file:line)`.
    pub sites: Vec<String>,
}

/// Every node name claimed by more than one function.
///
/// ```
/// // Each function has its own name here, so there is nothing to report.
/// #[instrument_runtime::timed(name = "conflicts_doc_unique")]
/// fn unique() {}
///
/// assert!(instrument_runtime::record::conflicts().iter().all(|c| c.name != "conflicts_doc_unique"));
/// ```
pub fn conflicts() -> Vec<NameConflict> {
    registry().conflicts.clone()
}

pub(crate) fn conflicts_among(nodes: &[&NodeMeta]) -> Vec<NameConflict> {
    nodes
        .chunk_by(|a, b| a.qualified_name() == b.qualified_name())
        .filter(|same_name| same_name.len() > 1)
        .map(|same_name| NameConflict {
            name: same_name[0].qualified_name().into_owned(),
            sites: same_name.iter().map(|node| site_of(node)).collect(),
        })
        .collect()
}

/// Where a node is declared, as a [`NameConflict`] names it: `module (file:line)`, or for a node
/// created at run time, what created it.
pub(crate) fn site_of(node: &NodeMeta) -> String {
    if node.file.is_empty() {
        format!("{} (created at run time)", node.module_path)
    } else {
        format!("{} ({}:{})", node.module_path, node.file, node.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::node::Instruments;

    fn meta(name: &'static str, line: u32) -> NodeMeta {
        NodeMeta {
            name,
            path: None,
            module_path: "app::steps",
            file: "src/steps.rs",
            line,
            instruments: Instruments::default(),
            budget: None,
        }
    }

    #[test]
    fn a_shared_name_is_a_conflict_listing_every_site() {
        let (a, b, c) = (meta("embed", 3), meta("embed", 9), meta("parse", 12));
        let conflicts = conflicts_among(&[&a, &b, &c]);
        assert_eq!(
            conflicts,
            vec![NameConflict {
                name: "embed".into(),
                sites: vec![
                    "app::steps (src/steps.rs:3)".into(),
                    "app::steps (src/steps.rs:9)".into()
                ],
            }]
        );
    }

    #[test]
    fn distinct_names_do_not_conflict() {
        let (a, b) = (meta("embed", 3), meta("parse", 12));
        assert!(conflicts_among(&[&a, &b]).is_empty());
    }
}
