//! Compile-fail and compile-pass cases of the attributes: every mistake a user can make in an
//! attribute gets a readable message on the offending token, and unusual signatures expand cleanly.
//!
//! The `.stderr` snapshots are the compiler's exact output, which changes between releases, so the
//! cases run on the compiler `rust-toolchain.toml` pins only. To update the snapshots, see
//! `DEVELOPMENT.md`.

/// The compiler the snapshots are written by. The `rustversion` conditions below name the same
/// release; a change to one and not the others fails `the_snapshots_compiler_is_the_pinned_one`
/// in CI.
const PINNED: &str = "1.95.0";

/// Whether this test was built by the pinned compiler: trybuild compiles the cases with the same
/// cargo, so with the same compiler.
const ON_PINNED: bool = rustversion::cfg!(stable(1.95.0));

#[rustversion::attr(
    not(stable(1.95.0)),
    ignore = "the .stderr snapshots are written by rustc 1.95.0 (rust-toolchain.toml); other compilers word and place diagnostics differently"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/fail/*.rs");
    cases.pass("ui-tests/pass/*.rs");
}

/// Off the pinned compiler `ui` is ignored, which is right on a contributor's machine but in CI
/// would turn every case into a silent skip: there, another compiler is a failure.
#[test]
fn the_snapshots_compiler_is_the_pinned_one() {
    let toolchain = include_str!("../rust-toolchain.toml");
    assert!(
        toolchain
            .lines()
            .any(|line| line == format!("channel = \"{PINNED}\"")),
        "rust-toolchain.toml must pin `{PINNED}`, the compiler of the ui snapshots:\n{toolchain}"
    );
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    assert!(
        ON_PINNED || !in_ci,
        "CI is set and this compiler is not rustc {PINNED}, which rust-toolchain.toml pins: the ui \
         snapshots would not be checked. Build with the pinned toolchain (rustup reads the file) or \
         move the pin and the snapshots together (DEVELOPMENT.md, \"Moving to a new compiler\")"
    );
}
