//! The `INSTRUMENT_*` environment variables: one reading of on/off values for all of them, and a
//! warning, once per variable, for a value that means nothing, so a typo is never silently taken
//! for the default.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// `Some(false)` for `0`, `off`, `false`, `no`; `Some(true)` for `1`, `on`, `true`, `yes` (any
/// case); `None` when unset or empty. Anything else is warned about once and read as unset.
pub(crate) fn switch(name: &'static str) -> Option<bool> {
    let value = std::env::var(name).ok()?;
    parse_switch(&value).unwrap_or_else(|()| {
        warn_once(
            name,
            &format!("instrument: ignoring {name}={value:?}: expected `on` or `off`"),
        );
        None
    })
}

fn parse_switch(value: &str) -> Result<Option<bool>, ()> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "0" | "off" | "false" | "no" => Ok(Some(false)),
        "1" | "on" | "true" | "yes" => Ok(Some(true)),
        _ => Err(()),
    }
}

/// Prints `message` to stderr the first time it is asked for `key` in this process.
pub(crate) fn warn_once(key: &str, message: &str) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if WARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.to_owned())
    {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_read_the_usual_spellings_and_refuse_the_rest() {
        assert_eq!(parse_switch("OFF"), Ok(Some(false)));
        assert_eq!(parse_switch("0"), Ok(Some(false)));
        assert_eq!(parse_switch("no"), Ok(Some(false)));
        assert_eq!(parse_switch(" on "), Ok(Some(true)));
        assert_eq!(parse_switch(""), Ok(None));
        assert_eq!(parse_switch("disabled"), Err(()));
    }
}
