//! What the README tells a new user is true: how to depend on the crate, the MSRV, what the
//! pipeline prints, what `scripts/test-all` installs, and images that render outside GitHub.

mod common;

const README: &str = include_str!("../README.md");

/// The body of the first fenced block after `marker`.
fn block_after<'a>(marker: &str) -> &'a str {
    let from = README
        .find(marker)
        .unwrap_or_else(|| panic!("`{marker}` in the README"));
    let rest = &README[from..];
    let open = rest.find("```").unwrap();
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("```").unwrap()]
}

#[test]
fn the_readme_starts_with_the_dependency_line_and_the_msrv() {
    let first_block = block_after("# instrument");
    assert_eq!(
        first_block,
        "[dependencies]\ninstrument-runtime = \"0.1\"\n"
    );
    assert!(README.starts_with("# instrument\n\n```toml\n[dependencies]"));
    let manifest = include_str!("../Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap();
    assert!(
        README.contains(&format!("Rust {msrv} or later (the MSRV")),
        "the README names the MSRV {msrv}"
    );
}

#[test]
fn images_have_absolute_addresses_so_they_render_in_the_crate_docs() {
    for (at, _) in README.match_indices("](") {
        let start = README[..at].rfind("![");
        let is_image = start.is_some_and(|start| !README[start..at].contains('\n'));
        if is_image {
            let target = &README[at + 2..];
            assert!(
                target.starts_with("https://"),
                "a relative image: {}",
                &target[..40]
            );
        }
    }
}

#[test]
fn the_readme_says_what_test_all_installs() {
    let script = include_str!("../scripts/test-all");
    let mut installed: Vec<&str> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("command -v "))
        .filter_map(|line| line.split("missing+=(").nth(1))
        .filter_map(|rest| rest.split(')').next())
        .collect();
    installed.extend(["python3-pip", "prometheus-client", "Miri"]);
    assert!(script.contains("python3-pip") && script.contains("prometheus-client"));
    assert!(script.contains("miri"));
    let paragraph = &README[README.find("`scripts/test-all` runs every test").unwrap()..];
    let paragraph = &paragraph[..paragraph.find("\n\n").unwrap()];
    for package in installed {
        assert!(paragraph.contains(package), "the README names `{package}`");
    }
    assert!(paragraph.contains("root or `sudo`"));
    assert!(paragraph.contains("on two cores"));
}

#[test]
fn the_sample_output_is_what_the_pipeline_prints() {
    let dir = common::scratch_dir("readme-pipeline");
    let output = common::pipeline_command(&["--simulated-latency"])
        .env("INSTRUMENT_REPORT_DIR", &dir)
        .env(instrument_runtime::report::SUMMARY_ENV, "table")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stderr)
        .unwrap()
        .replace(&dir.display().to_string(), "target/instrument");
    let documented = block_after("--simulated-latency`, which runs on a hand-moved clock");
    assert_eq!(printed, documented);
    std::fs::remove_dir_all(&dir).unwrap();
}
