//! The writer: families printed in either text format, numbers spelled as Prometheus reads them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Format;
use super::family::{Buckets, Family, Kind, LabelValue, Labels, Series, Value};

/// Appends a label value, escaped: backslash, double quote and line feed.
pub(super) fn write_escaped_label_value(out: &mut String, value: &str) {
    if !needs_escaping(value.as_bytes()) {
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

/// Whether `value` holds a backslash, a double quote or a line feed. A scrape checks some forty
/// thousand label values and almost none needs escaping: a test of every byte with no early
/// exit, which the compiler vectorizes (measured faster than testing eight bytes at a time in
/// a `u64`).
pub(super) fn needs_escaping(value: &[u8]) -> bool {
    (value.iter()).fold(false, |any, byte| {
        any | matches!(byte, b'\\' | b'"' | b'\n')
    })
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
    // Sized from the last text in this format, with room for it to grow a little, so that a
    // scrape writes into one allocation: a thousand nodes make a few megabytes, and every
    // doubling on the way would copy them again. Counting the text's bytes beforehand would
    // cost a tenth of writing it.
    let last = &LAST_LEN[format as usize];
    let mut out = head;
    let expected = last.load(Ordering::Relaxed);
    out.reserve((expected + expected / 16 + 4096).saturating_sub(out.len()));
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
        scratch.start_family();
        for (index, series) in family.series.iter().enumerate() {
            // The lines the bucket counts of the histograms ahead will read are asked for now,
            // two deep (the chunks are found from the totals and index): after a scrape's fold
            // they are rarely still in the cache.
            let ahead = |distance: usize| match family.series.get(index + distance) {
                Some(Series {
                    value: Value::Histogram(buckets),
                    ..
                }) => Some(buckets),
                _ => None,
            };
            if let Some(buckets) = ahead(2) {
                buckets.histogram.prefetch_totals();
            }
            if let Some(buckets) = ahead(1) {
                buckets.prefetch_chunks();
            }
            scratch.write_series(
                &mut out,
                &family.name,
                &series.labels,
                &series.value,
                format,
            );
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    last.store(out.len(), Ordering::Relaxed);
    out
}

/// The length of the last text rendered in each format.
static LAST_LEN: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

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
    /// The label keys `opening` and `between` are written for; `None` at a family's start.
    keys: Option<[Option<&'static str>; 2]>,
    /// The start of a sample line up to its first label value, `name{key="`, or `name ` for
    /// a series without labels: the same for most series of a family, so written once.
    opening: String,
    /// Between a series' two label values: `",key="`.
    between: String,
    /// One histogram's labels, escaped and comma-separated, without braces.
    labels: String,
    /// The start every bucket line of one histogram shares: `name_bucket{labels,le="`.
    head: String,
    /// Each bucket bound formatted so far, in the order first seen.
    bound_texts: Vec<String>,
    /// The bounds formatted so far, ascending, each with its place in `bound_texts`.
    bounds: Vec<(u64, usize)>,
    /// The bounds of the histogram written last, with their places in `bound_texts`: the next
    /// one shares most of them, found by walking both lists in step rather than by a search
    /// among every node's budget allowances.
    previous: Vec<(u64, usize)>,
    /// The bounds of the histogram being written.
    current: Vec<(u64, usize)>,
}

impl Scratch {
    /// Forgets the line start of the family before.
    fn start_family(&mut self) {
        self.keys = None;
    }

    /// The place in `bound_texts` of `bound_ns` as a bucket's `le`, formatted on first sight:
    /// a thousand histograms share most of their bounds, and a lookup costs a fraction of
    /// formatting one.
    fn bound_text(&mut self, bound_ns: u64, format: Format) -> usize {
        let at = (self.bounds).partition_point(|&(bound, _)| bound < bound_ns);
        match self.bounds.get(at) {
            Some(&(bound, text)) if bound == bound_ns => text,
            _ => {
                let mut text = String::new();
                Number::Bound(bound_ns, format).push_to(&mut text);
                self.bound_texts.push(text);
                self.bounds
                    .insert(at, (bound_ns, self.bound_texts.len() - 1));
                self.bound_texts.len() - 1
            }
        }
    }

    /// Writes one series of the family `name`: one line, or a histogram's.
    pub(super) fn write_series(
        &mut self,
        out: &mut String,
        name: &str,
        labels: &Labels<'_>,
        value: &Value<'_>,
        format: Format,
    ) {
        let number = match value {
            Value::Int(value) => Number::Int(*value),
            Value::Seconds(ns) => Number::Seconds(*ns),
            Value::Float(value) => Number::Float(*value),
            Value::Histogram(buckets) => {
                return self.write_histogram(out, name, labels, buckets, format);
            }
        };
        // Most lines: the family's opening, the label values and the number, five appends.
        let keys = labels.keys();
        if !self.keys.is_some_and(|written| same_keys(written, keys)) {
            self.open(name, keys);
        }
        out.push_str(&self.opening);
        let mut values = labels.iter().map(|(_, value)| value);
        if let Some(first) = values.next() {
            push_label_value(out, first);
            if let Some(second) = values.next() {
                out.push_str(&self.between);
                push_label_value(out, second);
            }
            out.push_str("\"} ");
        }
        number.push_to(out);
        out.push('\n');
    }

    /// Writes the line starts for series of the family `name` with label `keys`.
    fn open(&mut self, name: &str, keys: [Option<&'static str>; 2]) {
        self.keys = Some(keys);
        self.opening.clear();
        self.opening.push_str(name);
        self.between.clear();
        match keys {
            [Some(first), second] => {
                self.opening.push('{');
                self.opening.push_str(first);
                self.opening.push_str("=\"");
                if let Some(second) = second {
                    self.between.push_str("\",");
                    self.between.push_str(second);
                    self.between.push_str("=\"");
                }
            }
            _ => self.opening.push(' '),
        }
    }

    /// A histogram: a line per bucket, `+Inf`, then `_sum` and `_count`.
    fn write_histogram(
        &mut self,
        out: &mut String,
        name: &str,
        labels: &Labels<'_>,
        buckets: &Buckets<'_>,
        format: Format,
    ) {
        let text = &mut self.labels;
        text.clear();
        for (key, value) in labels.iter() {
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(key);
            text.push_str("=\"");
            push_label_value(text, value);
            text.push('"');
        }
        // A thousand histograms make half the lines of a scrape: each bucket line is its
        // shared head, the bound and the count, five appends instead of nine.
        let head = &mut self.head;
        head.clear();
        head.push_str(name);
        head.push_str("_bucket{");
        head.push_str(text);
        if !text.is_empty() {
            head.push(',');
        }
        head.push_str("le=\"");
        self.current.clear();
        // Where the walk of the previous histogram's bounds is.
        let mut step = 0;
        for (bound, count) in buckets.cumulative() {
            while (self.previous.get(step)).is_some_and(|&(seen, _)| seen < bound) {
                step += 1;
            }
            let text = match self.previous.get(step).copied() {
                Some((seen, text)) if seen == bound => text,
                _ => self.bound_text(bound, format),
            };
            self.current.push((bound, text));
            out.push_str(&self.head);
            out.push_str(&self.bound_texts[text]);
            out.push_str("\"} ");
            push_int(out, count);
            out.push('\n');
        }
        std::mem::swap(&mut self.previous, &mut self.current);
        out.push_str(&self.head);
        out.push_str("+Inf\"} ");
        push_int(out, buckets.count);
        out.push('\n');
        let (labels, sum, count) = (&self.labels, buckets.sum_ns, buckets.count);
        write_sample(out, name, "_sum", labels, Number::Seconds(sum));
        write_sample(out, name, "_count", labels, Number::Int(count));
    }
}

/// Whether two series have the same label keys: most often the same literals, told by their
/// address before their bytes.
fn same_keys(a: [Option<&'static str>; 2], b: [Option<&'static str>; 2]) -> bool {
    a.iter().zip(&b).all(|pair| match pair {
        (Some(a), Some(b)) => std::ptr::eq(*a, *b) || a == b,
        (a, b) => a.is_none() && b.is_none(),
    })
}

/// Appends a label value, escaped where it needs to be.
fn push_label_value(out: &mut String, value: LabelValue<'_>) {
    if value.needs_escaping {
        write_escaped_label_value(out, value.text);
    } else {
        out.push_str(value.text);
    }
}

/// `labels` is the series' label pairs, escaped and comma-separated, without braces.
fn write_sample(out: &mut String, name: &str, suffix: &str, labels: &str, value: Number) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
    value.push_to(out);
    out.push('\n');
}
