use std::sync::atomic::AtomicU64;

use super::*;
use crate::read::snapshot::NodeSnapshot;
use crate::record::histogram::LatencyHistogram;
use crate::stream::event::{Event, RecordKind};
use crate::stream::sink::MemorySink;

/// A clock moved by hand; sleeping moves it too, so the final flush's loop ends on its own.
#[derive(Clone, Default)]
struct HandClock(Arc<AtomicU64>);

impl HandClock {
    fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap();
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for HandClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }

    fn sleep(&self, period: Duration) {
        self.advance(period);
    }
}

/// The snapshots the flusher reads, set by the test.
#[derive(Clone, Default)]
struct Nodes(Arc<Mutex<Vec<NodeSnapshot>>>);

impl Nodes {
    fn set(&self, name: &str, calls: u64) {
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(1_000, calls);
        let mut node = NodeSnapshot::new(name).with_histogram(histogram, 1_000 * calls);
        node.calls = calls;
        let mut nodes = lock(&self.0);
        nodes.retain(|node| node.name != name);
        nodes.push(node);
    }
}

struct Rig {
    shared: Arc<Shared>,
    clock: HandClock,
    nodes: Nodes,
    flusher: Flusher,
}

fn rig(buffer_size: usize, sinks: &[&MemorySink]) -> Rig {
    let shared = Arc::new(Shared::new(buffer_size));
    let clock = HandClock::default();
    let nodes = Nodes::default();
    let config = StreamConfig {
        buffer_size,
        batch_size: 10,
        flush_interval: Duration::from_secs(1),
        shutdown_deadline: Duration::from_secs(2),
        ..StreamConfig::default()
    };
    let source = nodes.clone();
    let flusher = Flusher::new(
        Arc::clone(&shared),
        config,
        sinks
            .iter()
            .map(|&sink| Box::new(sink.clone()) as Box<dyn Sink>)
            .collect(),
        Box::new(clock.clone()),
        Box::new(move || Snapshot::new(lock(&source.0).clone())),
    );
    Rig {
        shared,
        clock,
        nodes,
        flusher,
    }
}

fn push_counters(shared: &Shared, count: usize) {
    for _ in 0..count {
        shared.push(Event::counter("hits", 1).into_record());
    }
}

fn assert_accounted(stats: &StreamStats) {
    for sink in &stats.sinks {
        assert_eq!(
            sink.stored + sink.dropped_total() + sink.pending,
            stats.produced,
            "{sink:?}"
        );
    }
}

#[test]
fn a_full_batch_goes_out_at_once_and_a_partial_one_when_the_interval_is_up() {
    let sink = MemorySink::new("memory");
    let mut rig = rig(100, &[&sink]);
    push_counters(&rig.shared, 25);
    rig.flusher.tick();
    assert_eq!(
        (sink.records().len(), sink.attempts()),
        (20, 1),
        "two full batches in one call"
    );
    rig.clock.advance(Duration::from_millis(999));
    rig.flusher.tick();
    assert_eq!(sink.records().len(), 20);
    rig.clock.advance(Duration::from_millis(1));
    rig.flusher.tick();
    assert_eq!(sink.records().len(), 25);
    let ids: std::collections::HashSet<_> = sink.records().iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 25, "every record has its own id");
    assert_accounted(&rig.shared.stats());
}

#[test]
fn every_interval_each_active_node_gets_a_record_that_adds_up_to_its_calls() {
    let sink = MemorySink::new("memory");
    let mut rig = rig(100, &[&sink]);
    for (second, calls) in [(1, 3), (2, 3), (3, 10)] {
        rig.nodes.set("parse", calls);
        rig.clock.advance(Duration::from_secs(1));
        assert_eq!(rig.clock.now(), Duration::from_secs(second));
        rig.flusher.tick();
    }
    let intervals: Vec<u64> = (sink.records().iter())
        .filter_map(|record| match &record.data {
            RecordData::Interval(interval) => Some(interval.calls),
            _ => None,
        })
        .collect();
    assert_eq!(intervals, [3, 7], "a quiet interval sends nothing");
}

#[test]
fn a_failing_sink_keeps_its_batches_and_gets_them_after_backoff_while_the_other_goes_on() {
    let (down, up) = (MemorySink::new("down"), MemorySink::new("up"));
    let mut rig = rig(100, &[&down, &up]);
    down.set_failing(true);
    push_counters(&rig.shared, 10);
    rig.flusher.tick();
    assert_eq!((down.attempts(), up.records().len()), (1, 10));
    rig.flusher.tick();
    assert_eq!(down.attempts(), 1, "no retry before the backoff is over");
    rig.clock.advance(MIN_BACKOFF);
    rig.flusher.tick();
    assert_eq!(down.attempts(), 2);
    rig.clock.advance(MIN_BACKOFF);
    rig.flusher.tick();
    assert_eq!(down.attempts(), 2, "the backoff doubled");
    down.set_failing(false);
    rig.clock.advance(MIN_BACKOFF);
    rig.flusher.tick();
    assert_eq!(down.records(), up.records());
    let stats = rig.shared.stats();
    assert_eq!(
        (stats.sinks[0].failed_batches, stats.sinks[0].stored),
        (2, 10)
    );
    assert_accounted(&stats);
}

#[test]
fn a_full_buffer_drops_the_oldest_and_charges_every_sink() {
    let (first, second) = (MemorySink::new("first"), MemorySink::new("second"));
    let mut rig = rig(8, &[&first, &second]);
    for n in 0..20 {
        rig.shared
            .push(Event::counter(format!("c{n}"), 1).into_record());
    }
    rig.clock.advance(Duration::from_secs(1));
    rig.flusher.tick();
    let names: Vec<String> = first.records().iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, (12..20).map(|n| format!("c{n}")).collect::<Vec<_>>());
    let stats = rig.shared.stats();
    assert_eq!(stats.produced, 20);
    for sink in &stats.sinks {
        assert_eq!(sink.dropped[DROPPED_BUFFER_FULL], 12);
    }
    assert_accounted(&stats);
}

#[test]
fn a_sink_down_for_long_loses_its_oldest_records_counted_and_the_others_lose_nothing() {
    let (down, up) = (MemorySink::new("down"), MemorySink::new("up"));
    let mut rig = rig(8, &[&down, &up]);
    down.set_failing(true);
    for _ in 0..5 {
        push_counters(&rig.shared, 6);
        rig.flusher.tick();
        rig.clock.advance(Duration::from_millis(10));
    }
    let stats = rig.shared.stats();
    assert_eq!(stats.produced, 30);
    let up = &stats.sinks[1];
    assert_eq!((up.stored, up.pending, up.dropped_total()), (24, 6, 0));
    assert_eq!(stats.sinks[0].dropped[DROPPED_BACKLOG_FULL], 14);
    assert_eq!(stats.sinks[0].pending, 16);
    assert_accounted(&stats);
}

#[test]
fn the_final_flush_sends_the_last_interval_and_counts_what_a_dead_sink_never_got() {
    let (dead, alive) = (MemorySink::new("dead"), MemorySink::new("alive"));
    let mut rig = rig(100, &[&dead, &alive]);
    dead.set_failing(true);
    rig.nodes.set("step", 4);
    push_counters(&rig.shared, 3);
    rig.flusher.close();
    let kinds: Vec<RecordKind> = alive.records().iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == RecordKind::Interval).count(),
        1
    );
    let stats = rig.shared.stats();
    assert_eq!(stats.produced, 4);
    assert_eq!(stats.sinks[0].dropped[DROPPED_SHUTDOWN], 4);
    assert!(
        dead.attempts() > 2,
        "retried until the deadline: {}",
        dead.attempts()
    );
    assert!(
        rig.clock.now() >= Duration::from_secs(2),
        "gave up at the deadline"
    );
    assert_eq!((stats.sinks[1].stored, stats.sinks[1].pending), (4, 0));
    assert_accounted(&stats);
}

#[test]
fn gauges_and_counters_reach_the_latest_table_even_without_a_sink() {
    let mut rig = rig(100, &[]);
    push_counters(&rig.shared, 3);
    rig.shared
        .push(Event::gauge("size", 9.0, "entries").into_record());
    rig.flusher.tick();
    let latest = lock(&rig.shared.latest).values();
    let figures: Vec<_> = latest
        .values
        .iter()
        .map(|v| (v.name.as_str(), v.value))
        .collect();
    assert_eq!(figures, [("hits", 3.0), ("size", 9.0)]);
}

#[test]
fn each_breaker_transition_and_verdict_change_is_sent_once() {
    use crate::breaker::{Breaker, BreakerState, ForcedState, config::BreakerConfig};
    use crate::record::node::Budget;

    let breaker = Arc::new(Breaker::new(
        "db",
        BreakerConfig::DEFAULT,
        Vec::new(),
        |ns| ns,
    ));
    let judged = Arc::new(Mutex::new(NodeSnapshot::new("parse")));
    let shared = Arc::new(Shared::new(100));
    let clock = HandClock::default();
    let sink = MemorySink::new("memory");
    let source = {
        let (breaker, judged) = (Arc::clone(&breaker), Arc::clone(&judged));
        move || {
            Snapshot::of(
                vec![lock(&judged).clone().judged()],
                vec![breaker.snapshot(0)],
            )
        }
    };
    let config = StreamConfig {
        flush_interval: Duration::from_secs(1),
        ..StreamConfig::default()
    };
    let mut flusher = Flusher::new(
        shared,
        config,
        vec![Box::new(sink.clone())],
        Box::new(clock.clone()),
        Box::new(source),
    );
    let round = |flusher: &mut Flusher| {
        clock.advance(Duration::from_secs(1));
        flusher.tick();
    };
    {
        let mut node = lock(&judged);
        node.budget = Some(Budget {
            p95_ns: Some(1_000),
            min_samples: 1,
            ..Budget::DEFAULT
        });
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(500, 10);
        *node = node.clone().with_histogram(histogram, 5_000);
        node.calls = 10;
    }
    breaker.force(ForcedState::Open, 1);
    round(&mut flusher);
    round(&mut flusher);
    breaker.force(ForcedState::Reset, 2);
    breaker.force(ForcedState::Open, 3);
    {
        let mut node = lock(&judged);
        let mut histogram = LatencyHistogram::new();
        histogram.record_n(500_000, 100);
        *node = node.clone().with_histogram(histogram, 50_000_000);
        node.calls = 110;
    }
    round(&mut flusher);
    let of = |kind: RecordKind| -> Vec<RecordData> {
        (sink.records().iter())
            .filter(|record| record.kind() == kind)
            .map(|record| record.data.clone())
            .collect()
    };
    let moves: Vec<_> = (of(RecordKind::Transition).into_iter())
        .filter_map(|data| match data {
            RecordData::Transition(transition) => Some((transition.to, transition.at_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        [
            (BreakerState::Open, 1),
            (BreakerState::Closed, 2),
            (BreakerState::Open, 3)
        ]
    );
    let verdicts: Vec<_> = (of(RecordKind::Verdict).into_iter())
        .filter_map(|data| match data {
            RecordData::Verdict { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (None, VerdictStatus::Pass),
            (Some(VerdictStatus::Pass), VerdictStatus::Fail)
        ]
    );
}
