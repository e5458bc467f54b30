//! The keyword table: each attribute and each of its arguments declared once.
//!
//! Parsing, the "did you mean" candidates, each attribute's accepted keys and the check of the
//! attributes' documentation all read [`Key`]; the plan asks for arguments by [`Key`], so nothing
//! downstream matches on a key's spelling. The keys of a budget come from
//! [`instrument_duration::BudgetKey`], the list the budgets file reads too.

use instrument_duration::BudgetKey;
use syn::Attribute;

/// One of our attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Timed,
    Counted,
    Budget,
    CircuitBreaker,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Timed,
        Kind::Counted,
        Kind::Budget,
        Kind::CircuitBreaker,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Timed => "timed",
            Kind::Counted => "counted",
            Kind::Budget => "budget",
            Kind::CircuitBreaker => "circuit_breaker",
        }
    }

    /// An argument as it is typically written, for messages about a malformed one.
    pub(crate) fn example(self) -> &'static str {
        match self {
            Kind::Budget => "p95 = \"50ms\"",
            Kind::CircuitBreaker => "failure_threshold = 5",
            Kind::Timed | Kind::Counted => "name = \"...\"",
        }
    }

    /// The names of the arguments the attribute accepts, in table order.
    pub(crate) fn keys(self) -> Vec<&'static str> {
        Key::ALL
            .iter()
            .filter(|key| key.accepted_by(self))
            .map(|key| key.name())
            .collect()
    }

    /// Which of our attributes `attr` is: `#[timed]`, `#[instrument_runtime::timed]`, ...
    pub(crate) fn of(attr: &Attribute) -> Option<Kind> {
        let path = attr.path();
        let last = path.segments.last()?;
        let crate_prefixed = path.segments.len() == 2
            && matches!(
                path.segments[0].ident.to_string().as_str(),
                "instrument_runtime" | "instrument_macros"
            );
        if path.segments.len() != 1 && !crate_prefixed {
            return None;
        }
        Kind::ALL.into_iter().find(|kind| last.ident == kind.name())
    }
}

/// How an argument is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `key = value`.
    KeyValue,
    /// `key` alone.
    Flag,
}

/// Declares [`Key`] from one table, so a key's variant, spelling, form and attributes cannot
/// drift apart: a row is all there is to add.
macro_rules! arguments {
    ($($key:ident = $name:expr, $form:ident, [$($kind:ident),+];)+) => {
        /// An argument of our attributes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Key {
            $($key,)+
        }

        impl Key {
            /// Every argument, in the order messages list them.
            pub(crate) const ALL: &[Key] = &[$(Key::$key),+];

            /// The argument as written.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $(Key::$key => $name,)+
                }
            }

            /// Whether it takes a value.
            pub(crate) const fn form(self) -> Form {
                match self {
                    $(Key::$key => Form::$form,)+
                }
            }

            /// Whether `#[kind]` takes it.
            pub(crate) const fn accepted_by(self, kind: Kind) -> bool {
                match self {
                    $(Key::$key => matches!(kind, $(Kind::$kind)|+),)+
                }
            }
        }
    };
}

// The table, in the order messages list the keys: `name` and `is_failure` first, as every
// attribute takes them, then each attribute's own.
arguments! {
    Name = "name", KeyValue, [Timed, Counted, Budget, CircuitBreaker];
    IsFailure = "is_failure", KeyValue, [Timed, Counted, Budget, CircuitBreaker];
    InFlight = "in_flight", Flag, [Counted];
    P50 = BudgetKey::P50.name(), KeyValue, [Budget];
    P90 = BudgetKey::P90.name(), KeyValue, [Budget];
    P95 = BudgetKey::P95.name(), KeyValue, [Budget];
    P99 = BudgetKey::P99.name(), KeyValue, [Budget];
    Max = BudgetKey::Max.name(), KeyValue, [Budget];
    Tolerance = BudgetKey::Tolerance.name(), KeyValue, [Budget];
    MinSamples = BudgetKey::MinSamples.name(), KeyValue, [Budget];
    FailureThreshold = "failure_threshold", KeyValue, [CircuitBreaker];
    SuccessThreshold = "success_threshold", KeyValue, [CircuitBreaker];
    Timeout = "timeout", KeyValue, [CircuitBreaker];
    Recovery = "recovery", KeyValue, [CircuitBreaker];
    Fallback = "fallback", KeyValue, [CircuitBreaker];
    HalfOpenProbes = "half_open_probes", KeyValue, [CircuitBreaker];
    FailureRate = "failure_rate", KeyValue, [CircuitBreaker];
    Window = "window", KeyValue, [CircuitBreaker];
    MinCalls = "min_calls", KeyValue, [CircuitBreaker];
    SlowCall = "slow_call", KeyValue, [CircuitBreaker];
    HealthyAbove = "healthy_above", KeyValue, [CircuitBreaker];
    FailingBelow = "failing_below", KeyValue, [CircuitBreaker];
}

impl Key {
    /// The argument of `#[budget]` that sets `key`. Exhaustive, so a key added to the budgets
    /// file's list does not compile until the table has its row.
    pub(crate) const fn budget(key: BudgetKey) -> Key {
        match key {
            BudgetKey::P50 => Key::P50,
            BudgetKey::P90 => Key::P90,
            BudgetKey::P95 => Key::P95,
            BudgetKey::P99 => Key::P99,
            BudgetKey::Max => Key::Max,
            BudgetKey::Tolerance => Key::Tolerance,
            BudgetKey::MinSamples => Key::MinSamples,
        }
    }

    /// The argument of `#[kind]` written `name`.
    pub(crate) fn find(kind: Kind, name: &str) -> Option<Key> {
        Key::ALL
            .iter()
            .copied()
            .find(|key| key.name() == name && key.accepted_by(kind))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use instrument_duration::BudgetKey;
    use proc_macro2::{Ident, Span};
    use quote::quote;

    use super::{Form, Key, Kind};
    use crate::args::parse_primary;
    use crate::errors::Errors;

    /// Every row of the table is parsed by every attribute that accepts it, and refused by the
    /// others: nothing besides the table has to know a key for it to work.
    #[test]
    fn every_key_parses_where_it_is_accepted() {
        for kind in Kind::ALL {
            for &key in Key::ALL {
                let ident = Ident::new(key.name(), Span::call_site());
                let written = match key.form() {
                    Form::KeyValue => quote!(#ident = 1),
                    Form::Flag => quote!(#ident),
                };
                let mut errors = Errors::default();
                let attr = parse_primary(kind, written, &mut errors);
                let accepted = kind.keys().contains(&key.name());
                assert_eq!(
                    accepted,
                    key.accepted_by(kind),
                    "{key:?} in #[{}]",
                    kind.name()
                );
                assert_eq!(
                    attr.args.has(key),
                    accepted,
                    "{key:?} in #[{}]",
                    kind.name()
                );
                assert_eq!(
                    errors.is_empty(),
                    accepted,
                    "{key:?} in #[{}]: {:?}",
                    kind.name(),
                    errors.messages()
                );
            }
        }
    }

    #[test]
    fn an_attribute_accepts_each_name_once() {
        for kind in Kind::ALL {
            let mut keys = kind.keys();
            let count = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), count, "#[{}]", kind.name());
        }
    }

    /// `#[budget]` and the budgets file read one list of keys; `#[budget]` adds only what code
    /// alone can say.
    #[test]
    fn budget_takes_the_keys_of_the_budgets_file() {
        let code_only = [Key::Name.name(), Key::IsFailure.name()];
        let mut expected: Vec<&str> = code_only.to_vec();
        expected.extend(BudgetKey::NAMES);
        assert_eq!(Kind::Budget.keys(), expected);
        for &key in BudgetKey::ALL {
            assert_eq!(Key::budget(key).name(), key.name());
        }
    }

    /// The `## ` headings of each attribute's `# Arguments` documentation name exactly the keys
    /// it accepts.
    #[test]
    fn the_documentation_lists_every_argument() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace");
        let mut sources = Vec::new();
        for dir in ["instrument-runtime/src", "instrument-macros/src"] {
            rust_files(&crates.join(dir), &mut sources);
        }
        for kind in Kind::ALL {
            let documented = sources
                .iter()
                .find_map(|source| documented_arguments(source, kind.name()))
                .unwrap_or_else(|| {
                    panic!(
                        "no `# Arguments` documentation found for #[{}]",
                        kind.name()
                    )
                });
            let mut expected = kind.keys();
            expected.sort_unstable();
            assert_eq!(documented, expected, "#[{}]", kind.name());
        }
    }

    fn rust_files(dir: &Path, files: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("a source directory")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                rust_files(&path, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }

    /// The arguments named in the `## ` headings of the `# Arguments` section of the doc comment
    /// on `pub use instrument_macros::{attribute};` or `pub fn {attribute}(`, sorted.
    fn documented_arguments(source: &str, attribute: &str) -> Option<Vec<&'static str>> {
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        let item = lines.iter().position(|line| {
            *line == format!("pub use instrument_macros::{attribute};")
                || line.starts_with(&format!("pub fn {attribute}("))
        })?;
        let start = lines[..item]
            .iter()
            .rposition(|line| !(line.starts_with("///") || line.starts_with("#[")))
            .map_or(0, |index| index + 1);
        let docs: Vec<&str> = lines[start..item]
            .iter()
            .filter_map(|line| line.strip_prefix("///"))
            .map(str::trim)
            .collect();
        let section = docs.iter().position(|line| *line == "# Arguments")?;
        let mut names: Vec<&'static str> = docs[section + 1..]
            .iter()
            .take_while(|line| !line.starts_with("# "))
            .filter_map(|line| line.strip_prefix("## "))
            .flat_map(|heading| heading.split('`').skip(1).step_by(2))
            .map(|name| {
                Key::ALL
                    .iter()
                    .map(|key| key.name())
                    .find(|known| *known == name)
                    .unwrap_or_else(|| {
                        panic!("`{name}` is documented for #[{attribute}] but is no argument")
                    })
            })
            .collect();
        names.sort_unstable();
        Some(names)
    }
}
