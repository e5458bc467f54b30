//! The expansion adds no warning under strict lints.

#![deny(
    warnings,
    unused,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    unused_extern_crates,
    unused_lifetimes,
    unused_import_braces,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    let_underscore_drop,
    redundant_lifetimes,
    non_ascii_idents,
    unsafe_code,
    variant_size_differences,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::cargo
)]
#![allow(clippy::cargo_common_metadata)]

/// Doubles a value.
#[instrument_runtime::timed(name = "strict_double")]
fn double(value: u32) -> u32 {
    value * 2
}

/// Parses a number.
#[instrument_runtime::counted(name = "strict_parse", in_flight)]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    let value = text.parse()?;
    Ok(value)
}

/// Runs one step within budget.
#[instrument_runtime::budget(name = "strict_step", p95 = "50ms", p99 = "80ms")]
#[instrument_runtime::counted]
fn step(values: &mut Vec<u32>) {
    values.push(1);
}

/// Waits for nothing.
#[instrument_runtime::counted(name = "strict_async")]
async fn nothing() -> Option<u32> {
    Some(1)
}

/// A public item, documented.
pub mod public {
    /// A public instrumented function.
    #[instrument_runtime::timed(name = "strict_public")]
    pub fn answer() -> u32 {
        42
    }
}

/// A record with an id.
struct Record {
    id: u32,
}

impl Record {
    /// One-line bodies: the wrapper's braces must not read as the user's redundant ones.
    #[instrument_runtime::timed]
    fn id(&self) -> u32 { self.id }

    /// The same, judged for failure and budgeted.
    #[instrument_runtime::budget(p99 = "1ms")]
    #[instrument_runtime::counted]
    fn checked(&self) -> Result<u32, String> { Ok(self.id) }

    /// The same, async.
    #[instrument_runtime::timed]
    async fn later(&self) -> u32 { self.id }
}

fn main() {
    let record = Record { id: 3 };
    assert_eq!(record.id() + record.checked().unwrap_or(0), 6);
    assert_eq!(futures::executor::block_on(record.later()), 3);
    assert_eq!(double(2), 4);
    assert_eq!(parse("5"), Ok(5));
    let mut values = Vec::new();
    step(&mut values);
    assert_eq!(values, [1]);
    assert_eq!(futures::executor::block_on(nothing()), Some(1));
    assert_eq!(public::answer(), 42);
}
