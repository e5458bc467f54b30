//! The bootstrap behind [`compare`](super::compare): each histogram as its inverse CDF, resampled
//! quantiles drawn as Beta variables, and the random numbers for them, seeded by the inputs.
//!
//! The generator is written here rather than taken from a crate: a verdict must not change when
//! `cargo update` brings a generator whose stream differs, since CI compares against stored runs.

use super::{CompareOptions, Ratio};

/// The percentile bootstrap interval of the quantile ratio; both histograms have calls.
pub(super) fn ratio_interval(
    baseline: &Empirical,
    candidate: &Empirical,
    options: &CompareOptions,
    seed: u64,
) -> Ratio {
    let mut rng = Rng::new(seed);
    let (candidate_rank, baseline_rank) = (
        candidate.rank(options.quantile),
        baseline.rank(options.quantile),
    );
    let mut ratios: Vec<f64> = (0..options.resamples)
        .map(|_| {
            let candidate_ns = candidate.resampled(candidate_rank, &mut rng);
            let baseline_ns = baseline.resampled(baseline_rank, &mut rng);
            ratio(candidate_ns, baseline_ns)
        })
        .collect();
    // The two interval ends are order statistics of the ratios; selecting them is O(resamples).
    let tail = (1.0 - options.confidence) / 2.0;
    let resamples = as_f64(u64::from(options.resamples));
    let last = ratios.len() - 1;
    let low_index = index_at(tail * resamples, last);
    let high_index = index_at((1.0 - tail) * resamples - 1.0, last).max(low_index);
    let (_, &mut low, above) = ratios.select_nth_unstable_by(low_index, f64::total_cmp);
    let high = match high_index - low_index {
        0 => low,
        gap => *above.select_nth_unstable_by(gap - 1, f64::total_cmp).1,
    };
    Ratio {
        estimate: ratio(
            candidate.at_rank(candidate_rank),
            baseline.at_rank(baseline_rank),
        ),
        low,
        high,
    }
}

/// `candidate / baseline`, with 0 ns read as 1 ns.
pub(super) fn ratio(candidate_ns: u64, baseline_ns: u64) -> f64 {
    as_f64(candidate_ns.max(1)) / as_f64(baseline_ns.max(1))
}

/// A histogram as its inverse CDF: ascending values and the running count up to each.
pub(super) struct Empirical {
    values: Vec<u64>,
    cumulative: Vec<u64>,
    pub(super) calls: u64,
}

impl Empirical {
    pub(super) fn new(pairs: &[(u64, u64)]) -> Self {
        let mut pairs = pairs.to_vec();
        if !pairs.is_sorted_by_key(|&(value, _)| value) {
            pairs.sort_unstable_by_key(|&(value, _)| value);
        }
        let (mut values, mut cumulative) = (Vec::with_capacity(pairs.len()), Vec::new());
        let mut calls = 0_u64;
        for (value, count) in pairs.into_iter().filter(|&(_, count)| count > 0) {
            calls = calls.saturating_add(count);
            if values.last() == Some(&value) {
                *cumulative.last_mut().expect("one running count per value") = calls;
            } else {
                values.push(value);
                cumulative.push(calls);
            }
        }
        Self {
            values,
            cumulative,
            calls,
        }
    }

    /// The quantile's call: the `⌈quantile · calls⌉`-th fastest (at least the first).
    pub(super) fn rank(&self, quantile: f64) -> u64 {
        as_u64((quantile * as_f64(self.calls)).ceil()).clamp(1, self.calls)
    }

    /// The recorded quantile; `None` without calls.
    pub(super) fn quantile(&self, quantile: f64) -> Option<u64> {
        (self.calls > 0).then(|| self.at_rank(self.rank(quantile)))
    }

    /// The `rank`-th fastest call, counting from 1; `rank` is at most `calls`.
    pub(super) fn at_rank(&self, rank: u64) -> u64 {
        self.values[self.cumulative.partition_point(|&count| count < rank)]
    }

    /// The `rank`-th fastest call of one bootstrap resample (`calls` draws with replacement),
    /// drawn directly.
    ///
    /// The rank-`r` draw of `n` is the inverse CDF at the rank-`r` of `n` uniforms, which is
    /// Beta(`r`, `n - r + 1`); the inverse CDF is a binary search over the running counts.
    pub(super) fn resampled(&self, rank: u64, rng: &mut Rng) -> u64 {
        let uniform = rng.beta(as_f64(rank), as_f64(self.calls - rank + 1));
        // The first value whose running count reaches `uniform · calls`, in whole calls.
        self.at_rank(as_u64((uniform * as_f64(self.calls)).ceil()).clamp(1, self.calls))
    }
}

/// A seed from everything that shapes the interval, so equal inputs give equal verdicts.
pub(super) fn seed(baseline: &Empirical, candidate: &Empirical, options: &CompareOptions) -> u64 {
    let mut hash = 0x5EED_C0DE_u64;
    let mut mix = |word: u64| hash = Rng::new(hash ^ word).next_u64();
    for histogram in [baseline, candidate] {
        mix(histogram.values.len() as u64);
        for (&value, &cumulative) in histogram.values.iter().zip(&histogram.cumulative) {
            mix(value);
            mix(cumulative);
        }
    }
    mix(options.quantile.to_bits());
    mix(options.confidence.to_bits());
    mix(u64::from(options.resamples));
    hash
}

/// The index nearest below `position`, within `0..=last`.
pub(super) fn index_at(position: f64, last: usize) -> usize {
    usize::try_from(as_u64(position.floor().max(0.0)))
        .unwrap_or(usize::MAX)
        .min(last)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counts and nanoseconds above 2^53 lose only digits far below the interval's width"
)]
pub(super) fn as_f64<T: Into<u64>>(value: T) -> f64 {
    value.into() as f64
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the callers pass non-negative whole numbers; the cast saturates"
)]
pub(super) fn as_u64(value: f64) -> u64 {
    value as u64
}

/// Random numbers for resampling: splitmix64 (Steele, Lea and Flood, 2014) for the bits, with
/// normal, gamma and beta draws built on it.
pub(super) struct Rng {
    state: u64,
    /// The second value of the last polar-method pair.
    spare_normal: Option<f64>,
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare_normal: None,
        }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1), so its logarithm is finite.
    pub(super) fn uniform(&mut self) -> f64 {
        (as_f64(self.next_u64() >> 11) + 0.5) / as_f64(1_u64 << 53)
    }

    /// Standard normal, by Marsaglia's polar method.
    pub(super) fn normal(&mut self) -> f64 {
        if let Some(spare) = self.spare_normal.take() {
            return spare;
        }
        loop {
            let x = 2.0 * self.uniform() - 1.0;
            let y = 2.0 * self.uniform() - 1.0;
            let s = x * x + y * y;
            if s < 1.0 {
                let scale = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(y * scale);
                return x * scale;
            }
        }
    }

    /// Gamma(`shape`, 1) for `shape >= 1`, by Marsaglia and Tsang (2000), with their squeeze
    /// that skips the logarithms for almost every draw.
    pub(super) fn gamma(&mut self, shape: f64) -> f64 {
        let d = shape - 1.0 / 3.0;
        let spread = 1.0 / (9.0 * d).sqrt();
        loop {
            let normal = self.normal();
            let root = 1.0 + spread * normal;
            if root <= 0.0 {
                continue;
            }
            let cube = root * root * root;
            let uniform = self.uniform();
            let square = normal * normal;
            if uniform < 1.0 - 0.0331 * square * square
                || uniform.ln() < 0.5 * square + d * (1.0 - cube + cube.ln())
            {
                return d * cube;
            }
        }
    }

    /// Beta(`a`, `b`) for `a, b >= 1`, as a ratio of gammas.
    pub(super) fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }
}
