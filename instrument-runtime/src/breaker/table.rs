//! Every breaker in the binary, set up once from the sites `inventory` collected: one breaker per
//! name, shared by every function naming it, after checking that they agree on its settings.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use crate::breaker::config::BreakerConfig;
use crate::breaker::site::{BreakerSite, BreakerSiteRef};
use crate::breaker::{Breaker, BreakerState, ForcedState};
use crate::record::clock;

/// The breakers, sorted by name; or what is wrong with their declarations. Building never panics,
/// so the lock is never poisoned: every thread that uses a breaker gets the same message.
static BREAKERS: LazyLock<Result<Vec<&'static Breaker>, String>> = LazyLock::new(build);

fn sites() -> Vec<&'static BreakerSite> {
    let mut sites: Vec<&'static BreakerSite> = inventory::iter::<BreakerSiteRef>
        .into_iter()
        .map(|site| site.0)
        .collect();
    sites.sort_by_key(|site| (site.decl.name, site.decl.file, site.decl.line));
    sites
}

fn build() -> Result<Vec<&'static Breaker>, String> {
    let sites = sites();
    let conflicts = conflicts_among(&sites);
    if !conflicts.is_empty() {
        return Err(describe_conflicts(&conflicts));
    }
    let mut breakers = Vec::new();
    for group in sites.chunk_by(|left, right| left.decl.name == right.decl.name) {
        let breaker: &'static Breaker = Box::leak(Box::new(Breaker::new(
            group[0].decl.name,
            group[0].decl.config,
            group.to_vec(),
            clock::unix_ms_at,
        )));
        for site in group {
            site.breaker
                .store(std::ptr::from_ref(breaker).cast_mut(), Ordering::Release);
        }
        breakers.push(breaker);
    }
    Ok(breakers)
}

/// Sets up every breaker, first use only. Panics, naming each function and the settings that
/// differ, when functions sharing a breaker name declare different settings.
pub(crate) fn all() -> &'static [&'static Breaker] {
    match &*BREAKERS {
        Ok(breakers) => breakers,
        Err(conflicts) => panic!("{conflicts}"),
    }
}

#[cold]
#[inline(never)]
pub(crate) fn resolve(site: &'static BreakerSite) -> &'static Breaker {
    all();
    let breaker = site.breaker.load(Ordering::Acquire);
    // SAFETY: `build` stored a leaked breaker into every registered site.
    unsafe { breaker.as_ref() }.expect("every registered site is resolved by `build`")
}

/// Functions that name one breaker but declare different settings for it.
#[derive(Debug, PartialEq)]
pub(crate) struct ConfigConflict {
    name: &'static str,
    /// Each function (as `file:line (module::function)`) with its settings.
    functions: Vec<(String, BreakerConfig)>,
}

pub(crate) fn conflicts_among(sites: &[&BreakerSite]) -> Vec<ConfigConflict> {
    sites
        .chunk_by(|left, right| left.decl.name == right.decl.name)
        .filter(|group| {
            group
                .iter()
                .any(|site| site.decl.config != group[0].decl.config)
        })
        .map(|group| ConfigConflict {
            name: group[0].decl.name,
            functions: group
                .iter()
                .map(|site| {
                    let decl = site.decl;
                    (
                        format!(
                            "{}:{} ({}::{})",
                            decl.file, decl.line, decl.module_path, decl.function
                        ),
                        decl.config,
                    )
                })
                .collect(),
        })
        .collect()
}

/// One paragraph per conflict: where each function is and the settings on which they differ.
pub(crate) fn describe_conflicts(conflicts: &[ConfigConflict]) -> String {
    let mut text = String::new();
    for conflict in conflicts {
        let settings: Vec<serde_json::Map<String, serde_json::Value>> = conflict
            .functions
            .iter()
            .map(|(_, config)| match serde_json::to_value(config) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            })
            .collect();
        let differing: Vec<&String> = settings[0]
            .keys()
            .filter(|key| {
                settings
                    .iter()
                    .any(|map| map.get(*key) != settings[0].get(*key))
            })
            .collect();
        let _ = writeln!(
            text,
            "circuit breaker `{}` is declared with different settings; every function naming it must declare the same:",
            conflict.name
        );
        for ((function, _), map) in conflict.functions.iter().zip(&settings) {
            let values: Vec<String> = differing
                .iter()
                .map(|key| format!("{key} = {}", map[*key]))
                .collect();
            let _ = writeln!(text, "  {function}: {}", values.join(", "));
        }
    }
    text
}

/// A handle on one circuit breaker, to read it or to force its state.
///
/// ```
/// use instrument_runtime::{BreakerState, CircuitOpen};
///
/// #[instrument_runtime::circuit_breaker(name = "handle_doc")]
/// fn call() -> Result<(), CircuitOpen> {
///     Ok(())
/// }
///
/// let breaker = instrument_runtime::breaker("handle_doc").unwrap();
/// breaker.force_open();
/// assert!(call().is_err());
/// breaker.reset();
/// assert!(call().is_ok());
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// ```
#[derive(Clone, Copy)]
pub struct CircuitBreaker(&'static Breaker);

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.0.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// Its settings.
    pub fn config(&self) -> &'static BreakerConfig {
        &self.0.config
    }

    /// Where it stands now.
    pub fn state(&self) -> BreakerState {
        self.0.load().state()
    }

    /// Opens the breaker and keeps it open, probing never, until [`force_closed`](Self::force_closed)
    /// or [`reset`](Self::reset). Returns the state it left.
    pub fn force_open(&self) -> BreakerState {
        self.0.force(ForcedState::Open, clock::breaker_now_ns())
    }

    /// Closes the breaker and keeps it closed, whatever fails, until [`force_open`](Self::force_open)
    /// or [`reset`](Self::reset). Returns the state it left.
    pub fn force_closed(&self) -> BreakerState {
        self.0.force(ForcedState::Closed, clock::breaker_now_ns())
    }

    /// Back to a fresh closed state that opens on failures again: counts of consecutive failures
    /// and the window are cleared (the lifetime counters are kept). Returns the state it left.
    pub fn reset(&self) -> BreakerState {
        self.0.force(ForcedState::Reset, clock::breaker_now_ns())
    }

    /// Everything known about the breaker now.
    pub fn snapshot(&self) -> crate::breaker::snapshot::BreakerSnapshot {
        self.0.snapshot(clock::breaker_now_ns())
    }

    /// Its health now, for a health endpoint.
    pub fn health(&self) -> crate::breaker::snapshot::BreakerHealth {
        self.snapshot().health
    }
}

/// The breaker with this name, if a function in the binary declares it.
///
/// ```
/// #[instrument_runtime::circuit_breaker(name = "breaker_doc")]
/// fn call() -> std::io::Result<()> {
///     Ok(())
/// }
///
/// assert_eq!(instrument_runtime::breaker("breaker_doc").unwrap().name(), "breaker_doc");
/// assert!(instrument_runtime::breaker("no_such_breaker").is_none());
/// ```
pub fn breaker(name: &str) -> Option<CircuitBreaker> {
    all()
        .binary_search_by(|breaker| breaker.name.cmp(name))
        .ok()
        .map(|index| CircuitBreaker(all()[index]))
}

/// Every breaker's health, sorted by name: what a health endpoint serves.
///
/// ```
/// use instrument_runtime::breaker::Health;
///
/// #[instrument_runtime::circuit_breaker(name = "breaker_health_doc")]
/// fn call() -> std::io::Result<()> {
///     Ok(())
/// }
///
/// call().unwrap();
/// let health = instrument_runtime::breaker::breaker_health();
/// let this = health.iter().find(|breaker| breaker.name == "breaker_health_doc").unwrap();
/// assert_eq!(this.status, Health::Healthy);
/// ```
pub fn breaker_health() -> Vec<crate::breaker::snapshot::BreakerHealth> {
    let now_ns = clock::breaker_now_ns();
    all()
        .iter()
        .map(|breaker| breaker.snapshot(now_ns).health)
        .collect()
}

#[cfg(all(test, not(instrument_loom)))]
mod tests {
    use super::*;
    use crate::breaker::site::BreakerDecl;
    use crate::record::node::{Instruments, Node, NodeMeta};

    static NODE: Node = Node::new(NodeMeta {
        name: "node",
        path: None,
        module_path: "app",
        file: "src/app.rs",
        line: 1,
        instruments: Instruments {
            timed: false,
            counted: true,
            in_flight: false,
            budget: false,
        },
        budget: None,
    });

    const fn decl(
        name: &'static str,
        function: &'static str,
        config: BreakerConfig,
    ) -> BreakerDecl {
        BreakerDecl {
            name,
            function,
            module_path: "app",
            file: "src/app.rs",
            line: 10,
            fallback: None,
            config,
        }
    }

    const STRICT: BreakerConfig = BreakerConfig {
        failure_threshold: 3,
        ..BreakerConfig::DEFAULT
    };
    // Statics rather than leaked boxes: Miri reports a box leaked by a finished test.
    static DECLS: [BreakerDecl; 4] = [
        decl("embedding", "embed", BreakerConfig::DEFAULT),
        decl("embedding", "embed_batch", STRICT),
        decl("ner", "tag", BreakerConfig::DEFAULT),
        decl("ner", "tag_batch", BreakerConfig::DEFAULT),
    ];
    static SITES: [BreakerSite; 4] = [
        BreakerSite::new(&DECLS[0], &NODE),
        BreakerSite::new(&DECLS[1], &NODE),
        BreakerSite::new(&DECLS[2], &NODE),
        BreakerSite::new(&DECLS[3], &NODE),
    ];

    #[test]
    fn functions_sharing_a_breaker_must_agree_and_the_report_names_what_differs() {
        let sites: Vec<&BreakerSite> = SITES.iter().collect();
        let conflicts = conflicts_among(&sites);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(
            describe_conflicts(&conflicts),
            "circuit breaker `embedding` is declared with different settings; every function naming it must declare the same:\n\
             \x20 src/app.rs:10 (app::embed): failure_threshold = 5\n\
             \x20 src/app.rs:10 (app::embed_batch): failure_threshold = 3\n"
        );
    }
}
