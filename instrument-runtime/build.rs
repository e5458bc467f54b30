//! Records the compiler that builds the runtime, for the performance passport.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or_else(
            || "rustc (unknown version)".to_owned(),
            |v| v.trim().to_owned(),
        );
    println!("cargo::rustc-env=INSTRUMENT_RUSTC_VERSION={version}");
}
