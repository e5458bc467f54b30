//! What a crate depending on ours gets: its lockfile gains only what the runtime needs, and the
//! build without the `enabled` feature compiles the attributes away.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A new crate in a scratch directory that depends on the runtime by path, with `dependency`
/// appended to the dependency's table and `main` as its `src/main.rs`.
fn user_crate(name: &str, dependency: &str, main: &str) -> PathBuf {
    let dir = common::scratch_dir(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("instrument-runtime");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"user-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ninstrument-runtime = {{ path = {:?}{dependency} }}\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    dir
}

/// Resolves a user crate offline (every package it may need is in the local cache: this
/// workspace resolved them), and returns its `Cargo.lock`.
fn user_lockfile(name: &str, dependency: &str) -> String {
    let dir = user_crate(name, dependency, "fn main() {}\n");
    let output = Command::new(env!("CARGO"))
        .args(["generate-lockfile", "--offline"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lockfile = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    lockfile
}

#[test]
fn a_users_lockfile_gains_no_package_of_the_model_checks() {
    for (name, dependency) in [
        ("lockfile-default", ""),
        ("lockfile-http", ", features = [\"http\"]"),
    ] {
        let lockfile = user_lockfile(name, dependency);
        assert!(lockfile.contains("name = \"instrument-runtime\""));
        for package in ["loom", "generator", "scoped-tls"] {
            assert!(
                !lockfile.contains(&format!("name = \"{package}\"\n")),
                "`{package}` is in a user's lockfile ({name})"
            );
        }
    }
}

/// A user's program built without the `enabled` feature: each attribute leaves the bare function.
const DISABLED_MAIN: &str = r#"
#[instrument_runtime::budget(p95 = "1ms")]
#[instrument_runtime::circuit_breaker(failure_threshold = 1, fallback = cached)]
fn parse(text: &str) -> Result<u32, String> {
    text.parse().map_err(|error: std::num::ParseIntError| error.to_string())
}

fn cached(_text: &str) -> Result<u32, String> {
    Ok(0)
}

#[instrument_runtime::timed]
#[instrument_runtime::counted(in_flight)]
async fn later(x: u32) -> u32 {
    x * 2
}

fn main() {
    instrument_runtime::report_at_exit();
    // the same signature as written
    let function: fn(&str) -> Result<u32, String> = parse;
    assert_eq!(function("7"), Ok(7));
    // no breaker: every failure reaches the caller, the fallback never answers
    for _ in 0..3 {
        assert!(parse("x").is_err());
    }
    let _future: std::pin::Pin<Box<dyn std::future::Future<Output = u32>>> = Box::pin(later(1));
    // the block form leaves its expression, and a guard that measures nothing
    let lengths: Vec<usize> = ["a", "bc"]
        .iter()
        .map(|entry| {
            let _node = instrument_runtime::timed_scope!("visit");
            instrument_runtime::timed_scope!("measure", entry.len())
        })
        .collect();
    assert_eq!(lengths, [1, 2]);
    assert!(instrument_runtime::record::nodes().is_empty());
    assert!(instrument_runtime::snapshot().breakers.is_empty());
    println!("bare");
}
"#;

#[test]
fn without_the_enabled_feature_the_attributes_leave_the_bare_functions() {
    let dir = user_crate("disabled", ", default-features = false", DISABLED_MAIN);
    // This build's target directory: the dependencies compiled for these tests are reused.
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap();
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target.join("disabled-user"))
        .env("INSTRUMENT_REPORT_DIR", dir.join("report"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "bare\n");
    assert!(
        !dir.join("report").exists(),
        "no report from a build that records nothing"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
