//! `performance_dashboard.html` opened in a real headless Chromium: the DOM after the page's
//! script ran (a click on a column header sorts the rows), escaping of hostile node names, and a
//! screenshot kept as a test artifact under `target/instrument-test-artifacts/`.
//!
//! Chromium is installed by `scripts/test-all`. `INSTRUMENT_UPDATE_DOCS=1 cargo test --test
//! dashboard` also copies the pipeline-like screenshot to `docs/dashboard.png` for the README.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use instrument_runtime::{
    BreakerState, ManualClock, Snapshot, budget, check_budgets, circuit_breaker, counted,
    export::dashboard_html, snapshot, timed,
};

// ---------------------------------------------------------------------------------------------
// A small snapshot for the DOM checks: a passing and a failing budget, a node not exercised, a
// counted node, a node whose name tries to inject a script, and a breaker that opened.

const ODD_NAME: &str = "dom <script>alert(\"pwned\")</script> & 'quoted'";

fn step(clock: &ManualClock, took: Duration) {
    clock.advance(took);
}

#[budget(name = "dom_fast", p95 = "2ms", p99 = "3ms", min_samples = 10)]
fn dom_fast(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(name = "dom_slow", p95 = "5ms", p99 = "8ms", min_samples = 10)]
fn dom_slow(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(name = "dom_unexercised", p95 = "1ms", min_samples = 100)]
fn dom_unexercised(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[timed(name = "dom <script>alert(\"pwned\")</script> & 'quoted'")]
fn dom_odd(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[counted(name = "dom_counted")]
fn dom_counted(fail: bool) -> Result<(), String> {
    if fail {
        Err("bad input".to_owned())
    } else {
        Ok(())
    }
}

#[circuit_breaker(name = "dom_breaker", failure_threshold = 2, timeout = "1s")]
fn dom_fetch(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        Err(std::io::Error::other("upstream <down> & \"out\""))
    } else {
        Ok(())
    }
}

/// Runs every `dom_` node on a manual clock and keeps only them in the snapshot.
fn dom_snapshot() -> Snapshot {
    let clock = ManualClock::new();
    let _installed = clock.install();
    for i in 0..40 {
        dom_fast(&clock, Duration::from_micros(800 + 10 * i));
        dom_slow(&clock, Duration::from_millis(4 + i % 20)); // p95 ~ 22 ms: over
        dom_odd(&clock, Duration::from_millis(3));
        let _ = dom_counted(i % 4 == 0);
    }
    for _ in 0..3 {
        dom_unexercised(&clock, Duration::from_micros(400));
    }
    // closed -> open, then after the timeout two good probes close it, and it opens again.
    dom_fetch(true).unwrap_err();
    dom_fetch(true).unwrap_err();
    clock.advance(Duration::from_secs(1));
    dom_fetch(false).unwrap();
    dom_fetch(false).unwrap();
    clock.advance(Duration::from_millis(300));
    dom_fetch(true).unwrap_err();
    dom_fetch(true).unwrap_err();
    let mut snapshot = snapshot();
    let names = [
        ODD_NAME,
        "dom_counted",
        "dom_fast",
        "dom_fetch",
        "dom_slow",
        "dom_unexercised",
    ];
    snapshot
        .nodes
        .retain(|node| names.contains(&node.name.as_str()));
    snapshot
        .breakers
        .retain(|breaker| breaker.name == "dom_breaker");
    snapshot
}

#[test]
fn the_dashboard_sorts_on_a_header_click_escapes_names_and_renders_in_chromium() {
    let snapshot = dom_snapshot();
    let names: Vec<&str> = snapshot
        .nodes
        .iter()
        .map(|node| node.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            ODD_NAME,
            "dom_counted",
            "dom_fast",
            "dom_fetch",
            "dom_slow",
            "dom_unexercised"
        ],
        "the snapshot's order, which the table starts in"
    );
    let budgets = check_budgets(&snapshot);
    assert_eq!((budgets.passed, budgets.failed), (1, 1));
    assert_eq!(snapshot.breakers[0].state, BreakerState::Open);
    assert_eq!(snapshot.breakers[0].timeline.len(), 4);

    let html = dashboard_html(&snapshot, &budgets);
    assert_eq!(html, dashboard_html(&snapshot, &budgets), "deterministic");
    assert_escaped_and_self_contained(&html);
    let dir = artifact_dir().join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("performance_dashboard.html");
    std::fs::write(&page, &html).unwrap();

    // As loaded: rows in the snapshot's order; the script ran and sorted nothing.
    let dom = dump_dom(&page, "");
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "an injected script element"
    );
    assert!(dom.contains("dom &lt;script&gt;alert(\"pwned\")&lt;/script&gt; &amp; 'quoted'"));
    assert_eq!(rows(&dom, "nodes"), (0..6).collect::<Vec<_>>());
    assert!(!dom.contains("data-sorted="));
    assert_header_clicks_sort(&page, &names);

    // The charts, the budget lines and the breaker's timeline are in the page.
    assert_eq!(dom.matches("<svg class=\"latency\"").count(), 4);
    assert_eq!(dom.matches("<line class=\"budget over\"").count(), 2);
    assert_eq!(dom.matches("<line class=\"budget within\"").count(), 2);
    assert_eq!(dom.matches("<line class=\"budget unjudged\"").count(), 1);
    assert!(dom.contains("<td class=\"state open\" data-value=\"0\">OPEN</td>"));
    assert_eq!(dom.matches("<rect class=\"seg ").count(), 5);
    assert_eq!(dom.matches("<rect class=\"seg open\"").count(), 2);
    assert!(dom.contains("upstream &lt;down&gt; &amp; \"out\""));

    let png = artifact_dir().join("dashboard.png");
    screenshot(&page, &png);
    assert_png(&png, 1200, 800);
}

fn assert_escaped_and_self_contained(html: &str) {
    assert!(
        !html.contains("<script>alert"),
        "the node name was written as markup"
    );
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("upstream <down>"));
    for network in ["http:", "https:", " src=", " href=", "url("] {
        assert!(!html.contains(network), "the page would load `{network}`");
    }
}

/// Clicks headers through the page's `#click=` hook and checks the order of the rows.
fn assert_header_clicks_sort(page: &Path, names: &[&str]) {
    let by_name = |order: &[usize]| order.iter().map(|&i| names[i]).collect::<Vec<_>>();

    // One click on `p95`: ascending by p95, nodes without latency last, in their order.
    let dom = dump_dom(page, "#click=p95");
    assert_eq!(
        by_name(&rows(&dom, "nodes")),
        [
            "dom_unexercised",
            "dom_fast",
            ODD_NAME,
            "dom_slow",
            "dom_counted",
            "dom_fetch"
        ]
    );
    let p95 = column_values(&dom, "nodes", 4);
    assert!(p95[..4].windows(2).all(|pair| pair[0] < pair[1]), "{p95:?}");
    assert_eq!(p95[4..], [None, None]);
    assert!(dom.contains("data-sorted=\"p95 ascending\""));
    assert_eq!(attribute(header(&dom, "p95"), "aria-sort"), "ascending");

    // A second click reverses it; empty cells stay last.
    let dom = dump_dom(page, "#click=p95,p95");
    assert_eq!(
        by_name(&rows(&dom, "nodes")),
        [
            "dom_slow",
            ODD_NAME,
            "dom_fast",
            "dom_unexercised",
            "dom_counted",
            "dom_fetch"
        ]
    );
    assert!(dom.contains("data-sorted=\"p95 descending\""));
    assert_eq!(attribute(header(&dom, "p95"), "aria-sort"), "descending");

    // Text columns sort by code point; the verdict column puts failures first.
    let dom = dump_dom(page, "#click=node,node");
    assert_eq!(rows(&dom, "nodes"), (0..6).rev().collect::<Vec<_>>());
    let dom = dump_dom(page, "#click=verdict");
    assert_eq!(
        by_name(&rows(&dom, "nodes")),
        [
            "dom_slow",
            "dom_unexercised",
            "dom_fast",
            ODD_NAME,
            "dom_counted",
            "dom_fetch"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// A richer, pipeline-like run for the README's screenshot: eight nodes with realistic latency
// spreads, one budget over, and three breakers: one flapping under 30% faults, one through a long
// outage that breaks its recovery SLA, one open at the end.

/// A deterministic pseudo-random source (xorshift64*), so the picture is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1].
    #[allow(
        clippy::cast_precision_loss,
        reason = "53 random bits make an exact f64"
    )]
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1_u64 << 53) as f64
    }

    /// Log-normal around `median_ms`, spread `sigma`: the shape of most service latencies.
    fn latency(&mut self, median_ms: f64, sigma: f64) -> Duration {
        let normal = (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
        Duration::from_secs_f64(median_ms * (sigma * normal).exp() / 1_000.0)
    }
}

#[budget(p95 = "2ms", p99 = "3ms")]
fn sanitization(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(p95 = "3ms", p99 = "5ms")]
#[counted]
fn plan_processing(clock: &ManualClock, took: Duration, fail: bool) -> Result<(), String> {
    step(clock, took);
    if fail {
        Err("unreadable header".to_owned())
    } else {
        Ok(())
    }
}

#[budget(p95 = "4ms", p99 = "6ms")]
fn document_segmentation(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(p95 = "50ms", p99 = "80ms")]
#[circuit_breaker(
    name = "embedding",
    failure_threshold = 3,
    timeout = "20ms",
    recovery = "2s",
    fallback = cached_embedding
)]
fn embedding(clock: &ManualClock, took: Duration, fail: bool) -> Result<(), String> {
    step(clock, took);
    if fail {
        Err("model server timed out".to_owned())
    } else {
        Ok(())
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn cached_embedding(_: &ManualClock, _: Duration, _: bool) -> Result<(), String> {
    Ok(())
}

#[budget(p95 = "8ms", p99 = "12ms")]
#[circuit_breaker(
    name = "contradiction_detection",
    failure_threshold = 3,
    timeout = "500ms",
    recovery = "50ms",
    fallback = no_contradictions
)]
fn contradiction_detection(clock: &ManualClock, took: Duration, fail: bool) -> Result<(), String> {
    step(clock, took);
    if fail {
        Err("detector unavailable".to_owned())
    } else {
        Ok(())
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn no_contradictions(_: &ManualClock, _: Duration, _: bool) -> Result<(), String> {
    Ok(())
}

#[budget(p95 = "5ms", p99 = "8ms")]
fn monetary_detection(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(p95 = "6ms", p99 = "10ms")]
fn feasibility_scoring(clock: &ManualClock, took: Duration) {
    step(clock, took);
}

#[budget(p95 = "15ms", p99 = "25ms")]
#[circuit_breaker(
    name = "teoria_cambio",
    failure_threshold = 3,
    timeout = "1s",
    recovery = "2s",
    fallback = partial_theory
)]
fn teoria_cambio(clock: &ManualClock, took: Duration, fail: bool) -> Result<(), String> {
    step(clock, took);
    if fail {
        Err("validator returned 503".to_owned())
    } else {
        Ok(())
    }
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "a fallback has the guarded function's signature"
)]
fn partial_theory(_: &ManualClock, _: Duration, _: bool) -> Result<(), String> {
    Ok(())
}

const PIPELINE: [&str; 8] = [
    "contradiction_detection",
    "document_segmentation",
    "embedding",
    "feasibility_scoring",
    "monetary_detection",
    "plan_processing",
    "sanitization",
    "teoria_cambio",
];

fn pipeline_snapshot() -> Snapshot {
    const DOCUMENTS: u64 = 400;
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for document in 0..DOCUMENTS {
        sanitization(&clock, rng.latency(0.9, 0.35));
        let unreadable = rng.unit() < 0.02;
        if plan_processing(&clock, rng.latency(1.2, 0.4), unreadable).is_err() {
            continue;
        }
        document_segmentation(&clock, rng.latency(1.8, 0.3));
        let fault = rng.unit() < 0.3;
        let _ = embedding(&clock, rng.latency(32.0, 0.45), fault);
        // The detector is down for documents 150 to 209: a long outage; its probes, one document
        // apart, take longer than the 50 ms recovery SLA to close it.
        let outage = (150..210).contains(&document);
        let _ = contradiction_detection(&clock, rng.latency(4.0, 0.35), outage);
        monetary_detection(&clock, rng.latency(2.2, 0.4));
        feasibility_scoring(&clock, rng.latency(2.8, 0.3));
        // The validator fails for good near the end: its breaker is open at exit.
        let failing = document >= DOCUMENTS - 12;
        let _ = teoria_cambio(&clock, rng.latency(6.0, 0.5), failing);
        clock.advance(rng.latency(5.0, 0.5));
    }
    let mut snapshot = snapshot();
    snapshot
        .nodes
        .retain(|node| PIPELINE.contains(&node.name.as_str()));
    snapshot
        .breakers
        .retain(|breaker| PIPELINE.contains(&breaker.name.as_str()));
    snapshot
}

#[test]
fn a_pipeline_run_renders_a_representative_dashboard() {
    let snapshot = pipeline_snapshot();
    assert_eq!(snapshot.nodes.len(), PIPELINE.len());
    let budgets = check_budgets(&snapshot);
    assert!(
        budgets.violations.iter().any(|v| v.node == "embedding"),
        "{budgets:?}"
    );
    let breaker = |name| snapshot.breaker(name).unwrap();
    assert!(breaker("embedding").transitions.opened >= 2);
    assert!(breaker("contradiction_detection").recoveries.sla_violations >= 1);
    assert_eq!(breaker("teoria_cambio").state, BreakerState::Open);

    let html = dashboard_html(&snapshot, &budgets);
    let dir = artifact_dir().join("dashboard-pipeline");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("performance_dashboard.html");
    std::fs::write(&page, &html).unwrap();
    let dom = dump_dom(&page, "#click=margin");
    assert_eq!(
        dom.matches("<svg class=\"latency\"").count(),
        PIPELINE.len()
    );
    let first = rows(&dom, "nodes")[0];
    assert_eq!(
        snapshot.nodes[first].name, "embedding",
        "the worst margin first"
    );

    let png = artifact_dir().join("dashboard-pipeline.png");
    screenshot(&page, &png);
    assert_png(&png, 1200, 800);
    if std::env::var_os("INSTRUMENT_UPDATE_DOCS").is_some_and(|value| value == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&png, docs.join("dashboard.png")).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Chromium and the DOM.

/// `target/instrument-test-artifacts`, next to the target directory's `tmp`.
fn artifact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir has a parent")
        .join("instrument-test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on the page with `args`, in a fresh profile, killing it after a minute.
fn chromium(page: &Path, fragment: &str, args: &[String]) -> String {
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "chromium-profile-{}-{}",
        std::process::id(),
        page.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    ));
    let url = format!(
        "file://{}{fragment}",
        page.canonicalize().unwrap().display()
    );
    let spawned = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "`chromium` is not installed: run scripts/test-all, which installs it (Debian's \
             `chromium` package), or `apt-get install -y chromium`"
        ),
        Err(error) => panic!("could not start chromium: {error}"),
    };
    // Read both pipes while it runs: a DOM larger than a pipe's buffer would block it otherwise.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium did not finish within 60 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap().unwrap();
    let stderr = stderr.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "chromium failed on {url}: {status}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8(stdout).unwrap()
}

/// The DOM after the page's scripts ran.
fn dump_dom(page: &Path, fragment: &str) -> String {
    let dom = chromium(page, fragment, &["--dump-dom".to_owned()]);
    assert!(dom.contains("</html>"), "no DOM from chromium: {dom}");
    dom
}

fn screenshot(page: &Path, png: &Path) {
    let _ = std::fs::remove_file(png);
    chromium(
        page,
        "",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,800".to_owned(),
        ],
    );
}

fn assert_png(png: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(png).unwrap_or_else(|error| panic!("{}: {error}", png.display()));
    assert!(bytes.len() > 10_000, "a {}-byte screenshot", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (width, height));
}

/// The body of the table with this id.
fn table_body<'a>(dom: &'a str, id: &str) -> &'a str {
    let table = &dom[dom.find(&format!("id=\"{id}\"")).expect("the table")..];
    let body = &table[table.find("<tbody>").unwrap()..];
    &body[..body.find("</tbody>").unwrap()]
}

/// The rows' `data-index` (their position in the snapshot), in the order shown.
fn rows(dom: &str, id: &str) -> Vec<usize> {
    table_body(dom, id)
        .split("<tr")
        .skip(1)
        .map(|row| attribute(row, "data-index").parse().unwrap())
        .collect()
}

/// Column `column`'s sort values, in the order shown; `None` for an empty cell.
fn column_values(dom: &str, id: &str, column: usize) -> Vec<Option<f64>> {
    table_body(dom, id)
        .split("<tr")
        .skip(1)
        .map(|row| {
            let cell = row.split("<td").nth(column + 1).expect("the cell");
            let value = attribute(cell, "data-value");
            (!value.is_empty()).then(|| value.parse().unwrap())
        })
        .collect()
}

/// The opening tag of the column header with this key.
fn header<'a>(dom: &'a str, key: &str) -> &'a str {
    let at = dom
        .find(&format!("data-key=\"{key}\""))
        .expect("the header");
    let start = dom[..at].rfind("<th").unwrap();
    &dom[start..at + dom[at..].find('>').unwrap()]
}

fn attribute<'a>(element: &'a str, name: &str) -> &'a str {
    let start = element.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
    let length = element[start..].find('"').unwrap();
    &element[start..start + length]
}
