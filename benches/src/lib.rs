//! The contenders of the overhead benchmark: one trivial function, instrumented each way.
//!
//! Every contender is an `#[inline(never)]` `fn(u64) -> u64` that runs [`work`]'s body once, so
//! both harnesses call all of them the same way, through a function pointer, and the differences
//! between them are the instrumentation alone. [`install`] puts each peer's global machinery in
//! place (recorders, subscribers, reporters) exactly once per process, before any call.

mod baseline;
mod ours;
mod render_nodes;
mod with_autometrics;
mod with_fastrace;
mod with_hotpath;
mod with_metered;
mod with_metrics;
mod with_recloser;
mod with_tracing;

use std::fmt;

pub use render_nodes::{Call, NodeSpec};
pub use with_fastrace::under_root as fastrace_under_root;
pub use with_metrics::spawn_upkeep as spawn_metrics_upkeep;

/// The function every contender wraps: a multiply the optimizer cannot see through.
#[inline(always)]
pub fn work(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3)
}

/// The value of a call whose body cannot fail, for the contenders whose body returns a `Result`
/// (a circuit breaker needs one to judge): the breaker stays closed, the check costs one branch.
#[inline(always)]
pub(crate) fn ok<E: fmt::Debug>(result: Result<u64, E>) -> u64 {
    result.expect("the benchmarked body never fails")
}

/// What a contender stands for, for the verdicts the harnesses print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// No instrumentation, or only part of it: a reference point.
    Reference,
    /// The physical floor: two TSC reads and one HDR record on a thread-local histogram.
    Floor,
    /// One of instrument's attributes.
    Ours,
    /// Another instrumentation library.
    Peer,
    /// Another library's circuit breaker: compared with instrument's breaker, not its timing.
    BreakerPeer,
}

/// One way of calling [`work`].
#[derive(Debug)]
pub struct Contender {
    /// Short name, used on the command line and in tables.
    pub name: &'static str,
    /// One line saying what the contender does per call.
    pub what: &'static str,
    /// What the contender stands for.
    pub role: Role,
    /// One instrumented call of [`work`].
    pub call: fn(u64) -> u64,
    /// Global set-up, run once per process before the first call.
    pub install: fn(),
    /// Hands everything recorded so far to the library's collector, so work it does off the
    /// calling thread is done (and counted) now.
    pub flush: fn(),
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

fn nothing() {}

/// Every contender, in the order tables list them.
pub static CONTENDERS: &[Contender] = &[
    Contender {
        name: "bare",
        what: "the function alone, no instrumentation",
        role: Role::Reference,
        call: baseline::bare,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "tsc_x2",
        what: "two raw TSC reads (`quanta::Clock::raw`), nothing recorded",
        role: Role::Reference,
        call: baseline::tsc_x2,
        install: baseline::install,
        flush: nothing,
    },
    Contender {
        name: "floor",
        what: "two raw TSC reads + `record` of the delta (ns) into a thread-local `hdrhistogram::Histogram`",
        role: Role::Floor,
        call: baseline::floor,
        install: baseline::install,
        flush: nothing,
    },
    Contender {
        name: "timed",
        what: "`#[instrument_runtime::timed]`",
        role: Role::Ours,
        call: ours::timed,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "counted",
        what: "`#[instrument_runtime::counted]` (counts only, no clock)",
        role: Role::Ours,
        call: ours::counted,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "budget",
        what: "`#[instrument_runtime::budget(p95 = \"1ms\")]`",
        role: Role::Ours,
        call: ours::budget,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "timed_counted",
        what: "`#[timed]` + `#[counted]` on the body returning `io::Result<u64>`: the breaker case without the breaker",
        role: Role::Reference,
        call: ours::timed_counted,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "timed_breaker",
        what: "`#[timed]` + `#[circuit_breaker(name = \"...\")]` (closed) on the body returning `io::Result<u64>`",
        role: Role::Ours,
        call: ours::timed_breaker,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "alloc_free",
        what: "one 64-byte `Box` allocated and freed through the global allocator",
        role: Role::Reference,
        call: baseline::alloc_free,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "timed_alloc_free",
        what: "`#[timed]` on a body that allocates and frees one 64-byte `Box`",
        role: Role::Reference,
        call: ours::timed_alloc_free,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "metrics",
        what: "`metrics` histogram handle (cached), Prometheus exporter recorder, TSC timing",
        role: Role::Peer,
        call: with_metrics::call,
        install: with_metrics::install,
        flush: with_metrics::flush,
    },
    Contender {
        name: "metered",
        what: "`metered` `#[measure([HitCount, ResponseTime])]`",
        role: Role::Peer,
        call: with_metered::call,
        install: nothing,
        flush: nothing,
    },
    Contender {
        name: "fastrace",
        what: "`fastrace` `#[trace]` under a root span (one per 1024 calls), reporter set",
        role: Role::Peer,
        call: with_fastrace::call,
        install: with_fastrace::install,
        flush: with_fastrace::flush,
    },
    Contender {
        name: "tracing",
        what: "`tracing` `#[instrument(skip_all)]`, `registry()` + one counting layer",
        role: Role::Peer,
        call: with_tracing::call,
        install: with_tracing::install,
        flush: nothing,
    },
    Contender {
        name: "autometrics",
        what: "`autometrics` `#[autometrics]`, Prometheus exporter initialised",
        role: Role::Peer,
        call: with_autometrics::call,
        install: with_autometrics::install,
        flush: nothing,
    },
    Contender {
        name: "hotpath",
        what: "`hotpath` `#[measure]`, guard built (metrics server off)",
        role: Role::Peer,
        call: with_hotpath::call,
        install: with_hotpath::install,
        flush: with_hotpath::flush,
    },
    Contender {
        name: "recloser",
        what: "`recloser` `Recloser::default()` (closed) `call`, no timing",
        role: Role::BreakerPeer,
        call: with_recloser::call,
        install: with_recloser::install,
        flush: nothing,
    },
    Contender {
        name: "timed_recloser",
        what: "`#[timed]` on a body that goes through `recloser` (closed)",
        role: Role::BreakerPeer,
        call: with_recloser::timed,
        install: with_recloser::install,
        flush: nothing,
    },
];

/// The contender named `name`.
pub fn contender(name: &str) -> Option<&'static Contender> {
    CONTENDERS.iter().find(|contender| contender.name == name)
}

/// Installs what `contenders` need (each install runs once per process), then calls each of them
/// once on this thread so one-time costs (clock calibration, lazy statics) are paid before
/// measuring.
///
/// Call it from `main` before any other thread starts: some peers read environment variables
/// that it sets.
pub fn install<'a>(contenders: impl IntoIterator<Item = &'a Contender>) {
    let contenders: Vec<&Contender> = contenders.into_iter().collect();
    for contender in &contenders {
        (contender.install)();
    }
    for contender in &contenders {
        std::hint::black_box((contender.call)(1));
    }
}

/// Calls `contender` `calls` times; the loop every measured round runs (and the one callgrind is
/// told to count).
#[inline(never)]
pub fn run_calls(contender: &Contender, calls: u64) -> u64 {
    let call = std::hint::black_box(contender.call);
    let mut sum = 0u64;
    for i in 0..calls {
        sum = sum.wrapping_add(call(i));
    }
    sum
}
