//! Scalars of the budgets file: tolerances and counts.
//! (Durations are read by `instrument_duration`, the parser `#[budget]` uses.)
//!
//! Tolerances read as in `#[budget]`, so a budget moves between the code and the file unchanged;
//! messages are worded as the attribute's.

/// A tolerance as a fraction: `5%` or `0.05`, from 0% to 100%.
pub(super) fn tolerance(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, percent) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), true),
        None => (text, false),
    };
    let Some(value) = number
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && number.starts_with(|c: char| c.is_ascii_digit()))
    else {
        return Err(format!(
            "expected a tolerance like `10%` or `0.1`, found `{text}`"
        ));
    };
    let fraction = if percent { value / 100.0 } else { value };
    if fraction > 1.0 {
        // `tolerance: 5` most likely means five percent, not 500%.
        return Err(if !percent && value <= 100.0 {
            format!(
                "tolerance must be between 0% and 100%, found `{text}`; a number without `%` is a \
                 fraction: write `{text}%` or `{}`",
                value / 100.0
            )
        } else {
            format!("tolerance must be between 0% and 100%, found `{text}`")
        });
    }
    Ok(fraction)
}

/// A count of calls: `100`.
pub(super) fn count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.bytes().all(|byte| byte.is_ascii_digit())
        && let Ok(count) = text.parse()
    {
        return Ok(count);
    }
    Err(format!(
        "expected a whole number of calls like `100`, found `{text}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_as_percent_or_fraction() {
        assert_eq!(tolerance("5%"), Ok(0.05));
        assert_eq!(tolerance("0.05"), Ok(0.05));
        assert_eq!(tolerance("2.5 %"), Ok(0.025));
        assert_eq!(tolerance("0%"), Ok(0.0));
        assert_eq!(tolerance("100%"), Ok(1.0));
        assert_eq!(tolerance("1"), Ok(1.0));
    }

    #[test]
    fn bad_tolerances() {
        assert_eq!(
            tolerance("five"),
            Err("expected a tolerance like `10%` or `0.1`, found `five`".to_owned())
        );
        assert_eq!(
            tolerance("-5%"),
            Err("expected a tolerance like `10%` or `0.1`, found `-5%`".to_owned())
        );
        assert_eq!(
            tolerance("150%"),
            Err("tolerance must be between 0% and 100%, found `150%`".to_owned())
        );
        assert_eq!(
            tolerance("5"),
            Err(
                "tolerance must be between 0% and 100%, found `5`; a number without `%` is a \
                 fraction: write `5%` or `0.05`"
                    .to_owned()
            )
        );
        assert_eq!(
            tolerance("NaN%"),
            Err("expected a tolerance like `10%` or `0.1`, found `NaN%`".to_owned())
        );
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(count("100"), Ok(100));
        assert_eq!(count("0"), Ok(0));
        for text in ["1.5", "-1", "+3", "ten", ""] {
            assert_eq!(
                count(text),
                Err(format!(
                    "expected a whole number of calls like `100`, found `{text}`"
                ))
            );
        }
    }
}
