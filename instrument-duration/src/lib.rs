//! Budgets as users write them: the durations (`50ms`, `1.5ms`, `250us`, `2s`, `1m`) and the
//! keys (`p95`, `tolerance`, ...).
//!
//! `#[budget(p95 = "50ms")]` and `performance_budgets.yaml` read durations with this one parser
//! and know their keys from this one list ([`BudgetKey`]), so a budget moves between the code and
//! the file unchanged, and a mistake gets the same message in both: what was wrong, and where it
//! can, the duration written right. For the same reason both suggest a key close to a mistyped
//! one by one policy, [`suggest::closest`].

mod keys;
pub mod suggest;

pub use keys::BudgetKey;

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000), // Greek mu, which keyboards produce as often as the micro sign
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
];

const EXPECTED_UNITS: &str = "`ns`, `us`, `µs`, `ms`, `s`, `m`";

/// Units people write that are not accepted, with the accepted unit and the factor to it, so the
/// error can show the duration written right.
const ALIASES: [(&str, &str, u128); 28] = [
    ("nsec", "ns", 1),
    ("nsecs", "ns", 1),
    ("nanos", "ns", 1),
    ("nanosecond", "ns", 1),
    ("nanoseconds", "ns", 1),
    ("usec", "us", 1),
    ("usecs", "us", 1),
    ("micros", "us", 1),
    ("microsecond", "us", 1),
    ("microseconds", "us", 1),
    ("msec", "ms", 1),
    ("msecs", "ms", 1),
    ("millis", "ms", 1),
    ("millisecond", "ms", 1),
    ("milliseconds", "ms", 1),
    ("sec", "s", 1),
    ("secs", "s", 1),
    ("second", "s", 1),
    ("seconds", "s", 1),
    ("min", "m", 1),
    ("mins", "m", 1),
    ("minute", "m", 1),
    ("minutes", "m", 1),
    ("h", "m", 60),
    ("hr", "m", 60),
    ("hrs", "m", 60),
    ("hour", "m", 60),
    ("hours", "m", 60),
];

/// Parses a positive duration to whole nanoseconds; the error message quotes what was written.
///
/// Accepts a whole or decimal number (`_` may group digits) and one of the units `ns`, `us`
/// (or `µs`), `ms`, `s` and `m`, with no space between.
///
/// ```
/// use instrument_duration::parse_nanos;
///
/// assert_eq!(parse_nanos("1.5ms"), Ok(1_500_000));
/// assert_eq!(parse_nanos("2sec"), Err("unknown unit `sec` in `2sec`; write `2s`".to_owned()));
/// ```
///
/// # Errors
///
/// A message naming the mistake: no number, no unit, an unknown unit (with the duration written
/// right when the unit is a known spelling such as `sec` or `MS`), zero or negative, a fraction
/// of a nanosecond, or more than `u64::MAX` nanoseconds.
pub fn parse_nanos(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "a duration must be greater than zero, found `{text}`"
        ));
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let number = number.replace('_', "");
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.matches('.').count() > 1
    {
        return Err(format!("expected a duration like `50ms`, found `{text}`"));
    }
    if unit.is_empty() {
        return Err(format!(
            "missing unit in `{text}`; expected a duration like `{number}ms`, with one of {EXPECTED_UNITS}"
        ));
    }
    let Some(&(_, unit_ns)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(match rewritten(&number, unit) {
            Some(written) => format!("unknown unit `{unit}` in `{text}`; write `{written}`"),
            None => format!("unknown unit `{unit}` in `{text}`; expected one of {EXPECTED_UNITS}"),
        });
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let too_long = || {
        format!(
            "duration `{text}` is too long; the longest is about 584 years (`u64::MAX` nanoseconds)"
        )
    };
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let fraction_scale = 10_u128
        .checked_pow(u32::try_from(fraction.len()).map_err(|_| too_long())?)
        .ok_or_else(too_long)?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_long())?
    };
    let scaled_fraction = fraction * unit_ns;
    if !scaled_fraction.is_multiple_of(fraction_scale) {
        return Err(format!("`{text}` is not a whole number of nanoseconds"));
    }
    let nanos = whole
        .checked_mul(unit_ns)
        .and_then(|nanos| nanos.checked_add(scaled_fraction / fraction_scale))
        .and_then(|nanos| u64::try_from(nanos).ok())
        .ok_or_else(too_long)?;
    if nanos == 0 {
        return Err(format!(
            "a duration must be greater than zero, found `{text}`"
        ));
    }
    Ok(nanos)
}

/// A duration in the largest unit that writes it exactly, as [`parse_nanos`] reads it back:
/// `80ms`, `1500us`, `2s`.
///
/// ```
/// use instrument_duration::{format_nanos, parse_nanos};
///
/// assert_eq!(format_nanos(1_500_000), "1500us");
/// assert_eq!(parse_nanos(&format_nanos(80_000_000)), Ok(80_000_000));
/// ```
pub fn format_nanos(nanos: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let (scale, unit) = UNITS
        .into_iter()
        .find(|(scale, _)| nanos.is_multiple_of(*scale))
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / scale)
}

/// `number` in an accepted unit, when `unit` is a known way of writing one (`sec`, `MS`, ` ms`).
fn rewritten(number: &str, unit: &str) -> Option<String> {
    let lower = unit.trim().to_lowercase();
    if let Some((name, _)) = UNITS.iter().find(|(name, _)| *name == lower) {
        return Some(format!("{number}{name}"));
    }
    let &(_, name, factor) = ALIASES.iter().find(|(alias, _, _)| *alias == lower)?;
    if factor == 1 {
        return Some(format!("{number}{name}"));
    }
    let whole: u128 = number.parse().ok()?;
    Some(format!("{}{name}", whole.checked_mul(factor)?))
}

#[cfg(test)]
mod tests {
    use super::{format_nanos, parse_nanos};

    #[test]
    fn format_nanos_uses_the_largest_exact_unit() {
        assert_eq!(format_nanos(80_000_000), "80ms");
        assert_eq!(format_nanos(1_500_000), "1500us");
        assert_eq!(format_nanos(2_000_000_000), "2s");
        assert_eq!(format_nanos(7), "7ns");
    }

    #[test]
    fn every_unit_and_decimals() {
        let cases = [
            ("100ns", 100),
            ("250us", 250_000),
            ("250µs", 250_000),
            ("250μs", 250_000),
            ("50ms", 50_000_000),
            ("1.5ms", 1_500_000),
            ("0.25s", 250_000_000),
            ("2s", 2_000_000_000),
            ("1m", 60_000_000_000),
            ("1_000ms", 1_000_000_000),
            ("750ns", 750),
            ("0.5ms", 500_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_nanos(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("fifty", "expected a duration like `50ms`, found `fifty`"),
            (
                "50",
                "missing unit in `50`; expected a duration like `50ms`, with one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
            ),
            (
                "50xs",
                "unknown unit `xs` in `50xs`; expected one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
            ),
            ("50sec", "unknown unit `sec` in `50sec`; write `50s`"),
            ("2.5 ms", "unknown unit ` ms` in `2.5 ms`; write `2.5ms`"),
            ("50MS", "unknown unit `MS` in `50MS`; write `50ms`"),
            ("2h", "unknown unit `h` in `2h`; write `120m`"),
            (
                "10millis",
                "unknown unit `millis` in `10millis`; write `10ms`",
            ),
            (
                "1.5h",
                "unknown unit `h` in `1.5h`; expected one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
            ),
            ("0ms", "a duration must be greater than zero, found `0ms`"),
            ("0.0s", "a duration must be greater than zero, found `0.0s`"),
            ("-5ms", "a duration must be greater than zero, found `-5ms`"),
            ("5.ms", "expected a duration like `50ms`, found `5.ms`"),
            (".5ms", "expected a duration like `50ms`, found `.5ms`"),
            (
                "600y",
                "unknown unit `y` in `600y`; expected one of `ns`, `us`, `µs`, `ms`, `s`, `m`",
            ),
            ("1.5ns", "`1.5ns` is not a whole number of nanoseconds"),
            ("1..5ms", "expected a duration like `50ms`, found `1..5ms`"),
            (
                "99999999999999999999s",
                "duration `99999999999999999999s` is too long; the longest is about 584 years (`u64::MAX` nanoseconds)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse_nanos(text), Err(message.to_owned()), "{text}");
        }
    }
}
