//! The log notifier: each notification through the `log` facade, so the application's own
//! logger (`env_logger`, a `tracing` subscriber with its `log` bridge, syslog) writes it, at ERROR,
//! WARN or INFO by severity.

use crate::alert::notify::{Notification, Notifier};
use crate::read::alert_rule::Severity;

/// The `log` target of alert lines, for filtering them (`RUST_LOG=instrument::alert=warn`).
pub const LOG_TARGET: &str = "instrument::alert";

/// Writes notifications to the `log` facade, one line each:
/// `FIRING CRITICAL EmbeddingSlow node=embedding: embedding p95 is 72ms, ... [fingerprint]`.
///
/// ```
/// let engine = instrument_runtime::alert::AlertEngine::builder()
///     .notifier(instrument_runtime::alert::LogNotifier)
///     .build();
/// assert_eq!(engine.view().notifiers[0].notifier, "log");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn name(&self) -> &'static str {
        "log"
    }

    fn notify(&mut self, notification: &Notification) -> Result<(), String> {
        let alert = &notification.alert;
        let level = match alert.severity {
            Severity::Critical => log::Level::Error,
            Severity::Warning => log::Level::Warn,
            Severity::Info => log::Level::Info,
        };
        log::log!(
            target: LOG_TARGET,
            level,
            "{} {} {} {}={}: {} [{}]",
            notification.status.as_str().to_ascii_uppercase(),
            alert.severity,
            alert.name,
            alert.subject.kind(),
            alert.subject.name(),
            alert.summary,
            alert.fingerprint,
        );
        Ok(())
    }
}
