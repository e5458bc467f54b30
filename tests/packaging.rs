//! What a crate depending on ours gets: its lockfile gains only what the runtime needs.

mod common;

use std::path::Path;
use std::process::Command;

/// Resolves a new crate that depends on the runtime by path, offline (every package it may need
/// is in the local cache: this workspace resolved them), and returns its `Cargo.lock`.
fn user_lockfile(name: &str, dependency: &str) -> String {
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
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
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
