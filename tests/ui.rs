//! Compile-fail and compile-pass cases of the attributes: every mistake a user can make in an
//! attribute gets a readable message on the offending token, and unusual signatures expand cleanly.
//!
//! The `.stderr` snapshots are the compiler's exact output, which changes between releases, so the
//! test runs on one pinned stable only. To update the snapshots, see `DEVELOPMENT.md`.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr snapshots are written by rustc 1.95; other compilers word and place diagnostics differently"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/fail/*.rs");
    cases.pass("ui-tests/pass/*.rs");
}
