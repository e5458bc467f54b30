//! "Did you mean": the one policy for suggesting a key or a name close to a mistyped one.
//!
//! `#[budget(p59 = "5ms")]` and `p59: 5ms` in `performance_budgets.yaml` are the same typo and get
//! the same suggestion, so both read their keys' suggestions (and the budgets file its node
//! names') from here. The distance is [`strsim::osa_distance`]: insertions, deletions,
//! substitutions, and a swap of two neighbours counted as one edit (`nmae` -> `name`).

/// Longer words are not typos of a key or a node name worth suggesting for.
const MAX_SUGGESTED_LEN: usize = 64;
/// The edit-distance work one suggestion may do (cells of the distance table, about the length
/// of the word times a candidate's): a few milliseconds, against any number of candidates.
const MAX_SUGGESTION_CELLS: usize = 4_000_000;

/// The candidate closest to `word`, when close enough to be a typo of it: at most one edit per
/// three characters of the longer of the two (at least one), ignoring case. On a tie, a candidate
/// made of the same letters wins (`p59` is `p95` swapped, not `p50` mistyped), then the earlier.
///
/// The work is bounded whatever the input: a word over 64 characters gets no suggestion, a
/// candidate whose length alone puts it too far is skipped without comparing, and the
/// comparisons stop after a fixed budget of work, so a file naming thousands of nodes stays fast.
///
/// ```
/// use instrument_duration::suggest::closest;
///
/// let keys = ["p50", "p90", "p95", "p99", "max", "tolerance", "min_samples"];
/// assert_eq!(closest("tolerence", keys), Some("tolerance"));
/// assert_eq!(closest("p59", keys), Some("p95"));
/// assert_eq!(closest("P95", keys), Some("p95"));
/// assert_eq!(closest("colour", keys), None);
/// ```
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let length = word.chars().count();
    if length > MAX_SUGGESTED_LEN {
        return None;
    }
    let mut cells_left = MAX_SUGGESTION_CELLS;
    // (distance, not made of the same letters): smaller is closer.
    let mut best: Option<((usize, bool), &str)> = None;
    for candidate in candidates {
        let other = candidate.chars().count();
        let allowed = (length.max(other) / 3).max(1);
        if length.abs_diff(other) > allowed {
            continue;
        }
        let Some(left) = cells_left.checked_sub(length * other) else {
            break;
        };
        cells_left = left;
        let lowered = candidate.to_lowercase();
        let distance = strsim::osa_distance(&word, &lowered);
        let rank = (distance, !same_letters(&word, &lowered));
        if distance <= allowed && best.is_none_or(|(closest, _)| rank < closest) {
            best = Some((rank, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Whether two words are made of the same letters (`p59` and `p95`): on a tie, the likelier typo.
fn same_letters(left: &str, right: &str) -> bool {
    let sorted = |word: &str| {
        let mut letters: Vec<char> = word.chars().collect();
        letters.sort_unstable();
        letters
    };
    sorted(left) == sorted(right)
}

#[cfg(test)]
mod tests {
    use super::closest;

    const BUDGET_KEYS: [&str; 7] = [
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        "tolerance",
        "min_samples",
    ];

    #[test]
    fn a_swap_of_neighbours_is_one_edit() {
        // What the policy relies on: strsim's OSA distance counts a swap as one edit
        // (Levenshtein would count two).
        assert_eq!(strsim::osa_distance("p59", "p95"), 1);
        assert_eq!(strsim::osa_distance("nmae", "name"), 1);
        assert_eq!(strsim::osa_distance("tolerence", "tolerance"), 1);
        assert_eq!(strsim::osa_distance("inflight", "in_flight"), 1);
        assert_eq!(strsim::osa_distance("", "max"), 3);
        assert_eq!(strsim::osa_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn only_close_words_are_suggested() {
        assert_eq!(closest("tolerence", BUDGET_KEYS), Some("tolerance"));
        assert_eq!(closest("P95", BUDGET_KEYS), Some("p95"));
        assert_eq!(closest("tolernace", BUDGET_KEYS), Some("tolerance"));
        assert_eq!(closest("p995", BUDGET_KEYS), Some("p95"));
        assert_eq!(closest("minsamples", BUDGET_KEYS), Some("min_samples"));
        assert_eq!(closest("min_sample", BUDGET_KEYS), Some("min_samples"));
        assert_eq!(closest("colour", BUDGET_KEYS), None);
        assert_eq!(closest("latency", BUDGET_KEYS), None);
        assert_eq!(closest("nmae", ["name", "is_failure"]), Some("name"));
    }

    #[test]
    fn a_swap_wins_a_tie() {
        // `p59` is one edit from `p50`, `p95` and `p99`; swapped letters are the likelier typo.
        assert_eq!(closest("p59", BUDGET_KEYS), Some("p95"));
        // No swap among the ties: the earlier candidate.
        assert_eq!(closest("p9", BUDGET_KEYS), Some("p90"));
    }

    #[test]
    fn suggestions_do_bounded_work() {
        assert_eq!(closest(&"p".repeat(65), ["p".repeat(65).as_str()]), None);
        // Candidates past the work limit are not compared: the close one comes too late.
        let far: Vec<String> = (0..200_000).map(|i| format!("node_{i:06}")).collect();
        let candidates = far.iter().map(String::as_str).chain(["embedding"]);
        assert_eq!(closest("embeding", candidates), None);
        let candidates = far.iter().take(10).map(String::as_str).chain(["embedding"]);
        assert_eq!(closest("embeding", candidates), Some("embedding"));
    }
}
