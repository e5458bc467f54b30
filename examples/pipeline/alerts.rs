//! Alerts while the pipeline runs: the runtime's alert engine, with the rules the budgets file
//! implies and its `alerts:` section, and the notifiers the environment names
//! (`INSTRUMENT_ALERTMANAGER_URL`, `INSTRUMENT_ALERT_WEBHOOK_URL`; the log always).
//!
//! On a simulated clock the engine evaluates on that clock, after the document that crosses each
//! interval (`INSTRUMENT_ALERT_INTERVAL_MS`, default 10 s), so what fires and when depends on
//! the documents only, never on the machine. On the real clock it evaluates in the background.
//! Either way the last evaluation runs after the last document, and the notifiers get a few
//! seconds to deliver before the program exits.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instrument_runtime::ManualClock;
use instrument_runtime::alert::{AlertEngine, AlertEngineBuilder, AlertsView, RunningAlerts};

use super::Run;

/// How long the notifiers may take to deliver what is queued at exit.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);

/// The engine, on the run's clock or in the background.
pub(crate) enum Alerts {
    /// Evaluated after the documents that cross an interval of the simulated clock.
    Simulated {
        // Boxed: the engine is large and the other variant a handle.
        engine: Box<AlertEngine>,
        clock: ManualClock,
        /// The wall clock when the run began: the simulated clock counts from there.
        start_unix_ms: u64,
        next_ms: u64,
    },
    /// Evaluated on its own thread, on the wall clock.
    Background(RunningAlerts),
}

impl Alerts {
    /// Starts the engine `builder` describes for `run`.
    pub(crate) fn start(run: &Run, builder: AlertEngineBuilder) -> Option<Self> {
        let engine = builder.build();
        Some(match run.clock() {
            Some(clock) => Self::Simulated {
                engine: Box::new(engine),
                clock: clock.clone(),
                start_unix_ms: unix_ms_now(),
                next_ms: 0,
            },
            None => Self::Background(engine.start().ok()?),
        })
    }

    /// Evaluates if the simulated clock crossed an interval since the last evaluation.
    pub(crate) fn after_document(&mut self) {
        if let Self::Simulated {
            engine,
            clock,
            start_unix_ms,
            next_ms,
        } = self
        {
            let now = simulated_ms(clock);
            if now >= *next_ms {
                engine.evaluate(instrument_runtime::snapshot(), *start_unix_ms + now);
                *next_ms = now + engine.interval_ms();
            }
        }
    }

    /// The last evaluation, then the notifiers' deliveries (a few seconds at most).
    pub(crate) fn finish(self) -> AlertsView {
        match self {
            Self::Simulated {
                mut engine,
                clock,
                start_unix_ms,
                ..
            } => {
                engine.evaluate(
                    instrument_runtime::snapshot(),
                    start_unix_ms + simulated_ms(&clock),
                );
                engine.shutdown(DELIVERY_DEADLINE)
            }
            Self::Background(running) => running.stop(DELIVERY_DEADLINE),
        }
    }
}

/// What the run's alerts came to, for the end of the output; nothing when none fired.
pub(crate) fn summary(view: &AlertsView) -> Option<String> {
    let fired = view.resolved.len() + view.firing().count();
    if fired == 0 {
        return None;
    }
    let notifiers: Vec<String> = view
        .notifiers
        .iter()
        .map(|stats| {
            format!(
                "{} {} sent, {} failed, {} dropped",
                stats.notifier, stats.sent, stats.given_up, stats.dropped
            )
        })
        .collect();
    Some(format!(
        "alerts: {fired} fired, {} resolved, {} still firing ({})",
        view.resolved.len(),
        view.firing().count(),
        notifiers.join("; ")
    ))
}

fn simulated_ms(clock: &ManualClock) -> u64 {
    u64::try_from(clock.now().as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Alert lines on stderr, for a program with no logger of its own: the `log` facade the log
/// notifier writes to goes nowhere until one is installed.
pub(crate) struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs [`StderrLogger`] unless the program has a logger already.
pub(crate) fn log_to_stderr() {
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The engine `main` runs: from the environment.
pub(crate) fn from_env() -> AlertEngineBuilder {
    AlertEngine::builder().from_env()
}
