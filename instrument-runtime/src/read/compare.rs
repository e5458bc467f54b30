//! Is a node slower than its baseline? Decided from the two full latency histograms.
//!
//! # The method
//!
//! One run's p95 is noisy: run the same code twice on a shared machine and the two p95s differ by
//! a few percent. So [`compare`] does not compare two numbers; it asks how far the quantile could
//! have moved by chance alone, given every call in both histograms, and calls a change only when
//! chance cannot explain it.
//!
//! - **What is compared**: one quantile (the median by default; the gate compares each of
//!   [`DEFAULT_QUANTILES`], the median and p95) as the ratio *candidate ÷ baseline*. A ratio of
//!   1.20 means 20% slower.
//! - **What is resampled**: each histogram on its own, as a bootstrap: a resample draws as many
//!   calls as the run had, with replacement, from that run's recorded calls. The quantile of the
//!   resampled candidate divided by the quantile of the resampled baseline is one possible ratio.
//!   Repeating this 2,000 times shows how much the ratio wobbles from sampling alone.
//! - **Which interval**: the bootstrap percentile interval: with 99% confidence, the middle 99% of
//!   the resampled ratios (from the 0.5th to the 99.5th percentile).
//! - **When a change is called**: [`Change::Slower`] only when the whole interval lies above
//!   `1 + tolerance` (its lower end is above 1.05 with a 5% tolerance), [`Change::Faster`] only
//!   when it lies below `1 - tolerance`. An interval inside the band is [`Change::Unchanged`];
//!   one that crosses an edge of the band is [`Change::Inconclusive`]: the runs cannot tell, and
//!   more calls would. Runs under `min_samples` calls are [`Change::TooFewSamples`].
//! - **Why this resists noise**: a run with few calls, or with a wide spread of latencies, gets a
//!   wide interval, so a small shift in it is never called; a large run gets a narrow one. The
//!   tolerance then absorbs what resampling cannot see: a whole run on a slower machine. A
//!   regression has to clear both, so a shift within the tolerance is almost never called, however
//!   many calls there are.
//!
//! The resampling is exact, and its cost does not grow with the number of calls: the `r`-th
//! smallest of `n` draws from a distribution is its inverse CDF at the `r`-th smallest of `n`
//! uniform draws, which is a Beta(`r`, `n - r + 1`) variable. So one resampled quantile is one
//! Beta draw and one binary search over the running counts, whatever `n` is: judging one quantile
//! of two million-call histograms (1,224 distinct values) takes 0.26 ms in a release build, and
//! 1.6 ms with 30,000 distinct values. The random numbers come from a generator seeded by the
//! inputs, so the same two histograms always give the same verdict.
//!
//! What it does not see: calls are treated as independent. Bursts of slow calls (a noisy
//! neighbour for a few seconds) make the interval too narrow; the tolerance is the margin for that.
//!
//! # Which question it answers
//!
//! Whether two sets of calls differ by more than their *sampling* noise: two code paths measured
//! side by side in one process, or one run's histogram against a model of it. It cannot see what
//! varies between runs of one binary (other jobs on the machine, CPU frequency, how fast a disk
//! or a peer answers), and on a shared machine that variation dominates: two runs of the same
//! binary differ by far more than this interval allows. Do not judge a run against another run
//! with it; `instrument-gate compare` judges several runs a side with a rank test on the runs'
//! quantiles, which measures that variation instead of ignoring it.
//!
//! # Measured error rates
//!
//! From this module's tests, with known truth: each run is 6,000 calls drawn independently from
//! one skewed distribution (a lognormal body around 100 µs, spread 0.3, plus 3% of calls on a slow
//! path around 300 µs), each value rounded to 3 significant figures as the histograms store it;
//! the candidate's calls are the same distribution scaled by the slowdown. Default options (99%
//! confidence, 5% tolerance, 2,000 resamples); p50 and p95 judged separately; 1,000 pairs of runs
//! per row.
//!
//! | truth | p50 called slower | p95 called slower |
//! | --- | --- | --- |
//! | equal | 0 of 1,000 | 0 of 1,000 |
//! | equal, tolerance 0% | 1 of 1,000 | 3 of 1,000 |
//! | 3% slower | 0 of 1,000 | 0 of 1,000 |
//! | 20% slower | 1,000 of 1,000 | 1,000 of 1,000 |
//!
//! No equal pair and no 3%-slower pair was called faster either, and 200 of 200 pairs 20% faster
//! were called faster. With a 0% tolerance the equal runs show the interval's own error rate,
//! which a 99% interval puts at 0.5% on each side: 0.1% and 0.3% above, 0% and 0.2% below.
//!
//! The tail needs more calls than the median. In a one-off run of the same harness with 4,000
//! calls per run, p95 missed 11 of 2,000 pairs 20% slower (called inconclusive). With 10% of
//! calls on the slow path, p95 falls where calls are sparse: 6,000 calls caught a 20% regression
//! in 115 of 200 pairs, and called the rest inconclusive, never unchanged.
//!
//! Short runs stay calibrated: in a one-off run of the harness with only 100 calls per run and no
//! tolerance, equal runs were called slower in 0.4% (p50), 0.3% (p95) and 0.6% (p99) of 2,000
//! pairs; with the 5% tolerance, in 0%, 0.05% and 0.3%.

use std::fmt;

use serde::{Deserialize, Serialize};

mod bootstrap;

use bootstrap::{Empirical, ratio_interval, seed};

/// The quantiles the gate compares by default: the median and the 95th percentile.
///
/// ```
/// use instrument_runtime::gate::{CompareOptions, DEFAULT_QUANTILES, compare};
/// let baseline = [(100, 50), (120, 50)];
/// for quantile in DEFAULT_QUANTILES {
///     let options = CompareOptions { quantile, ..CompareOptions::DEFAULT };
///     assert_eq!(compare(&baseline, &baseline, &options).quantile, quantile);
/// }
/// ```
pub const DEFAULT_QUANTILES: [f64; 2] = [0.50, 0.95];

/// How [`compare`] judges one quantile.
///
/// ```
/// use instrument_runtime::gate::CompareOptions;
/// let options = CompareOptions { quantile: 0.95, tolerance: 0.10, ..CompareOptions::default() };
/// assert_eq!(options.confidence, 0.99);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareOptions {
    /// The quantile compared, from 0 (fastest call) to 1 (slowest). Default 0.5.
    pub quantile: f64,
    /// The relative change accepted as noise: 0.05 lets the ratio range from 0.95 to 1.05.
    /// Default 0.05.
    pub tolerance: f64,
    /// The confidence of the ratio's interval, strictly between 0 and 1. Default 0.99.
    pub confidence: f64,
    /// Bootstrap resamples; more gives steadier interval ends. Default 2,000.
    pub resamples: u32,
    /// Calls each histogram needs before it is judged (at least 1 either way). Default 100.
    pub min_samples: u64,
}

impl CompareOptions {
    /// The default options, usable in `const` context.
    ///
    /// ```
    /// use instrument_runtime::gate::CompareOptions;
    /// const STRICT: CompareOptions = CompareOptions { tolerance: 0.02, ..CompareOptions::DEFAULT };
    /// assert_eq!(STRICT.quantile, 0.5);
    /// ```
    pub const DEFAULT: Self = Self {
        quantile: 0.5,
        tolerance: 0.05,
        confidence: 0.99,
        resamples: 2_000,
        min_samples: 100,
    };

    /// Checks every option's range, so a caller can report a bad value instead of panicking.
    ///
    /// # Errors
    ///
    /// A message naming the first option out of range and its value.
    ///
    /// ```
    /// use instrument_runtime::gate::CompareOptions;
    /// assert!(CompareOptions::DEFAULT.validate().is_ok());
    /// let bad = CompareOptions { confidence: 1.0, ..CompareOptions::DEFAULT };
    /// assert_eq!(bad.validate().unwrap_err(), "confidence must be above 0 and below 1, found 1");
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.quantile) {
            return Err(format!(
                "quantile must be from 0 to 1, found {}",
                self.quantile
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(format!(
                "tolerance must be 0 or more, found {}",
                self.tolerance
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(format!(
                "confidence must be above 0 and below 1, found {}",
                self.confidence
            ));
        }
        if self.resamples == 0 {
            return Err("resamples must be at least 1, found 0".to_owned());
        }
        Ok(())
    }
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The verdict on one quantile.
///
/// ```
/// use instrument_runtime::gate::Change;
/// assert_eq!(Change::TooFewSamples.to_string(), "too few samples");
/// assert_eq!(serde_json::to_string(&Change::Slower).unwrap(), "\"slower\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The ratio's whole interval is above `1 + tolerance`: a regression.
    Slower,
    /// The ratio's whole interval is below `1 - tolerance`.
    Faster,
    /// The ratio's whole interval is within `1 ± tolerance`.
    Unchanged,
    /// The interval crosses `1 - tolerance` or `1 + tolerance`: more calls are needed to tell.
    Inconclusive,
    /// A histogram has fewer calls than `min_samples`; the ratio, if any, is not judged.
    TooFewSamples,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Slower => "slower",
            Self::Faster => "faster",
            Self::Unchanged => "unchanged",
            Self::Inconclusive => "inconclusive",
            Self::TooFewSamples => "too few samples",
        })
    }
}

/// Candidate quantile ÷ baseline quantile, with its bootstrap interval.
///
/// ```
/// use instrument_runtime::gate::{CompareOptions, compare};
/// let ratio = compare(&[(100, 500)], &[(130, 500)], &CompareOptions::DEFAULT).ratio.unwrap();
/// assert_eq!((ratio.estimate, ratio.low, ratio.high), (1.3, 1.3, 1.3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The ratio of the two recorded quantiles.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// The comparison of one quantile of one node.
///
/// ```
/// use instrument_runtime::gate::{Change, CompareOptions, compare};
/// let comparison = compare(&[(100, 500)], &[], &CompareOptions::DEFAULT);
/// assert_eq!(comparison.change, Change::TooFewSamples);
/// assert_eq!((comparison.baseline_ns, comparison.candidate_ns), (Some(100), None));
/// assert_eq!(comparison.ratio, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The quantile compared.
    pub quantile: f64,
    /// The tolerance it was judged with.
    pub tolerance: f64,
    /// The confidence of the interval.
    pub confidence: f64,
    /// Calls in the baseline histogram.
    pub baseline_calls: u64,
    /// Calls in the candidate histogram.
    pub candidate_calls: u64,
    /// The baseline's quantile; `None` without calls.
    pub baseline_ns: Option<u64>,
    /// The candidate's quantile; `None` without calls.
    pub candidate_ns: Option<u64>,
    /// The ratio and its interval; `None` when either histogram has no calls.
    pub ratio: Option<Ratio>,
    /// The verdict.
    pub change: Change,
}

/// Judges whether `candidate` is slower or faster than `baseline` at `options.quantile`.
///
/// Each histogram is a list of `(value_ns, count)` pairs, a latency histogram's recorded values:
/// each distinct value with how many calls took it. Any order is accepted; a repeated value
/// adds up. A value of 0 counts as 1 ns in the ratio, so it stays finite.
///
/// The method: each histogram is bootstrapped on its own (a resample draws as many calls as the
/// run had, with replacement), giving `resamples` possible ratios of the resampled quantiles;
/// their middle `confidence` share is the ratio's interval. The candidate is [`Change::Slower`]
/// only when the whole interval is above `1 + tolerance`, and [`Change::Faster`] only when it is
/// below `1 - tolerance`, so a shift that sampling noise could explain is never called. Each
/// resampled quantile is drawn directly (a Beta draw and a binary search), so the cost does not
/// grow with the number of calls; the generator is seeded by the inputs, so equal inputs give
/// equal results.
///
/// # Panics
///
/// When an option is out of range ([`CompareOptions::validate`] says which).
///
/// ```
/// use instrument_runtime::gate::{Change, CompareOptions, compare};
/// // 1,000 calls spread over 100..=199 µs, then the same calls 25% slower.
/// let baseline: Vec<(u64, u64)> = (100..200).map(|us| (us * 1_000, 10)).collect();
/// let candidate: Vec<(u64, u64)> = baseline.iter().map(|&(ns, n)| (ns * 5 / 4, n)).collect();
/// let comparison = compare(&baseline, &candidate, &CompareOptions::DEFAULT);
/// assert_eq!(comparison.change, Change::Slower);
/// let ratio = comparison.ratio.unwrap();
/// assert!(ratio.low > 1.05 && ratio.low <= 1.25 && 1.25 <= ratio.high);
/// assert_eq!(compare(&baseline, &baseline, &CompareOptions::DEFAULT).change, Change::Unchanged);
/// ```
pub fn compare(
    baseline: &[(u64, u64)],
    candidate: &[(u64, u64)],
    options: &CompareOptions,
) -> Comparison {
    if let Err(message) = options.validate() {
        panic!("{message}");
    }
    let baseline = Empirical::new(baseline);
    let candidate = Empirical::new(candidate);
    let ratio = (baseline.calls > 0 && candidate.calls > 0).then(|| {
        let seed = seed(&baseline, &candidate, options);
        ratio_interval(&baseline, &candidate, options, seed)
    });
    let min_samples = options.min_samples.max(1);
    let judged = baseline.calls >= min_samples && candidate.calls >= min_samples;
    let change = match ratio {
        Some(ratio) if judged => verdict(ratio, options.tolerance),
        _ => Change::TooFewSamples,
    };
    Comparison {
        quantile: options.quantile,
        tolerance: options.tolerance,
        confidence: options.confidence,
        baseline_calls: baseline.calls,
        candidate_calls: candidate.calls,
        baseline_ns: baseline.quantile(options.quantile),
        candidate_ns: candidate.quantile(options.quantile),
        ratio,
        change,
    }
}

/// Where the interval lies against the band `1 ± tolerance`.
fn verdict(ratio: Ratio, tolerance: f64) -> Change {
    let (lowest, highest) = (1.0 - tolerance, 1.0 + tolerance);
    if ratio.low > highest {
        Change::Slower
    } else if ratio.high < lowest {
        Change::Faster
    } else if lowest <= ratio.low && ratio.high <= highest {
        Change::Unchanged
    } else {
        Change::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::bootstrap::{Rng, as_u64};
    use super::*;

    const OPTIONS: CompareOptions = CompareOptions::DEFAULT;

    /// Calls in each simulated run.
    const CALLS: usize = 6_000;

    #[test]
    fn the_recorded_quantile_is_the_ceil_rank_call() {
        let two = Empirical::new(&[(10, 1), (20, 1)]);
        assert_eq!(two.quantile(0.0), Some(10));
        assert_eq!(two.quantile(0.5), Some(10));
        assert_eq!(two.quantile(0.51), Some(20));
        assert_eq!(two.quantile(1.0), Some(20));
        let spread = Empirical::new(&[(1, 90), (5, 5), (9, 5)]);
        assert_eq!(spread.quantile(0.90), Some(1));
        assert_eq!(spread.quantile(0.95), Some(5));
        assert_eq!(spread.quantile(0.96), Some(9));
        assert_eq!(Empirical::new(&[]).quantile(0.5), None);
    }

    #[test]
    fn one_valued_runs_have_an_exact_ratio() {
        let cases = [
            (100, 100, 1.0, Change::Unchanged),
            (100, 104, 1.04, Change::Unchanged),
            (100, 106, 1.06, Change::Slower),
            (100, 94, 0.94, Change::Faster),
            (0, 0, 1.0, Change::Unchanged),
            (0, 3, 3.0, Change::Slower),
        ];
        for (baseline_ns, candidate_ns, expected, change) in cases {
            let comparison = compare(&[(baseline_ns, 500)], &[(candidate_ns, 500)], &OPTIONS);
            let ratio = comparison.ratio.unwrap();
            assert_eq!(
                (ratio.estimate, ratio.low, ratio.high, comparison.change),
                (expected, expected, expected, change),
                "{baseline_ns} -> {candidate_ns}"
            );
        }
    }

    #[test]
    fn an_interval_crossing_the_tolerance_is_inconclusive() {
        // 200 calls spread over a factor of two: the median's interval is wider than ±5%.
        let baseline: Vec<(u64, u64)> = (100..200).map(|ns| (ns, 2)).collect();
        let comparison = compare(&baseline, &baseline, &OPTIONS);
        let ratio = comparison.ratio.unwrap();
        assert_eq!(comparison.change, Change::Inconclusive, "{ratio:?}");
        assert_eq!(comparison.baseline_ns, comparison.candidate_ns);
        assert!(ratio.low < 0.95 && ratio.high > 1.05, "{ratio:?}");
    }

    #[test]
    fn runs_below_min_samples_are_not_judged() {
        let comparison = compare(&[(100, 99)], &[(200, 500)], &OPTIONS);
        assert_eq!(comparison.change, Change::TooFewSamples);
        assert_eq!(comparison.ratio.map(|ratio| ratio.estimate), Some(2.0));
        assert_eq!(
            (comparison.baseline_calls, comparison.candidate_calls),
            (99, 500)
        );

        let empty = compare(&[(100, 500)], &[(200, 0)], &OPTIONS);
        assert_eq!(empty.change, Change::TooFewSamples);
        assert_eq!(
            (empty.candidate_calls, empty.candidate_ns, empty.ratio),
            (0, None, None)
        );

        let none_needed = CompareOptions {
            min_samples: 0,
            ..OPTIONS
        };
        assert_eq!(
            compare(&[], &[], &none_needed).change,
            Change::TooFewSamples
        );
    }

    #[test]
    fn order_and_repeated_values_do_not_change_the_result() {
        let mut rng = Rng::new(7);
        let truth = Truth::new(0.03, &mut rng);
        let baseline = truth.scaled(1.0).run(2_000, &mut rng);
        let candidate = truth.scaled(1.1).run(2_000, &mut rng);
        let mut shuffled: Vec<(u64, u64)> = candidate
            .iter()
            .rev()
            .flat_map(|&(value, count)| [(value, count / 2), (value, count - count / 2)])
            .collect();
        shuffled.push((1, 0));
        let expected = compare(&baseline, &candidate, &OPTIONS);
        assert_eq!(compare(&baseline, &shuffled, &OPTIONS), expected);
    }

    #[test]
    fn equal_inputs_give_equal_results_and_tolerance_does_not_move_the_interval() {
        let mut rng = Rng::new(8);
        let truth = Truth::new(0.03, &mut rng);
        let baseline = truth.scaled(1.0).run(1_000, &mut rng);
        let candidate = truth.scaled(1.05).run(1_000, &mut rng);
        let first = compare(&baseline, &candidate, &OPTIONS);
        assert_eq!(compare(&baseline, &candidate, &OPTIONS), first);
        let loose = compare(
            &baseline,
            &candidate,
            &CompareOptions {
                tolerance: 0.5,
                ..OPTIONS
            },
        );
        assert_eq!(
            (loose.ratio, loose.change),
            (first.ratio, Change::Unchanged)
        );
    }

    #[test]
    fn a_resampled_quantile_is_distributed_as_in_a_brute_force_bootstrap() {
        // Against a resample done the slow way: `calls` draws with replacement, then the rank.
        let pairs = [
            (10, 30),
            (11, 50),
            (12, 40),
            (15, 30),
            (20, 25),
            (40, 15),
            (90, 10),
        ];
        let histogram = Empirical::new(&pairs);
        let calls = usize::try_from(histogram.calls).unwrap();
        let draws = 4_000;
        let mut rng = Rng::new(9);
        for quantile in [0.5, 0.9] {
            let rank = usize::try_from(histogram.rank(quantile)).unwrap();
            let mut direct = vec![0_u32; pairs.len()];
            let mut brute = vec![0_u32; pairs.len()];
            let index_of = |value| pairs.iter().position(|&(v, _)| v == value).unwrap();
            for _ in 0..draws {
                direct[index_of(histogram.resampled(histogram.rank(quantile), &mut rng))] += 1;
                let mut resample: Vec<u64> = (0..calls)
                    .map(|_| histogram.at_rank(rng.next_u64() % histogram.calls + 1))
                    .collect();
                resample.sort_unstable();
                brute[index_of(resample[rank - 1])] += 1;
            }
            // Cumulative shares agree within the two estimates' sampling noise.
            let (mut direct_sum, mut brute_sum) = (0, 0);
            for (d, b) in direct.iter().zip(&brute) {
                direct_sum += d;
                brute_sum += b;
                let gap = f64::from(direct_sum.abs_diff(brute_sum)) / f64::from(draws);
                assert!(gap < 0.03, "q{quantile}: {direct:?} vs {brute:?}");
            }
        }
    }

    #[test]
    fn bad_options_are_named_with_their_value() {
        let cases = [
            (
                CompareOptions {
                    quantile: 1.5,
                    ..OPTIONS
                },
                "quantile must be from 0 to 1, found 1.5",
            ),
            (
                CompareOptions {
                    quantile: f64::NAN,
                    ..OPTIONS
                },
                "quantile must be from 0 to 1, found NaN",
            ),
            (
                CompareOptions {
                    tolerance: -0.05,
                    ..OPTIONS
                },
                "tolerance must be 0 or more, found -0.05",
            ),
            (
                CompareOptions {
                    confidence: 0.0,
                    ..OPTIONS
                },
                "confidence must be above 0 and below 1, found 0",
            ),
            (
                CompareOptions {
                    resamples: 0,
                    ..OPTIONS
                },
                "resamples must be at least 1, found 0",
            ),
        ];
        for (options, message) in cases {
            assert_eq!(options.validate().unwrap_err(), message);
        }
    }

    #[test]
    #[should_panic(expected = "tolerance must be 0 or more, found inf")]
    fn compare_panics_on_bad_options() {
        let options = CompareOptions {
            tolerance: f64::INFINITY,
            ..OPTIONS
        };
        compare(&[(1, 1)], &[(1, 1)], &options);
    }

    #[test]
    fn a_comparison_round_trips_through_json() {
        let comparison = compare(&[(100, 500), (150, 20)], &[(90, 480)], &OPTIONS);
        let json = serde_json::to_string(&comparison).unwrap();
        assert!(json.contains(r#""change":"faster""#), "{json}");
        let back: Comparison = serde_json::from_str(&json).unwrap();
        assert_eq!(back, comparison);
    }

    /// A latency distribution to draw runs from: a lognormal body around 100 µs, and a share of
    /// calls on a slow path around 300 µs. Kept as 65,536 sorted draws, so a run is cheap to draw.
    struct Truth {
        draws: Vec<f64>,
    }

    impl Truth {
        fn new(slow_share: f64, rng: &mut Rng) -> Self {
            let mut draws: Vec<f64> = (0..1 << 16)
                .map(|_| {
                    let (median_ns, spread) = if rng.uniform() < slow_share {
                        (300_000.0, 0.5)
                    } else {
                        (100_000.0, 0.3)
                    };
                    median_ns * (spread * rng.normal()).exp()
                })
                .collect();
            draws.sort_unstable_by(f64::total_cmp);
            Self { draws }
        }

        /// Every call `slowdown` times as long, rounded to 3 significant figures as the
        /// histograms store values.
        fn scaled(&self, slowdown: f64) -> Population {
            let (mut values, mut bin_of) = (Vec::new(), Vec::with_capacity(self.draws.len()));
            for &draw in &self.draws {
                let value = three_figures(draw * slowdown);
                if values.last() != Some(&value) {
                    values.push(value);
                }
                bin_of.push(values.len() - 1);
            }
            Population { values, bin_of }
        }
    }

    /// A [`Truth`] as its distinct recorded values, and the value each of its draws records as.
    struct Population {
        values: Vec<u64>,
        bin_of: Vec<usize>,
    }

    impl Population {
        /// The histogram of `calls` independent calls.
        fn run(&self, calls: usize, rng: &mut Rng) -> Vec<(u64, u64)> {
            let mut counts = vec![0; self.values.len()];
            for _ in 0..calls {
                counts[self.bin_of[usize::try_from(rng.next_u64() >> 48).unwrap()]] += 1;
            }
            let pairs = self.values.iter().copied().zip(counts);
            pairs.filter(|&(_, count)| count > 0).collect()
        }
    }

    fn three_figures(ns: f64) -> u64 {
        let ns = as_u64(ns.round());
        let mut unit = 1;
        while ns / unit >= 1_000 {
            unit *= 10;
        }
        (ns + unit / 2) / unit * unit
    }

    #[test]
    fn three_figures_rounds_to_three_significant_digits() {
        let cases = [
            (7.4, 7),
            (999.4, 999),
            (1_234.0, 1_230),
            (123_456.0, 123_000),
            (99_960.0, 100_000),
        ];
        for (ns, expected) in cases {
            assert_eq!(three_figures(ns), expected, "{ns}");
        }
    }

    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    struct Counts {
        slower: usize,
        faster: usize,
        unchanged: usize,
        inconclusive: usize,
    }

    /// How often each verdict came, for each of `options`, over `trials` pairs of independent
    /// runs of [`CALLS`] calls, the candidate `slowdown` times slower.
    fn tally(
        truth: &Truth,
        trials: usize,
        slowdown: f64,
        options: &[CompareOptions],
        seed: u64,
    ) -> Vec<Counts> {
        let mut rng = Rng::new(seed);
        let mut counts = vec![Counts::default(); options.len()];
        let (before, after) = (truth.scaled(1.0), truth.scaled(slowdown));
        for _ in 0..trials {
            let baseline = before.run(CALLS, &mut rng);
            let candidate = after.run(CALLS, &mut rng);
            for (counts, options) in counts.iter_mut().zip(options) {
                match compare(&baseline, &candidate, options).change {
                    Change::Slower => counts.slower += 1,
                    Change::Faster => counts.faster += 1,
                    Change::Unchanged => counts.unchanged += 1,
                    Change::Inconclusive => counts.inconclusive += 1,
                    Change::TooFewSamples => panic!("{CALLS} calls are enough"),
                }
            }
        }
        counts
    }

    /// The median and the 95th percentile, with `tolerance`.
    fn p50_p95(tolerance: f64) -> [CompareOptions; 2] {
        DEFAULT_QUANTILES.map(|quantile| CompareOptions {
            quantile,
            tolerance,
            ..OPTIONS
        })
    }

    /// `release` trials, or `debug` in a debug build, where a trial is slower.
    fn trials(release: usize, debug: usize) -> usize {
        if cfg!(debug_assertions) {
            debug
        } else {
            release
        }
    }

    #[test]
    fn equal_runs_are_almost_never_called_slower_or_faster() {
        // 500 trials at least, so that a 1% rate would show as 5.
        let trials = trials(1_000, 500);
        let mut rng = Rng::new(1);
        let truth = Truth::new(0.03, &mut rng);
        let counts = tally(&truth, trials, 1.0, &p50_p95(0.05), 11);
        eprintln!("equal, {trials} trials: {counts:#?}");
        for counts in counts {
            assert!(
                counts.slower * 100 < trials && counts.faster * 100 < trials,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn equal_runs_with_no_tolerance_are_called_changed_at_the_intervals_error_rate() {
        // A 99% interval misses on each side 0.5% of the time; allow for the trials' noise.
        let trials = trials(1_000, 500);
        let mut rng = Rng::new(2);
        let truth = Truth::new(0.03, &mut rng);
        let counts = tally(&truth, trials, 1.0, &p50_p95(0.0), 22);
        eprintln!("equal, tolerance 0%, {trials} trials: {counts:#?}");
        for counts in counts {
            assert!(
                counts.slower * 50 < trials && counts.faster * 50 < trials,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn three_percent_slower_is_within_a_five_percent_tolerance() {
        let trials = trials(1_000, 500);
        let mut rng = Rng::new(3);
        let truth = Truth::new(0.03, &mut rng);
        let counts = tally(&truth, trials, 1.03, &p50_p95(0.05), 33);
        eprintln!("3% slower, {trials} trials: {counts:#?}");
        for counts in counts {
            assert!(
                counts.slower * 200 < trials && counts.faster == 0,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn twenty_percent_slower_is_always_called_slower() {
        let trials = trials(1_000, 200);
        let mut rng = Rng::new(4);
        let truth = Truth::new(0.03, &mut rng);
        let counts = tally(&truth, trials, 1.2, &p50_p95(0.05), 44);
        eprintln!("20% slower, {trials} trials: {counts:#?}");
        for counts in counts {
            assert_eq!(counts.slower, trials, "{counts:?}");
        }
    }

    #[test]
    fn twenty_percent_faster_is_always_called_faster() {
        let trials = trials(200, 100);
        let mut rng = Rng::new(5);
        let truth = Truth::new(0.03, &mut rng);
        for counts in tally(&truth, trials, 1.0 / 1.2, &p50_p95(0.05), 55) {
            assert_eq!(counts.faster, trials, "{counts:?}");
        }
    }

    #[test]
    fn a_quantile_in_a_thin_tail_is_inconclusive_rather_than_unchanged() {
        // With 10% of calls on the slow path, p95 sits where calls are sparse: 4,000 calls
        // cannot pin it to ±5%, and the verdict must say so instead of passing a 20% regression.
        let trials = trials(200, 100);
        let mut rng = Rng::new(6);
        let truth = Truth::new(0.10, &mut rng);
        let [_, p95] = p50_p95(0.05);
        let [counts] = tally(&truth, trials, 1.2, &[p95], 66)[..] else {
            unreachable!()
        };
        eprintln!("20% slower, thin tail, {trials} trials: {counts:#?}");
        assert_eq!(counts.unchanged + counts.faster, 0, "{counts:?}");
        assert!(counts.inconclusive > 0, "{counts:?}");
    }
}
