//! Every export is a pure function of the snapshot (and the budget verdicts): the report at exit
//! and [`export_all`] only take the snapshot and write what these functions return.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

mod alerts;
pub(crate) mod atomic_file;
#[cfg(any(feature = "http", feature = "tower"))]
pub(crate) mod endpoint;
mod grafana;
mod html;
#[cfg(feature = "http")]
pub(crate) mod http;
pub(crate) mod json;
pub(crate) mod passport;
mod prometheus;

pub use alerts::alerting_rules;
pub use atomic_file::write_atomically;
#[cfg(any(feature = "http", feature = "tower"))]
pub use endpoint::respond;
pub use grafana::grafana_dashboard;
pub use html::dashboard_html;
#[cfg(feature = "http")]
pub use http::{MetricsServer, serve_metrics};
pub use json::{
    HISTOGRAM_ENCODING, LATENCY_HISTOGRAMS_SCHEMA, PHASE_METRICS_SCHEMA, latency_histograms_json,
    phase_metrics_json,
};
pub use passport::{
    PASSPORT_SCHEMA, Passport, PassportLatency, PassportNode, PassportSummary, RunEnvironment,
    Threshold, passport, passport_json,
};
pub use prometheus::{openmetrics_text, prometheus_text};

use crate::read::budget::{BudgetReport, check_budgets};
use crate::read::snapshot::{Snapshot, snapshot};

/// Settings shared by the exporters.
///
/// ```
/// let options = instrument_runtime::export::ExportOptions::default();
/// assert_eq!(options.prefix, "instrument_");
/// assert_eq!(options.buckets_ms.first(), Some(&1.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExportOptions {
    /// Prefix of every metric name (default `instrument_`).
    pub prefix: String,
    /// Upper bounds of the latency histogram buckets, in milliseconds (default 1, 2, 5, 10, 20,
    /// 50, 100, 200, 500, 1000, 2000, 5000).
    pub buckets_ms: Vec<f64>,
    /// Bucket bounds for particular nodes, by node name, instead of `buckets_ms`.
    pub node_buckets_ms: BTreeMap<String, Vec<f64>>,
    /// File names not to write, e.g. `performance_dashboard.html`. [`EXPORTS_OFF_ENV`] adds to it.
    pub disabled: BTreeSet<String>,
}

/// Comma-separated file names the report at exit and [`export_all`] do not write, e.g.
/// `INSTRUMENT_EXPORTS_OFF=performance_dashboard.html,resource_usage.jsonl`.
pub const EXPORTS_OFF_ENV: &str = "INSTRUMENT_EXPORTS_OFF";

static OPTIONS: Mutex<Option<ExportOptions>> = Mutex::new(None);

/// Sets the options the report at exit and [`export_all`] use.
///
/// ```
/// use instrument_runtime::export::{ExportOptions, set_export_options};
///
/// set_export_options(ExportOptions { prefix: "pipeline_".into(), ..ExportOptions::default() });
/// # set_export_options(ExportOptions::default());
/// ```
pub fn set_export_options(options: ExportOptions) {
    *OPTIONS.lock().unwrap_or_else(PoisonError::into_inner) = Some(options);
}

/// The options in effect: [`set_export_options`]'s (or the defaults), with the files named in
/// [`EXPORTS_OFF_ENV`] disabled.
pub(crate) fn export_options() -> ExportOptions {
    let mut options = OPTIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default();
    if let Ok(off) = std::env::var(EXPORTS_OFF_ENV) {
        for name in off
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if !file_names().any(|known| known == name) {
                crate::record::env::warn_once(
                    &format!("{EXPORTS_OFF_ENV}={name}"),
                    &format!(
                        "instrument: ignoring `{name}` in {EXPORTS_OFF_ENV}: not an export; the \
                         exports are {}",
                        file_names().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            options.disabled.insert(name.to_owned());
        }
    }
    options
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            prefix: "instrument_".to_owned(),
            buckets_ms: vec![
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
            ],
            node_buckets_ms: BTreeMap::new(),
            disabled: BTreeSet::new(),
        }
    }
}

impl ExportOptions {
    /// The bucket bounds for one node.
    pub fn buckets_for(&self, node: &str) -> &[f64] {
        self.node_buckets_ms.get(node).unwrap_or(&self.buckets_ms)
    }
}

/// One file an export writes: its name in the report directory and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// File name, e.g. `performance_metrics.prom`.
    pub file_name: &'static str,
    /// The whole file.
    pub contents: String,
}

/// Renders one export.
type Render = fn(&Snapshot, &BudgetReport, &ExportOptions) -> String;

/// Every export, by file name, in a fixed order.
const EXPORTS: [(&str, Render); 7] = [
    ("phase_metrics.json", |snapshot, _, _| {
        phase_metrics_json(snapshot)
    }),
    ("latency_histograms.json", |snapshot, _, _| {
        latency_histograms_json(snapshot)
    }),
    ("performance_metrics.prom", prometheus_text),
    ("prometheus_alerting_rules.yaml", |snapshot, _, options| {
        alerting_rules(snapshot, options)
    }),
    (html::FILE_NAME, |snapshot, budgets, _| {
        dashboard_html(snapshot, budgets)
    }),
    (grafana::FILE_NAME, |snapshot, _, options| {
        grafana_dashboard(snapshot, options)
    }),
    ("performance_passport.json", |snapshot, budgets, _| {
        crate::export::passport::passport_json(snapshot, budgets)
    }),
];

/// The file names of every export, switched off or not.
pub(crate) fn file_names() -> impl Iterator<Item = &'static str> {
    EXPORTS.iter().map(|&(file_name, _)| file_name)
}

/// Every export of one snapshot, in a fixed order.
///
/// ```
/// let snapshot = instrument_runtime::snapshot();
/// let budgets = instrument_runtime::check_budgets(&snapshot);
/// let artifacts = instrument_runtime::export::artifacts(&snapshot, &budgets, &Default::default());
/// assert_eq!(artifacts[0].file_name, "phase_metrics.json");
/// ```
pub fn artifacts(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
) -> Vec<Artifact> {
    EXPORTS
        .iter()
        .map(|&(file_name, render)| Artifact {
            file_name,
            contents: render(snapshot, budgets, options),
        })
        .collect()
}

/// Takes a snapshot and writes every export not disabled into `dir`, each atomically; returns
/// the paths. A switched-off export's file left in `dir` by an earlier run is removed, so the
/// directory never mixes this run's files with an older one's.
///
/// # Errors
///
/// The first error creating `dir`, writing a file or removing an old one; files written before
/// it stay.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("instrument-export-doc-{}", std::process::id()));
/// let written = instrument_runtime::export::export_all(&dir).unwrap();
/// assert!(written.iter().all(|path| path.exists()));
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn export_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let snapshot = snapshot();
    let budgets = check_budgets(&snapshot);
    write_artifacts(&snapshot, &budgets, &export_options(), dir)
}

pub(crate) fn write_artifacts(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    options: &ExportOptions,
    dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (file_name, render) in EXPORTS {
        let path = dir.join(file_name);
        if options.disabled.contains(file_name) {
            match std::fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => continue,
            }
        }
        write_atomically(&path, render(snapshot, budgets, options).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
