//! The engine on a thread of its own, evaluating a fresh snapshot at its interval on the wall
//! clock; and its configuration from the environment.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::alert::engine::{AlertEngine, AlertEngineBuilder};
use crate::alert::log::LogNotifier;
use crate::alert::to_stream::StreamNotifier;
use crate::read::alert_state::AlertsView;
use crate::read::snapshot::snapshot;

/// Alertmanager's base URL (`http://127.0.0.1:9093`): alerts are posted to its v2 API.
pub const ALERTMANAGER_URL_ENV: &str = "INSTRUMENT_ALERTMANAGER_URL";
/// A webhook URL: each notification is posted to it (Slack's payload for a Slack URL).
pub const ALERT_WEBHOOK_URL_ENV: &str = "INSTRUMENT_ALERT_WEBHOOK_URL";
/// Milliseconds between background evaluations (default 10 000).
pub const ALERT_INTERVAL_ENV: &str = "INSTRUMENT_ALERT_INTERVAL_MS";

impl AlertEngineBuilder {
    /// Configures the engine from the environment: the log notifier always;
    /// [`ALERTMANAGER_URL_ENV`] and [`ALERT_WEBHOOK_URL_ENV`] add those notifiers (with the
    /// `alerts-http` feature; without it they are ignored with a warning); a stream sink named in
    /// the environment ([`KAFKA_ENV`](crate::stream::KAFKA_ENV),
    /// [`POSTGRES_ENV`](crate::stream::POSTGRES_ENV)), or a stream already started with sinks,
    /// adds the [`StreamNotifier`]; [`ALERT_INTERVAL_ENV`] sets the interval.
    ///
    /// ```
    /// let engine = instrument_runtime::alert::AlertEngine::builder().from_env().build();
    /// assert_eq!(engine.view().notifiers[0].notifier, "log");
    /// ```
    pub fn from_env(self) -> Self {
        let mut builder = self.notifier(LogNotifier);
        if let Some(interval) = env(ALERT_INTERVAL_ENV) {
            match interval.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => builder = builder.interval_ms(ms),
                _ => crate::record::env::warn_once(
                    ALERT_INTERVAL_ENV,
                    &format!(
                        "instrument: ignoring {ALERT_INTERVAL_ENV}={interval}: expected a \
                         number of milliseconds like `10000`"
                    ),
                ),
            }
        }
        for name in [ALERTMANAGER_URL_ENV, ALERT_WEBHOOK_URL_ENV] {
            if let Some(url) = env(name) {
                builder = with_url(builder, name, &url);
            }
        }
        let started_with_sinks =
            crate::stream::stats().is_some_and(|stats| !stats.sinks.is_empty());
        let named = [crate::stream::KAFKA_ENV, crate::stream::POSTGRES_ENV]
            .into_iter()
            .any(|name| env(name).is_some());
        if started_with_sinks || named {
            builder = builder.notifier(StreamNotifier);
        }
        builder
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

#[cfg(feature = "alerts-http")]
fn with_url(builder: AlertEngineBuilder, name: &str, url: &str) -> AlertEngineBuilder {
    use crate::alert::http::{AlertmanagerNotifier, WebhookNotifier};
    if name == ALERTMANAGER_URL_ENV {
        builder.notifier(AlertmanagerNotifier::new(url))
    } else {
        builder.notifier(WebhookNotifier::new(url))
    }
}

#[cfg(not(feature = "alerts-http"))]
fn with_url(builder: AlertEngineBuilder, name: &str, _url: &str) -> AlertEngineBuilder {
    crate::record::env::warn_once(
        name,
        &format!(
            "instrument: ignoring {name}: the HTTP notifiers need the `alerts-http` feature of \
             instrument-runtime"
        ),
    );
    builder
}

/// An engine evaluating in the background; [`stop`](Self::stop) ends it.
pub struct RunningAlerts {
    stop: Sender<Duration>,
    thread: Option<JoinHandle<AlertsView>>,
}

impl AlertEngine {
    /// Evaluates on a thread of its own: a snapshot every [`interval_ms`](Self::interval_ms),
    /// timed on the wall clock. The instrumented calls never wait for it.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    ///
    /// ```
    /// let running = instrument_runtime::alert::AlertEngine::builder().interval_ms(10).build().start().unwrap();
    /// let view = running.stop(std::time::Duration::from_secs(1));
    /// assert!(view.active.is_empty());
    /// ```
    pub fn start(mut self) -> std::io::Result<RunningAlerts> {
        let (stop, stopped) = mpsc::channel::<Duration>();
        let every = Duration::from_millis(self.interval_ms());
        let thread = thread::Builder::new()
            .name("instrument-alerts".to_owned())
            .spawn(move || {
                loop {
                    self.evaluate(snapshot(), crate::record::clock::unix_ms_now());
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(deadline) => {
                            // A last look, so a program shorter than the interval is judged too.
                            self.evaluate(snapshot(), crate::record::clock::unix_ms_now());
                            return self.shutdown(deadline);
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            return self.shutdown(Duration::ZERO);
                        }
                    }
                }
            })?;
        Ok(RunningAlerts {
            stop,
            thread: Some(thread),
        })
    }
}

impl RunningAlerts {
    /// Evaluates a last time, stops, lets the notifiers deliver what is queued within
    /// `deadline`, and returns the last alerts and counts.
    pub fn stop(mut self, deadline: Duration) -> AlertsView {
        let _ = self.stop.send(deadline);
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}
