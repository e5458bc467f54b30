//! Other unusual but valid functions: raw identifiers, argument patterns, `extern "C"`, nested and
//! macro-generated functions, recursion, visibility and other attributes kept as written.

#[instrument_runtime::timed]
fn r#match(value: u32) -> bool {
    value == 1
}

#[instrument_runtime::counted(name = "unusual_patterns")]
fn swap((left, right): (u32, u32), mut scale: u32, _: ()) -> (u32, u32) {
    scale += 1;
    (right * scale, left * scale)
}

#[instrument_runtime::timed(name = "unusual_extern_c")]
extern "C" fn from_c(value: i32) -> i32 {
    value + 1
}

#[instrument_runtime::counted(name = "unusual_recursive")]
fn factorial(n: u64) -> u64 {
    if n <= 1 {
        return 1;
    }
    n * factorial(n - 1)
}

pub(crate) mod visible {
    /// Doc comments and other attributes stay on the function.
    #[inline]
    #[must_use]
    #[instrument_runtime::timed(name = "unusual_pub_crate")]
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn length(text: String) -> usize {
        text.len()
    }
}

macro_rules! instrumented_getter {
    ($name:ident, $value:expr) => {
        #[instrument_runtime::counted]
        fn $name() -> u32 {
            $value
        }
    };
}

instrumented_getter!(seven, 7);

#[instrument_runtime::timed(name = "unusual_outer")]
fn outer() -> u32 {
    #[instrument_runtime::timed(name = "unusual_inner")]
    fn inner() -> u32 {
        1
    }
    inner() + inner()
}

#[instrument_runtime::timed(name = "unusual_inner_attrs")]
fn with_inner_attribute() -> u32 {
    #![allow(clippy::let_and_return)]
    let value = 3;
    value
}

#[instrument_runtime::counted(name = "unusual_dyn")]
fn describe(value: &dyn std::fmt::Debug) -> String {
    format!("{value:?}")
}

#[instrument_runtime::budget(name = "unusual_main", p99 = "10s")]
fn main() {
    assert!(r#match(1));
    assert_eq!(swap((1, 2), 1, ()), (4, 2));
    assert_eq!(from_c(1), 2);
    assert_eq!(factorial(5), 120);
    assert_eq!(visible::length("abc".to_owned()), 3);
    assert_eq!(seven(), 7);
    assert_eq!(outer(), 2);
    assert_eq!(with_inner_attribute(), 3);
    assert_eq!(describe(&1), "1");
    let snapshot = instrument_runtime::snapshot();
    assert_eq!(
        snapshot
            .node("match")
            .expect("raw identifier unrawed")
            .calls,
        1
    );
    assert_eq!(
        snapshot
            .node("unusual_recursive")
            .expect("registered")
            .calls,
        5
    );
    assert_eq!(snapshot.node("unusual_inner").expect("registered").calls, 2);
}
