//! Alert rules: a figure of one node, breaker or explicit event, compared with a threshold, at a severity. Plain
//! data, declared in code or in the budgets file's `alerts:` section; the engine that evaluates
//! them lives in [`alert`](crate::alert).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::read::budget::Quantile;

/// How urgent an alert is: the log level it is written at, and its `severity` label.
///
/// ```
/// use instrument_runtime::alert::Severity;
///
/// assert_eq!("CRITICAL".parse::<Severity>(), Ok(Severity::Critical));
/// assert_eq!(Severity::Warning.label(), "warning");
/// assert_eq!(Severity::Info.to_string(), "INFO");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// For information: logged at INFO.
    Info,
    /// Needs a look: logged at WARN.
    Warning,
    /// Needs action now: logged at ERROR.
    Critical,
}

impl Severity {
    /// Every severity, least urgent first.
    pub const ALL: [Severity; 3] = [Self::Info, Self::Warning, Self::Critical];

    /// The name as written in rules and logs: `CRITICAL`, `WARNING`, `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
        }
    }

    /// The `severity` label value, lower-case as Prometheus and Alertmanager conventions have it
    /// (and as the generated Prometheus alerting rules write it).
    pub fn label(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    /// `CRITICAL`, `WARNING` or `INFO`, in any case.
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("expected a severity `CRITICAL`, `WARNING` or `INFO`, found `{text}`")
            })
    }
}

/// How a figure is compared with the threshold.
///
/// ```
/// use instrument_runtime::alert::Operator;
///
/// assert!(Operator::Above.holds(2.0, 1.0));
/// assert!(!Operator::AtLeast.holds(0.5, 1.0));
/// assert_eq!(Operator::Below.to_string(), "<");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    /// `>`.
    #[serde(rename = ">")]
    Above,
    /// `>=`.
    #[serde(rename = ">=")]
    AtLeast,
    /// `<`.
    #[serde(rename = "<")]
    Below,
    /// `<=`.
    #[serde(rename = "<=")]
    AtMost,
}

impl Operator {
    /// Every operator, the two-character ones first (so a parser tries `>=` before `>`).
    pub const ALL: [Operator; 4] = [Self::AtLeast, Self::AtMost, Self::Above, Self::Below];

    /// Whether `value op threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::AtLeast => value >= threshold,
            Self::Below => value < threshold,
            Self::AtMost => value <= threshold,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::AtLeast => ">=",
            Self::Below => "<",
            Self::AtMost => "<=",
        }
    }

    /// Whether the alert is about the figure rising (`>`, `>=`): which way hysteresis moves the
    /// threshold before a firing alert resolves.
    pub fn rising(self) -> bool {
        matches!(self, Self::Above | Self::AtLeast)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule looks at. Latency and rates are over the rule's window (the last evaluation
/// interval unless [`AlertRule::window_ms`] is set); the others are read when it is evaluated.
///
/// An explicit gauge's or rate's figure is its last value pushed through the event API
/// ([`stream`](crate::stream)); the engine computes every figure in one `match`.
///
/// ```
/// use instrument_runtime::alert::Figure;
///
/// assert_eq!("p95".parse::<Figure>(), Ok(Figure::Latency(instrument_runtime::budgets::Quantile::P95)));
/// assert_eq!(Figure::ErrorRate.name(), "error_rate");
/// assert!(Figure::BreakerState.is_breaker());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Figure {
    /// A latency quantile (or the slowest call), in nanoseconds.
    Latency(Quantile),
    /// Failed calls (errors and panics) over calls, a fraction.
    ErrorRate,
    /// Calls that did not fail over calls, a fraction.
    SuccessRate,
    /// Calls that ended, per second.
    CallsPerSecond,
    /// Calls running now (nodes with `#[counted(in_flight)]`).
    InFlight,
    /// A breaker's state: 0 closed, 1 half-open, 2 open.
    BreakerState,
    /// A breaker's recoveries slower than its recovery SLA.
    RecoverySlaViolations,
    /// An explicit gauge's last value, in its own unit.
    Gauge,
    /// An explicit rate's last value, in percent (as pushed: 0 to 100).
    Rate,
}

impl Figure {
    /// Every figure, by name, for parsing and for "expected one of".
    pub const NAMES: [(&'static str, Figure); 13] = [
        ("p50", Self::Latency(Quantile::P50)),
        ("p90", Self::Latency(Quantile::P90)),
        ("p95", Self::Latency(Quantile::P95)),
        ("p99", Self::Latency(Quantile::P99)),
        ("max", Self::Latency(Quantile::Max)),
        ("error_rate", Self::ErrorRate),
        ("success_rate", Self::SuccessRate),
        ("calls_per_second", Self::CallsPerSecond),
        ("in_flight", Self::InFlight),
        ("breaker_state", Self::BreakerState),
        ("recovery_sla_violations", Self::RecoverySlaViolations),
        ("gauge", Self::Gauge),
        ("rate", Self::Rate),
    ];

    /// The figure's name in rules (`p95`, `error_rate`).
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|&&(_, figure)| figure == self)
            .map_or("?", |&(name, _)| name)
    }

    /// Whether the figure is a breaker's (its subject is a breaker, not a node).
    pub fn is_breaker(self) -> bool {
        matches!(self, Self::BreakerState | Self::RecoverySlaViolations)
    }

    /// Whether the figure is an explicit event's (its subject is an event's name).
    pub fn is_event(self) -> bool {
        matches!(self, Self::Gauge | Self::Rate)
    }

    /// The kind of subject the figure belongs to: `node`, `breaker` or `event`.
    fn subject_kind(self) -> &'static str {
        if self.is_breaker() {
            "breaker"
        } else if self.is_event() {
            "event"
        } else {
            "node"
        }
    }

    /// Reads a threshold for this figure: a duration for latencies (`100ms`), a percentage or
    /// fraction for rates (`80%`, `0.8`), a state name or number for a breaker's state, a percentage
    /// for an explicit rate (`90%` or `90`, as the rate is pushed), a number otherwise.
    ///
    /// # Errors
    ///
    /// What was expected, quoting what was found.
    ///
    /// ```
    /// use instrument_runtime::{alert::Figure, budgets::Quantile};
    ///
    /// assert_eq!(Figure::Latency(Quantile::P99).threshold("100ms"), Ok(100_000_000.0));
    /// assert_eq!(Figure::ErrorRate.threshold("5%"), Ok(0.05));
    /// assert_eq!(Figure::BreakerState.threshold("open"), Ok(2.0));
    /// assert!(Figure::CallsPerSecond.threshold("lots").is_err());
    /// assert_eq!(Figure::Rate.threshold("90%"), Ok(90.0));
    /// assert_eq!(Figure::Gauge.threshold("-2.5"), Ok(-2.5));
    /// ```
    #[allow(
        clippy::cast_precision_loss,
        reason = "durations in rules are far below 2^53 ns"
    )]
    pub fn threshold(self, text: &str) -> Result<f64, String> {
        let text = text.trim();
        match self {
            Self::Latency(_) => instrument_duration::parse_nanos(text).map(|ns| ns as f64),
            Self::ErrorRate | Self::SuccessRate => {
                let (number, scale) = match text.strip_suffix('%') {
                    Some(number) => (number.trim(), 100.0),
                    None => (text, 1.0),
                };
                match number.parse::<f64>() {
                    Ok(value) if (0.0..=1.0).contains(&(value / scale)) => Ok(value / scale),
                    _ => Err(format!(
                        "expected a rate like `80%` or `0.8`, found `{text}`"
                    )),
                }
            }
            Self::BreakerState => match text.to_ascii_lowercase().as_str() {
                "closed" | "0" => Ok(0.0),
                "half_open" | "1" => Ok(1.0),
                "open" | "2" => Ok(2.0),
                _ => Err(format!(
                    "expected a breaker state `closed`, `half_open` or `open`, found `{text}`"
                )),
            },
            Self::CallsPerSecond | Self::InFlight | Self::RecoverySlaViolations => {
                match text.parse::<f64>() {
                    Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
                    _ => Err(format!("expected a number like `10`, found `{text}`")),
                }
            }
            Self::Gauge => match text.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(value),
                _ => Err(format!("expected a number like `512`, found `{text}`")),
            },
            Self::Rate => match text.strip_suffix('%').unwrap_or(text).trim().parse::<f64>() {
                Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
                _ => Err(format!(
                    "expected a rate in percent like `90%` or `90`, found `{text}`"
                )),
            },
        }
    }

    /// A value of this figure as a reader wants it: `72.1ms`, `5%`, `open`, `12.5`.
    ///
    /// ```
    /// use instrument_runtime::{alert::Figure, budgets::Quantile};
    ///
    /// assert_eq!(Figure::Latency(Quantile::P95).format(72_100_000.0), "72.1ms");
    /// assert_eq!(Figure::SuccessRate.format(0.975), "97.5%");
    /// assert_eq!(Figure::BreakerState.format(2.0), "open");
    /// ```
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a latency in ns, non-negative and far below 2^64"
    )]
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Latency(_) => crate::format::format_duration(
                value.max(0.0).round() as u64,
                crate::format::TableStyle::Ascii,
            ),
            Self::ErrorRate | Self::SuccessRate => {
                let text = format!("{:.2}", value * 100.0);
                format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
            }
            Self::BreakerState => match value.round() as u64 {
                0 => "closed".to_owned(),
                1 => "half_open".to_owned(),
                _ => "open".to_owned(),
            },
            Self::CallsPerSecond | Self::InFlight | Self::RecoverySlaViolations | Self::Gauge => {
                let text = format!("{value:.2}");
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            Self::Rate => Self::ErrorRate.format(value / 100.0),
        }
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Figure {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .find(|&&(name, _)| name == text)
            .map(|&(_, figure)| figure)
            .ok_or_else(|| format!("unknown figure `{text}`"))
    }
}

/// What a rule watches: a node (by name), a circuit breaker, or an explicit gauge or rate of
/// the event API.
///
/// ```
/// use instrument_runtime::alert::Subject;
///
/// let subject = Subject::Node("embedding".to_owned());
/// assert_eq!((subject.kind(), subject.name()), ("node", "embedding"));
/// assert_eq!(Subject::Event("cache_hit_rate".to_owned()).kind(), "event");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An instrumented function's node.
    Node(String),
    /// A circuit breaker.
    Breaker(String),
    /// The name of explicit events ([`record_gauge`](crate::stream::record_gauge),
    /// [`record_rate`](crate::stream::record_rate)).
    Event(String),
}

impl Subject {
    /// `node`, `breaker` or `event`: the label naming the subject.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Node(_) => "node",
            Self::Breaker(_) => "breaker",
            Self::Event(_) => "event",
        }
    }

    /// The node's, breaker's or event's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Node(name) | Self::Breaker(name) | Self::Event(name) => name,
        }
    }
}

/// Where a rule came from: written (code or budgets file) or implied by a budget or breaker.
///
/// ```
/// assert_eq!(instrument_runtime::alert::RuleOrigin::Implied.as_str(), "implied");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOrigin {
    /// Declared with the builder API.
    Code,
    /// The budgets file's `alerts:` section.
    BudgetsFile,
    /// Implied by a budget or a breaker.
    Implied,
}

impl RuleOrigin {
    /// `code`, `budgets_file` or `implied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::BudgetsFile => "budgets_file",
            Self::Implied => "implied",
        }
    }
}

/// One alert rule: fires when `figure(subject) operator threshold` has held for `for_ms`, and
/// resolves once the figure is back past the threshold by the engine's hysteresis.
///
/// ```
/// use instrument_runtime::alert::{AlertRule, Operator, Severity};
///
/// let rule = AlertRule::node("RoutingTooSlow", "routing")
///     .when("p95", Operator::Above, "100ms")
///     .unwrap()
///     .severity(Severity::Critical)
///     .for_ms(30_000)
///     .message("Routing too slow: {value} (> {threshold})")
///     .label("team", "search");
/// assert_eq!(rule.threshold, 100_000_000.0);
/// assert_eq!(rule.labels["team"], "search");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlertRule {
    /// The alert's name (its `alertname` label), e.g. `RoutingTooSlow`.
    pub name: String,
    /// The node, breaker or event it watches.
    pub subject: Subject,
    /// What it looks at.
    pub figure: Figure,
    /// How the figure is compared.
    pub operator: Operator,
    /// The threshold, in the figure's unit (nanoseconds, a fraction, per second, a count).
    pub threshold: f64,
    /// How urgent.
    pub severity: Severity,
    /// How long the condition must hold before the alert fires (0: at once).
    pub for_ms: u64,
    /// For latency and rates: the window they are computed over; `None`: the last interval.
    pub window_ms: Option<u64>,
    /// Fewer calls than this in the window and the figure is unknown: the alert keeps its state.
    pub min_calls: u64,
    /// The summary template: `{value}`, `{threshold}`, `{operator}`, `{figure}`, `{subject}`,
    /// `{node}` / `{breaker}`, `{alert}`, `{severity}`.
    pub message: String,
    /// Extra labels, sent with the alert.
    pub labels: BTreeMap<String, String>,
    /// Where it was declared.
    pub origin: RuleOrigin,
}

/// The summary when a rule sets no message.
pub const DEFAULT_MESSAGE: &str =
    "{alert}: {figure} of {subject} is {value} ({operator} {threshold})";

impl AlertRule {
    fn new(name: &str, subject: Subject, figure: Figure) -> Self {
        Self {
            name: name.to_owned(),
            subject,
            figure,
            operator: Operator::Above,
            threshold: 0.0,
            severity: Severity::Warning,
            for_ms: 0,
            window_ms: None,
            min_calls: 1,
            message: DEFAULT_MESSAGE.to_owned(),
            labels: BTreeMap::new(),
            origin: RuleOrigin::Code,
        }
    }

    /// A rule on a node, watching its p95 until [`when`](Self::when) says otherwise.
    pub fn node(name: &str, node: &str) -> Self {
        Self::new(
            name,
            Subject::Node(node.to_owned()),
            Figure::Latency(Quantile::P95),
        )
    }

    /// A rule on a circuit breaker, watching its state until [`when`](Self::when) says otherwise.
    pub fn breaker(name: &str, breaker: &str) -> Self {
        Self::new(
            name,
            Subject::Breaker(breaker.to_owned()),
            Figure::BreakerState,
        )
    }

    /// A rule on the explicit events named `event`, watching the last value of its gauge until
    /// [`when`](Self::when) says otherwise (`rate` for its rate).
    ///
    /// ```
    /// use instrument_runtime::alert::{AlertRule, Figure, Operator};
    ///
    /// let rule = AlertRule::event("CacheCold", "cache_hit_rate").when("rate", Operator::Below, "90%").unwrap();
    /// assert_eq!((rule.figure, rule.threshold), (Figure::Rate, 90.0));
    /// ```
    pub fn event(name: &str, event: &str) -> Self {
        Self::new(name, Subject::Event(event.to_owned()), Figure::Gauge)
    }

    /// A rule on `subject`, with that kind of subject's first figure ([`node`](Self::node),
    /// [`breaker`](Self::breaker), [`event`](Self::event)).
    pub(crate) fn watching(name: &str, subject: &Subject) -> Self {
        match subject {
            Subject::Node(node) => Self::node(name, node),
            Subject::Breaker(breaker) => Self::breaker(name, breaker),
            Subject::Event(event) => Self::event(name, event),
        }
    }

    /// The condition: a figure by name (`p95`, `error_rate`, `gauge`, `rate`, ...), an operator
    /// and a threshold with its unit (`100ms`, `80%`, `0.6`, `open`).
    ///
    /// # Errors
    ///
    /// An unknown figure, one that does not fit the subject, or a threshold that does not read.
    ///
    /// ```
    /// use instrument_runtime::alert::{AlertRule, Operator};
    ///
    /// let error = AlertRule::node("X", "n").when("p96", Operator::Above, "1ms").unwrap_err();
    /// assert_eq!(error, "unknown figure `p96`");
    /// ```
    pub fn when(
        mut self,
        figure: &str,
        operator: Operator,
        threshold: &str,
    ) -> Result<Self, String> {
        let figure: Figure = figure.parse()?;
        if figure.subject_kind() != self.subject.kind() {
            let kind = self.subject.kind();
            let article = if kind == "event" { "an" } else { "a" };
            return Err(format!("figure `{figure}` is not one of {article} {kind}"));
        }
        self.threshold = figure.threshold(threshold)?;
        self.figure = figure;
        self.operator = operator;
        Ok(self)
    }

    /// Sets the severity (default `WARNING`).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets how long the condition must hold before firing.
    #[must_use]
    pub fn for_ms(mut self, for_ms: u64) -> Self {
        self.for_ms = for_ms;
        self
    }

    /// Computes latency and rates over this window instead of the last interval.
    #[must_use]
    pub fn window_ms(mut self, window_ms: u64) -> Self {
        self.window_ms = Some(window_ms);
        self
    }

    /// Sets the calls a window needs before its latency or rates are judged (default 1).
    #[must_use]
    pub fn min_calls(mut self, min_calls: u64) -> Self {
        self.min_calls = min_calls;
        self
    }

    /// Sets the summary template.
    #[must_use]
    pub fn message(mut self, template: &str) -> Self {
        template.clone_into(&mut self.message);
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Marks where the rule was declared.
    #[must_use]
    pub fn origin(mut self, origin: RuleOrigin) -> Self {
        self.origin = origin;
        self
    }
}
