//! Between runs: the Mann-Whitney rank test on one figure per run (a quantile of each run), with
//! its exact distribution, and the Hodges-Lehmann estimate of the ratio candidate ÷ baseline.
//!
//! Runs are the unit of evidence: what moves between two runs of one binary on a shared machine
//! (other jobs, CPU frequency, how fast a disk or a peer answers) is invisible inside one run, so
//! only the spread between runs can say whether a difference is more than that. The test assumes
//! the runs of each side are independent and alike (exchangeable); nothing about the shape of the
//! latencies. Ties (per-run quantiles are stored to 3 significant figures) get mid-ranks, and the
//! distribution is enumerated with them, so it stays exact.

/// Sides larger than this together use the normal approximation: the exact distribution costs
/// `n × total × rank sums`, and at this size the approximation is within a few thousandths.
const EXACT_UP_TO: usize = 60;

/// The probability that the rank sum of `candidate` is at least as extreme as observed, if both
/// sides come from one distribution: `(p of candidate this high or higher, p of this low or
/// lower)`. Both are 1 when a side is empty.
pub(crate) fn one_sided(baseline: &[f64], candidate: &[f64]) -> (f64, f64) {
    let (n, m) = (candidate.len(), baseline.len());
    if n == 0 || m == 0 {
        return (1.0, 1.0);
    }
    let ranks = doubled_mid_ranks(candidate, baseline);
    let observed: usize = ranks[..n].iter().sum();
    if n + m > EXACT_UP_TO {
        return normal_tails(&ranks, n, observed);
    }
    // ways[k][s]: subsets of k of the ranks seen so far whose doubled ranks sum to s.
    let top: usize = ranks.iter().sum();
    let mut ways = vec![vec![0f64; top + 1]; n + 1];
    ways[0][0] = 1.0;
    for (seen, &rank) in ranks.iter().enumerate() {
        for k in (1..=n.min(seen + 1)).rev() {
            let (lower, upper) = ways.split_at_mut(k);
            for (sum, count) in lower[k - 1].iter().enumerate().take(top + 1 - rank) {
                upper[0][sum + rank] += count;
            }
        }
    }
    let all: f64 = ways[n].iter().sum();
    let at_least: f64 = ways[n][observed..].iter().sum();
    let at_most: f64 = ways[n][..=observed].iter().sum();
    (at_least / all, at_most / all)
}

/// [`one_sided`] at its least significant over the full sets and every set with one run left
/// out, either side: a change called on these p-values holds without any one run, so one run
/// that the machine disturbed (a neighbour's build, a slow wake-up) can neither make a change
/// nor be the only evidence of one. A side of one run gives 1: without it there is no side.
pub(crate) fn one_sided_without_any_one(baseline: &[f64], candidate: &[f64]) -> (f64, f64) {
    let without = |side: &[f64], index: usize| -> Vec<f64> {
        side.iter()
            .enumerate()
            .filter_map(|(i, &value)| (i != index).then_some(value))
            .collect()
    };
    let dropped_baseline = (0..baseline.len()).map(|i| one_sided(&without(baseline, i), candidate));
    let dropped_candidate =
        (0..candidate.len()).map(|i| one_sided(baseline, &without(candidate, i)));
    dropped_baseline
        .chain(dropped_candidate)
        .fold(one_sided(baseline, candidate), |(high, low), (h, l)| {
            (high.max(h), low.max(l))
        })
}

/// Two-sided p-value: twice the smaller tail, at most 1.
pub(crate) fn two_sided(baseline: &[f64], candidate: &[f64]) -> f64 {
    let (high, low) = one_sided(baseline, candidate);
    (2.0 * high.min(low)).min(1.0)
}

/// The smallest two-sided p-value a change can be called on with `n` runs against `m`: twice
/// the one-sided p of the sides wholly apart, with one run left out of the side where that
/// weighs most ([`one_sided_without_any_one`]). 1 when a side has one run.
pub(crate) fn smallest_p(n: usize, m: usize) -> f64 {
    if n < 2 || m < 2 {
        return 1.0;
    }
    let fewest_orders = binomial(n + m - 1, n - 1).min(binomial(n + m - 1, m - 1));
    (2.0 / fewest_orders).min(1.0)
}

/// Runs per side needed, the other side having as many, for a two-sided p below `alpha`; at
/// most `MOST_RUNS_NEEDED`, whose smallest p is below 1e-15.
pub(crate) fn runs_needed(alpha: f64) -> usize {
    (1..MOST_RUNS_NEEDED)
        .find(|&k| smallest_p(k, k) < alpha)
        .unwrap_or(MOST_RUNS_NEEDED)
}

const MOST_RUNS_NEEDED: usize = 30;

/// The Hodges-Lehmann estimate of the ratio: the median of every candidate ÷ baseline pair.
/// `None` when a side is empty or a baseline figure is 0.
pub(crate) fn ratio(baseline: &[f64], candidate: &[f64]) -> Option<f64> {
    let mut ratios: Vec<f64> = candidate
        .iter()
        .flat_map(|c| baseline.iter().map(move |b| c / b))
        .collect();
    if ratios.is_empty() || ratios.iter().any(|r| !r.is_finite()) {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some(median_of_sorted(&ratios))
}

/// How far runs scatter on their own: the median, over the runs of both sides, of each run's
/// relative distance from its own side's median run (`|run ÷ median − 1|`). A side of one run has
/// nothing to scatter and adds nothing; `None` when neither side has two runs or a median is 0.
///
/// The median of the distances, not their mean, so one run that the machine slowed (a neighbour's
/// build) moves it little: the spread measured is the runs' usual one.
pub(crate) fn spread(baseline: &[f64], candidate: &[f64]) -> Option<f64> {
    let mut distances = Vec::new();
    for side in [baseline, candidate] {
        if side.len() < 2 {
            continue;
        }
        let mut sorted = side.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = median_of_sorted(&sorted);
        if middle <= 0.0 {
            return None;
        }
        distances.extend(side.iter().map(|run| (run / middle - 1.0).abs()));
    }
    if distances.is_empty() {
        return None;
    }
    distances.sort_by(f64::total_cmp);
    Some(median_of_sorted(&distances))
}

/// The median of sorted, non-empty values.
pub(crate) fn median_of_sorted(values: &[f64]) -> f64 {
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        f64::midpoint(values[middle - 1], values[middle])
    }
}

/// Twice the mid-rank of every value, candidate's first: integers, ties sharing their mean.
fn doubled_mid_ranks(candidate: &[f64], baseline: &[f64]) -> Vec<usize> {
    let values: Vec<f64> = candidate.iter().chain(baseline).copied().collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]].total_cmp(&values[order[start]]).is_eq() {
            end += 1;
        }
        // Ranks start+1..=end share their mean, (start + 1 + end) / 2; doubled, an integer.
        for &index in &order[start..end] {
            ranks[index] = start + 1 + end;
        }
        start = end;
    }
    ranks
}

#[allow(
    clippy::cast_precision_loss,
    reason = "rank sums of at most a few thousand runs"
)]
fn normal_tails(ranks: &[usize], n: usize, observed: usize) -> (f64, f64) {
    let total = ranks.len() as f64;
    let values: Vec<f64> = ranks.iter().map(|&r| r as f64 / 2.0).collect();
    let mean_rank = values.iter().sum::<f64>() / total;
    let variance_rank = values.iter().map(|r| (r - mean_rank).powi(2)).sum::<f64>() / total;
    let n = n as f64;
    let mean = n * mean_rank;
    let sd = (n * (total - n) / (total - 1.0) * variance_rank).sqrt();
    if sd == 0.0 {
        return (1.0, 1.0);
    }
    let w = observed as f64 / 2.0;
    // A half-rank continuity correction.
    let high = upper_tail((w - 0.5 - mean) / sd);
    let low = upper_tail((mean - w - 0.5) / sd);
    (high, low)
}

/// P(Z >= z) for a standard normal Z (Abramowitz and Stegun 7.1.26 on erfc, error < 1.5e-7).
fn upper_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "small counts of runs; f64 holds the binomials exactly far past them"
)]
fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wholly_apart_sides_give_the_smallest_p_of_their_sizes() {
        let low = [1.0, 2.0, 3.0, 4.0, 5.0];
        let high = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!(close(one_sided(&low, &high).0, 1.0 / 252.0));
        assert!(close(two_sided(&low, &high), 2.0 / 252.0));
        assert!(close(two_sided(&high, &low), 2.0 / 252.0));
        // Four against five wholly apart: 1 of the 126 orders.
        assert!(close(one_sided_without_any_one(&low, &high).0, 1.0 / 126.0));
        assert!(close(smallest_p(5, 5), 2.0 / 126.0));
        assert!(close(smallest_p(4, 4), 2.0 / 35.0));
        assert!(close(smallest_p(3, 9), 2.0 / 55.0));
        assert!(close(smallest_p(1, 9), 1.0));
        assert_eq!(runs_needed(0.05), 5);
        assert_eq!(runs_needed(0.01), 6);
    }

    #[test]
    fn one_run_can_neither_make_a_change_nor_be_its_only_evidence() {
        let baseline = [100.0, 101.0, 102.0, 103.0, 104.0];
        // Four runs just above the baseline's and one far above, as a run taken while the
        // machine was loaded: 23 of 25 pairs above, p = 0.016 for the full sets; without the
        // far run, 18 of 20, p = 0.032.
        let one_far = [103.5, 103.6, 104.5, 104.6, 900.0];
        assert!(close(one_sided(&baseline, &one_far).0, 4.0 / 252.0));
        assert!(close(
            one_sided_without_any_one(&baseline, &one_far).0,
            4.0 / 126.0
        ));
        // One pair out of order: significant with and without any one run.
        let one_pair = [103.5, 110.0, 111.0, 112.0, 113.0];
        let (high, _) = one_sided_without_any_one(&baseline, &one_pair);
        assert!(high < 0.025, "{high}");
        // Two pairs out of order, both from one run: without another run, 2 of 20 pairs.
        let two_pairs = [102.5, 110.0, 111.0, 112.0, 113.0];
        assert!(one_sided(&baseline, &two_pairs).0 < 0.025);
        assert!(one_sided_without_any_one(&baseline, &two_pairs).0 > 0.025);
    }

    #[test]
    fn interleaved_sides_are_not_significant() {
        let baseline = [1.0, 3.0, 5.0, 7.0, 9.0];
        let candidate = [2.0, 4.0, 6.0, 8.0, 10.0];
        // Rank sum 30 of 5 in 10: P(W >= 30) is 0.345 in the exact table.
        let (high, _) = one_sided(&baseline, &candidate);
        assert!((high - 0.345).abs() < 0.001, "{high}");
        assert!(two_sided(&baseline, &candidate) > 0.6);
    }

    #[test]
    fn ties_share_their_rank_and_the_distribution_stays_exact() {
        // Everything tied: no evidence either way.
        assert!(close(two_sided(&[5.0; 4], &[5.0; 4]), 1.0));
        // One tie across the sides: the highest candidate ranks cannot be wholly apart.
        let (high, _) = one_sided(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]);
        assert!(high > 1.0 / 20.0 && high < 3.0 / 20.0, "{high}");
    }

    #[test]
    fn the_normal_approximation_agrees_with_the_exact_distribution() {
        let baseline: Vec<f64> = (0..25).map(|i| f64::from(i) * 2.0).collect();
        let candidate: Vec<f64> = (0..25).map(|i| f64::from(i) * 2.0 + 9.0).collect();
        let (exact, _) = one_sided(&baseline, &candidate);
        let ranks = doubled_mid_ranks(&candidate, &baseline);
        let observed = ranks[..25].iter().sum();
        let (approximate, _) = normal_tails(&ranks, 25, observed);
        assert!(exact > 0.01 && exact < 0.1, "{exact}");
        assert!((exact - approximate).abs() < 0.005, "{exact} {approximate}");
        assert!(close(upper_tail(0.0), 0.5));
        assert!((upper_tail(1.959_964) - 0.025).abs() < 1e-6);
    }

    #[test]
    fn the_spread_is_the_usual_distance_of_a_run_from_its_sides_median() {
        // Distances 0.1, 0.05, 0, 0.05, 0.1 and 0.2, 0, 0, 0, 4 (one run five times slower):
        // their median, 0.05, is the runs' usual scatter, which the slow run hardly moves.
        let s = spread(
            &[90.0, 95.0, 100.0, 105.0, 110.0],
            &[80.0, 100.0, 100.0, 100.0, 500.0],
        )
        .unwrap();
        assert!(close(s, 0.05), "{s}");
        // A side of one run adds nothing; two of them leave nothing to measure.
        assert!(close(spread(&[100.0], &[90.0, 100.0, 110.0]).unwrap(), 0.1));
        assert_eq!(spread(&[100.0], &[130.0]), None);
        assert_eq!(spread(&[0.0, 0.0], &[1.0, 1.0]), None);
    }

    #[test]
    fn the_ratio_is_the_median_of_pairwise_ratios() {
        assert_eq!(ratio(&[100.0], &[130.0]), Some(1.3));
        let r = ratio(&[100.0, 110.0, 90.0], &[130.0, 143.0, 117.0]).unwrap();
        assert!(close(r, 1.3), "{r}");
        assert_eq!(ratio(&[], &[1.0]), None);
        assert_eq!(ratio(&[0.0], &[1.0]), None);
        assert!(close(median_of_sorted(&[1.0, 2.0, 4.0, 8.0]), 3.0));
    }
}
