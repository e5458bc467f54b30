//! The counting allocator: what each node allocates, per call, beside its latency.
//!
//! ```text
//! cargo run --release --example counting_allocator
//! ```

/// Installed as the program's allocator, it charges each allocation to the innermost
/// instrumented call running on its thread. It wraps the system allocator here
/// (`CountingAllocator::new(..)` wraps another); a program without it pays nothing for the
/// counting and reports no memory.
#[global_allocator]
static ALLOCATOR: instrument_runtime::CountingAllocator =
    instrument_runtime::CountingAllocator::system();

/// Allocates one `String` per word: the node's own allocations.
#[instrument_runtime::timed]
fn lowercase_words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_lowercase).collect()
}

/// Allocates the `Vec` of lines itself and calls `lowercase_words`, whose allocations are charged
/// to `lowercase_words`, not here: nested calls keep their own figures, so a node's numbers say
/// what its own code costs.
#[instrument_runtime::timed]
fn parse_document(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().map(|line| lowercase_words(line).len()).sum()
}

fn main() {
    instrument_runtime::report_at_exit();

    let text = "Budgets Are Declared In Code\n".repeat(20);
    let words: usize = (0..100).map(|_| parse_document(&text)).sum();
    println!("{words} words");

    // Per node: allocations and bytes per call, and the most its thread's heap grew during a call
    // (nested calls included). The report, the Prometheus text and the dashboard show the same.
    for node in instrument_runtime::snapshot().nodes {
        if let Some(memory) = node.memory {
            println!(
                "{:<16} {:>6.1} allocations and {:>6.0} bytes per call, peak {} bytes live",
                node.name,
                memory.allocations_per_call,
                memory.bytes_per_call,
                memory.peak_live_bytes
            );
        }
    }
}
