//! The streaming pipeline on loopback: a batch of 100 records into Kafka, into PostgreSQL and
//! into both (the reference's targets: publish < 30 ms, insert < 20 ms, flush < 50 ms), the
//! records/s the pipeline sustains into each sink and into both with nothing dropped, the cost of
//! one `record_timing` push, and `#[timed]` against the floor while both sinks stream.
//!
//! The pipeline is one per process, so each sustained run is a child process of this one (the
//! same binary, told its phase by `STREAM_BENCH_PHASE`). Needs the servers
//! (`scripts/sink-servers start DIR` prints where they are):
//!
//! ```text
//! INSTRUMENT_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT INSTRUMENT_POSTGRES_URL=postgresql://... \
//!     cargo bench -p instrument-bench --bench stream
//! ```
//!
//! `STREAM_BENCH_RATE` sets the paced rate of the sustained runs (records/s, default 25000).

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use instrument_bench::{Contender, contender, run_calls};
use instrument_runtime::stream::{
    self, Event, KAFKA_ENV, KafkaSink, Origin, POSTGRES_ENV, PostgresSink, Record, Sink,
    StreamConfig, record_timing,
};

const PHASE: &str = "STREAM_BENCH_PHASE";
const BATCHES: usize = 200;
const SUSTAINED: Duration = Duration::from_secs(4);

fn main() {
    // `cargo bench` passes `--bench`; nothing else to read.
    let (Ok(servers), Ok(url)) = (std::env::var(KAFKA_ENV), std::env::var(POSTGRES_ENV)) else {
        eprintln!("set {KAFKA_ENV} and {POSTGRES_ENV} (scripts/sink-servers starts both servers)");
        std::process::exit(2);
    };
    match std::env::var(PHASE).as_deref() {
        Ok("push") => push_cost(),
        Ok("timed") => timed_while_streaming(&servers, &url),
        Ok(phase) => sustained(phase, &servers, &url),
        Err(_) => parent(&servers, &url),
    }
}

#[allow(clippy::cast_precision_loss, reason = "record counts far below 2^52")]
fn parent(servers: &str, url: &str) {
    let origin = Origin::of_this_process("stream-bench");
    let mut kafka = KafkaSink::new(servers);
    let mut postgres = PostgresSink::new(url, 90);
    // Connections, topics and the migration first, as in a running process.
    kafka.send(&batch(0), &origin).unwrap();
    postgres.send(&batch(1), &origin).unwrap();
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..BATCHES {
        let records = batch(round + 2);
        let started = Instant::now();
        kafka.send(&records, &origin).unwrap();
        let published = started.elapsed();
        postgres.send(&records, &origin).unwrap();
        let flushed = started.elapsed();
        let inserted = flushed.saturating_sub(published);
        for (series, time) in times.iter_mut().zip([published, inserted, flushed]) {
            series.push(time);
        }
    }
    println!("| a batch of 100 records, loopback ({BATCHES} batches) | median | p99 | target |");
    println!("|---|--:|--:|--:|");
    let names = [
        ("Kafka publish (sent and acknowledged)", 30),
        (
            "PostgreSQL insert (COPY, then INSERT ... ON CONFLICT DO NOTHING)",
            20,
        ),
        ("flush: both sinks, one after the other", 50),
    ];
    for ((name, target), series) in names.into_iter().zip(&mut times) {
        series.sort();
        let at = |percent: usize| ms(series[(series.len() - 1) * percent / 100]);
        println!(
            "| {name} | {:.2} ms | {:.2} ms | < {target} ms |",
            at(50),
            at(99)
        );
    }
    println!();
    println!("| through the pipeline | paced rate | stored/s per sink | dropped |");
    println!("|---|--:|--:|--:|");
    for phase in ["kafka", "postgres", "both"] {
        print!("{}", child(phase));
    }
    println!();
    print!("{}", child("timed"));
    print!("{}", child("push"));
}

/// Runs this binary again in `phase`; its stdout.
fn child(phase: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(PHASE, phase)
        .output()
        .unwrap();
    assert!(output.status.success(), "{phase}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// 100 timing records with two tags, ids of their own.
fn batch(round: usize) -> Vec<Arc<Record>> {
    let run = instrument_runtime::record::run_id();
    (0..100)
        .map(|n| {
            let mut record = Event::timing("bench_step", Duration::from_micros(n))
                .tag("stage", "parse")
                .tag("shard", "7")
                .into_record();
            record.id = format!("{run}-{round:x}{n:04x}");
            Arc::new(record)
        })
        .collect()
}

/// Pushes at `STREAM_BENCH_RATE` records/s for [`SUSTAINED`] into the sinks of `phase`, then
/// shuts the pipeline down; prints the table row.
#[allow(clippy::cast_precision_loss, reason = "record counts far below 2^52")]
fn sustained(phase: &str, servers: &str, url: &str) {
    let rate: u64 = std::env::var("STREAM_BENCH_RATE")
        .ok()
        .and_then(|rate| rate.parse().ok())
        .unwrap_or(25_000);
    let (stats, elapsed) = stream_at(phase, servers, url, rate, || std::thread::sleep(SUSTAINED));
    let stored: Vec<String> = (stats.sinks.iter())
        .map(|sink| format!("{} {:.0}", sink.name, sink.stored as f64 / elapsed))
        .collect();
    let dropped: u64 = stats
        .sinks
        .iter()
        .map(stream::SinkStats::dropped_total)
        .sum();
    println!("| {phase} | {rate} | {} | {dropped} |", stored.join(", "));
}

/// `#[timed]` against the floor while both sinks take 5,000 records/s, a busy service's stream.
fn timed_while_streaming(servers: &str, url: &str) {
    let rate = 5_000;
    let mut ratio = None;
    let (stats, _) = stream_at("both", servers, url, rate, || {
        ratio = timed_against_floor(SUSTAINED);
    });
    let dropped: u64 = stats
        .sinks
        .iter()
        .map(stream::SinkStats::dropped_total)
        .sum();
    println!(
        "`#[timed]` ÷ floor per call (median of rounds of 1,000,000 calls) while both sinks take \
         {rate} records/s: {:.2} ({dropped} dropped)",
        ratio.unwrap_or(f64::NAN)
    );
}

/// Starts the pipeline with the sinks of `phase`, pushes `rate` records/s while `during` runs,
/// shuts it down; the final accounts and the seconds from the first push to the end of the
/// final flush.
fn stream_at(
    phase: &str,
    servers: &str,
    url: &str,
    rate: u64,
    during: impl FnOnce(),
) -> (stream::StreamStats, f64) {
    let config = StreamConfig {
        kafka_bootstrap_servers: (phase != "postgres").then(|| servers.to_owned()),
        postgres_url: (phase != "kafka").then(|| url.to_owned()),
        ..StreamConfig::default()
    };
    stream::start(config.clone(), stream::sinks_from_config(&config)).unwrap();
    // Connect and create before the clock starts, as a running service would have.
    record_timing("bench_warmup", Duration::ZERO, &[]);
    std::thread::sleep(Duration::from_secs(2));
    let stop = Arc::new(AtomicBool::new(false));
    let pushing = Arc::clone(&stop);
    let started = Instant::now();
    let pusher = std::thread::spawn(move || {
        let mut pushed = 0;
        while !pushing.load(Ordering::Relaxed) {
            let due = u64::try_from(started.elapsed().as_micros()).unwrap() * rate / 1_000_000;
            while pushed < due {
                record_timing(
                    "bench_step",
                    Duration::from_micros(pushed % 1_000),
                    &[("stage", "parse")],
                );
                pushed += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    during();
    stop.store(true, Ordering::Relaxed);
    pusher.join().unwrap();
    let stats = stream::shutdown().unwrap();
    (stats, started.elapsed().as_secs_f64())
}

/// The median over rounds of `#[timed]`'s time per call divided by the floor's, for `during`.
fn timed_against_floor(during: Duration) -> Option<f64> {
    let (floor, timed) = (contender("floor")?, contender("timed")?);
    instrument_bench::install([floor, timed]);
    let per_call = |contender: &Contender| {
        let started = Instant::now();
        black_box(run_calls(contender, 1_000_000));
        started.elapsed().as_secs_f64()
    };
    let mut ratios = Vec::new();
    let started = Instant::now();
    while started.elapsed() < during {
        let floor_time = per_call(floor);
        ratios.push(per_call(timed) / floor_time);
    }
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied()
}

/// The cost of one `record_timing` with the pipeline running (no sink: the flusher only drains),
/// in bursts of 1,000 the flusher drains between.
#[allow(clippy::cast_precision_loss, reason = "nanoseconds far below 2^52")]
fn push_cost() {
    stream::start(StreamConfig::default(), Vec::new()).unwrap();
    let mut per_push = Vec::new();
    for _ in 0..1_000 {
        let started = Instant::now();
        for n in 0..1_000 {
            record_timing("bench_push", Duration::from_nanos(n), &[]);
        }
        per_push.push(started.elapsed().as_nanos() as f64 / 1_000.0);
        std::thread::sleep(Duration::from_millis(2));
    }
    per_push.sort_by(f64::total_cmp);
    println!(
        "`record_timing` push, no tags (median of 1,000 bursts of 1,000): {:.0} ns; with one tag it \
         also allocates the tag's two strings",
        per_push[per_push.len() / 2]
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}
