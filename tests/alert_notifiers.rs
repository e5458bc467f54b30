//! The alert engine's HTTP notifiers against loopback servers: a webhook gets each alert once as
//! firing and once as resolved; a notifier whose server refuses connections or never answers
//! does not hold up evaluation, and its failures and drops are counted.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use instrument_runtime::ManualClock;
use instrument_runtime::alert::{
    AlertEngine, AlertRule, NotifierOptions, Operator, WebhookNotifier,
};

use common::webhook::Receiver;

#[instrument_runtime::timed(name = "webhook_step")]
fn webhook_step(clock: &ManualClock, ms: u64) {
    clock.advance(Duration::from_millis(ms));
}

#[instrument_runtime::timed(name = "dead_notifier_step")]
fn dead_notifier_step(clock: &ManualClock, ms: u64) {
    clock.advance(Duration::from_millis(ms));
}

fn rule(node: &str) -> AlertRule {
    AlertRule::node("StepTooSlow", node)
        .when("max", Operator::Above, "10ms")
        .unwrap()
        .message("{node} too slow: {value}")
}

#[test]
fn a_webhook_gets_one_firing_and_one_resolved_notification() {
    let receiver = Receiver::start();
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut engine = AlertEngine::builder()
        .rule(rule("webhook_step"))
        .implied_rules(false)
        .notifier(WebhookNotifier::new(&format!("{}/hook", receiver.url)))
        .build();
    let mut now = 0;
    for ms in [50, 50, 50, 1, 1, 1] {
        webhook_step(&clock, ms);
        now += 10_000;
        engine.evaluate(instrument_runtime::snapshot(), now);
    }
    let view = engine.shutdown(Duration::from_secs(30));
    let bodies = receiver.bodies();
    let statuses: Vec<&str> = bodies
        .iter()
        .map(|body| body["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"]);
    assert_eq!(
        bodies[0]["alert"]["fingerprint"],
        bodies[1]["alert"]["fingerprint"]
    );
    assert_eq!(bodies[0]["alert"]["labels"]["node"], "webhook_step");
    assert_eq!(bodies[1]["alert"]["resolved_at_unix_ms"], 40_000);
    assert!(
        receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|(path, _)| path == "/hook")
    );
    assert_eq!((view.notifiers[0].sent, view.notifiers[0].failures), (2, 0));
}

#[test]
fn a_notifier_that_times_out_or_is_refused_does_not_delay_evaluation() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    // Refused: a port nobody listens on any more.
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    // Silent: the kernel accepts the connection, nobody ever answers.
    let silent_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}/", silent_listener.local_addr().unwrap());

    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut engine = AlertEngine::builder()
        .rule(rule("dead_notifier_step"))
        .implied_rules(false)
        .hysteresis(0.0)
        .notifier(WebhookNotifier::new(&refused).timeout(TIMEOUT))
        .notifier(WebhookNotifier::new(&silent).timeout(TIMEOUT))
        .notifier_options(
            NotifierOptions::default()
                .queue(2)
                .retries(1, Duration::from_millis(10)),
        )
        .build();
    let mut evaluating = Duration::ZERO;
    let mut notified = 0;
    for round in 0..100_u64 {
        dead_notifier_step(&clock, if round % 2 == 0 { 50 } else { 1 });
        let snapshot = instrument_runtime::snapshot();
        let started = Instant::now();
        notified += engine.evaluate(snapshot, (round + 1) * 10_000).len();
        evaluating += started.elapsed();
    }
    // every round fired or resolved the alert: 100 notifications per notifier
    assert_eq!(notified, 100);
    // Had evaluation waited for the silent server even once, it would have taken the timeout.
    assert!(evaluating < TIMEOUT, "100 evaluations took {evaluating:?}");
    eprintln!("100 evaluations with two dead notifiers: {evaluating:?}");

    // Liveness only: wait for the failures to be counted.
    let until = Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let stats = engine.view().notifiers;
        let done = stats[0].given_up > 0 && stats[1].failures > 0;
        if done || Instant::now() > until {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let [refused, silent] = &stats[..] else {
        panic!("{stats:?}")
    };
    assert_eq!((refused.notifier.as_str(), refused.sent), ("webhook", 0));
    assert!(
        refused.failures >= 2 && refused.given_up >= 1,
        "{refused:?}"
    );
    assert!(silent.failures >= 1 && silent.sent == 0, "{silent:?}");
    // the silent one's queue of 2 filled while it waited: most of the 100 were dropped
    assert!(silent.dropped >= 90, "{silent:?}");
    drop(silent_listener);
}
