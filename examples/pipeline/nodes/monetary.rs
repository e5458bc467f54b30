//! Node 7, `monetary_detection`: amounts of money, converted to pesos.

use super::{Segment, simulate_work};

/// Pesos to the dollar, fixed so that runs are comparable.
const PESOS_PER_DOLLAR: u128 = 4_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Currency {
    Pesos,
    Dollars,
}

/// An amount of money found in a segment, converted to pesos.
#[derive(Debug)]
pub(crate) struct MonetaryAmount {
    pub(crate) segment: usize,
    pub(crate) currency: Currency,
    pub(crate) pesos: u64,
}

/// Scans for amounts: `$1,250,000,000`, `$ 850 million`, `COP 1,250 million`,
/// `USD 2.5 million`, `US$75,000`, `850 million pesos`. Percentages, years and counts are not
/// money.
#[instrument_runtime::budget(p95 = "5ms", p99 = "8ms")]
pub(crate) fn monetary_detection(segments: &[Segment<'_>]) -> Vec<MonetaryAmount> {
    simulate_work("monetary_detection");
    let mut found = Vec::new();
    let mut tokens = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        tokens.clear();
        tokens.extend(segment.text.split_whitespace().map(|token| {
            token
                .trim_start_matches('(')
                .trim_end_matches(['.', ',', ';', ':', ')'])
        }));
        let mut at = 0;
        while at < tokens.len() {
            match amount_at(&tokens, at) {
                Some((currency, pesos, next)) => {
                    found.push(MonetaryAmount {
                        segment: index,
                        currency,
                        pesos,
                    });
                    at = next;
                }
                None => at += 1,
            }
        }
    }
    found
}

/// The amount starting at token `at`: its currency, its value in pesos, and the token after it.
fn amount_at(tokens: &[&str], at: usize) -> Option<(Currency, u64, usize)> {
    let token = tokens[at];
    let (prefix, attached) = if let Some(rest) = token.strip_prefix("US$") {
        (Some(Currency::Dollars), rest)
    } else if let Some(rest) = token.strip_prefix('$') {
        (Some(Currency::Pesos), rest)
    } else if token == "COP" {
        (Some(Currency::Pesos), "")
    } else if token == "USD" {
        (Some(Currency::Dollars), "")
    } else {
        (None, token)
    };
    // `$ 850 million`, `COP 1,250 million`: the number is the next token.
    let (number, mut next) = if attached.is_empty() {
        (*tokens.get(at + 1)?, at + 2)
    } else {
        (attached, at + 1)
    };
    let (mantissa, decimals) = parse_number(number)?;
    let scale: u128 = match tokens.get(next).copied() {
        Some("thousand") => 1_000,
        Some("million" | "millones") => 1_000_000,
        Some("billion") => 1_000_000_000,
        _ => 1,
    };
    if scale > 1 {
        next += 1;
    }
    // Without a prefix, only a currency word after the number makes it money.
    let currency = match (prefix, tokens.get(next).copied()) {
        (Some(currency), _) => currency,
        (None, Some("pesos" | "COP")) => Currency::Pesos,
        (None, Some("dollars" | "USD")) => Currency::Dollars,
        (None, _) => return None,
    };
    if prefix.is_none() {
        next += 1;
    }
    let rate = match currency {
        Currency::Pesos => 1,
        Currency::Dollars => PESOS_PER_DOLLAR,
    };
    let pesos = mantissa * scale * rate / 10_u128.pow(decimals);
    Some((currency, u64::try_from(pesos).unwrap_or(u64::MAX), next))
}

/// `1,250,000.5` -> `(12500005, 1)`: digits, optionally grouped by thousands, and decimals.
fn parse_number(text: &str) -> Option<(u128, u32)> {
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut groups = integer.split(',');
    let first = groups.next()?;
    if first.is_empty() || (first.len() > 3 && integer.contains(',')) {
        return None;
    }
    let mut digits = String::with_capacity(text.len());
    digits.push_str(first);
    for group in groups {
        if group.len() != 3 {
            return None;
        }
        digits.push_str(group);
    }
    digits.push_str(fraction);
    if digits.len() > 30 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let decimals = u32::try_from(fraction.len()).ok()?;
    Some((digits.parse().ok()?, decimals))
}
