//! Counts and sizes for people: means and bytes.

/// A mean count: whole numbers as they are, others to two decimals.
pub(crate) struct Mean(pub(crate) f64);

impl std::fmt::Display for Mean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.fract() == 0.0 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:.2}", self.0)
        }
    }
}

/// Bytes for people: `1000 B`, `4.00 KiB`, `12.0 MiB`, to three significant figures. The
/// alternate form (`{:#}`) joins number and unit with a no-break space, for HTML text.
pub(crate) struct Bytes(pub(crate) f64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let (mut value, mut unit) = (self.0, 0);
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            return write!(f, "{} B", Mean(value));
        }
        let decimals = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        let space = if f.alternate() { '\u{a0}' } else { ' ' };
        write!(f, "{value:.decimals$}{space}{}", UNITS[unit])
    }
}
