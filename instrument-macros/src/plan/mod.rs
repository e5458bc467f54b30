//! Validate: every attribute on one function, merged into one typed plan. All mistakes are
//! collected, each on the token that causes it.
//!
//! One module per attribute: `node` for what `#[timed]` and `#[counted]` decide (and every
//! attribute shares: the node's name, which errors fail), `budget`, `breaker`; `values` reads the
//! kinds of value they have in common (durations, percentages, function paths, names).

mod breaker;
mod budget;
mod node;
mod values;

use syn::Signature;

use crate::args::AttrArgs;
use crate::errors::Errors;
use crate::item::MaybeFn;
use crate::keys::{Key, Kind};

pub(crate) use breaker::{BreakerPlan, FailureRatePlan, WindowPlan};
pub(crate) use budget::BudgetPlan;
pub(crate) use node::NodeName;
pub(crate) use values::FunctionPath;

/// What to generate for one function.
pub(crate) struct Plan {
    pub(crate) name: NodeName,
    /// Which errors count as failures of the node: `is_failure` of `#[timed]`, `#[counted]` or
    /// `#[budget]`; without one, every `Err` (see `Outcome`). The breaker's own `is_failure`
    /// decides only what trips the breaker.
    pub(crate) is_failure: Option<FunctionPath>,
    pub(crate) timed: bool,
    pub(crate) counted: bool,
    pub(crate) in_flight: bool,
    pub(crate) budget: Option<BudgetPlan>,
    pub(crate) breaker: Option<BreakerPlan>,
}

pub(crate) fn build(attrs: &[AttrArgs], function: &MaybeFn, errors: &mut Errors) -> Plan {
    let primary = attrs[0].kind;
    let sig = &function.sig;
    check_signature(primary, sig, errors);
    for (index, attr) in attrs.iter().enumerate() {
        if attrs[..index]
            .iter()
            .any(|earlier| earlier.kind == attr.kind)
        {
            errors.push_spanned(
                &attr.at,
                format!("duplicate attribute `#[{}]`", attr.kind.name()),
            );
        }
    }
    let mut plan = Plan {
        name: node::name(attrs, sig, errors),
        is_failure: None,
        timed: false,
        counted: false,
        in_flight: false,
        budget: None,
        breaker: None,
    };
    for attr in attrs {
        node::is_failure(attr, &mut plan.is_failure, errors);
        match attr.kind {
            Kind::Timed => plan.timed = true,
            Kind::Counted => {
                plan.counted = true;
                plan.in_flight |= attr.args.has(Key::InFlight);
            }
            Kind::Budget => {
                plan.timed = true;
                plan.budget = Some(budget::plan(attr, errors));
            }
            Kind::CircuitBreaker => {
                plan.counted = true;
                breaker::check_target(attr, function, errors);
                plan.breaker = Some(breaker::plan(attr, sig, errors));
            }
        }
    }
    plan
}

fn check_signature(primary: Kind, sig: &Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.push(
            constness.span,
            format!("`#[{}]` cannot instrument a `const fn`: it reads the clock and records at run time", primary.name()),
        );
    }
}
