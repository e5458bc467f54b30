//! The random numbers behind the plans, the injected faults and the simulated costs.

/// `SplitMix64`: small, fast and good enough to vary documents; a seed always gives the same
/// plans.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the remainder is below n, a usize"
    )]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high - low) + 1;
        low + u32::try_from(self.next_u64() % span).expect("the remainder is below the span")
    }

    /// Uniform in `0..1`.
    #[allow(clippy::cast_precision_loss, reason = "53 bits convert to f64 exactly")]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    pub(crate) fn percent(&mut self, chance: u32) -> bool {
        self.between(0, 99) < chance
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Each document has its own stream, so document `i` is the same whatever `--documents` says.
pub(crate) fn document_rng(seed: u64, index: u64) -> Rng {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    rng.next_u64();
    rng
}

pub(crate) fn monte_carlo_seed(seed: u64, index: u64) -> u64 {
    document_rng(seed, index).next_u64() ^ 0x6d6f_6e74_6563_6172
}
