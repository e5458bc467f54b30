//! What the streaming fault tests share: a steady load of instrumented calls and events that
//! times its own pushes, a TCP proxy that can make a server unreachable, and the accounting
//! check.

#![allow(dead_code, reason = "each fault test uses part of these helpers")]

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use instrument_runtime::stream::{StreamStats, record_timing};

/// The calls the fault tests make.
#[instrument_runtime::timed(name = "stream_fault_step")]
pub(crate) fn step(n: u64) -> u64 {
    std::hint::black_box(n.wrapping_mul(31))
}

/// What the load did.
#[derive(Debug)]
pub(crate) struct Load {
    /// Calls made, each with one timing event pushed.
    pub(crate) calls: u64,
    /// The slowest call-and-push: a sink that blocked the program would show here in seconds.
    pub(crate) slowest: Duration,
}

/// Calls [`step`] and pushes a timing event `per_ms` times a millisecond until `stop` is set.
pub(crate) fn load_until(stop: &AtomicBool, per_ms: u64) -> Load {
    let mut load = Load {
        calls: 0,
        slowest: Duration::ZERO,
    };
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let due = u64::try_from(started.elapsed().as_millis()).unwrap() * per_ms;
        while load.calls < due {
            let before = Instant::now();
            step(load.calls);
            record_timing(
                "stream_fault_event",
                Duration::from_micros(3),
                &[("load", "steady")],
            );
            load.slowest = load.slowest.max(before.elapsed());
            load.calls += 1;
        }
        thread::sleep(Duration::from_millis(1));
    }
    load
}

/// Runs [`load_until`] on a thread while `fault` runs on this one, then stops it.
pub(crate) fn load_during(per_ms: u64, fault: impl FnOnce()) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let load = thread::spawn(move || load_until(&stopping, per_ms));
    fault();
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap()
}

/// The slowest push a test accepts: far above any scheduling hiccup, far below the seconds a
/// push waiting on a stopped server would take.
pub(crate) const SLOWEST_PUSH: Duration = Duration::from_millis(500);

/// Checks the accounts of sink `name`: what the server holds plus what was dropped is what was
/// produced.
pub(crate) fn assert_accounted(stats: &StreamStats, name: &str, held: u64) {
    let sink = stats.sinks.iter().find(|sink| sink.name == name).unwrap();
    assert_eq!(sink.pending, 0, "{sink:?}");
    assert_eq!(
        held + sink.dropped_total(),
        stats.produced,
        "{name}: held {held}, {sink:?}"
    );
    assert_eq!(sink.stored, held, "{sink:?}");
}

/// A TCP proxy to `target` on a port of its own, which can refuse every connection and cut the
/// open ones for a while, as a stopped server would.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    target: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub(crate) fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Self {
            port: listener.local_addr().unwrap().port(),
            target: target.to_owned(),
            up: Arc::new(AtomicBool::new(true)),
            open: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, up, open) = (
            self.target.clone(),
            Arc::clone(&self.up),
            Arc::clone(&self.open),
        );
        thread::spawn(move || {
            for client in listener.incoming() {
                if !up.load(Ordering::SeqCst) {
                    // Down: the listener goes, so connections are refused until `resume`.
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut streams = open.lock().unwrap_or_else(PoisonError::into_inner);
                streams.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                drop(streams);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
    }

    /// Cuts every connection and refuses new ones.
    pub(crate) fn stop(&self) {
        self.up.store(false, Ordering::SeqCst);
        // Wakes the accept loop so it drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for stream in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Accepts connections again, on the same port.
    pub(crate) fn resume(&self) {
        self.up.store(true, Ordering::SeqCst);
        let listener = (0..100)
            .find_map(|_| {
                TcpListener::bind(("127.0.0.1", self.port))
                    .inspect_err(|_| thread::sleep(Duration::from_millis(50)))
                    .ok()
            })
            .expect("the proxy's port again");
        self.serve(listener);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// Records of this run the broker holds on the interval and timing topics (each id once),
/// reading until the topics hold `intervals` and `timings` of them or the read times out.
#[cfg(feature = "kafka")]
pub(crate) fn kafka_held(servers: &str, intervals: u64, timings: u64) -> u64 {
    use instrument_runtime::stream::{RecordKind, topic};

    let run_id = instrument_runtime::record::run_id();
    let ours = |read: &super::common::sinks::Messages| {
        let ours = read
            .values()
            .filter(|(_, _, event)| event["runid"] == run_id);
        u64::try_from(ours.count()).unwrap()
    };
    [
        (RecordKind::Interval, intervals),
        (RecordKind::Timing, timings),
    ]
    .into_iter()
    .map(|(kind, expected)| {
        let read =
            super::common::sinks::read_topic(servers, &topic(kind), |read| ours(read) >= expected);
        ours(&read)
    })
    .sum()
}

/// Rows of this run PostgreSQL holds.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_held(url: &str) -> u64 {
    let row = super::common::sinks::postgres(url)
        .query_one(
            "SELECT count(*) FROM instrument_records WHERE run_id = $1",
            &[&instrument_runtime::record::run_id()],
        )
        .unwrap();
    u64::try_from(row.get::<_, i64>(0)).unwrap()
}

/// The interval and timing records a sink should hold: the flusher read the intervals itself
/// (whatever was produced beyond the load's events); of the load's events, those the full
/// buffer dropped never reached any sink.
pub(crate) fn expected_records(stats: &StreamStats, load: &Load) -> (u64, u64) {
    let buffer_full = (stats.sinks[0].dropped)
        .get(instrument_runtime::stream::DROPPED_BUFFER_FULL)
        .copied()
        .unwrap_or(0);
    (stats.produced - load.calls, load.calls - buffer_full)
}
