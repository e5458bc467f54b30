//! The circuit breakers' timeline: each breaker's states over the run, and its transitions.

use std::fmt::{self, Write as _};

use crate::breaker::snapshot::BreakerSnapshot;
use crate::breaker::{BreakerState, Transition, TransitionCause};

use super::tables::{shorten, state_class};
use super::text::{Escaped, UtcTime, duration, tick_label};

/// Geometry of the breaker timeline, in SVG user units.
pub(super) const TIMELINE_WIDTH: f64 = 1000.0;
pub(super) const TIMELINE_BAND_LEFT: f64 = 200.0;
pub(super) const TIMELINE_BAND_RIGHT: f64 = 990.0;
pub(super) const TIMELINE_ROW: f64 = 24.0;
pub(super) const TIMELINE_TOP: f64 = 4.0;
pub(super) const TIMELINE_AXIS: f64 = 22.0;

/// One time axis for every breaker (they all keep time on the breaker clock), from just before
/// the first transition to just after the last; times in nanoseconds on that clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimeSpan {
    /// The first transition: the axis counts from it.
    origin: u64,
    start: u64,
    end: u64,
}

impl TimeSpan {
    pub(super) fn of(breakers: &[BreakerSnapshot]) -> Option<Self> {
        let times = breakers
            .iter()
            .flat_map(|breaker| breaker.timeline.iter().map(|transition| transition.at_ns));
        let first = times.clone().min()?;
        let last = times.max()?;
        let pad = ((last - first) / 20).max(1_000_000);
        Some(Self {
            origin: first,
            start: first.saturating_sub(pad),
            end: last.saturating_add(pad),
        })
    }

    #[allow(clippy::cast_precision_loss, reason = "a position on screen")]
    pub(super) fn x(&self, ns: u64) -> f64 {
        let position = (ns.clamp(self.start, self.end) - self.start) as f64
            / (self.end - self.start).max(1) as f64;
        TIMELINE_BAND_LEFT + position * (TIMELINE_BAND_RIGHT - TIMELINE_BAND_LEFT)
    }
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `ns`: a tick step people read.
pub(super) fn nice_step(ns: u64) -> u64 {
    let mut power = 1_u64;
    loop {
        for multiple in [1, 2, 5] {
            let step = power.saturating_mul(multiple);
            if step >= ns || step == u64::MAX {
                return step;
            }
        }
        power = power.saturating_mul(10);
    }
}

pub(super) fn write_timeline(out: &mut String, breakers: &[BreakerSnapshot]) -> fmt::Result {
    let Some(span) = TimeSpan::of(breakers) else {
        return writeln!(
            out,
            "<p class=\"note\">No breaker has changed state: every one has been closed since it \
             started.</p>"
        );
    };
    writeln!(out, "<h3>State timeline</h3>")?;
    writeln!(
        out,
        "<div class=\"legend\"><span class=\"closed\">closed</span>\
         <span class=\"half-open\">half-open</span><span class=\"open\">open</span></div>"
    )?;
    #[allow(clippy::cast_precision_loss, reason = "a handful of rows")]
    let rows = breakers.len() as f64;
    let height = TIMELINE_TOP + rows * TIMELINE_ROW + TIMELINE_AXIS;
    writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {TIMELINE_WIDTH} {height}\" role=\"img\" \
         aria-label=\"Circuit breaker states over time\">"
    )?;
    let axis_y = TIMELINE_TOP + rows * TIMELINE_ROW;
    let step = nice_step((span.end - span.start) / 8);
    let mut tick = span.origin;
    while tick <= span.end {
        let x = span.x(tick);
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TIMELINE_TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">+{}</text>",
            axis_y + 3.0,
            axis_y + 15.0,
            if tick == span.origin {
                "0".to_owned()
            } else {
                tick_label(tick - span.origin)
            }
        )?;
        tick = tick.saturating_add(step);
        if tick == u64::MAX {
            break;
        }
    }
    for (row, breaker) in breakers.iter().enumerate() {
        #[allow(clippy::cast_precision_loss, reason = "a handful of rows")]
        let y = TIMELINE_TOP + row as f64 * TIMELINE_ROW;
        writeln!(
            out,
            "<text class=\"row-name\" x=\"0\" y=\"{:.1}\">{}<title>{}</title></text>",
            y + 15.0,
            Escaped(&shorten(&breaker.name, 26)),
            Escaped(&breaker.name)
        )?;
        for segment in segments(breaker, &span) {
            let x = span.x(segment.from_ns);
            let width = (span.x(segment.to_ns) - x).max(1.0);
            writeln!(
                out,
                "<rect class=\"seg {}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" \
                 height=\"{:.1}\"><title>{}: {} from +{} for {}</title></rect>",
                state_class(segment.state),
                y + 3.0,
                TIMELINE_ROW - 8.0,
                Escaped(&breaker.name),
                segment.state.as_str(),
                duration(segment.from_ns.saturating_sub(span.origin)),
                duration(segment.to_ns - segment.from_ns)
            )?;
        }
    }
    writeln!(out, "</svg>")
}

/// A stretch of time a breaker spent in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Segment {
    state: BreakerState,
    from_ns: u64,
    to_ns: u64,
}

/// The breaker's states over the span: the state before its first recorded transition, then
/// the state after each, up to the next or the end of the span.
pub(super) fn segments(breaker: &BreakerSnapshot, span: &TimeSpan) -> Vec<Segment> {
    let Some(first) = breaker.timeline.first() else {
        return vec![Segment {
            state: breaker.state,
            from_ns: span.start,
            to_ns: span.end,
        }];
    };
    let mut segments = vec![Segment {
        state: first.from,
        from_ns: span.start,
        to_ns: first.at_ns,
    }];
    for (index, transition) in breaker.timeline.iter().enumerate() {
        let to_ns = breaker
            .timeline
            .get(index + 1)
            .map_or(span.end, |next| next.at_ns);
        segments.push(Segment {
            state: transition.to,
            from_ns: transition.at_ns,
            to_ns: to_ns.max(transition.at_ns),
        });
    }
    segments
}

pub(super) fn write_transitions(out: &mut String, breaker: &BreakerSnapshot) -> fmt::Result {
    let origin = breaker.timeline.first().map_or(0, |first| first.at_ns);
    let counts = breaker.transitions;
    let total = counts.opened + counts.half_opened + counts.closed;
    let kept = breaker.timeline.len() as u64;
    writeln!(
        out,
        "<details><summary><strong>{}</strong>: {total} transition{}{}</summary>",
        Escaped(&breaker.name),
        if total == 1 { "" } else { "s" },
        if total > kept {
            format!(" (the last {kept} kept)")
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "<table class=\"transitions\"><thead><tr><th scope=\"col\" class=\"text\">at (UTC)</th>\
         <th scope=\"col\">since first</th><th scope=\"col\" class=\"text\">from</th>\
         <th scope=\"col\" class=\"text\">to</th><th scope=\"col\" class=\"text\">cause</th>\
         </tr></thead><tbody>"
    )?;
    for transition in &breaker.timeline {
        write_transition(out, transition, origin)?;
    }
    writeln!(out, "</tbody></table></details>")
}

pub(super) fn write_transition(
    out: &mut String,
    transition: &Transition,
    origin_ns: u64,
) -> fmt::Result {
    let time = UtcTime(transition.at_unix_ms);
    writeln!(
        out,
        "<tr><td class=\"text\"><time datetime=\"{}\">{time}</time></td><td>+{}</td>\
         <td class=\"text state {}\">{}</td><td class=\"text state {}\">{}</td>\
         <td class=\"text\">{}</td></tr>",
        time.iso(),
        duration(transition.at_ns.saturating_sub(origin_ns)),
        state_class(transition.from),
        transition.from.as_str(),
        state_class(transition.to),
        transition.to.as_str(),
        Escaped(&cause(transition.cause))
    )
}

pub(super) fn cause(cause: TransitionCause) -> String {
    match cause {
        TransitionCause::ConsecutiveFailures { failures } => {
            format!("{failures} failures in a row")
        }
        TransitionCause::FailureRate { calls, failures } => {
            format!("{failures} of the last {calls} calls failed")
        }
        TransitionCause::TimeoutElapsed => "timeout elapsed, probing".to_owned(),
        TransitionCause::ProbeFailed => "a probe failed".to_owned(),
        TransitionCause::ProbesSucceeded => "probes succeeded".to_owned(),
        TransitionCause::ForcedOpen => "forced open".to_owned(),
        TransitionCause::ForcedClosed => "forced closed".to_owned(),
        TransitionCause::Reset => "reset".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_one_two_or_five_times_a_power_of_ten() {
        let cases = [
            (0, 1),
            (1, 1),
            (3, 5),
            (7, 10),
            (11, 20),
            (450, 500),
            (1_000_000, 1_000_000),
            (1_000_001, 2_000_000),
            (u64::MAX, u64::MAX),
        ];
        for (at_least, step) in cases {
            assert_eq!(nice_step(at_least), step, "{at_least}");
        }
    }
}
