//! The writer: families printed in either text format, numbers spelled as Prometheus reads them.

use std::fmt::Write as _;

use super::Format;
use super::family::{Family, Kind, Value};

/// Appends a label value, escaped: backslash, double quote and line feed.
pub(super) fn write_escaped_label_value(out: &mut String, value: &str) {
    // A scrape writes some forty thousand label values and almost none needs escaping: a test
    // of every byte with no early exit, which the compiler vectorizes, then one copy.
    if !(value.bytes()).fold(false, |any, byte| {
        any | matches!(byte, b'\\' | b'"' | b'\n')
    }) {
        out.push_str(value);
        return;
    }
    let mut rest = value;
    while let Some(at) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Escapes HELP text: backslash and line feed (and, for `OpenMetrics`, double quote).
pub(super) fn escape_help(help: &str, format: Format) -> String {
    let mut escaped = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if format == Format::OpenMetrics => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Nanoseconds as an exact decimal number of seconds: `1500000` is `0.0015`.
pub(crate) fn seconds(ns: u64) -> String {
    let mut text = String::new();
    push_seconds(&mut text, ns);
    text
}

/// Appends nanoseconds as an exact decimal number of seconds. Integers are written with `itoa`
/// rather than `fmt`: a scrape of a thousand nodes writes some forty thousand numbers.
pub(super) fn push_seconds(out: &mut String, ns: u64) {
    let (whole, mut fraction) = (ns / 1_000_000_000, ns % 1_000_000_000);
    push_int(out, whole);
    if fraction == 0 {
        return;
    }
    let mut digits = 9;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    let mut buffer = itoa::Buffer::new();
    let fraction = buffer.format(fraction);
    out.push('.');
    out.push_str(&"000000000"[..digits - fraction.len()]);
    out.push_str(fraction);
}

/// Appends an integer, with `itoa`.
fn push_int(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends a float as Prometheus spells it.
pub(super) fn push_float(out: &mut String, value: f64) {
    match value {
        value if value.is_nan() => out.push_str("NaN"),
        value if value.is_infinite() => out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" }),
        // Writing into a `String` cannot fail.
        value => drop(write!(out, "{value}")),
    }
}

/// Prints families in one of the two formats, after `head` (lines written before the families,
/// kept in the same allocation).
pub(crate) fn render_after(head: String, families: &[Family<'_>], format: Format) -> String {
    // Sized from what the lines hold, so that the text is written into one allocation: a
    // thousand nodes make a few megabytes, and every doubling on the way would copy them again.
    let size: usize = families.iter().map(Family::text_size).sum();
    let mut out = head;
    out.reserve(size + 16);
    // One series' labels, escaped once for all the lines of its histogram.
    let mut labels = String::new();
    let mut scratch = Scratch::default();
    for family in families {
        // `OpenMetrics` names a family without the suffix its samples carry.
        let family_name = match (format, family.kind) {
            (Format::OpenMetrics, Kind::Counter) => {
                family.name.strip_suffix("_total").unwrap_or(&family.name)
            }
            (Format::OpenMetrics, Kind::Info) => {
                family.name.strip_suffix("_info").unwrap_or(&family.name)
            }
            _ => &family.name,
        };
        write_metadata(
            &mut out,
            "HELP",
            family_name,
            &escape_help(family.help, format),
        );
        write_metadata(&mut out, "TYPE", family_name, family.kind.as_str(format));
        if let (Format::OpenMetrics, Some(unit)) = (format, family.unit) {
            write_metadata(&mut out, "UNIT", family_name, unit);
        }
        for series in &family.series {
            labels.clear();
            for (key, value) in series.labels.iter() {
                if !labels.is_empty() {
                    labels.push(',');
                }
                labels.push_str(key);
                labels.push_str("=\"");
                write_escaped_label_value(&mut labels, value);
                labels.push('"');
            }
            write_series(
                &mut out,
                &mut scratch,
                &family.name,
                &labels,
                &series.value,
                format,
            );
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

pub(super) fn write_metadata(out: &mut String, keyword: &str, name: &str, text: &str) {
    out.push_str("# ");
    out.push_str(keyword);
    out.push(' ');
    out.push_str(name);
    out.push(' ');
    out.push_str(text);
    out.push('\n');
}

/// A sample's value, or a bucket's bound.
#[derive(Clone, Copy)]
pub(super) enum Number {
    Int(u64),
    /// Nanoseconds, written in seconds.
    Seconds(u64),
    Float(f64),
    /// A bucket bound in nanoseconds, written in seconds; `OpenMetrics` writes bounds as floats,
    /// as its reference clients do (`1.0`).
    Bound(u64, Format),
}

impl Number {
    /// Characters it is written in: exact for counts and seconds, at most for a bound (which
    /// gets `.0` only in `OpenMetrics`), a guess of 24 for a float (a wrong guess only costs the
    /// buffer one growth).
    pub(super) fn len(self) -> usize {
        let digits = |value: u64| value.checked_ilog10().map_or(1, |log| log as usize + 1);
        let seconds = |ns: u64| {
            let mut fraction = ns % 1_000_000_000;
            // A point and the digits up to the last non-zero one.
            let mut decimals = if fraction == 0 { 0 } else { 10 };
            while fraction != 0 && fraction.is_multiple_of(10) {
                fraction /= 10;
                decimals -= 1;
            }
            digits(ns / 1_000_000_000) + decimals
        };
        match self {
            Self::Int(value) => digits(value),
            Self::Seconds(ns) => seconds(ns),
            Self::Float(_) => 24,
            Self::Bound(ns, _) => seconds(ns) + 2,
        }
    }

    pub(super) fn push_to(self, out: &mut String) {
        match self {
            Self::Int(value) => push_int(out, value),
            Self::Seconds(ns) => push_seconds(out, ns),
            Self::Float(value) => push_float(out, value),
            Self::Bound(ns, format) => {
                push_seconds(out, ns);
                if format == Format::OpenMetrics && ns.is_multiple_of(1_000_000_000) {
                    out.push_str(".0");
                }
            }
        }
    }
}

/// What the lines of one render share.
#[derive(Default)]
pub(super) struct Scratch {
    /// The start every bucket line of one histogram shares: `name_bucket{labels,le="`.
    head: String,
    /// Each bucket bound written so far, ascending, and its text.
    bounds: Vec<(u64, String)>,
}

impl Scratch {
    /// `bound_ns` as a bucket's `le`, formatted once per render: a thousand histograms share
    /// most of their bounds, and a lookup costs a fifth of formatting one.
    fn bound(&mut self, bound_ns: u64, format: Format) -> &str {
        let at = match (self.bounds).binary_search_by_key(&bound_ns, |&(bound, _)| bound) {
            Ok(at) => at,
            Err(at) => {
                let mut text = String::new();
                Number::Bound(bound_ns, format).push_to(&mut text);
                self.bounds.insert(at, (bound_ns, text));
                at
            }
        };
        &self.bounds[at].1
    }
}

/// `labels` is the series' label pairs, escaped and comma-separated, without braces.
pub(super) fn write_series(
    out: &mut String,
    scratch: &mut Scratch,
    name: &str,
    labels: &str,
    value: &Value,
    format: Format,
) {
    match value {
        Value::Int(value) => write_sample(out, name, "", labels, None, Number::Int(*value)),
        Value::Seconds(ns) => write_sample(out, name, "", labels, None, Number::Seconds(*ns)),
        Value::Float(value) => write_sample(out, name, "", labels, None, Number::Float(*value)),
        Value::Histogram(buckets) => {
            // A thousand histograms make half the lines of a scrape: each bucket line is its
            // shared head, the bound and the count, three appends instead of nine.
            let head = &mut scratch.head;
            head.clear();
            head.push_str(name);
            head.push_str("_bucket{");
            head.push_str(labels);
            if !labels.is_empty() {
                head.push(',');
            }
            head.push_str("le=\"");
            for &(bound, count) in &buckets.cumulative {
                out.push_str(&scratch.head);
                out.push_str(scratch.bound(bound, format));
                out.push_str("\"} ");
                push_int(out, count);
                out.push('\n');
            }
            out.push_str(&scratch.head);
            out.push_str("+Inf\"} ");
            push_int(out, buckets.count);
            out.push('\n');
            let count = Number::Int(buckets.count);
            let sum = Number::Seconds(buckets.sum_ns);
            write_sample(out, name, "_sum", labels, None, sum);
            write_sample(out, name, "_count", labels, None, count);
        }
    }
}

impl Family<'_> {
    /// The bytes its lines take, HELP and TYPE included: exact but for floats, taken as 24, and
    /// label values and bucket bounds, taken at their longest.
    pub(super) fn text_size(&self) -> usize {
        // HELP (escaping at most doubles the text), TYPE and UNIT lines.
        let metadata = 3 * (9 + self.name.len()) + 2 * self.help.len() + 9 + 7;
        let series: usize = (self.series.iter())
            .map(|series| {
                // Escaping at most doubles a label value: counted so rather than exactly, which
                // would read every value twice.
                let labels: usize = (series.labels.iter())
                    .map(|(key, value)| key.len() + 2 * value.len() + 4)
                    .sum();
                // The name, the labels in braces, a space and a line feed.
                let line = self.name.len() + labels + 4;
                match &series.value {
                    Value::Int(value) => line + Number::Int(*value).len(),
                    Value::Seconds(ns) => line + Number::Seconds(*ns).len(),
                    Value::Float(value) => line + Number::Float(*value).len(),
                    Value::Histogram(buckets) => {
                        let le = ",le=\"\"".len() + "_bucket".len();
                        // No bucket's count has more digits than the total.
                        let count = Number::Int(buckets.count).len();
                        // A bound takes at most its whole seconds, nine decimals and `.0`:
                        // counted so rather than exactly, which would cost as much as writing it.
                        let bound = |ns: u64| Number::Int(ns / 1_000_000_000).len() + 12;
                        (buckets.cumulative.iter())
                            .map(|&(ns, _)| line + le + bound(ns) + count)
                            .sum::<usize>()
                            + (line + le + 4 + count)
                            + (line + 4 + Number::Seconds(buckets.sum_ns).len())
                            + (line + 6 + count)
                    }
                }
            })
            .sum();
        metadata + series
    }
}

#[cfg(test)]
impl Family<'_> {
    /// What `text_size` may count above the text for its series' floats and bounds.
    pub(super) fn rounding(&self) -> usize {
        (self.series.iter())
            .map(|series| {
                // Each line counts its label values twice.
                let labels: usize = series.labels.iter().map(|(_, value)| value.len()).sum();
                match &series.value {
                    Value::Float(_) => 24 + labels,
                    Value::Histogram(buckets) => {
                        (12 + labels) * buckets.cumulative.len() + 3 * labels
                    }
                    _ => labels,
                }
            })
            .sum()
    }
}

pub(super) fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    le: Option<Number>,
    value: Number,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            le.push_to(out);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    value.push_to(out);
    out.push('\n');
}
