//! The smallest use of the runtime: `#[timed]` on one function and one line in `main`.
//!
//! ```text
//! cargo run --release --example timed
//! ```
//!
//! It prints what the runtime measured, read while the program runs; at exit the report is
//! written (its path is the last line on stderr).

/// A node named `word_count`, after the function: every call's wall time goes into its latency
/// histogram. The function itself is unchanged.
#[instrument_runtime::timed]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

fn main() {
    // The one line `main` needs: the report is then written however the program ends (`main`
    // returning, `process::exit`, a panic, SIGTERM or Ctrl-C).
    instrument_runtime::report_at_exit();

    let text = "budgets are declared in code and checked in CI ".repeat(200);
    let words: usize = (0..1_000).map(|_| word_count(&text)).sum();

    // `snapshot()` is what the report is made of: every node, called or not, sorted by name.
    let snapshot = instrument_runtime::snapshot();
    let node = snapshot
        .node("word_count")
        .expect("a timed function is a node");
    let latency = node
        .latency
        .as_ref()
        .expect("a node that was called has latencies");
    println!(
        "{words} words counted; word_count: {} calls, p50 {} ns, p99 {} ns",
        node.calls, latency.p50_ns, latency.p99_ns
    );
}
