//! Aligned text tables: plain ASCII, or with the verdict column colored on a terminal.

use std::fmt::Write as _;

use instrument_runtime::format::{TableStyle, printable};

/// A table: a header, rows of cells, and which columns are text (left-aligned; the others are
/// numbers) and which one holds the verdict.
pub(crate) struct Table {
    pub(crate) header: &'static [&'static str],
    pub(crate) left_aligned: &'static [usize],
    pub(crate) verdict: usize,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    /// The header, a rule of dashes, then the rows; columns two spaces apart, no trailing space.
    /// Cells hold names read from files, so each is shown [`printable`].
    pub(crate) fn render(&self, style: TableStyle) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| printable(cell).into_owned())
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.header.iter().map(|cell| cell.len()).collect();
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|&cell| cell.to_owned()).collect();
        self.write_row(&mut out, &header, &widths, TableStyle::Ascii);
        let rule: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
        self.write_row(&mut out, &rule, &widths, TableStyle::Ascii);
        for row in &rows {
            self.write_row(&mut out, row, &widths, style);
        }
        out
    }

    fn write_row(&self, out: &mut String, cells: &[String], widths: &[usize], style: TableStyle) {
        for (column, (cell, &width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            let painted = match color_of(cell) {
                Some(color) if style == TableStyle::Color && column == self.verdict => {
                    format!("\x1b[{color}m{cell}\x1b[0m")
                }
                _ => cell.clone(),
            };
            let separator = if column == 0 { "" } else { "  " };
            if self.left_aligned.contains(&column) {
                let _ = write!(out, "{separator}{painted}{:pad$}", "");
            } else {
                let _ = write!(out, "{separator}{:pad$}{painted}", "");
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
}

/// The ANSI color of a verdict: green when good, bold red when bad, yellow when undecided.
fn color_of(cell: &str) -> Option<&'static str> {
    match cell.split(' ').next()? {
        "pass" | "unchanged" | "faster" => Some("32"),
        "FAIL" | "SLOWER" => Some("1;31"),
        "not" | "inconclusive" | "too" => Some("33"),
        _ => None,
    }
}

/// A signed percentage with one decimal: `+52.0%`, `-30.6%`.
pub(crate) fn signed_percent(percent: f64) -> String {
    format!("{percent:+.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            header: &["node", "observed", "verdict"],
            left_aligned: &[0, 2],
            verdict: 2,
            rows: vec![
                vec!["embedding".into(), "71.8ms".into(), "FAIL".into()],
                vec!["sanitization".into(), "956us".into(), "pass".into()],
            ],
        }
    }

    #[test]
    fn ascii_tables_align_numbers_right_and_text_left() {
        assert_eq!(
            table().render(TableStyle::Ascii),
            "\
node          observed  verdict
------------  --------  -------
embedding       71.8ms  FAIL
sanitization     956us  pass
"
        );
    }

    #[test]
    fn only_the_verdict_column_is_colored_and_only_on_request() {
        let colored = table().render(TableStyle::Color);
        assert!(
            colored.contains("\x1b[1;31mFAIL\x1b[0m") && colored.contains("\x1b[32mpass\x1b[0m")
        );
        assert_eq!(colored.matches("\x1b[0m").count(), 2);
        assert!(table().render(TableStyle::Ascii).is_ascii());
    }

    #[test]
    fn names_from_a_file_are_shown_escaped_and_aligned() {
        let mut table = table();
        table.rows[0][0] = "evil\r\x1b[2Kname".into();
        assert_eq!(
            table.render(TableStyle::Ascii),
            "\
node               observed  verdict
-----------------  --------  -------
evil\\r\\x1b[2Kname    71.8ms  FAIL
sanitization          956us  pass
"
        );
    }
}
