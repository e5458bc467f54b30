//! Durations for people, in the summary table, the dashboard and messages.

use std::io::{self, IsTerminal as _};

/// How the summary table is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStyle {
    /// Plain ASCII: for logs, CI, files, and when `NO_COLOR` is set.
    Ascii,
    /// Colored verdicts and `µs`, for a terminal.
    Color,
}

impl TableStyle {
    /// [`Color`](Self::Color) when stderr is a terminal and `NO_COLOR` is unset or empty.
    ///
    /// ```
    /// // Under `cargo test`, stderr is captured: not a terminal.
    /// assert_eq!(instrument_runtime::format::TableStyle::for_stderr(), instrument_runtime::format::TableStyle::Ascii);
    /// ```
    pub fn for_stderr() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        if no_color || !io::stderr().is_terminal() {
            Self::Ascii
        } else {
            Self::Color
        }
    }
}

/// Formats nanoseconds for people, to three significant figures: `850ns`, `12.3us`, `1.25ms`,
/// `2.50s`.
///
/// ```
/// use instrument_runtime::format::{format_duration, TableStyle};
/// assert_eq!(format_duration(1_254_000, TableStyle::Ascii), "1.25ms");
/// assert_eq!(format_duration(12_300, TableStyle::Color), "12.3µs");
/// assert_eq!(format_duration(850, TableStyle::Ascii), "850ns");
/// ```
#[allow(
    clippy::cast_precision_loss,
    reason = "three significant figures are printed"
)]
pub fn format_duration(ns: u64, style: TableStyle) -> String {
    let micro = if style == TableStyle::Ascii {
        "us"
    } else {
        "µs"
    };
    let (value, unit) = match ns {
        0..1_000 => return format!("{ns}ns"),
        1_000..1_000_000 => (ns as f64 / 1e3, micro),
        1_000_000..1_000_000_000 => (ns as f64 / 1e6, "ms"),
        _ => (ns as f64 / 1e9, "s"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$}{unit}")
}
