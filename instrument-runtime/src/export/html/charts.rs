//! Each timed node's latency distribution, on a log scale with its budget lines.

use std::fmt::{self, Write as _};

use crate::read::budget::Quantile;
use crate::read::snapshot::{NodeSnapshot, Snapshot};
use crate::record::histogram::LatencyHistogram;

use super::tables::verdict_of;
use super::text::{Escaped, duration, tick_label};

/// Bars per decade of latency in the distribution charts.
const BINS_PER_DECADE: u32 = 20;

/// Geometry of a latency chart, in SVG user units.
pub(super) const CHART_WIDTH: f64 = 360.0;
pub(super) const CHART_HEIGHT: f64 = 168.0;
pub(super) const PLOT_LEFT: f64 = 8.0;
pub(super) const PLOT_RIGHT: f64 = 352.0;
pub(super) const PLOT_TOP: f64 = 30.0;
pub(super) const PLOT_BOTTOM: f64 = 140.0;

pub(super) fn write_charts(out: &mut String, snapshot: &Snapshot) -> fmt::Result {
    let charted: Vec<(&NodeSnapshot, &LatencyHistogram)> = snapshot
        .nodes
        .iter()
        .filter_map(|node| Some((node, node.histogram.as_ref()?)))
        .collect();
    writeln!(out, "<h2>Latency distributions</h2>")?;
    writeln!(
        out,
        "<p class=\"note\">Calls per latency bin ({BINS_PER_DECADE} per decade), log-scale \
         x axis. Dashed lines: budgets, green when within, red when over, amber when not yet \
         judged; the shaded band is the tolerance.</p>"
    )?;
    let missing = snapshot
        .nodes
        .iter()
        .filter(|node| node.latency.is_some() && node.histogram.is_none())
        .count();
    if missing > 0 {
        writeln!(
            out,
            "<p class=\"note\">{missing} timed nodes have no histogram in this snapshot \
             (a snapshot read from a file written without histograms carries none).</p>"
        )?;
    }
    if charted.is_empty() {
        return writeln!(out, "<p class=\"note\">No latency recorded yet.</p>");
    }
    writeln!(out, "<div class=\"charts\">")?;
    for (node, histogram) in charted {
        write_chart(out, node, histogram)?;
    }
    writeln!(out, "</div>")
}

pub(super) fn write_chart(
    out: &mut String,
    node: &NodeSnapshot,
    histogram: &LatencyHistogram,
) -> fmt::Result {
    let verdict = verdict_of(node);
    let budgets: Vec<(Quantile, u64)> = node.budget.map_or_else(Vec::new, |budget| {
        Quantile::ALL
            .into_iter()
            .filter_map(|quantile| Some((quantile, quantile.budget_in(&budget)?)))
            .collect()
    });
    let allowed = |ns: u64| node.budget.map_or(ns, |budget| budget.allowed_ns(ns));
    let (fastest, slowest) = recorded_range(histogram);
    let lowest = budgets
        .iter()
        .map(|&(_, ns)| ns)
        .chain([fastest])
        .min()
        .unwrap_or(1);
    let highest = budgets
        .iter()
        .map(|&(_, ns)| allowed(ns))
        .chain([slowest])
        .max()
        .unwrap_or(1);
    let scale = LogScale::covering(lowest, highest, PLOT_LEFT, PLOT_RIGHT - PLOT_LEFT);

    writeln!(out, "<figure class=\"chart\">")?;
    write!(
        out,
        "<figcaption><strong>{}</strong> · {} calls",
        Escaped(&node.name),
        histogram.len()
    )?;
    if let Some(latency) = &node.latency {
        write!(
            out,
            " · p50 {} · p95 {} · p99 {}",
            duration(latency.p50_ns),
            duration(latency.p95_ns),
            duration(latency.p99_ns)
        )?;
    }
    writeln!(out, "</figcaption>")?;
    writeln!(
        out,
        "<svg class=\"latency\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" \
         aria-label=\"Latency distribution of {}\">",
        Escaped(&node.name)
    )?;
    writeln!(
        out,
        "<rect class=\"plot\" x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{}\" height=\"{}\"/>",
        PLOT_RIGHT - PLOT_LEFT,
        PLOT_BOTTOM - PLOT_TOP
    )?;
    write_axis(out, &scale)?;
    write_bars(out, histogram, &scale)?;
    for (row, &(quantile, budget_ns)) in budgets.iter().enumerate() {
        let check = verdict
            .as_ref()
            .and_then(|verdict| verdict.checks.iter().find(|c| c.quantile == quantile));
        let (class, observed) = match check {
            Some(check) if check.passed => ("within", Some(check.observed_ns)),
            Some(check) => ("over", Some(check.observed_ns)),
            None => ("unjudged", None),
        };
        let x = scale.x(budget_ns);
        let allowed_x = scale.x(allowed(budget_ns));
        let title = format!(
            "{quantile} budget {}, allowed {} with tolerance{}",
            duration(budget_ns),
            duration(allowed(budget_ns)),
            observed.map_or_else(String::new, |ns| format!(", observed {}", duration(ns)))
        );
        writeln!(
            out,
            "<rect class=\"tolerance\" x=\"{x:.1}\" y=\"{PLOT_TOP}\" width=\"{:.1}\" \
             height=\"{}\"/>",
            allowed_x - x,
            PLOT_BOTTOM - PLOT_TOP
        )?;
        writeln!(
            out,
            "<line class=\"budget {class}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" \
             y2=\"{PLOT_BOTTOM}\"><title>{title}</title></line>",
            PLOT_TOP - 6.0
        )?;
        let anchor = if x > f64::midpoint(PLOT_LEFT, PLOT_RIGHT) {
            ("end", x - 3.0)
        } else {
            ("start", x + 3.0)
        };
        #[allow(clippy::cast_precision_loss, reason = "at most five budgets")]
        let label_y = 10.0 + (row % 2) as f64 * 11.0;
        writeln!(
            out,
            "<text class=\"budget-label {class}\" x=\"{:.1}\" y=\"{label_y:.1}\" \
             text-anchor=\"{}\">{quantile} ≤ {}</text>",
            anchor.1,
            anchor.0,
            duration(budget_ns)
        )?;
    }
    writeln!(out, "</svg>\n</figure>")
}

pub(super) fn write_axis(out: &mut String, scale: &LogScale) -> fmt::Result {
    let label_minor = scale.decades() <= 2;
    for exponent in scale.lo_exp..=scale.hi_exp {
        let power = 10_u64.pow(exponent);
        let x = scale.x(power);
        let anchor = if exponent == scale.lo_exp {
            "start"
        } else if exponent == scale.hi_exp {
            "end"
        } else {
            "middle"
        };
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{PLOT_TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            PLOT_BOTTOM + 4.0,
            PLOT_BOTTOM + 15.0,
            tick_label(power)
        )?;
        if exponent == scale.hi_exp {
            break;
        }
        for multiple in [2, 5] {
            let x = scale.x(power * multiple);
            writeln!(
                out,
                "<line class=\"grid minor\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{PLOT_TOP}\" \
                 y2=\"{PLOT_BOTTOM}\"/>"
            )?;
            if label_minor {
                writeln!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    PLOT_BOTTOM + 15.0,
                    tick_label(power * multiple)
                )?;
            }
        }
    }
    writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">latency (log scale)</text>",
        PLOT_RIGHT,
        CHART_HEIGHT - 2.0
    )
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "bar heights on screen; bin bounds rounded to whole nanoseconds for labels"
)]
pub(super) fn write_bars(
    out: &mut String,
    histogram: &LatencyHistogram,
    scale: &LogScale,
) -> fmt::Result {
    let counts = scale.bins(histogram, BINS_PER_DECADE);
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    for (bin, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let (from, to) = scale.bin_range(bin, BINS_PER_DECADE);
        let (left, right) = (scale.x_f64(from), scale.x_f64(to));
        // The rarest bin keeps a sliver of height, so a tail of one call stays visible.
        let height = (count as f64 / tallest * (PLOT_BOTTOM - PLOT_TOP)).max(1.5);
        writeln!(
            out,
            "<rect class=\"bar\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\">\
             <title>{}–{}: {count} calls</title></rect>",
            PLOT_BOTTOM - height,
            (right - left - 0.6).max(0.6),
            duration(from.round() as u64),
            duration(to.round() as u64)
        )?;
    }
    Ok(())
}

/// The fastest and slowest calls, as the bins see them: each recorded value stands for the
/// highest value equivalent to it (as the snapshot's quantiles do).
pub(super) fn recorded_range(histogram: &LatencyHistogram) -> (u64, u64) {
    let mut bins = histogram.bins();
    let fastest = bins.next().map_or(0, |bin| bin.highest_ns);
    (fastest, histogram.max())
}

/// A log-scale axis over whole decades of nanoseconds: `10^lo_exp` at `left`, `10^hi_exp` at
/// `left + width`, every decade the same width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LogScale {
    lo_exp: u32,
    hi_exp: u32,
    left: f64,
    width: f64,
}

/// The largest power of ten a `u64` holds.
pub(super) const MAX_EXP: u32 = 19;

impl LogScale {
    /// The fewest whole decades holding every value from `lowest_ns` to `highest_ns` (at least
    /// one decade; values below 1 ns count as 1 ns).
    pub(super) fn covering(lowest_ns: u64, highest_ns: u64, left: f64, width: f64) -> Self {
        let lo_exp = lowest_ns.max(1).ilog10().min(MAX_EXP - 1);
        let hi_exp = (highest_ns.max(lowest_ns).max(1).ilog10() + 1).min(MAX_EXP);
        Self {
            lo_exp,
            hi_exp,
            left,
            width,
        }
    }

    pub(super) fn decades(&self) -> u32 {
        self.hi_exp - self.lo_exp
    }

    /// Where `ns` lies on screen; values off the scale are drawn at its ends.
    #[allow(clippy::cast_precision_loss, reason = "a position on screen")]
    pub(super) fn x(&self, ns: u64) -> f64 {
        self.x_f64(ns as f64)
    }

    pub(super) fn x_f64(&self, ns: f64) -> f64 {
        let position = (ns.max(1.0).log10() - f64::from(self.lo_exp)) / f64::from(self.decades());
        self.left + position.clamp(0.0, 1.0) * self.width
    }

    /// The bin of `ns` among `per_decade` equal (on the log scale) bins per decade.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the bin within a decade, from 0 to `per_decade - 1`"
    )]
    pub(super) fn bin_of(&self, ns: u64, per_decade: u32) -> usize {
        let ns = ns.max(1);
        let exponent = ns.ilog10();
        if exponent < self.lo_exp {
            return 0;
        }
        if exponent >= self.hi_exp {
            return (self.decades() * per_decade) as usize - 1;
        }
        // Decided on the integer exponent first, so a power of ten is never put a decade low by
        // rounding; only the position within the decade is a float.
        let within = (ns as f64 / 10_f64.powi(exponent.cast_signed())).log10();
        let sub = ((within * f64::from(per_decade)) as u32).min(per_decade - 1);
        ((exponent - self.lo_exp) * per_decade + sub) as usize
    }

    /// The values bin `bin` covers, from its lower bound to its upper.
    #[allow(clippy::cast_precision_loss, reason = "bin bounds for labels")]
    pub(super) fn bin_range(&self, bin: usize, per_decade: u32) -> (f64, f64) {
        let bound =
            |bin: usize| 10_f64.powf(f64::from(self.lo_exp) + bin as f64 / f64::from(per_decade));
        (bound(bin), bound(bin + 1))
    }

    /// Calls per bin.
    pub(super) fn bins(&self, histogram: &LatencyHistogram, per_decade: u32) -> Vec<u64> {
        let mut counts = vec![0; (self.decades() * per_decade) as usize];
        for bin in histogram.bins() {
            counts[self.bin_of(bin.highest_ns, per_decade)] += bin.count;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_scale_gives_every_decade_the_same_width() {
        let scale = LogScale::covering(1_000, 99_000, 10.0, 200.0);
        assert_eq!((scale.lo_exp, scale.hi_exp, scale.decades()), (3, 5, 2));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(scale.x(1_000), 10.0));
        assert!(close(scale.x(10_000), 110.0));
        assert!(close(scale.x(100_000), 210.0));
        // 10^3.5 lies halfway through the first decade.
        assert!(close(scale.x_f64(10_f64.powf(3.5)), 60.0));
        // Off the scale: drawn at its ends; 0 ns counts as 1 ns.
        assert!(close(scale.x(0), 10.0));
        assert!(close(scale.x(999), 10.0));
        assert!(close(scale.x(u64::MAX), 210.0));
        // Strictly increasing on the scale.
        let xs: Vec<f64> = [1_000, 1_001, 2_000, 9_999, 10_000, 50_000, 99_999]
            .map(|ns| scale.x(ns))
            .to_vec();
        assert!(xs.windows(2).all(|pair| pair[0] < pair[1]), "{xs:?}");
    }

    #[test]
    fn the_scale_covers_whole_decades_around_its_values() {
        let decades = |lo, hi| {
            let scale = LogScale::covering(lo, hi, 0.0, 1.0);
            (scale.lo_exp, scale.hi_exp)
        };
        assert_eq!(
            decades(1_000_000, 1_000_000),
            (6, 7),
            "a power of ten starts its decade"
        );
        assert_eq!(decades(999_999, 1_000_001), (5, 7));
        assert_eq!(decades(0, 0), (0, 1));
        assert_eq!(
            decades(5, 3),
            (0, 1),
            "an inverted range still covers the lowest"
        );
        assert_eq!(decades(1, u64::MAX), (0, MAX_EXP));
    }

    #[test]
    fn bins_split_each_decade_evenly_on_the_log_scale() {
        let scale = LogScale::covering(100_000, 9_000_000, 0.0, 1.0);
        assert_eq!((scale.lo_exp, scale.hi_exp), (5, 7));
        assert_eq!(scale.bin_of(100_000, 10), 0);
        assert_eq!(scale.bin_of(999_999, 10), 9);
        assert_eq!(
            scale.bin_of(1_000_000, 10),
            10,
            "1 ms opens the second decade"
        );
        assert_eq!(scale.bin_of(1_258_925, 10), 10, "just under 10^6.1");
        assert_eq!(scale.bin_of(1_258_926, 10), 11, "just over 10^6.1");
        assert_eq!(scale.bin_of(9_999_999, 10), 19);
        assert_eq!(scale.bin_of(5, 10), 0, "below the scale: the first bin");
        assert_eq!(
            scale.bin_of(u64::MAX, 10),
            19,
            "above the scale: the last bin"
        );
        let (from, to) = scale.bin_range(10, 10);
        assert!((from - 1e6).abs() < 1e-3 && (to - 10_f64.powf(6.1)).abs() < 1e-3);
    }

    #[test]
    fn bins_count_every_recorded_call() {
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(1_000_000, 10);
        histogram.record_n(10_000_000, 5);
        histogram.record(100_000_000);
        let (fastest, slowest) = recorded_range(&histogram);
        let scale = LogScale::covering(fastest, slowest, 0.0, 1.0);
        assert_eq!((scale.lo_exp, scale.hi_exp), (6, 9));
        let bins = scale.bins(&histogram, 10);
        assert_eq!(bins.len(), 30);
        assert_eq!(bins.iter().sum::<u64>(), 16);
        assert_eq!((bins[0], bins[10], bins[20]), (10, 5, 1));
    }
}
