//! The one atomic word a breaker's transitions are compare-and-swaps on.

use super::BreakerState;

/// The breaker's shared word. Layout, from the lowest bit: state (2 bits), forced (1), count
/// (16), probes in flight (13), generation (32). The macro keeps `failure_threshold` and
/// `success_threshold` within 16 bits and `half_open_probes` within 13.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

pub(super) const CLOSED: u64 = 0;
pub(super) const HALF_OPEN: u64 = 1;
pub(super) const OPEN: u64 = 2;
pub(super) const STATE_MASK: u64 = 0b11;
pub(super) const FORCED_BIT: u64 = 1 << 2;
pub(super) const COUNT_SHIFT: u32 = 3;
pub(super) const COUNT_MASK: u64 = 0xFFFF;
pub(super) const PROBES_SHIFT: u32 = 19;
pub(super) const PROBES_MASK: u64 = 0x1FFF;
pub(super) const GENERATION_SHIFT: u32 = 32;

impl Word {
    pub(super) fn new(generation: u32, state: u64, forced: bool) -> Self {
        Self((u64::from(generation) << GENERATION_SHIFT) | state | (u64::from(forced) * FORCED_BIT))
    }

    pub(super) fn state_bits(self) -> u64 {
        self.0 & STATE_MASK
    }

    pub(super) fn state(self) -> BreakerState {
        match self.state_bits() {
            CLOSED => BreakerState::Closed,
            HALF_OPEN => BreakerState::HalfOpen,
            _ => BreakerState::Open,
        }
    }

    pub(super) fn forced(self) -> bool {
        self.0 & FORCED_BIT != 0
    }

    #[allow(clippy::cast_possible_truncation, reason = "masked to 16 bits")]
    pub(super) fn count(self) -> u32 {
        ((self.0 >> COUNT_SHIFT) & COUNT_MASK) as u32
    }

    #[allow(clippy::cast_possible_truncation, reason = "masked to 13 bits")]
    pub(super) fn probes(self) -> u32 {
        ((self.0 >> PROBES_SHIFT) & PROBES_MASK) as u32
    }

    #[allow(clippy::cast_possible_truncation, reason = "the top 32 bits")]
    pub(super) fn generation(self) -> u32 {
        (self.0 >> GENERATION_SHIFT) as u32
    }

    pub(super) fn with_count(self, count: u32) -> Self {
        Self((self.0 & !(COUNT_MASK << COUNT_SHIFT)) | (u64::from(count) << COUNT_SHIFT))
    }

    pub(super) fn with_probes(self, probes: u32) -> Self {
        Self((self.0 & !(PROBES_MASK << PROBES_SHIFT)) | (u64::from(probes) << PROBES_SHIFT))
    }

    /// The word after a transition to `state`: next generation, counts cleared.
    pub(super) fn next(self, state: u64, forced: bool) -> Self {
        Self::new(self.generation().wrapping_add(1), state, forced)
    }

    pub(super) fn is(self, generation: u32, state: u64) -> bool {
        self.generation() == generation && self.state_bits() == state
    }
}
