//! Notifiers and the threads that feed them: each notifier has a thread and a bounded queue of
//! its own, so a slow or dead one never holds up evaluation nor the others. A full queue drops
//! the notification and counts it; a failed delivery is retried with exponential backoff, then
//! given up and counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::read::alert_state::{Alert, NotifierStats};

/// Whether a notification announces an alert firing or resolved.
///
/// ```
/// assert_eq!(instrument_runtime::alert::AlertStatus::Resolved.as_str(), "resolved");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The alert fired.
    Firing,
    /// The alert resolved.
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`, as Alertmanager's webhooks write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// What a notifier is handed: an alert that fired or resolved.
///
/// ```
/// use instrument_runtime::alert::AlertStatus;
///
/// # fn check(notification: &instrument_runtime::alert::Notification) {
/// if notification.status == AlertStatus::Resolved {
///     assert!(notification.alert.resolved_at_unix_ms.is_some());
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The alert, as of the evaluation that changed it.
    pub alert: Alert,
}

impl Notification {
    pub(super) fn firing(alert: Alert) -> Self {
        Self {
            status: AlertStatus::Firing,
            alert,
        }
    }

    pub(super) fn resolved(alert: Alert) -> Self {
        Self {
            status: AlertStatus::Resolved,
            alert,
        }
    }
}

/// Somewhere notifications go: the log, a webhook, Alertmanager; a Kafka topic is one more
/// implementation. Called on the notifier's own thread, never on the evaluating one, so it may
/// block (within its own timeouts).
///
/// ```
/// use instrument_runtime::alert::{Notification, Notifier};
///
/// struct Count(u64);
///
/// impl Notifier for Count {
///     fn name(&self) -> &str { "count" }
///     fn notify(&mut self, _: &Notification) -> Result<(), String> {
///         self.0 += 1;
///         Ok(())
///     }
/// }
///
/// let engine = instrument_runtime::alert::AlertEngine::builder().notifier(Count(0)).build();
/// assert_eq!(engine.view().notifiers[0].notifier, "count");
/// ```
pub trait Notifier: Send {
    /// A short name for the counts: `log`, `webhook`, `alertmanager`.
    fn name(&self) -> &str;

    /// Delivers one notification.
    ///
    /// # Errors
    ///
    /// Why it did not get through; the notification is retried with backoff.
    fn notify(&mut self, notification: &Notification) -> Result<(), String>;

    /// For receivers that expire an alert not heard of again (Alertmanager): how often the
    /// firing alerts are sent again until they resolve. `None` (the default): once.
    fn resend_interval(&self) -> Option<Duration> {
        None
    }
}

/// Queue size, retries and backoff of every notifier.
///
/// ```
/// let options = instrument_runtime::alert::NotifierOptions::default();
/// assert_eq!((options.queue, options.retries), (256, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotifierOptions {
    /// Notifications waiting per notifier; more are dropped and counted.
    pub queue: usize,
    /// Retries after a failed delivery.
    pub retries: u32,
    /// Wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        Self {
            queue: 256,
            retries: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl NotifierOptions {
    /// Sets the queue size.
    #[must_use]
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = queue.max(1);
        self
    }

    /// Sets the retries and the first backoff.
    #[must_use]
    pub fn retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failures: AtomicU64,
    given_up: AtomicU64,
    dropped: AtomicU64,
}

/// One notifier's queue, counts and thread.
struct Worker {
    name: String,
    queue: Option<SyncSender<Notification>>,
    counters: Arc<Counters>,
    /// Disconnected when the thread has ended.
    done: Receiver<()>,
}

/// Every notifier's worker.
pub(super) struct Dispatcher {
    workers: Vec<Worker>,
}

impl Dispatcher {
    pub(super) fn start(notifiers: Vec<Box<dyn Notifier>>, options: &NotifierOptions) -> Self {
        let workers = notifiers
            .into_iter()
            .map(|notifier| {
                let name = notifier.name().to_owned();
                let (queue, receiver) = mpsc::sync_channel(options.queue.max(1));
                let (done_sender, done) = mpsc::channel();
                let counters = Arc::new(Counters::default());
                let thread_counters = Arc::clone(&counters);
                let options = *options;
                let spawned = thread::Builder::new()
                    .name(format!("instrument-alert-{name}"))
                    .spawn(move || {
                        run(notifier, &receiver, &thread_counters, &options);
                        drop(done_sender);
                    });
                Worker {
                    name,
                    // A notifier whose thread could not start counts its notifications dropped.
                    queue: spawned.is_ok().then_some(queue),
                    counters,
                    done,
                }
            })
            .collect();
        Self { workers }
    }

    /// Queues the notifications for every notifier, never waiting.
    pub(super) fn send(&self, notifications: &[Notification]) {
        for worker in &self.workers {
            for notification in notifications {
                // A full queue, or a thread that is gone: dropped either way, and counted.
                let queued = (worker.queue.as_ref())
                    .is_some_and(|queue| queue.try_send(notification.clone()).is_ok());
                if !queued {
                    worker.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub(super) fn stats(&self) -> Vec<NotifierStats> {
        self.workers
            .iter()
            .map(|worker| {
                let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
                NotifierStats {
                    notifier: worker.name.clone(),
                    sent: count(&worker.counters.sent),
                    failures: count(&worker.counters.failures),
                    given_up: count(&worker.counters.given_up),
                    dropped: count(&worker.counters.dropped),
                }
            })
            .collect()
    }

    /// Closes the queues and waits for the threads to deliver what they hold, `deadline` at most
    /// in all; a thread still busy then is left to finish on its own.
    pub(super) fn close(&mut self, deadline: Duration) {
        let until = Instant::now() + deadline;
        for worker in &mut self.workers {
            worker.queue = None;
        }
        for worker in &self.workers {
            let left = until.saturating_duration_since(Instant::now());
            let _ = worker.done.recv_timeout(left);
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // Closing the queues ends the threads once they are idle; nobody waits for them.
        for worker in &mut self.workers {
            worker.queue = None;
        }
    }
}

/// The notifier's thread: deliver each notification; for a notifier that wants it, send the
/// firing alerts again every `resend_interval` until they resolve.
fn run(
    mut notifier: Box<dyn Notifier>,
    queue: &Receiver<Notification>,
    counters: &Counters,
    options: &NotifierOptions,
) {
    let resend = notifier.resend_interval();
    let mut firing: BTreeMap<String, Notification> = BTreeMap::new();
    let mut next_resend = resend.map(|every| Instant::now() + every);
    loop {
        let wait = next_resend.map_or(Duration::from_secs(3_600), |at| {
            at.saturating_duration_since(Instant::now())
        });
        match queue.recv_timeout(wait) {
            Ok(notification) => {
                if resend.is_some() {
                    let fingerprint = notification.alert.fingerprint.clone();
                    match notification.status {
                        AlertStatus::Firing => firing.insert(fingerprint, notification.clone()),
                        AlertStatus::Resolved => firing.remove(&fingerprint),
                    };
                }
                deliver(notifier.as_mut(), &notification, counters, options);
            }
            Err(RecvTimeoutError::Timeout) => {
                for notification in firing.values() {
                    deliver(notifier.as_mut(), notification, counters, options);
                }
                next_resend = resend.map(|every| Instant::now() + every);
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn deliver(
    notifier: &mut dyn Notifier,
    notification: &Notification,
    counters: &Counters,
    options: &NotifierOptions,
) {
    let mut backoff = options.backoff;
    for attempt in 0..=options.retries {
        if attempt > 0 {
            thread::sleep(backoff);
            backoff = (backoff * 2).min(options.max_backoff);
        }
        match notifier.notify(notification) {
            Ok(()) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(_) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    counters.given_up.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::read::alert_rule::{Figure, Severity, Subject};
    use crate::read::alert_state::AlertState;

    fn notification(fingerprint: &str, status: AlertStatus) -> Notification {
        Notification {
            status,
            alert: Alert {
                name: "A".to_owned(),
                fingerprint: fingerprint.to_owned(),
                severity: Severity::Warning,
                subject: Subject::Node("n".to_owned()),
                figure: Figure::ErrorRate,
                labels: BTreeMap::new(),
                summary: String::new(),
                value: 1.0,
                threshold: 0.5,
                state: AlertState::Firing,
                active_since_unix_ms: 0,
                fired_at_unix_ms: Some(0),
                resolved_at_unix_ms: None,
            },
        }
    }

    /// Blocks in its first delivery until the test lets it go.
    struct Stuck(Arc<Mutex<()>>);

    impl Notifier for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn notify(&mut self, _: &Notification) -> Result<(), String> {
            drop(self.0.lock());
            Ok(())
        }
    }

    #[test]
    fn a_stuck_notifier_never_holds_up_the_sender_and_its_drops_are_counted() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let options = NotifierOptions::default().queue(4);
        let mut dispatcher = Dispatcher::start(vec![Box::new(Stuck(Arc::clone(&gate)))], &options);
        let batch: Vec<Notification> = (0..1_000)
            .map(|i| notification(&i.to_string(), AlertStatus::Firing))
            .collect();
        // Nothing here can wait: the notifier is blocked for as long as `held` lives.
        dispatcher.send(&batch);
        let stats = &dispatcher.stats()[0];
        // the thread holds at most one, the queue four; the rest are dropped
        assert!((995..=996).contains(&stats.dropped), "{stats:?}");
        drop(held);
        dispatcher.close(Duration::from_secs(60));
        let stats = &dispatcher.stats()[0];
        assert_eq!(stats.sent + stats.dropped, 1_000, "{stats:?}");
    }

    /// Fails its first `failures` attempts.
    struct Flaky {
        failures: u32,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Notifier for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn notify(&mut self, notification: &Notification) -> Result<(), String> {
            if self.failures > 0 {
                self.failures -= 1;
                return Err("refused".to_owned());
            }
            let mut seen = self.seen.lock().unwrap();
            seen.push(notification.alert.fingerprint.clone());
            Ok(())
        }
        fn resend_interval(&self) -> Option<Duration> {
            Some(Duration::from_secs(3_600))
        }
    }

    #[test]
    fn failed_deliveries_are_retried_then_given_up_and_counted() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let flaky = Flaky {
            failures: 5,
            seen: Arc::clone(&seen),
        };
        let options = NotifierOptions::default().retries(2, Duration::from_millis(1));
        let mut dispatcher = Dispatcher::start(vec![Box::new(flaky)], &options);
        // a: 3 failed attempts, given up; b: 2 failed, then sent
        dispatcher.send(&[
            notification("a", AlertStatus::Firing),
            notification("b", AlertStatus::Firing),
        ]);
        dispatcher.close(Duration::from_secs(60));
        let stats = &dispatcher.stats()[0];
        assert_eq!(
            (stats.sent, stats.failures, stats.given_up, stats.dropped),
            (1, 5, 1, 0)
        );
        assert_eq!(*seen.lock().unwrap(), ["b"]);
    }
}
