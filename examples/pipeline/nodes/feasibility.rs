//! Node 8, `feasibility_scoring`: each axis scored on the evidence the other nodes found.

use super::dag::ratio;
use super::embedding::words;
use super::{Contradiction, MonetaryAmount, PlanMetadata, Responsibility, Segment, simulate_work};

/// How implementable each axis looks, from 0 to 1, and the plan's mean.
#[derive(Debug)]
pub(crate) struct Feasibility {
    pub(crate) axes: Vec<f64>,
    pub(crate) overall: f64,
}

/// What an axis shows of being implementable.
#[derive(Clone, Copy, Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one axis, each weighted in `score`"
)]
struct Evidence {
    funded: bool,
    responsible: bool,
    target: bool,
    baseline: bool,
    dated: bool,
    contradictions: u8,
}

impl Evidence {
    fn score(self) -> f64 {
        let found = [
            (self.funded, 0.30),
            (self.responsible, 0.25),
            (self.target, 0.25),
            (self.baseline, 0.10),
            (self.dated, 0.10),
        ];
        let score: f64 = found
            .iter()
            .filter(|(present, _)| *present)
            .map(|(_, weight)| weight)
            .sum();
        (score - 0.1 * f64::from(self.contradictions.min(3))).clamp(0.0, 1.0)
    }
}

/// Scores each axis on what makes a commitment implementable: money, a responsible
/// institution, a measurable target, a baseline and a date within the term; each contradiction
/// costs a tenth.
#[instrument_runtime::budget(p95 = "6ms", p99 = "10ms")]
pub(crate) fn feasibility_scoring(
    metadata: &PlanMetadata,
    segments: &[Segment<'_>],
    responsibilities: &[Responsibility],
    amounts: &[MonetaryAmount],
    contradictions: &[Contradiction],
) -> Feasibility {
    simulate_work("feasibility_scoring");
    let mut evidence = vec![Evidence::default(); metadata.axes.len()];
    let axis_count = evidence.len();
    let axis_of = |segment: usize| segments[segment].axis.filter(|&axis| axis < axis_count);
    for axis in amounts.iter().filter_map(|amount| axis_of(amount.segment)) {
        evidence[axis].funded = true;
    }
    for axis in responsibilities
        .iter()
        .filter_map(|found| axis_of(found.segment))
    {
        evidence[axis].responsible = true;
    }
    for axis in contradictions
        .iter()
        .filter_map(|found| axis_of(found.first))
    {
        evidence[axis].contradictions = evidence[axis].contradictions.saturating_add(1);
    }
    let (first_year, last_year) = metadata.period;
    for (index, segment) in segments.iter().enumerate() {
        let Some(axis) = axis_of(index) else {
            continue;
        };
        let axis = &mut evidence[axis];
        axis.target |= segment.text.contains('%');
        axis.baseline |= segment.text.contains("baseline");
        axis.dated |= words(segment.text)
            .filter_map(|word| word.parse::<u16>().ok())
            .any(|year| (first_year..=last_year).contains(&year));
    }
    let axes: Vec<f64> = evidence.iter().map(|axis| axis.score()).collect();
    let overall = if axes.is_empty() {
        0.0
    } else {
        axes.iter().sum::<f64>() / ratio(axes.len(), 1)
    };
    Feasibility { axes, overall }
}
