//! Scalars of the budgets file: tolerances and counts, and "did you mean" suggestions.
//! (Durations are read by `instrument_duration`, the parser `#[budget]` uses.)
//!
//! Tolerances read as in `#[budget]`, so a budget moves between the code and the file unchanged;
//! messages are worded as the attribute's.

/// A tolerance as a fraction: `5%` or `0.05`, from 0% to 100%.
pub(super) fn tolerance(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, percent) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), true),
        None => (text, false),
    };
    let Some(value) = number
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && number.starts_with(|c: char| c.is_ascii_digit()))
    else {
        return Err(format!(
            "expected a tolerance like `10%` or `0.1`, found `{text}`"
        ));
    };
    let fraction = if percent { value / 100.0 } else { value };
    if fraction > 1.0 {
        // `tolerance: 5` most likely means five percent, not 500%.
        return Err(if !percent && value <= 100.0 {
            format!(
                "tolerance must be between 0% and 100%, found `{text}`; a number without `%` is a \
                 fraction: write `{text}%` or `{}`",
                value / 100.0
            )
        } else {
            format!("tolerance must be between 0% and 100%, found `{text}`")
        });
    }
    Ok(fraction)
}

/// A count of calls: `100`.
pub(super) fn count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.bytes().all(|byte| byte.is_ascii_digit())
        && let Ok(count) = text.parse()
    {
        return Ok(count);
    }
    Err(format!(
        "expected a whole number of calls like `100`, found `{text}`"
    ))
}

/// The candidate closest to `word`, when close enough to be a typo of it: at most one edit per
/// three characters (at least one), ignoring case; ties go to the earlier candidate.
///
/// The work is bounded whatever the input: words longer than [`MAX_SUGGESTED_LEN`] get no
/// suggestion, a candidate whose length alone puts it too far is skipped without comparing, and
/// the comparisons stop after [`MAX_SUGGESTION_CELLS`] cells of the edit-distance table.
pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let length = word.chars().count();
    if length > MAX_SUGGESTED_LEN {
        return None;
    }
    let mut cells_left = MAX_SUGGESTION_CELLS;
    let mut best: Option<(usize, &str)> = None;
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
        let distance = edit_distance(&word, &candidate.to_lowercase());
        if distance <= allowed && best.is_none_or(|(closest, _)| distance < closest) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Longer words are not typos of a node name or key worth suggesting for.
const MAX_SUGGESTED_LEN: usize = 64;
/// The edit-distance work one suggestion may do: a few milliseconds, against any number of
/// candidates.
const MAX_SUGGESTION_CELLS: usize = 4_000_000;

/// Insertions, deletions, substitutions and swaps of neighbours turning `a` into `b`
/// (optimal string alignment distance).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two back, one back, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_as_percent_or_fraction() {
        assert_eq!(tolerance("5%"), Ok(0.05));
        assert_eq!(tolerance("0.05"), Ok(0.05));
        assert_eq!(tolerance("2.5 %"), Ok(0.025));
        assert_eq!(tolerance("0%"), Ok(0.0));
        assert_eq!(tolerance("100%"), Ok(1.0));
        assert_eq!(tolerance("1"), Ok(1.0));
    }

    #[test]
    fn bad_tolerances() {
        assert_eq!(
            tolerance("five"),
            Err("expected a tolerance like `10%` or `0.1`, found `five`".to_owned())
        );
        assert_eq!(
            tolerance("-5%"),
            Err("expected a tolerance like `10%` or `0.1`, found `-5%`".to_owned())
        );
        assert_eq!(
            tolerance("150%"),
            Err("tolerance must be between 0% and 100%, found `150%`".to_owned())
        );
        assert_eq!(
            tolerance("5"),
            Err(
                "tolerance must be between 0% and 100%, found `5`; a number without `%` is a \
                 fraction: write `5%` or `0.05`"
                    .to_owned()
            )
        );
        assert_eq!(
            tolerance("NaN%"),
            Err("expected a tolerance like `10%` or `0.1`, found `NaN%`".to_owned())
        );
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(count("100"), Ok(100));
        assert_eq!(count("0"), Ok(0));
        for text in ["1.5", "-1", "+3", "ten", ""] {
            assert_eq!(
                count(text),
                Err(format!(
                    "expected a whole number of calls like `100`, found `{text}`"
                ))
            );
        }
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("p59", "p95"), 1);
        assert_eq!(edit_distance("tolerence", "tolerance"), 1);
        assert_eq!(edit_distance("", "max"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean_only_for_close_words() {
        let keys = [
            "p50",
            "p90",
            "p95",
            "p99",
            "max",
            "tolerance",
            "min_samples",
        ];
        assert_eq!(did_you_mean("tolerence", keys), Some("tolerance"));
        assert_eq!(did_you_mean("P95", keys), Some("p95"));
        assert_eq!(did_you_mean("tolernace", keys), Some("tolerance"));
        assert_eq!(did_you_mean("p995", keys), Some("p95"));
        assert_eq!(did_you_mean("minsamples", keys), Some("min_samples"));
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(did_you_mean("latency", keys), None);
    }

    #[test]
    fn suggestions_do_bounded_work() {
        assert_eq!(
            did_you_mean(&"p".repeat(65), ["p".repeat(65).as_str()]),
            None
        );
        // Candidates past the work limit are not compared: the close one comes too late.
        let far: Vec<String> = (0..200_000).map(|i| format!("node_{i:06}")).collect();
        let candidates = far.iter().map(String::as_str).chain(["embedding"]);
        assert_eq!(did_you_mean("embeding", candidates), None);
        let candidates = far.iter().take(10).map(String::as_str).chain(["embedding"]);
        assert_eq!(did_you_mean("embeding", candidates), Some("embedding"));
    }
}
