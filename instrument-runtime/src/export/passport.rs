//! `performance_passport.json`: what ran, where, how fast, and whether it held its budgets, with a
//! hash that stays the same from run to run while the verdicts and the structure do.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::export::json::to_json;
use crate::format::rfc3339;
use crate::read::budget::{BudgetReport, Quantile, VerdictStatus};
use crate::read::budgets_file::BudgetSource;
use crate::read::snapshot::Snapshot;
use crate::record::alloc::NodeMemory;
use crate::record::node::Budget;
use crate::record::procfs::kib_field;

/// The `schema` field of `performance_passport.json`, bumped on incompatible changes.
///
/// ```
/// assert_eq!(instrument_runtime::export::PASSPORT_SCHEMA, "instrument.passport/1");
/// ```
pub const PASSPORT_SCHEMA: &str = "instrument.passport/1";

/// The machine and build a run happened on: volatile, so outside the passport's hash.
///
/// ```
/// let environment = instrument_runtime::export::RunEnvironment::current();
/// assert!(environment.cores >= 1);
/// assert!(environment.rustc_version.starts_with("rustc "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEnvironment {
    /// Operating system, as Rust names it (`linux`, `macos`, `windows`).
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The CPU's model name, where the system says (`/proc/cpuinfo` on Linux).
    pub cpu_model: Option<String>,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Physical memory in bytes, where the system says (`/proc/meminfo` on Linux).
    pub memory_bytes: Option<u64>,
    /// The compiler that built the runtime (`rustc -V`).
    pub rustc_version: String,
    /// The commit the program was built from, as the build or its CI says: `GIT_COMMIT`,
    /// `GITHUB_SHA` or `CI_COMMIT_SHA` in the environment of the run, else in the environment
    /// the runtime was compiled in; none when neither says. No process is ever started to find
    /// it (a `git` run in the current directory would name whatever repository the program
    /// happens to run in).
    pub git_commit: Option<String>,
}

impl RunEnvironment {
    /// This process's environment, read once.
    pub fn current() -> Self {
        static CURRENT: OnceLock<RunEnvironment> = OnceLock::new();
        CURRENT
            .get_or_init(|| Self {
                os: std::env::consts::OS.to_owned(),
                arch: std::env::consts::ARCH.to_owned(),
                cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                    .ok()
                    .and_then(|info| field(&info, "model name")),
                cores: std::thread::available_parallelism().map_or(1, usize::from),
                memory_bytes: std::fs::read_to_string("/proc/meminfo")
                    .ok()
                    .and_then(|info| kib_field(&info, "MemTotal:"))
                    .and_then(|kib| kib.checked_mul(1024)),
                rustc_version: env!("INSTRUMENT_RUSTC_VERSION").to_owned(),
                git_commit: git_commit(),
            })
            .clone()
    }
}

/// The value of `name: value` in a `/proc` file.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

fn git_commit() -> Option<String> {
    let at_build = [
        option_env!("GIT_COMMIT"),
        option_env!("GITHUB_SHA"),
        option_env!("CI_COMMIT_SHA"),
    ];
    commit_of(
        ["GIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok())
            .chain(at_build.into_iter().flatten().map(str::to_owned)),
    )
}

/// The first of `candidates` that is a full commit id, lower-cased.
fn commit_of(candidates: impl IntoIterator<Item = String>) -> Option<String> {
    let is_commit = |id: &str| id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit());
    candidates
        .into_iter()
        .map(|id| id.trim().to_ascii_lowercase())
        .find(|id| is_commit(id))
}

/// `performance_passport.json`. Everything but `run_id`, `timestamp`, `environment` and the
/// measured figures goes into `passport_hash`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Passport {
    /// [`PASSPORT_SCHEMA`].
    pub schema: String,
    /// The run's id ([`run_id`](crate::record::run_id)), as in every file the run writes.
    pub run_id: String,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub timestamp: String,
    /// The machine and build.
    pub environment: RunEnvironment,
    /// One entry per node, sorted by name.
    pub nodes: Vec<PassportNode>,
    /// Every budgeted statistic's allowance.
    pub thresholds: Vec<Threshold>,
    /// The budgets, judged.
    pub summary: PassportSummary,
    /// SHA-256, in hex, of the canonical form: schema, node names and instruments, budgets and
    /// their sources, thresholds, each node's verdict and the summary, as compact JSON.
    pub passport_hash: String,
}

/// One node in the passport.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassportNode {
    /// Node name.
    pub name: String,
    /// Calls that ended (measured: not in the hash).
    pub calls: u64,
    /// Latency quantiles in milliseconds, for timed nodes that were called (measured: not in the
    /// hash).
    pub latency_ms: Option<PassportLatency>,
    /// Allocations per call, bytes per call and peak live bytes, when the counting allocator
    /// is installed (measured: not in the hash).
    #[serde(default)]
    pub memory: Option<NodeMemory>,
    /// The budget in force.
    pub budget: Option<Budget>,
    /// Where the budget came from.
    pub budget_source: Option<BudgetSource>,
    /// The budget's verdict.
    pub verdict: Option<VerdictStatus>,
}

/// Latency quantiles of a node, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassportLatency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest call.
    pub max: f64,
}

/// The most one budgeted statistic may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Node name.
    pub node: String,
    /// The statistic.
    pub quantile: Quantile,
    /// The budget, in nanoseconds.
    pub budget_ns: u64,
    /// Budget plus tolerance, in nanoseconds.
    pub allowed_ns: u64,
}

/// The budgets, judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassportSummary {
    /// Nodes in the run.
    pub nodes: usize,
    /// Budgeted nodes judged.
    pub judged: usize,
    /// Judged nodes within budget.
    pub passed: usize,
    /// Judged nodes over budget.
    pub failed: usize,
    /// Budgeted nodes with too few calls to judge.
    pub not_exercised: usize,
    /// `pass` when no judged node is over budget, else `fail`.
    pub verdict: String,
}

/// The passport of a snapshot, on the machine it runs on.
///
/// ```
/// #[instrument_runtime::budget(name = "passport_doc", p95 = "1s", min_samples = 1)]
/// fn step() {}
///
/// step();
/// let snapshot = instrument_runtime::snapshot();
/// let budgets = instrument_runtime::check_budgets(&snapshot);
/// let first = instrument_runtime::export::passport(&snapshot, &budgets, &instrument_runtime::export::RunEnvironment::current());
/// step(); // another call: the figures change, the verdicts and structure do not
/// let snapshot = instrument_runtime::snapshot();
/// let second = instrument_runtime::export::passport(&snapshot, &instrument_runtime::check_budgets(&snapshot), &first.environment);
/// assert_eq!(first.run_id, instrument_runtime::record::run_id()); // one id per process
/// assert_eq!(first.run_id, second.run_id);
/// assert_eq!(first.passport_hash, second.passport_hash);
/// assert_eq!(first.passport_hash.len(), 64);
/// ```
pub fn passport(
    snapshot: &Snapshot,
    budgets: &BudgetReport,
    environment: &RunEnvironment,
) -> Passport {
    let ms = |ns: u64| Duration::from_nanos(ns).as_secs_f64() * 1e3;
    let nodes: Vec<PassportNode> = snapshot
        .nodes
        .iter()
        .map(|node| PassportNode {
            name: node.name.clone(),
            calls: node.calls,
            latency_ms: node.latency.map(|latency| PassportLatency {
                p50: ms(latency.p50_ns),
                p95: ms(latency.p95_ns),
                p99: ms(latency.p99_ns),
                max: ms(latency.max_ns),
            }),
            memory: node.memory,
            budget: node.budget,
            budget_source: node.budget_source.clone(),
            verdict: node.verdict.as_ref().map(|verdict| verdict.status),
        })
        .collect();
    let thresholds = snapshot
        .nodes
        .iter()
        .filter_map(|node| Some((node, node.budget?)))
        .flat_map(|(node, budget)| {
            Quantile::ALL.into_iter().filter_map(move |quantile| {
                let budget_ns = quantile.budget_in(&budget)?;
                Some(Threshold {
                    node: node.name.clone(),
                    quantile,
                    budget_ns,
                    allowed_ns: budget.allowed_ns(budget_ns),
                })
            })
        })
        .collect();
    let summary = PassportSummary {
        nodes: snapshot.nodes.len(),
        judged: budgets.judged,
        passed: budgets.passed,
        failed: budgets.failed,
        not_exercised: budgets.not_exercised.len(),
        verdict: if budgets.is_pass() { "pass" } else { "fail" }.to_owned(),
    };
    let mut passport = Passport {
        schema: PASSPORT_SCHEMA.to_owned(),
        run_id: snapshot.run_id.clone(),
        timestamp: rfc3339(UNIX_EPOCH + Duration::from_millis(snapshot.taken_at_unix_ms)),
        environment: environment.clone(),
        nodes,
        thresholds,
        summary,
        passport_hash: String::new(),
    };
    passport.passport_hash = canonical_hash(&passport);
    passport
}

/// The passport as written: two-space indented JSON ending in a newline.
///
/// ```
/// let snapshot = instrument_runtime::snapshot();
/// let json = instrument_runtime::export::passport_json(&snapshot, &instrument_runtime::check_budgets(&snapshot));
/// let passport: instrument_runtime::export::Passport = serde_json::from_str(&json).unwrap();
/// assert_eq!(passport.schema, instrument_runtime::export::PASSPORT_SCHEMA);
/// ```
pub fn passport_json(snapshot: &Snapshot, budgets: &BudgetReport) -> String {
    to_json(&passport(snapshot, budgets, &RunEnvironment::current()))
}

/// SHA-256 of what must match between two runs of the same code on the same data.
fn canonical_hash(passport: &Passport) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        schema: &'a str,
        nodes: Vec<CanonicalNode<'a>>,
        thresholds: &'a [Threshold],
        summary: &'a PassportSummary,
    }
    #[derive(Serialize)]
    struct CanonicalNode<'a> {
        name: &'a str,
        budget: Option<&'a Budget>,
        budget_source: Option<&'a BudgetSource>,
        verdict: Option<VerdictStatus>,
    }
    let canonical = Canonical {
        schema: &passport.schema,
        nodes: passport
            .nodes
            .iter()
            .map(|node| CanonicalNode {
                name: &node.name,
                budget: node.budget.as_ref(),
                budget_source: node.budget_source.as_ref(),
                verdict: node.verdict,
            })
            .collect(),
        thresholds: &passport.thresholds,
        summary: &passport.summary,
    };
    let bytes = serde_json::to_vec(&canonical).expect("the canonical form serializes");
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment() -> RunEnvironment {
        RunEnvironment {
            os: "linux".to_owned(),
            arch: "x86_64".to_owned(),
            cpu_model: Some("a CPU".to_owned()),
            cores: 2,
            memory_bytes: Some(1 << 30),
            rustc_version: "rustc 1.0.0".to_owned(),
            git_commit: None,
        }
    }

    fn run(p95_ms: u64, observed_ms: u64, calls: u64) -> Passport {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "taken_at_unix_ms": 1_700_000_000_000u64 + calls,
            "host": format!("host-{calls}"),
            "run_id": format!("run-{calls}"),
            "conflicts": [],
            "nodes": [{
                "name": "embedding", "module_path": "app", "file": "src/app.rs", "line": 3,
                "instruments": { "timed": true, "counted": false, "in_flight": false, "budget": true },
                "budget": { "p50_ns": null, "p90_ns": null, "p95_ns": p95_ms * 1_000_000,
                            "p99_ns": null, "max_ns": null, "tolerance": 0.1, "min_samples": 1 },
                "calls": calls, "errors": 0, "panics": 0, "cancelled": 0, "in_flight": null,
                "latency": { "min_ns": 1, "mean_ns": 1, "max_ns": observed_ms * 1_000_000,
                             "p50_ns": 1, "p90_ns": 1, "p95_ns": observed_ms * 1_000_000,
                             "p99_ns": observed_ms * 1_000_000, "p999_ns": observed_ms * 1_000_000 },
                "verdict": null,
            }],
        }))
        .unwrap();
        let mut snapshot = snapshot;
        let node = &mut snapshot.nodes[0];
        node.verdict = Some(crate::read::budget::judge(
            &node.budget.unwrap(),
            node.calls,
            node.latency.as_ref(),
        ));
        let budgets = crate::read::budget::check_budgets(&snapshot);
        passport(&snapshot, &budgets, &environment())
    }

    #[test]
    fn the_hash_ignores_what_varies_between_runs_and_follows_verdicts_and_budgets() {
        let first = run(50, 40, 100);
        let other_figures = run(50, 45, 120);
        assert_ne!(first.run_id, other_figures.run_id);
        assert_ne!(first.timestamp, other_figures.timestamp);
        assert_eq!(first.passport_hash, other_figures.passport_hash);

        let mut elsewhere = environment();
        elsewhere.cores = 64;
        assert_eq!(
            first.passport_hash,
            canonical_hash(&Passport {
                environment: elsewhere,
                ..first.clone()
            })
        );

        let failing = run(50, 60, 100);
        assert_eq!(failing.summary.verdict, "fail");
        assert_ne!(first.passport_hash, failing.passport_hash);
        assert_ne!(first.passport_hash, run(40, 30, 100).passport_hash);
    }

    #[test]
    fn thresholds_list_every_budgeted_statistic_with_its_allowance() {
        let passport = run(50, 40, 100);
        assert_eq!(
            passport.thresholds,
            [Threshold {
                node: "embedding".to_owned(),
                quantile: Quantile::P95,
                budget_ns: 50_000_000,
                allowed_ns: 55_000_000,
            }]
        );
        assert_eq!(passport.summary.passed, 1);
    }

    #[test]
    fn proc_fields_are_read_by_name() {
        let info = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nMemTotal:       2048 kB\n";
        assert_eq!(
            field(info, "model name").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
        assert_eq!(field(info, "nothing"), None);
    }
}
