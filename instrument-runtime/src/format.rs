//! Shared formatting for every output: durations and the table style, counts and sizes, dates,
//! and names made safe to print. A leaf: it imports nothing from the rest of the crate.

mod date;
mod duration;
mod printable;
mod quantity;

pub(crate) use date::{civil_from_days, rfc3339};
pub use duration::{TableStyle, format_duration};
pub use printable::printable;
pub(crate) use quantity::{Bytes, Mean};
