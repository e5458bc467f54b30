//! The rules budgets and breakers imply, with no line written: the in-process counterpart of the
//! generated Prometheus alerting rules (`export::alerting_rules`), on the same notions (a
//! quantile against its budget × (1 + tolerance); a breaker open; a recovery over its SLA) and
//! severities, under names of their own so both can feed one Alertmanager without mixing.

use std::collections::BTreeSet;

use crate::read::alert_rule::{AlertRule, Figure, Operator, RuleOrigin, Severity, Subject};
use crate::read::budget::Quantile;
use crate::read::snapshot::Snapshot;

/// A budgeted quantile over its allowance (`budget × (1 + tolerance)`) in the last interval:
/// `WARNING`; over twice the allowance: `CRITICAL`. One alert per quantile and severity.
pub const LATENCY_OVER_BUDGET: &str = "LatencyOverBudget";
/// A circuit breaker open: `CRITICAL`.
pub const BREAKER_OPEN: &str = "BreakerOpen";
/// A breaker recovered slower than its recovery SLA in the last interval: `WARNING`.
pub const BREAKER_RECOVERY_SLA_VIOLATED: &str = "BreakerRecoverySlaViolated";

/// An interval with fewer calls of a node than this does not judge its budget: a handful of
/// calls has no meaningful p99.
pub const IMPLIED_MIN_CALLS: u64 = 10;

/// The rules the snapshot's budgets and breakers imply, in a stable order.
///
/// ```
/// use instrument_runtime::alert::{implied_rules, Severity};
///
/// #[instrument_runtime::budget(name = "implied_rules_doc", p95 = "50ms")]
/// fn step() {}
///
/// let rules = implied_rules(&instrument_runtime::snapshot());
/// let mine: Vec<_> = rules.iter().filter(|rule| rule.subject.name() == "implied_rules_doc").collect();
/// assert_eq!(mine.len(), 2);
/// assert_eq!((mine[0].severity, mine[0].threshold), (Severity::Warning, 55_000_000.0));
/// assert_eq!((mine[1].severity, mine[1].threshold), (Severity::Critical, 110_000_000.0));
/// ```
#[allow(
    clippy::cast_precision_loss,
    reason = "budgets in nanoseconds, far below 2^53"
)]
pub fn implied_rules(snapshot: &Snapshot) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for node in &snapshot.nodes {
        let Some(budget) = node.budget.as_ref().filter(|_| seen.insert(&node.name)) else {
            continue;
        };
        for quantile in Quantile::ALL {
            let Some(budget_ns) = quantile.budget_in(budget) else {
                continue;
            };
            let allowed = budget.allowed_ns(budget_ns) as f64;
            for (severity, factor, limit) in [
                (Severity::Warning, 1.0, "its budget allowance"),
                (Severity::Critical, 2.0, "twice its budget allowance"),
            ] {
                let message =
                    format!("{{node}} {{figure}} is {{value}}; alert above {limit}, {{threshold}}");
                rules.push(AlertRule {
                    figure: Figure::Latency(quantile),
                    operator: Operator::Above,
                    threshold: allowed * factor,
                    min_calls: IMPLIED_MIN_CALLS,
                    ..implied(LATENCY_OVER_BUDGET, &Subject::Node(node.name.clone()))
                        .severity(severity)
                        .message(&message)
                });
            }
        }
    }
    let mut seen = BTreeSet::new();
    for breaker in &snapshot.breakers {
        if !seen.insert(&breaker.name) {
            continue;
        }
        let subject = Subject::Breaker(breaker.name.clone());
        rules.push(AlertRule {
            operator: Operator::AtLeast,
            threshold: 2.0,
            ..implied(BREAKER_OPEN, &subject)
                .severity(Severity::Critical)
                .message("circuit breaker {breaker} is open")
        });
        rules.push(AlertRule {
            figure: Figure::RecoverySlaViolations,
            operator: Operator::Above,
            threshold: 0.0,
            ..implied(BREAKER_RECOVERY_SLA_VIOLATED, &subject)
                .severity(Severity::Warning)
                .message("circuit breaker {breaker} recovered slower than its SLA ({value} times)")
        });
    }
    rules
}

fn implied(name: &str, subject: &Subject) -> AlertRule {
    AlertRule::watching(name, subject).origin(RuleOrigin::Implied)
}

/// `base` without the rules `overriding` replaces (same name, same subject), then `overriding`.
pub(super) fn merge(overriding: &[AlertRule], base: Vec<AlertRule>) -> Vec<AlertRule> {
    let overridden: BTreeSet<(&str, &Subject)> = overriding
        .iter()
        .map(|rule| (rule.name.as_str(), &rule.subject))
        .collect();
    let mut rules: Vec<AlertRule> = base
        .into_iter()
        .filter(|rule| !overridden.contains(&(rule.name.as_str(), &rule.subject)))
        .collect();
    rules.extend_from_slice(overriding);
    rules
}
