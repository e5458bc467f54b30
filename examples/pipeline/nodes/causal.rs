//! Node 9, `causal_detection`: causal connectives and what they link, guarded by a breaker.

use super::contradiction::{concept_key, flat_lowercase};
use super::{Faults, Guarded, NodeFailure, Segment, simulate_work};

/// `cause -> effect`, as concept keys.
#[derive(Debug)]
pub(crate) struct CausalLink {
    pub(crate) cause: String,
    pub(crate) effect: String,
    pub(crate) connective: &'static str,
}

/// Which side of the connective the cause is on.
#[derive(Clone, Copy, Debug)]
enum CauseSide {
    /// `cause leads to effect`
    Before,
    /// `effect because of cause`
    After,
}

/// Longer connectives first, so that `because of` wins over `because` at the same position.
const CONNECTIVES: &[(&str, CauseSide)] = &[
    ("as a result of", CauseSide::After),
    ("contributes to", CauseSide::Before),
    ("in order to", CauseSide::Before),
    ("because of", CauseSide::After),
    ("results in", CauseSide::Before),
    ("thanks to", CauseSide::After),
    ("therefore", CauseSide::Before),
    ("leads to", CauseSide::Before),
    ("lead to", CauseSide::Before),
    ("because", CauseSide::After),
    ("so that", CauseSide::Before),
    ("due to", CauseSide::After),
];

/// Finds the first causal connective of each sentence and the clauses on either side of it.
#[instrument_runtime::budget(p95 = "7ms", p99 = "11ms")]
#[instrument_runtime::circuit_breaker(
    name = "causal_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = causal_detection_fallback
)]
pub(crate) fn causal_detection(
    segments: &[Segment<'_>],
    faults: Faults,
) -> Result<Vec<CausalLink>, NodeFailure> {
    simulate_work("causal_detection");
    faults.check(Guarded::CausalDetection)?;
    let mut found = Vec::new();
    for segment in segments {
        let lower = flat_lowercase(segment.text);
        let sentence = lower.trim_end_matches(['.', '!', '?']);
        let Some((at, connective, side)) = first_connective(sentence) else {
            continue;
        };
        let before = &sentence[..at];
        let after = &sentence[at + connective.len()..];
        let (cause, effect) = if before.trim().is_empty() {
            // `Because of heavy rains, the works were delayed.`
            let Some((cause, effect)) = after.split_once(',') else {
                continue;
            };
            (cause, effect)
        } else {
            let left = before.rsplit([',', ';']).next().unwrap_or(before);
            let right = after.split([',', ';']).next().unwrap_or(after);
            match side {
                CauseSide::Before => (left, right),
                CauseSide::After => (right, left),
            }
        };
        let (cause, effect) = (concept_key(cause), concept_key(effect));
        if !cause.is_empty() && !effect.is_empty() && cause != effect {
            found.push(CausalLink {
                cause,
                effect,
                connective,
            });
        }
    }
    Ok(found)
}

/// While `causal_detection`'s breaker is open: no causal link, so the theory of change is empty.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn causal_detection_fallback(
    _segments: &[Segment<'_>],
    _faults: Faults,
) -> Result<Vec<CausalLink>, NodeFailure> {
    Ok(Vec::new())
}

/// The earliest connective standing as whole words: where, which, and where its cause is.
fn first_connective(sentence: &str) -> Option<(usize, &'static str, CauseSide)> {
    let bytes = sentence.as_bytes();
    CONNECTIVES
        .iter()
        .filter_map(|&(connective, side)| {
            sentence
                .match_indices(connective)
                .map(|(at, _)| at)
                .find(|&at| {
                    let end = at + connective.len();
                    (at == 0 || bytes[at - 1] == b' ')
                        && bytes
                            .get(end)
                            .is_none_or(|&byte| byte == b' ' || byte == b',')
                })
                .map(|at| (at, connective, side))
        })
        .min_by_key(|&(at, _, _)| at)
}
