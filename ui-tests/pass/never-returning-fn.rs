//! A function that never returns (`-> !`) compiles without warnings.

#![deny(warnings)]

#[instrument_runtime::counted(name = "never_counted")]
fn fail_counted(message: &str) -> ! {
    panic!("{message}")
}

#[instrument_runtime::timed(name = "never_timed")]
fn fail_timed(message: &str) -> ! {
    panic!("{message}")
}

fn main() {
    assert!(std::panic::catch_unwind(|| fail_counted("on purpose")).is_err());
    assert!(std::panic::catch_unwind(|| fail_timed("on purpose")).is_err());
}
