//! The in-process alert engine: threshold rules on the nodes', breakers' and explicit events' figures,
//! evaluated
//! in the background (or on a clock the program drives), each alert notified once as firing and
//! once as resolved, to the log, a webhook, Alertmanager or the stream's sinks (a Kafka topic),
//! never on the instrumented calls' path.
//!
//! Rules come from three places: the builder ([`AlertRule`]), the budgets file's `alerts:`
//! section, and the budgets and breakers themselves ([`implied_rules`]): a budgeted quantile over
//! its allowance in the last interval is a `WARNING`, over twice the allowance `CRITICAL`; an open
//! breaker is `CRITICAL`, a recovery slower than its SLA a `WARNING`. A written rule with an
//! implied rule's name and subject replaces it.
//!
//! ```
//! use instrument_runtime::alert::{AlertEngine, AlertRule, LogNotifier, Operator, Severity};
//!
//! let engine = AlertEngine::builder()
//!     .rule(
//!         AlertRule::node("RoutingTooSlow", "routing")
//!             .when("p95", Operator::Above, "100ms")
//!             .unwrap()
//!             .severity(Severity::Critical)
//!             .for_ms(30_000)
//!             .message("Routing too slow: {value} (> {threshold})"),
//!     )
//!     .notifier(LogNotifier)
//!     .build();
//! assert_eq!(engine.rules().len(), 1);
//! ```

mod background;
mod engine;
mod figures;
#[cfg(feature = "alerts-http")]
mod http;
mod implied;
mod log;
mod notify;
mod to_stream;

pub use crate::read::alert_rule::{
    AlertRule, DEFAULT_MESSAGE, Figure, Operator, RuleOrigin, Severity, Subject,
};
pub use crate::read::alert_state::{Alert, AlertState, AlertsView, NotifierStats, published};
pub use background::{
    ALERT_INTERVAL_ENV, ALERT_WEBHOOK_URL_ENV, ALERTMANAGER_URL_ENV, RunningAlerts,
};
pub use engine::{AlertEngine, AlertEngineBuilder, DEFAULT_HYSTERESIS, DEFAULT_INTERVAL_MS};
#[cfg(feature = "alerts-http")]
pub use http::{AlertmanagerNotifier, DEFAULT_HTTP_TIMEOUT, WebhookFormat, WebhookNotifier};
pub use implied::{
    BREAKER_OPEN, BREAKER_RECOVERY_SLA_VIOLATED, IMPLIED_MIN_CALLS, LATENCY_OVER_BUDGET,
    implied_rules,
};
pub use log::{LOG_TARGET, LogNotifier};
pub use notify::{AlertStatus, Notification, Notifier, NotifierOptions};
pub use to_stream::StreamNotifier;
