//! Text read from a file, made safe to print: a node name from a tampered report or a key of a
//! budgets file must not move the cursor, recolor a CI log or reorder what a reader sees.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that would act on a terminal instead of showing written as an
/// escape: `\r`, `\n`, `\t`, `\x1b` for the other ASCII controls, `\u{9b}` for the C1 controls
/// and for the invisible text-direction marks and overrides (U+061C, U+200E, U+200F,
/// U+202A to U+202E, U+2066 to U+2069). Everything else, backslashes included, is unchanged, so
/// a sane name prints as itself and costs no allocation.
///
/// Every name or key the gate and the budgets file's diagnostics print from a file goes through
/// this one function.
///
/// ```
/// use instrument_runtime::format::printable;
///
/// assert_eq!(printable("Store::get"), "Store::get");
/// assert_eq!(printable("bad\r\x1b[31mname"), r"bad\r\x1b[31mname");
/// assert_eq!(printable("abc\u{202e}fed"), r"abc\u{202e}fed");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => shown.push_str(r"\r"),
            '\n' => shown.push_str(r"\n"),
            '\t' => shown.push_str(r"\t"),
            c if c.is_ascii_control() => {
                let _ = write!(shown, r"\x{:02x}", u32::from(c));
            }
            c if acts_on_terminal(c) => {
                let _ = write!(shown, r"\u{{{:x}}}", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Control characters, and the text-direction marks that reorder a line without showing.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_names_are_borrowed_unchanged() {
        for name in [
            "embedding",
            "Store::get",
            "checkout v2",
            "api.v1-users",
            "größe",
            r"C:\path",
            "",
        ] {
            assert!(matches!(printable(name), Cow::Borrowed(shown) if shown == name));
        }
    }

    #[test]
    fn controls_become_escapes() {
        let cases = [
            ("a\rb", r"a\rb"),
            ("a\nb\tc", r"a\nb\tc"),
            ("\x1b[2K\x1b[1Agone", r"\x1b[2K\x1b[1Agone"),
            ("nul\0", r"nul\x00"),
            ("del\x7f", r"del\x7f"),
            ("csi\u{9b}31m", r"csi\u{9b}31m"),
            ("evil\u{202e}txt.exe", r"evil\u{202e}txt.exe"),
            ("\u{2066}x\u{2069}", r"\u{2066}x\u{2069}"),
            ("mark\u{200f}", r"mark\u{200f}"),
        ];
        for (text, shown) in cases {
            assert_eq!(printable(text), shown, "{text:?}");
            assert!(!printable(text).chars().any(acts_on_terminal));
        }
    }
}
