//! What goes into the page as text: snapshot strings escaped, times in UTC, durations.

use std::fmt::{self, Display};

use crate::format::{TableStyle, format_duration};

/// Text escaped for HTML element content and quoted attribute values. Control characters,
/// which HTML does not allow even as references, become U+FFFD.
pub(super) struct Escaped<'a>(pub(super) &'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(index) = rest.find(|c: char| needs_escape(c)) {
            f.write_str(&rest[..index])?;
            let c = rest[index..].chars().next().expect("found at index");
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            })?;
            rest = &rest[index + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

pub(super) fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{FDD0}'..='\u{FDEF}')
        || (u32::from(c) & 0xFFFE) == 0xFFFE
}

/// Milliseconds since the Unix epoch as a UTC date and time: `2023-11-14 22:13:20.000 UTC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UtcTime(pub(super) u64);

impl UtcTime {
    /// Year, month, day, hour, minute, second, millisecond.
    pub(super) fn parts(self) -> (u64, u64, u64, u64, u64, u64, u64) {
        let (days, ms_of_day) = (self.0 / 86_400_000, self.0 % 86_400_000);
        let (year, month, day) = crate::format::civil_from_days(days);
        let seconds = ms_of_day / 1_000;
        (
            year,
            month,
            day,
            seconds / 3_600,
            seconds / 60 % 60,
            seconds % 60,
            ms_of_day % 1_000,
        )
    }

    /// The `datetime` attribute form: `2023-11-14T22:13:20.000Z`.
    pub(super) fn iso(self) -> String {
        let (year, month, day, hour, minute, second, ms) = self.parts();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z")
    }
}

impl Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day, hour, minute, second, ms) = self.parts();
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{ms:03} UTC"
        )
    }
}

/// A duration in the page, with `µs`.
pub(super) fn duration(ns: u64) -> String {
    format_duration(ns, TableStyle::Color)
}

/// An axis label: the shortest exact form, `2ms`, `500µs`, `1.5s`, so neighbouring ticks fit.
#[allow(clippy::cast_precision_loss, reason = "tick values are round numbers")]
pub(super) fn tick_label(ns: u64) -> String {
    let (unit, name) = match ns {
        0..1_000 => (1.0, "ns"),
        1_000..1_000_000 => (1e3, "µs"),
        1_000_000..1_000_000_000 => (1e6, "ms"),
        _ => (1e9, "s"),
    };
    // `Display` for `f64` prints the shortest form that reads back the same: 1.5, not 1.50.
    let value = ns as f64 / unit;
    if value >= 100.0 || (value * 10.0).fract() == 0.0 {
        format!("{value}{name}")
    } else {
        format!("{}{name}", (value * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        let cases = [
            ("plain name", "plain name"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a & b", "a &amp; b"),
            ("say \"hi\"", "say &quot;hi&quot;"),
            ("it's", "it&#39;s"),
            ("&amp;", "&amp;amp;"),
            ("tab\tnew\nline", "tab\tnew\nline"),
            ("nul\0bell\u{7}", "nul\u{FFFD}bell\u{FFFD}"),
            ("c1 \u{85} nonchar \u{FFFF}", "c1 \u{FFFD} nonchar \u{FFFD}"),
            ("µs · ≤ 日本", "µs · ≤ 日本"),
            ("", ""),
        ];
        for (raw, escaped) in cases {
            assert_eq!(Escaped(raw).to_string(), escaped, "{raw:?}");
        }
    }

    #[test]
    fn tick_labels_are_short_and_exact() {
        let cases = [
            (0, "0ns"),
            (5, "5ns"),
            (200_000, "200µs"),
            (1_000_000, "1ms"),
            (1_500_000, "1.5ms"),
            (2_000_000_000, "2s"),
            (12_345_678, "12.35ms"),
            (3_600_000_000_000, "3600s"),
        ];
        for (ns, label) in cases {
            assert_eq!(tick_label(ns), label, "{ns}");
        }
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        let cases = [
            (0, "1970-01-01 00:00:00.000 UTC"),
            (951_782_400_000, "2000-02-29 00:00:00.000 UTC"),
            (1_700_000_000_123, "2023-11-14 22:13:20.123 UTC"),
            (4_107_542_399_999, "2100-02-28 23:59:59.999 UTC"),
        ];
        for (unix_ms, text) in cases {
            assert_eq!(UtcTime(unix_ms).to_string(), text);
        }
        assert_eq!(UtcTime(1_700_000_000_123).iso(), "2023-11-14T22:13:20.123Z");
    }
}
