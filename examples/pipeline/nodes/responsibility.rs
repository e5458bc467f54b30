//! Node 5, `responsibility_detection`: institutions bound to act, guarded by a breaker.

use super::{Faults, Guarded, NodeFailure, Segment, simulate_work};

/// An institution named as responsible for something.
#[derive(Debug)]
pub(crate) struct Responsibility {
    pub(crate) segment: usize,
    pub(crate) entity: String,
    pub(crate) verb: String,
}

/// Words that make a capitalized name an institution.
const ENTITY_HEADS: &[&str] = &[
    "Secretariat",
    "Office",
    "Council",
    "Utility",
    "Institute",
    "Agency",
    "Committee",
    "Government",
    "Ministry",
    "Directorate",
    "Ombudsman",
];
/// Lower-case words allowed inside a name: `Office of the Municipal Ombudsman`.
const NAME_CONNECTORS: &[&str] = &["of", "for", "the", "de"];
const MODALS: &[&str] = &["will", "shall", "must"];
const RESPONSIBILITY_VERBS: &[&str] = &[
    "coordinates",
    "leads",
    "oversees",
    "manages",
    "supervises",
    "finances",
];

/// Finds institutions (capitalized names with an institutional head word, possibly several
/// joined by `and`) followed by an obligation: a modal and a verb, `is responsible for`, or a
/// managing verb.
#[instrument_runtime::budget(p95 = "10ms", p99 = "15ms")]
#[instrument_runtime::circuit_breaker(
    name = "responsibility_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = responsibility_detection_fallback
)]
pub(crate) fn responsibility_detection(
    segments: &[Segment<'_>],
    faults: Faults,
) -> Result<Vec<Responsibility>, NodeFailure> {
    simulate_work("responsibility_detection");
    faults.check(Guarded::ResponsibilityDetection)?;
    let mut found = Vec::new();
    let mut tokens = Vec::new();
    let mut names = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        tokens.clear();
        tokens.extend(
            segment
                .text
                .split_whitespace()
                .map(|token| token.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
                .filter(|token| !token.is_empty()),
        );
        let mut at = 0;
        while at < tokens.len() {
            if !is_capitalized(tokens[at]) {
                at += 1;
                continue;
            }
            names.clear();
            let mut end = name_end(&tokens, at);
            names.push(at..end);
            // `The Secretariat of Health and the Office of Planning must ...`
            while tokens.get(end) == Some(&"and") {
                let next = end + 1 + usize::from(tokens.get(end + 1) == Some(&"the"));
                if !tokens.get(next).is_some_and(|token| is_capitalized(token)) {
                    break;
                }
                end = name_end(&tokens, next);
                names.push(next..end);
            }
            if let Some(verb) = obligation(&tokens[end..]) {
                for name in &names {
                    let name = &tokens[name.clone()];
                    if name.iter().any(|word| ENTITY_HEADS.contains(word)) {
                        let name = name.strip_prefix(&["The"]).unwrap_or(name);
                        found.push(Responsibility {
                            segment: index,
                            entity: name.join(" "),
                            verb: verb.to_owned(),
                        });
                    }
                }
            }
            at = end;
        }
    }
    Ok(found)
}

/// While `responsibility_detection`'s breaker is open: no institution found, so no axis earns
/// the feasibility points of a responsible one.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn responsibility_detection_fallback(
    _segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Vec<Responsibility>, NodeFailure> {
    Ok(Vec::new())
}

fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// The end of the capitalized name starting at `start`.
fn name_end(tokens: &[&str], start: usize) -> usize {
    let mut end = start + 1;
    loop {
        let mut next = end;
        while tokens
            .get(next)
            .is_some_and(|token| NAME_CONNECTORS.contains(token))
        {
            next += 1;
        }
        match tokens.get(next) {
            Some(token) if is_capitalized(token) => end = next + 1,
            _ => return end,
        }
    }
}

/// The verb of an obligation at the start of `rest`, if there is one.
fn obligation<'a>(rest: &[&'a str]) -> Option<&'a str> {
    match rest {
        [modal, verb, ..] if MODALS.contains(modal) => {
            // `must jointly monitor`: skip one adverb.
            let verb = if verb.ends_with("ly") {
                rest.get(2).copied()?
            } else {
                verb
            };
            (verb != "not").then_some(verb)
        }
        ["is" | "are", "responsible", ..] => Some("responsible"),
        [verb, ..] if RESPONSIBILITY_VERBS.contains(verb) => Some(verb),
        _ => None,
    }
}
