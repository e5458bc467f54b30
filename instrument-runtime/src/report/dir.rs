//! Where the report goes: never the working directory, which belongs to whoever runs the program.
//!
//! A binary built by cargo lives in its build's target directory (`target/debug/app`,
//! `target/release/examples/app`, `target/debug/deps/app-0123456789abcdef`), which cargo marks
//! with a `CACHEDIR.TAG` file. Its report goes to `instrument/<binary name>/` in that directory,
//! so every binary of a crate (the program, each test binary, a second tool) has its own. A binary
//! run away from its build (installed, copied, shipped) is in no target directory and writes no
//! file unless told where ([`REPORT_DIR_ENV`] or [`set_report_dir`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The environment variable that sets the report directory (it wins over [`set_report_dir`]).
pub const REPORT_DIR_ENV: &str = "INSTRUMENT_REPORT_DIR";

/// The directory, in a build's target directory, that holds one report directory per binary,
/// written as from a workspace root whose target directory is the default one. The pipeline
/// example writes straight into it, and the CI gate reads `report.json` there by default.
pub const DEFAULT_REPORT_DIR: &str = "target/instrument";

static REPORT_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets the directory reports are written to. The environment variable [`REPORT_DIR_ENV`], when
/// set, still wins, so an operator can redirect a program without rebuilding it.
///
/// ```
/// instrument_runtime::report::set_report_dir("target/instrument-doc");
/// # if std::env::var_os(instrument_runtime::report::REPORT_DIR_ENV).is_none() {
/// assert_eq!(
///     instrument_runtime::report::report_dir().as_deref(),
///     Some(std::path::Path::new("target/instrument-doc"))
/// );
/// # }
/// ```
pub fn set_report_dir(dir: impl Into<PathBuf>) {
    *REPORT_DIR.lock().unwrap_or_else(PoisonError::into_inner) = Some(dir.into());
}

/// The directory reports are written to: [`REPORT_DIR_ENV`], else [`set_report_dir`]'s, else
/// `instrument/<binary name>/` in the target directory this binary was built in
/// ([`build_target_dir`]). `None` for a binary run away from its build and told nothing: it
/// writes no report.
///
/// ```
/// match instrument_runtime::report::report_dir() {
///     Some(dir) => println!("the report goes to {}", dir.display()),
///     None => println!("no report: run away from the build, and no directory given"),
/// }
/// ```
pub fn report_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(REPORT_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Some(dir.into());
    }
    if let Some(dir) = REPORT_DIR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
    {
        return Some(dir);
    }
    let exe = std::env::current_exe().ok()?;
    Some(
        build_target_dir()?
            .join("instrument")
            .join(binary_name(&exe)?),
    )
}

/// The cargo target directory the running binary was built in, or `None` when it runs away from
/// its build. Read once.
///
/// ```no_run
/// // the pipeline example's choice: one shared directory, `target/instrument/`
/// if let Some(target) = instrument_runtime::report::build_target_dir() {
///     instrument_runtime::report::set_report_dir(target.join("instrument"));
/// }
/// ```
pub fn build_target_dir() -> Option<PathBuf> {
    static TARGET: OnceLock<Option<PathBuf>> = OnceLock::new();
    TARGET
        .get_or_init(|| target_dir_of(&std::env::current_exe().ok()?))
        .clone()
}

/// The nearest directory above `exe` that cargo marked as a target directory. Cargo puts a binary
/// at most four levels below it (`<triple>/<profile>/deps/`), so no farther ancestor is looked at:
/// a binary installed somewhere inside an unrelated `target/` is not taken for a build.
fn target_dir_of(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .take(4)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

/// The binary's name: its file stem without the hash cargo appends to test binaries.
fn binary_name(exe: &Path) -> Option<String> {
    let stem = exe.file_stem()?.to_string_lossy();
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => &stem,
    };
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_is_named_without_the_hash_of_a_test_binary() {
        let name = |path: &str| binary_name(Path::new(path)).unwrap();
        assert_eq!(
            name("/t/debug/deps/report_at_exit-0123456789abcdef"),
            "report_at_exit"
        );
        assert_eq!(name("/t/debug/my-tool"), "my-tool");
        assert_eq!(name("/t/debug/my-tool.exe"), "my-tool");
    }

    #[test]
    fn the_target_directory_is_the_nearest_marked_one_within_four_levels() {
        let root =
            std::env::temp_dir().join(format!("instrument-target-dir-{}", std::process::id()));
        let deps = root.join("target/x86_64-unknown-linux-gnu/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        assert_eq!(target_dir_of(&deps.join("app")), None, "not marked");
        std::fs::write(root.join("target/CACHEDIR.TAG"), "").unwrap();
        assert_eq!(target_dir_of(&deps.join("app")), Some(root.join("target")));
        assert_eq!(target_dir_of(&deps.join("more/app")), None, "too deep");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
