//! Node 6, `contradiction_detection`: quantitative claims that disagree, guarded by a breaker.

use super::embedding::{Embeddings, words};
use super::{Faults, Guarded, NodeFailure, Segment, simulate_work};

/// Two statements about the same indicator that cannot both hold.
#[derive(Debug)]
pub(crate) struct Contradiction {
    pub(crate) first: usize,
    pub(crate) second: usize,
    pub(crate) subject: String,
    pub(crate) kind: ContradictionKind,
    pub(crate) similarity: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContradictionKind {
    /// One says it rises, the other that it falls.
    OpposingDirection,
    /// One says it rises, the other that it will not.
    Negation,
    /// Both say it rises, to targets far apart for the same year.
    InconsistentTarget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// A quantitative statement: `<subject> will [not] <increase|decrease> [... to N%] [by YEAR]`.
#[derive(Debug)]
struct Claim {
    segment: usize,
    subject: String,
    direction: Direction,
    negated: bool,
    target: Option<u32>,
    year: Option<u16>,
}

/// Targets closer than this (percentage points) are the same target, rounded differently.
const TARGET_GAP: u32 = 10;
/// Below this similarity two sentences are not about the same thing, whatever their subject.
const TOPIC_SIMILARITY: f32 = 0.2;

/// Extracts quantitative claims and compares the claims about the same subject; the segments'
/// embeddings confirm that the two sentences are about the same topic.
#[instrument_runtime::budget(p95 = "8ms", p99 = "12ms")]
#[instrument_runtime::circuit_breaker(
    name = "contradiction_detection",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = contradiction_detection_fallback
)]
pub(crate) fn contradiction_detection(
    segments: &[Segment<'_>],
    embeddings: &Embeddings,
    faults: Faults,
) -> Result<Vec<Contradiction>, NodeFailure> {
    simulate_work("contradiction_detection");
    faults.check(Guarded::ContradictionDetection)?;
    let mut claims: Vec<Claim> = segments
        .iter()
        .enumerate()
        .filter_map(|(index, segment)| claim(index, segment.text))
        .collect();
    claims.sort_by(|a, b| a.subject.cmp(&b.subject).then(a.segment.cmp(&b.segment)));
    let mut found = Vec::new();
    for group in claims.chunk_by(|a, b| a.subject == b.subject) {
        for (at, first) in group.iter().enumerate() {
            for second in &group[at + 1..] {
                let Some(kind) = conflict(first, second) else {
                    continue;
                };
                let similarity = embeddings.similarity(first.segment, second.segment);
                if similarity >= TOPIC_SIMILARITY {
                    found.push(Contradiction {
                        first: first.segment,
                        second: second.segment,
                        subject: first.subject.clone(),
                        kind,
                        similarity,
                    });
                }
            }
        }
    }
    Ok(found)
}

/// While `contradiction_detection`'s breaker is open: no contradiction found.
#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn contradiction_detection_fallback(
    _segments: &[Segment<'_>],
    _embeddings: &Embeddings,
    _faults: Faults,
) -> Result<Vec<Contradiction>, NodeFailure> {
    Ok(Vec::new())
}

fn claim(segment: usize, text: &str) -> Option<Claim> {
    let lower = flat_lowercase(text);
    let will = lower.find(" will ")?;
    // `Thanks to the new aqueducts, drinking water coverage will increase.`
    let subject_start = lower[..will].rfind(',').map_or(0, |comma| comma + 1);
    let subject = concept_key(&lower[subject_start..will]);
    if subject.is_empty() {
        return None;
    }
    let mut rest = lower[will + " will ".len()..]
        .split_whitespace()
        .map(|word| word.trim_end_matches(['.', ',', ';']));
    let mut verb = rest.next()?;
    let negated = verb == "not";
    if negated {
        verb = rest.next()?;
    }
    let direction = match verb {
        "increase" | "rise" | "grow" | "expand" => Direction::Up,
        "decrease" | "fall" | "decline" | "drop" | "reduce" => Direction::Down,
        _ => return None,
    };
    let (mut target, mut year, mut previous) = (None, None, "");
    for word in rest {
        match previous {
            "to" => target = target.or(word.strip_suffix('%').and_then(|n| n.parse().ok())),
            "by" => year = year.or(word.parse().ok().filter(|year| (2000..2100).contains(year))),
            _ => {}
        }
        previous = word;
    }
    Some(Claim {
        segment,
        subject,
        direction,
        negated,
        target,
        year,
    })
}

fn conflict(a: &Claim, b: &Claim) -> Option<ContradictionKind> {
    if a.negated && b.negated {
        return None;
    }
    if a.direction != b.direction {
        // `will not increase` and `will decrease` agree.
        return (!a.negated && !b.negated).then_some(ContradictionKind::OpposingDirection);
    }
    if a.negated != b.negated {
        return Some(ContradictionKind::Negation);
    }
    match (a.target, b.target) {
        (Some(x), Some(y)) if x.abs_diff(y) >= TARGET_GAP && a.year == b.year => {
            Some(ContradictionKind::InconsistentTarget)
        }
        _ => None,
    }
}

/// Words that carry no identity in a concept: articles, connectors, modals, comparatives,
/// directions and currency words. `Higher vaccination coverage` and `vaccination coverage will
/// increase` are the same concept.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "with",
    "and",
    "or",
    "from",
    "into",
    "its",
    "their",
    "this",
    "that",
    "which",
    "will",
    "shall",
    "must",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "more",
    "less",
    "higher",
    "lower",
    "greater",
    "better",
    "increase",
    "increases",
    "increased",
    "improve",
    "improves",
    "improved",
    "rise",
    "reduce",
    "reduced",
    "decrease",
    "cop",
    "usd",
    "us",
    "pesos",
    "million",
    "billion",
    "thousand",
    "several",
    "new",
];

/// The text in lower case, each run of whitespace (a wrapped line's break included) made one
/// space, so that phrases match across the lines of a paragraph.
pub(crate) fn flat_lowercase(text: &str) -> String {
    let mut flat = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !flat.is_empty() {
            flat.push(' ');
        }
        flat.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
    flat
}

/// A comparable key for a phrase: its lower-case content words; numbers and amounts left out.
pub(crate) fn concept_key(phrase: &str) -> String {
    let mut key = String::new();
    for word in words(phrase) {
        let word = word.to_ascii_lowercase();
        if word.bytes().any(|byte| byte.is_ascii_digit()) || STOP_WORDS.contains(&word.as_str()) {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&word);
    }
    key
}
