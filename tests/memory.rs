//! Memory per node: this test binary's global allocator is the counting allocator, so every
//! figure is exact. Each test calls nodes of its own, on threads it spawns, so tests running in
//! parallel do not see each other's calls.

mod common;

use std::hint::black_box;

use instrument_runtime::{
    CountingAllocator, NodeMemory, check_budgets, counted,
    export::{ExportOptions, dashboard_html, prometheus_text},
    report::{Report, write_report},
    snapshot, timed,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::system();

fn memory(name: &str) -> Option<NodeMemory> {
    snapshot()
        .node(name)
        .unwrap_or_else(|| panic!("no node `{name}`"))
        .memory
}

/// Runs `f` on a new thread, so that nothing the test harness does on its thread is counted.
fn on_a_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

/// One allocation of 1000 bytes, freed before returning.
fn allocate_1000() -> usize {
    let buffer: Vec<u8> = Vec::with_capacity(1000);
    black_box(&buffer).capacity()
}

#[timed(name = "memory_vec_1000")]
fn vec_1000() -> usize {
    allocate_1000()
}

#[test]
fn one_vec_per_call_is_one_allocation_of_1000_bytes_per_call() {
    on_a_thread(|| {
        for _ in 0..50 {
            vec_1000();
        }
    });
    let memory = memory("memory_vec_1000").unwrap();
    assert_eq!(
        memory,
        NodeMemory {
            calls: 50,
            allocations: 50,
            bytes: 50_000,
            allocations_per_call: 1.0,
            bytes_per_call: 1000.0,
            peak_live_bytes: 1000,
        }
    );
}

#[timed(name = "memory_gate_vec_1000")]
fn gated_vec_1000() -> usize {
    allocate_1000()
}

#[test]
fn the_in_test_gate_counts_the_memory_of_the_measured_runs_only() {
    // On a thread of its own: the gate's snapshots, taken on the harness thread, would count.
    let (sender, receiver) = std::sync::mpsc::channel();
    on_a_thread(move || {
        let verdict = instrument_runtime::gate::Gate::new(30)
            .warm_up(20)
            .check(|| {
                gated_vec_1000();
            });
        sender.send(verdict).unwrap();
    });
    let verdict = receiver.recv().unwrap();
    let measured = verdict.snapshot.node("memory_gate_vec_1000").unwrap();
    assert_eq!(measured.memory, Some(NodeMemory::of(30, 30, 30_000, 1000)));
    assert_eq!(memory("memory_gate_vec_1000").unwrap().calls, 50);
}

#[timed(name = "memory_nothing")]
fn allocates_nothing(x: u64) -> u64 {
    black_box(x).wrapping_mul(3)
}

#[test]
fn a_node_that_allocates_nothing_has_zeros() {
    on_a_thread(|| {
        for i in 0..10 {
            allocates_nothing(i);
        }
    });
    assert_eq!(
        memory("memory_nothing").unwrap(),
        NodeMemory::of(10, 0, 0, 0)
    );
}

#[timed(name = "memory_never_called")]
fn never_called() {}

#[test]
fn a_node_never_called_has_no_memory_figures() {
    let _ = never_called;
    assert_eq!(memory("memory_never_called"), None);
}

#[timed(name = "memory_outer")]
fn outer() -> usize {
    let kept = Box::new([7u8; 100]);
    let inner = inner();
    black_box(&kept);
    inner + kept.len()
}

#[counted(name = "memory_inner")]
fn inner() -> usize {
    black_box(vec![1u8; 1000]).len()
}

#[test]
fn nested_calls_are_charged_to_the_innermost_node_and_count_in_the_outer_peak() {
    on_a_thread(|| {
        for _ in 0..3 {
            outer();
        }
    });
    // The outer node's own allocation only; its peak holds its 100 bytes and the inner 1000.
    assert_eq!(
        memory("memory_outer").unwrap(),
        NodeMemory::of(3, 3, 300, 1100)
    );
    // `#[counted]` nodes are measured too.
    assert_eq!(
        memory("memory_inner").unwrap(),
        NodeMemory::of(3, 3, 3000, 1000)
    );
}

#[timed(name = "memory_three_boxes")]
fn three_boxes() -> usize {
    let boxes = [
        Box::new([1u8; 4096]),
        Box::new([2u8; 4096]),
        Box::new([3u8; 4096]),
    ];
    black_box(&boxes).iter().map(|block| block.len()).sum()
}

#[test]
fn the_peak_holds_what_a_call_kept_at_once() {
    on_a_thread(|| {
        for _ in 0..4 {
            three_boxes();
        }
    });
    let memory = memory("memory_three_boxes").unwrap();
    assert!(memory.peak_live_bytes >= 12_288, "{memory:?}");
    assert_eq!(memory, NodeMemory::of(4, 12, 4 * 12_288, 12_288));
}

#[timed(name = "memory_grows")]
fn grows() -> usize {
    let mut buffer: Vec<u8> = Vec::with_capacity(10);
    buffer.reserve_exact(110);
    black_box(&buffer).capacity()
}

#[test]
fn a_realloc_is_one_allocation_of_its_new_size_and_grows_live_bytes_by_the_difference() {
    on_a_thread(|| {
        grows();
    });
    // 10 bytes, then a realloc to 110; at most 110 live at once.
    assert_eq!(
        memory("memory_grows").unwrap(),
        NodeMemory::of(1, 2, 120, 110)
    );
}

#[timed(name = "memory_per_thread")]
fn per_thread() -> usize {
    let buffer: Vec<u8> = Vec::with_capacity(1000);
    black_box(&buffer).capacity()
}

#[timed(name = "memory_hands_off")]
fn hands_off() -> Vec<u8> {
    std::thread::spawn(|| vec![0u8; 5000]).join().unwrap()
}

#[test]
fn each_thread_charges_its_own_calls() {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..25 {
                    black_box(per_thread());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        memory("memory_per_thread").unwrap(),
        NodeMemory::of(100, 100, 100_000, 1000)
    );
    // What another thread allocates is not charged to the call waiting for it, even when the
    // call ends up owning the block (the spawn's own bookkeeping is).
    on_a_thread(|| drop(hands_off()));
    let memory = memory("memory_hands_off").unwrap();
    assert!(memory.bytes < 5000, "{memory:?}");
}

#[timed(name = "memory_async")]
async fn asynchronous() -> usize {
    black_box(vec![0u8; 256]).len()
}

#[timed(name = "memory_polls")]
fn polls() -> usize {
    futures::executor::block_on(asynchronous())
}

#[test]
fn async_calls_are_not_measured_and_charge_the_call_polling_them() {
    on_a_thread(|| {
        polls();
    });
    assert_eq!(memory("memory_async"), None);
    let polling = memory("memory_polls").unwrap();
    assert!(polling.bytes >= 256, "{polling:?}");
}

#[timed(name = "memory_exported")]
fn exported() -> usize {
    let buffer: Vec<u8> = Vec::with_capacity(2048);
    black_box(&buffer).capacity()
}

#[test]
fn report_json_prometheus_and_the_dashboard_carry_the_figures() {
    on_a_thread(|| {
        for _ in 0..4 {
            exported();
        }
    });
    let expected = NodeMemory::of(4, 4, 8192, 2048);

    let dir = std::env::temp_dir().join(format!("instrument-memory-{}", std::process::id()));
    let path = write_report(&dir).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let node = json["snapshot"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == "memory_exported")
        .unwrap();
    assert_eq!(
        node["memory"],
        serde_json::json!({
            "calls": 4, "allocations": 4, "bytes": 8192, "allocations_per_call": 1.0,
            "bytes_per_call": 2048.0, "peak_live_bytes": 2048,
        })
    );
    let report: Report = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        report.snapshot.node("memory_exported").unwrap().memory,
        Some(expected)
    );
    if cfg!(target_os = "linux") {
        let process = &json["snapshot"]["process"];
        assert!(process["rss_bytes"].as_u64().unwrap() > 0, "{process}");
        assert!(process["peak_rss_bytes"].as_u64() >= process["rss_bytes"].as_u64());
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let snapshot = snapshot();
    let budgets = check_budgets(&snapshot);
    let text = prometheus_text(&snapshot, &budgets, &ExportOptions::default());
    for line in [
        "instrument_node_allocations_total{node=\"memory_exported\"} 4\n",
        "instrument_node_allocated_bytes_total{node=\"memory_exported\"} 8192\n",
        "instrument_node_peak_live_bytes{node=\"memory_exported\"} 2048\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    if cfg!(target_os = "linux") {
        assert!(text.contains("\ninstrument_process_peak_resident_memory_bytes "));
    }
    common::assert_promtool_accepts(&text);

    let html = dashboard_html(&snapshot, &budgets);
    assert!(html.contains("<h2>Memory</h2>"));
    assert!(html.contains(
        "<td class=\"text name\" data-value=\"memory_exported\">memory_exported</td>\n\
         <td data-value=\"4\">4</td>\n<td data-value=\"1\">1</td>\n\
         <td data-value=\"2048\">2.00\u{a0}KiB</td>\n<td data-value=\"2048\">2.00\u{a0}KiB</td>\n\
         <td data-value=\"4\">4</td>\n<td data-value=\"8192\">8.00\u{a0}KiB</td>"
    ));
}
