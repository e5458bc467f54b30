//! Nodes 1 to 3, on the text itself: `sanitization` normalizes it, `plan_processing` reads the
//! header (the one node whose `Err` is counted with `#[counted]`), `document_segmentation` splits
//! the body into sentences tagged with their axis.

use std::fmt;

use super::simulate_work;

/// Normalizes raw text: line endings, odd spaces, zero-width and control characters, typographic
/// quotes and dashes. Runs of spaces become one space, spaces at line ends go, and blank lines
/// collapse to one, so that a paragraph break is always exactly `"\n\n"`.
#[instrument_runtime::budget(p95 = "2ms", p99 = "3ms")]
pub(crate) fn sanitization(raw: &str) -> String {
    simulate_work("sanitization");
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    // Newlines just written; starting at 2 drops leading blank lines and spaces.
    let mut newlines = 2_u8;
    let mut after_cr = false;
    for c in raw.chars() {
        if c == '\n' && after_cr {
            after_cr = false;
            continue;
        }
        after_cr = c == '\r';
        let c = match c {
            '\r' | '\n' | '\u{c}' => '\n',
            '\u{200b}'..='\u{200d}' | '\u{feff}' => continue,
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            c if c.is_whitespace() => ' ',
            c if c.is_control() => continue,
            c => c,
        };
        match c {
            '\n' => {
                pending_space = false;
                if newlines < 2 {
                    out.push('\n');
                    newlines += 1;
                }
            }
            ' ' => pending_space = newlines == 0,
            c => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
                newlines = 0;
            }
        }
    }
    out.truncate(out.trim_end().len());
    out
}

// `plan_processing`

/// What the plan's header says about it.
#[derive(Debug)]
pub(crate) struct PlanMetadata {
    pub(crate) municipality: String,
    pub(crate) department: String,
    pub(crate) mayor: Option<String>,
    /// First and last year of the four-year term.
    pub(crate) period: (u16, u16),
    /// The names of the strategic axes, in order.
    pub(crate) axes: Vec<String>,
}

/// Why a plan was rejected.
#[derive(Debug)]
pub(crate) enum PlanError {
    NotAPlan,
    MissingField(&'static str),
    InvalidPeriod(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAPlan => f.write_str("not a municipal development plan"),
            Self::MissingField(field) => write!(f, "the header has no `{field}`"),
            Self::InvalidPeriod(period) => {
                write!(f, "`{period}` is not a four-year term like `2024-2027`")
            }
        }
    }
}

/// Reads the header (`Key: value` lines up to the first blank line) and the axis headings.
#[instrument_runtime::budget(p95 = "3ms", p99 = "5ms")]
#[instrument_runtime::counted]
pub(crate) fn plan_processing(text: &str) -> Result<PlanMetadata, PlanError> {
    simulate_work("plan_processing");
    let (header, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = header.lines();
    if !lines
        .next()
        .is_some_and(|title| title.starts_with("MUNICIPAL DEVELOPMENT PLAN"))
    {
        return Err(PlanError::NotAPlan);
    }
    let (mut municipality, mut department, mut mayor, mut period) = (None, None, None, None);
    for line in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = Some(value.trim());
        match key.trim() {
            "Municipality" => municipality = value,
            "Department" => department = value,
            "Mayor" => mayor = value,
            "Period" => period = value,
            _ => {}
        }
    }
    let axes = body
        .lines()
        .filter_map(|line| line.strip_prefix("Strategic axis "))
        .filter_map(|heading| heading.split_once(": "))
        .map(|(_, name)| name.to_owned())
        .collect();
    Ok(PlanMetadata {
        municipality: municipality
            .ok_or(PlanError::MissingField("Municipality"))?
            .to_owned(),
        department: department
            .ok_or(PlanError::MissingField("Department"))?
            .to_owned(),
        mayor: mayor.map(str::to_owned),
        period: parse_period(period.ok_or(PlanError::MissingField("Period"))?)?,
        axes,
    })
}

/// `2024-2027`: a municipal term is four calendar years.
fn parse_period(period: &str) -> Result<(u16, u16), PlanError> {
    let invalid = || PlanError::InvalidPeriod(period.to_owned());
    let (start, end) = period.split_once('-').ok_or_else(invalid)?;
    let start: u16 = start.trim().parse().map_err(|_| invalid())?;
    let end: u16 = end.trim().parse().map_err(|_| invalid())?;
    if (2000..2100).contains(&start) && end == start + 3 {
        Ok((start, end))
    } else {
        Err(invalid())
    }
}

// `document_segmentation`

/// One sentence of the plan's body, borrowed from the sanitized text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment<'a> {
    /// Index of the strategic axis it belongs to; `None` for the introduction.
    pub(crate) axis: Option<usize>,
    pub(crate) text: &'a str,
}

/// Splits the body into paragraphs and the paragraphs into sentences, tracking the axis each
/// sentence belongs to. Paragraphs are hard-wrapped, so a sentence may span lines.
#[instrument_runtime::budget(p95 = "4ms", p99 = "6ms")]
pub(crate) fn document_segmentation(text: &str) -> Vec<Segment<'_>> {
    simulate_work("document_segmentation");
    let body = text.split_once("\n\n").map_or("", |(_, body)| body);
    let mut segments = Vec::new();
    let mut axis = None;
    for paragraph in body.split("\n\n") {
        if paragraph.starts_with("Strategic axis ") {
            axis = Some(axis.map_or(0, |axis| axis + 1));
            continue;
        }
        let mut start = 0;
        let bytes = paragraph.as_bytes();
        for (at, byte) in bytes.iter().enumerate() {
            // A full stop ends a sentence only before whitespace: `2.5` and `US$1.2` stay whole.
            let ends_sentence = matches!(byte, b'.' | b'!' | b'?')
                && bytes.get(at + 1).is_none_or(u8::is_ascii_whitespace);
            if ends_sentence {
                push_segment(&mut segments, axis, &paragraph[start..=at]);
                start = at + 1;
            }
        }
        push_segment(&mut segments, axis, &paragraph[start..]);
    }
    segments
}

fn push_segment<'a>(segments: &mut Vec<Segment<'a>>, axis: Option<usize>, text: &'a str) {
    let text = text.trim();
    if !text.is_empty() {
        segments.push(Segment { axis, text });
    }
}
