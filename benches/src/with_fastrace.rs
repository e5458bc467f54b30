//! `fastrace` `#[trace]` with a reporter set, each call a child span of a root span.
//!
//! fastrace keeps at most 10240 spans per local parent and silently skips the rest, so one root
//! for a whole run would make every later call free. Each thread starts a new root every
//! [`CALLS_PER_TRACE`] calls instead, like a request with many steps: the root's cost is spread
//! over those calls (which flatters fastrace a little), and every call really records a span.

use std::cell::RefCell;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use fastrace::collector::{Config, Reporter, SpanContext, SpanRecord};
use fastrace::local::LocalParentGuard;
use fastrace::prelude::Span;

use crate::work;

/// How many calls share one root span.
const CALLS_PER_TRACE: u32 = 1024;

/// Spans the reporter received; read only so the reporter does observable work.
static REPORTED: AtomicU64 = AtomicU64::new(0);

struct CountingReporter;

impl Reporter for CountingReporter {
    fn report(&mut self, spans: Vec<SpanRecord>) {
        REPORTED.fetch_add(spans.len() as u64, Ordering::Relaxed);
    }
}

/// The current thread's root span, and how many more calls it takes.
struct Trace {
    // Declared first so it drops first: the guard hands the local spans to the root.
    _parent: LocalParentGuard,
    _root: Span,
    calls_left: u32,
}

thread_local! {
    static TRACE: RefCell<Option<Trace>> = const { RefCell::new(None) };
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| fastrace::set_reporter(CountingReporter, Config::default()));
}

#[fastrace::trace]
#[inline(always)]
fn traced(x: u64) -> u64 {
    work(x)
}

#[inline(never)]
pub(crate) fn call(x: u64) -> u64 {
    under_root(1);
    traced(x)
}

/// Counts the next `calls` traced calls of this thread against its root span, first opening a new
/// root if the current one has fewer than that many left.
///
/// # Panics
///
/// If `calls` is more than a root takes (1024).
pub fn under_root(calls: u32) {
    assert!(
        calls <= CALLS_PER_TRACE,
        "a root span takes {CALLS_PER_TRACE} calls"
    );
    TRACE.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_mut() {
            Some(trace) if trace.calls_left >= calls => trace.calls_left -= calls,
            _ => {
                // The finished trace goes to the collector before the next one starts.
                *slot = None;
                let root = Span::root("request", SpanContext::random());
                *slot = Some(Trace {
                    _parent: root.set_local_parent(),
                    _root: root,
                    calls_left: CALLS_PER_TRACE - calls,
                });
            }
        }
    });
}

/// Makes the global collector process every submitted span now (fastrace's background thread
/// otherwise does it once a second).
pub(crate) fn flush() {
    fastrace::flush();
}
