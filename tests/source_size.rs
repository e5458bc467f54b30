//! No source file of the workspace holds more than 800 lines of code outside its test module, and
//! no file of an example more than 600 lines in all: a file a newcomer cannot read in one sitting
//! is split by concern (`DEVELOPMENT.md`).

use std::path::{Path, PathBuf};

const MOST_LINES: usize = 800;
/// Examples teach: each of their files, tests included, reads in one sitting.
const MOST_EXAMPLE_LINES: usize = 600;

/// Lines before the file's test module (`#[cfg(test)]` or `#[cfg(all(test, ...))]` followed by
/// a `mod`, public or not), or all of them.
fn lines_outside_tests(source: &str) -> usize {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .position(|pair| {
            let attribute = pair[0].trim_start();
            (attribute.starts_with("#[cfg(test)]") || attribute.starts_with("#[cfg(all(test"))
                && ["mod ", "pub mod ", "pub(crate) mod "]
                    .iter()
                    .any(|start| pair[1].trim_start().starts_with(start))
        })
        .unwrap_or(lines.len())
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&path, into);
        } else if name.ends_with(".rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_800_lines_outside_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "instrument-duration",
        "instrument-macros",
        "instrument-runtime",
        "instrument-gate",
        "benches",
        "examples",
        "tests",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 100,
        "the walk found the sources: {}",
        files.len()
    );
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = lines_outside_tests(&std::fs::read_to_string(path).unwrap());
            (lines > MOST_LINES)
                .then(|| format!("{} ({lines})", path.strip_prefix(root).unwrap().display()))
        })
        .collect();
    assert!(too_long.is_empty(), "over {MOST_LINES} lines: {too_long:?}");
}

#[test]
fn no_example_file_is_over_600_lines() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut files,
    );
    assert!(
        files.len() >= 5,
        "the walk found the examples: {}",
        files.len()
    );
    for path in files {
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines <= MOST_EXAMPLE_LINES,
            "{} has {lines} lines",
            path.display()
        );
    }
}

#[test]
fn the_count_stops_at_the_test_module() {
    let source = "fn a() {}\n\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\n";
    assert_eq!(lines_outside_tests(source), 2);
    let source = "#[cfg(all(test, not(loom)))]\nmod tests;\n";
    assert_eq!(lines_outside_tests(source), 0);
    assert_eq!(lines_outside_tests("#[cfg(test)]\nfn helper() {}\n"), 2);
    assert_eq!(
        lines_outside_tests("use a;\n#[cfg(test)]\npub(crate) mod tests {}\n"),
        1
    );
}
