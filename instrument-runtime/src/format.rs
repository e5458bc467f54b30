//! Shared formatting: durations, tables, dates and printable names.

pub(crate) mod printable;
