//! The engine on a hand-driven clock: every time is an argument, every snapshot built by hand.

use super::*;
use crate::alert::notify::AlertStatus;
use crate::read::alert_rule::{Operator, Severity};
use crate::read::snapshot::NodeSnapshot;
use crate::record::histogram::LatencyHistogram;
use crate::record::node::Budget;

const MS: u64 = 1_000_000;

/// One node's cumulative statistics, grown interval by interval.
struct Feed {
    name: &'static str,
    calls: u64,
    errors: u64,
    histogram: LatencyHistogram,
    sum_ns: u64,
    budget: Option<Budget>,
}

impl Feed {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            calls: 0,
            errors: 0,
            histogram: LatencyHistogram::new(),
            sum_ns: 0,
            budget: None,
        }
    }

    /// `calls` more calls taking `latency_ns` each, `errors` of them failed; the snapshot after.
    fn calls(&mut self, calls: u64, latency_ns: u64, errors: u64) -> Snapshot {
        self.calls += calls;
        self.errors += errors;
        self.histogram.record_n(latency_ns, calls);
        self.sum_ns += latency_ns * calls;
        let mut node =
            NodeSnapshot::new(self.name).with_histogram(self.histogram.clone(), self.sum_ns);
        node.calls = self.calls;
        node.errors = self.errors;
        node.budget = self.budget;
        Snapshot::new(vec![node])
    }
}

fn slow_rule(for_ms: u64) -> AlertRule {
    AlertRule::node("Slow", "step")
        .when("p95", Operator::Above, "100ms")
        .unwrap()
        .severity(Severity::Critical)
        .for_ms(for_ms)
        .message("step too slow: {value} (> {threshold})")
}

fn engine(rule: AlertRule) -> AlertEngine {
    AlertEngine::builder()
        .rule(rule)
        .implied_rules(false)
        .build()
}

/// The statuses notified, with the evaluation time they came at.
fn run(engine: &mut AlertEngine, feed: &mut Feed, steps: &[(u64, u64)]) -> Vec<(u64, AlertStatus)> {
    let mut notified = Vec::new();
    for &(now, latency_ns) in steps {
        for notification in engine.evaluate(feed.calls(20, latency_ns, 0), now) {
            notified.push((now, notification.status));
        }
    }
    notified
}

#[test]
fn an_alert_fires_only_once_its_condition_held_for_the_for_duration() {
    let mut engine = engine(slow_rule(30_000));
    let mut feed = Feed::new("step");
    let steps: Vec<(u64, u64)> = (0..6).map(|i| (i * 10_000, 150 * MS)).collect();
    assert_eq!(
        run(&mut engine, &mut feed, &steps),
        [(30_000, AlertStatus::Firing)]
    );
    let alert = &engine.alerts()[0];
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(
        (alert.active_since_unix_ms, alert.fired_at_unix_ms),
        (0, Some(30_000))
    );
    assert!(
        alert.summary.starts_with("step too slow: 15"),
        "{}",
        alert.summary
    );
    assert!(alert.summary.ends_with("(> 100ms)"), "{}", alert.summary);
}

#[test]
fn a_pending_alert_whose_condition_clears_never_fires() {
    let mut engine = engine(slow_rule(30_000));
    let mut feed = Feed::new("step");
    let steps = [
        (0, 150 * MS),
        (10_000, 150 * MS),
        (20_000, 10 * MS),
        (30_000, 150 * MS),
    ];
    assert_eq!(run(&mut engine, &mut feed, &steps), []);
    // pending again, from 30 s
    assert_eq!(engine.alerts()[0].state, AlertState::Pending);
    assert_eq!(engine.alerts()[0].active_since_unix_ms, 30_000);
}

#[test]
fn a_value_hovering_at_the_threshold_does_not_flap() {
    let mut engine = engine(slow_rule(0));
    let mut feed = Feed::new("step");
    // 105, 95, 105, 95 ... ms: over the threshold, then under it but within the 10% band
    let mut steps: Vec<(u64, u64)> = (0..10)
        .map(|i| (i * 10_000, if i % 2 == 0 { 105 * MS } else { 95 * MS }))
        .collect();
    steps.push((100_000, 80 * MS));
    steps.push((110_000, 80 * MS));
    assert_eq!(
        run(&mut engine, &mut feed, &steps),
        [(0, AlertStatus::Firing), (100_000, AlertStatus::Resolved)]
    );
    assert!(engine.alerts().is_empty());
    let view = engine.view();
    assert_eq!(view.resolved.len(), 1);
    assert_eq!(view.resolved[0].resolved_at_unix_ms, Some(100_000));
}

#[test]
fn without_hysteresis_the_same_values_flap() {
    let mut engine = AlertEngine::builder()
        .rule(slow_rule(0))
        .implied_rules(false)
        .hysteresis(0.0)
        .build();
    let mut feed = Feed::new("step");
    let steps: Vec<(u64, u64)> = (0..4)
        .map(|i| (i * 10_000, if i % 2 == 0 { 105 * MS } else { 95 * MS }))
        .collect();
    assert_eq!(run(&mut engine, &mut feed, &steps).len(), 4);
}

#[test]
fn firing_and_resolved_are_each_notified_once() {
    let mut engine = engine(slow_rule(0));
    let mut feed = Feed::new("step");
    let steps: Vec<(u64, u64)> = (0..20)
        .map(|i| (i * 10_000, if i < 10 { 300 * MS } else { 10 * MS }))
        .collect();
    assert_eq!(
        run(&mut engine, &mut feed, &steps),
        [(0, AlertStatus::Firing), (100_000, AlertStatus::Resolved)]
    );
}

#[test]
fn an_unknown_figure_keeps_the_alert_as_it_is() {
    let mut engine = engine(slow_rule(0));
    let mut feed = Feed::new("step");
    assert_eq!(engine.evaluate(feed.calls(5, 300 * MS, 0), 0).len(), 1);
    // no call in the next intervals: nothing to judge, still firing
    for now in [10_000, 20_000] {
        assert!(engine.evaluate(feed.calls(0, 1, 0), now).is_empty());
    }
    assert_eq!(engine.alerts()[0].state, AlertState::Firing);
    // and a rule on a node that does not exist never fires
    let mut ghost = self::engine(
        AlertRule::node("Ghost", "nowhere")
            .when("p50", Operator::Above, "1ns")
            .unwrap(),
    );
    assert!(ghost.evaluate(feed.calls(5, MS, 0), 0).is_empty());
}

#[test]
fn a_window_adds_the_intervals_it_spans() {
    let rule = AlertRule::node("Failing", "step")
        .when("error_rate", Operator::AtLeast, "50%")
        .unwrap()
        .window_ms(30_000);
    let mut engine = engine(rule);
    let mut feed = Feed::new("step");
    // 10 calls per interval; 10 errors in the first interval only: 100%, then 50%, 33%, 0%
    let rates: Vec<usize> = [(0, 10), (10_000, 0), (20_000, 0), (30_000, 0)]
        .into_iter()
        .map(|(now, errors)| {
            engine.evaluate(feed.calls(10, MS, errors), now);
            engine.alerts().len()
        })
        .collect();
    // fires at 100%, holds at 50% (within the 10% band), resolves at 33%
    assert_eq!(rates, [1, 1, 0, 0]);
}

#[test]
fn calls_per_second_over_the_interval() {
    let rule = AlertRule::node("Quiet", "step")
        .when("calls_per_second", Operator::Below, "1")
        .unwrap();
    let mut engine = engine(rule);
    let mut feed = Feed::new("step");
    engine.evaluate(feed.calls(20, MS, 0), 10_000); // first interval: the default 10 s, 2/s
    assert!(engine.alerts().is_empty());
    let fired = engine.evaluate(feed.calls(5, MS, 0), 20_000); // 0.5/s
    assert_eq!(fired.len(), 1);
    assert!((fired[0].alert.value - 0.5).abs() < 1e-9);
}

#[test]
fn fingerprints_are_stable_and_tell_alerts_apart() {
    let labels = |severity: &str| {
        [
            ("alertname", "Slow"),
            ("node", "step"),
            ("severity", severity),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect::<BTreeMap<_, _>>()
    };
    // golden: the same in every run and version
    assert_eq!(fingerprint(&labels("critical")), "56a5a84a44ac7ff2");
    assert_ne!(
        fingerprint(&labels("critical")),
        fingerprint(&labels("warning"))
    );
    // a key's end is marked: `ab`+`c` is not `a`+`bc`
    let split =
        |key: &str, value: &str| fingerprint(&BTreeMap::from([(key.to_owned(), value.to_owned())]));
    assert_ne!(split("ab", "c"), split("a", "bc"));

    let mut engine = engine(slow_rule(0));
    let mut feed = Feed::new("step");
    let first = engine.evaluate(feed.calls(5, 300 * MS, 0), 0);
    let again = engine.evaluate(feed.calls(5, 10 * MS, 0), 10_000);
    assert_eq!(first[0].alert.fingerprint, again[0].alert.fingerprint);
    assert_eq!(first[0].alert.labels["alertname"], "Slow");
    assert_eq!(first[0].alert.labels["severity"], "critical");
}

#[test]
fn budgets_imply_a_warning_over_the_allowance_and_a_critical_over_twice_it() {
    let mut engine = AlertEngine::builder().build();
    let mut feed = Feed::new("step");
    feed.budget = Some(Budget {
        p95_ns: Some(50 * MS),
        ..Budget::DEFAULT
    });
    // allowance 55 ms: 60 ms is a warning, 120 ms critical as well
    let warned = engine.evaluate(feed.calls(20, 60 * MS, 0), 0);
    let severities = |notifications: &[Notification]| {
        notifications
            .iter()
            .map(|notification| (notification.alert.severity, notification.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        severities(&warned),
        [(Severity::Warning, AlertStatus::Firing)]
    );
    let critical = engine.evaluate(feed.calls(20, 120 * MS, 0), 10_000);
    assert_eq!(
        severities(&critical),
        [(Severity::Critical, AlertStatus::Firing)]
    );
    assert_eq!(critical[0].alert.name, "LatencyOverBudget");
    // fewer calls than the implied minimum: not judged, both stay
    assert!(engine.evaluate(feed.calls(3, MS, 0), 20_000).is_empty());
    let resolved = engine.evaluate(feed.calls(20, MS, 0), 30_000);
    assert_eq!(
        severities(&resolved),
        [
            (Severity::Warning, AlertStatus::Resolved),
            (Severity::Critical, AlertStatus::Resolved)
        ]
    );
}

#[test]
fn a_written_rule_replaces_the_implied_one_of_its_name_and_subject() {
    let written = AlertRule::node("LatencyOverBudget", "step")
        .when("p95", Operator::Above, "1s")
        .unwrap();
    let mut engine = AlertEngine::builder().rule(written).build();
    let mut feed = Feed::new("step");
    feed.budget = Some(Budget {
        p95_ns: Some(50 * MS),
        ..Budget::DEFAULT
    });
    assert!(engine.evaluate(feed.calls(20, 500 * MS, 0), 0).is_empty());
}
