//! The budgets file the running program applies: which one, read once, merged once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::{BudgetSource, BudgetsFile, BudgetsFileDiagnostic, NodeBudgetInput};
use crate::read::alert_rule::AlertRule;
use crate::record::node::Budget;
use crate::record::node::Node;
use crate::record::registry::registered;
use crate::record::runtime_node::{RuntimeNode, RuntimeNodes};

/// Environment variable naming the budgets file the runtime applies; empty turns it off.
pub const BUDGETS_FILE_ENV: &str = "INSTRUMENT_BUDGETS";
/// The budgets file applied when [`BUDGETS_FILE_ENV`] is unset: this name in the current
/// directory, when it exists.
pub const DEFAULT_BUDGETS_FILE: &str = "performance_budgets.yaml";

/// Who decides which file applies.
#[derive(Clone)]
enum Choice {
    /// The environment: [`BUDGETS_FILE_ENV`], else [`DEFAULT_BUDGETS_FILE`].
    Environment,
    /// [`set_budgets_file`].
    Program(Option<PathBuf>),
}

static CHOSEN: Mutex<Choice> = Mutex::new(Choice::Environment);
/// The last file applied, by path and number of runtime nodes: read and merged once, not per
/// snapshot, and again when the program created a node the file may name.
static APPLIED: Mutex<Option<AppliedFor>> = Mutex::new(None);

/// The budgets file's path, the number of runtime nodes, and what applying it to them gave.
type AppliedFor = (Option<PathBuf>, usize, Arc<Applied>);

/// Chooses the budgets file the runtime applies from now on, over [`BUDGETS_FILE_ENV`] and
/// [`DEFAULT_BUDGETS_FILE`]; `None` applies none (code budgets only).
///
/// ```
/// let dir = std::env::temp_dir().join("instrument-set-budgets-file-doc");
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("performance_budgets.yaml");
/// std::fs::write(&path, "nodes:\n  set_budgets_file_doc: { p95: 5ms }\n").unwrap();
///
/// #[instrument_runtime::timed(name = "set_budgets_file_doc")]
/// fn step() {}
///
/// instrument_runtime::budgets::set_budgets_file(Some(path));
/// let snapshot = instrument_runtime::snapshot();
/// let node = snapshot.node("set_budgets_file_doc").unwrap();
/// assert_eq!(node.budget.unwrap().p95_ns, Some(5_000_000));
/// assert!(matches!(node.budget_source, Some(instrument_runtime::budgets::BudgetSource::File(_))));
/// instrument_runtime::budgets::set_budgets_file(None);
/// assert!(instrument_runtime::snapshot().node("set_budgets_file_doc").unwrap().budget.is_none());
/// ```
pub fn set_budgets_file(path: Option<PathBuf>) {
    *CHOSEN.lock().unwrap_or_else(PoisonError::into_inner) = Choice::Program(path);
}

/// The budgets file the runtime applies now: the one [`set_budgets_file`] chose, else the one
/// [`BUDGETS_FILE_ENV`] names (an error if it does not exist), else [`DEFAULT_BUDGETS_FILE`]
/// when it exists.
///
/// ```
/// instrument_runtime::budgets::set_budgets_file(None);
/// assert_eq!(instrument_runtime::budgets::budgets_file_path(), None);
/// ```
pub fn budgets_file_path() -> Option<PathBuf> {
    let choice = CHOSEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Choice::Program(path) = choice {
        return path;
    }
    match std::env::var_os(BUDGETS_FILE_ENV) {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from(DEFAULT_BUDGETS_FILE)).filter(|path| path.is_file()),
    }
}

/// The budgets file as applied: every node's budget and its source, and what was wrong.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) budgets: HashMap<String, (Budget, BudgetSource)>,
    pub(crate) use_: Option<BudgetsFileUse>,
    /// The file's `alerts:` rules (none when the file has errors).
    pub(crate) alerts: Vec<AlertRule>,
}

/// The budgets file a snapshot applied, and its problems. Errors leave the code budgets of the
/// entries concerned in force; a gate treats any error as a failure.
///
/// ```
/// let snapshot = instrument_runtime::snapshot();
/// if let Some(file) = &snapshot.budgets_file {
///     assert!(!file.path.is_empty());
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetsFileUse {
    /// The file, as its path displays.
    pub path: String,
    /// Mistakes: the entries concerned were not applied.
    pub errors: Vec<BudgetsFileDiagnostic>,
    /// Entries for nodes no function has.
    pub warnings: Vec<BudgetsFileDiagnostic>,
}

/// The budgets in force now, read from the file once per path and set of runtime nodes.
pub(crate) fn applied() -> Arc<Applied> {
    let path = budgets_file_path();
    let runtime = RuntimeNodes::global().all();
    let mut cached = APPLIED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((cached_path, runtime_count, applied)) = cached.as_ref()
        && *cached_path == path
        && *runtime_count == runtime.len()
    {
        return Arc::clone(applied);
    }
    let applied = Arc::new(
        path.as_deref()
            .map_or_else(Applied::default, |path| apply(path, &runtime)),
    );
    *cached = Some((path, runtime.len(), Arc::clone(&applied)));
    applied
}

fn apply(path: &Path, runtime: &[&'static RuntimeNode]) -> Applied {
    let file = match BudgetsFile::load(path) {
        Ok(file) => file,
        Err(errors) => {
            return Applied {
                budgets: HashMap::new(),
                alerts: Vec::new(),
                use_: Some(BudgetsFileUse {
                    path: path.display().to_string(),
                    errors: errors.diagnostics,
                    warnings: Vec::new(),
                }),
            };
        }
    };
    let nodes: Vec<NodeBudgetInput> = (registered().into_iter().map(Node::meta))
        .chain(runtime.iter().map(|node| node.meta()))
        .map(NodeBudgetInput::from)
        .collect();
    let resolution = file.resolve(&nodes, false);
    Applied {
        alerts: file.alerts.clone(),
        budgets: resolution
            .budgets
            .into_iter()
            .map(|resolved| (resolved.node, (resolved.budget, resolved.source)))
            .collect(),
        use_: Some(BudgetsFileUse {
            path: path.display().to_string(),
            errors: resolution.errors,
            warnings: resolution.warnings,
        }),
    }
}
