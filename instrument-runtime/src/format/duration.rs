//! Durations for people, in the summary table, the dashboard and messages.

use std::io::{self, IsTerminal as _};

/// How the summary table is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStyle {
    /// Plain ASCII: for logs, files, pipes, and when `NO_COLOR` is set.
    Ascii,
    /// Colored verdicts and `µs`, for a terminal.
    Color,
}

impl TableStyle {
    /// The style for a stream, by the one color policy of the runtime's report and the gate:
    /// `NO_COLOR` set (not empty) means [`Ascii`](Self::Ascii) always (<https://no-color.org>);
    /// else `CLICOLOR_FORCE` set (not empty, not `0`) means [`Color`](Self::Color) even into a
    /// pipe or a file; else color exactly when the stream is a terminal. `NO_COLOR` wins over
    /// `CLICOLOR_FORCE`, as in clap's and cargo's terminal handling.
    ///
    /// `CI` is not consulted: a CI job's output is colored only if the job gives it a terminal
    /// (its log viewer then renders the colors) or sets `CLICOLOR_FORCE`, and a job that wants
    /// plain logs on a terminal sets `NO_COLOR`, the variable made for it.
    ///
    /// ```
    /// use instrument_runtime::format::TableStyle;
    /// # if std::env::var_os("NO_COLOR").is_none() && std::env::var_os("CLICOLOR_FORCE").is_none() {
    /// assert_eq!(TableStyle::for_stream(false), TableStyle::Ascii);
    /// assert_eq!(TableStyle::for_stream(true), TableStyle::Color);
    /// # }
    /// ```
    pub fn for_stream(is_terminal: bool) -> Self {
        Self::choose(
            is_terminal,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("CLICOLOR_FORCE").as_deref(),
        )
    }

    /// [`for_stream`](Self::for_stream) for stderr, where the report at exit writes.
    ///
    /// ```
    /// // Under `cargo test`, stderr is captured: not a terminal.
    /// # if std::env::var_os("CLICOLOR_FORCE").is_none() {
    /// assert_eq!(instrument_runtime::format::TableStyle::for_stderr(), instrument_runtime::format::TableStyle::Ascii);
    /// # }
    /// ```
    pub fn for_stderr() -> Self {
        Self::for_stream(io::stderr().is_terminal())
    }

    /// The policy of [`for_stream`](Self::for_stream), on the variables' values.
    fn choose(
        is_terminal: bool,
        no_color: Option<&std::ffi::OsStr>,
        clicolor_force: Option<&std::ffi::OsStr>,
    ) -> Self {
        let no_color = no_color.is_some_and(|value| !value.is_empty());
        let forced = clicolor_force.is_some_and(|value| !value.is_empty() && value != "0");
        if !no_color && (forced || is_terminal) {
            Self::Color
        } else {
            Self::Ascii
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_on_a_terminal_unless_no_color_and_anywhere_when_forced() {
        use std::ffi::OsStr;
        let (set, empty, zero) = (
            Some(OsStr::new("1")),
            Some(OsStr::new("")),
            Some(OsStr::new("0")),
        );
        let style = TableStyle::choose;
        assert_eq!(style(true, None, None), TableStyle::Color);
        assert_eq!(style(false, None, None), TableStyle::Ascii);
        // Empty counts as unset, for both.
        assert_eq!(style(true, empty, empty), TableStyle::Color);
        assert_eq!(style(false, empty, empty), TableStyle::Ascii);
        assert_eq!(style(true, set, None), TableStyle::Ascii);
        assert_eq!(style(false, None, set), TableStyle::Color);
        assert_eq!(style(false, None, zero), TableStyle::Ascii);
        // NO_COLOR wins.
        assert_eq!(style(true, set, set), TableStyle::Ascii);
    }
}
