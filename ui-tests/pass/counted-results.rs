//! `#[counted]` on fallible functions: `io::Result`, `?` with a `From` conversion, early returns.

use std::fmt;
use std::io::{self, Read};
use std::num::ParseIntError;

#[derive(Debug)]
enum AppError {
    Io(io::Error),
    Parse(ParseIntError),
    Empty,
}

impl From<io::Error> for AppError {
    fn from(error: io::Error) -> Self {
        AppError::Io(error)
    }
}

impl From<ParseIntError> for AppError {
    fn from(error: ParseIntError) -> Self {
        AppError::Parse(error)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Io(error) => write!(f, "io: {error}"),
            AppError::Parse(error) => write!(f, "parse: {error}"),
            AppError::Empty => f.write_str("empty"),
        }
    }
}

#[instrument_runtime::counted(name = "counted_io_read")]
fn read_all(mut source: impl Read) -> io::Result<String> {
    let mut text = String::new();
    source.read_to_string(&mut text)?;
    Ok(text)
}

#[instrument_runtime::counted(name = "counted_question_from", in_flight)]
fn parse_total(source: &[u8]) -> Result<u64, AppError> {
    let text = read_all(source)?;
    if text.trim().is_empty() {
        return Err(AppError::Empty);
    }
    let mut total = 0;
    for part in text.split(',') {
        let value: u64 = part.trim().parse()?;
        if value == 0 {
            return Ok(total);
        }
        total += value;
    }
    Ok(total)
}

#[instrument_runtime::counted(name = "counted_boxed_error")]
fn parse_boxed(text: &str) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text.parse::<u64>()?)
}

#[instrument_runtime::counted(name = "counted_option")]
fn first_even(values: &[u32]) -> Option<u32> {
    let first = values.first()?;
    if first % 2 == 0 {
        return Some(*first);
    }
    values.iter().copied().find(|value| value % 2 == 0)
}

fn main() -> Result<(), AppError> {
    assert_eq!(read_all(&b"abc"[..])?, "abc");
    assert_eq!(parse_total(b"1, 2, 3")?, 6);
    assert_eq!(parse_total(b"4, 0, 9")?, 4);
    assert!(matches!(parse_total(b" "), Err(AppError::Empty)));
    assert!(matches!(parse_total(b"x"), Err(AppError::Parse(_))));
    assert_eq!(parse_boxed("12").ok(), Some(12));
    assert!(parse_boxed("twelve").is_err());
    assert_eq!(first_even(&[3, 4]), Some(4));
    let snapshot = instrument_runtime::snapshot();
    let node = snapshot.node("counted_question_from").expect("registered");
    assert_eq!((node.calls, node.errors), (4, 2));
    Ok(())
}
