//! What the nodes found: in one document (`--show` prints it) and in the whole run (the summary
//! line `main` prints).

use std::fmt;
use std::time::Duration;

use super::DocumentError;
use super::nodes::{
    CausalLink, Contradiction, CycleError, DagReport, Feasibility, MonetaryAmount, PlanMetadata,
    Responsibility, Segment, TheoryOfChange,
};
use super::plans::grouped;

/// Everything the nodes found in one document.
pub(crate) struct Findings<'a> {
    pub(crate) metadata: PlanMetadata,
    pub(crate) segments: Vec<Segment<'a>>,
    pub(crate) responsibilities: Vec<Responsibility>,
    pub(crate) contradictions: Vec<Contradiction>,
    pub(crate) amounts: Vec<MonetaryAmount>,
    pub(crate) feasibility: Feasibility,
    pub(crate) links: Vec<CausalLink>,
    pub(crate) theory: TheoryOfChange,
    pub(crate) validation: Result<DagReport, CycleError>,
}

/// What `--show` prints: a readable account of one document.
impl fmt::Display for Findings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = &self.metadata;
        let quote = |segment: usize| -> String {
            let words: Vec<&str> = self.segments[segment].text.split_whitespace().collect();
            words.join(" ")
        };
        writeln!(
            f,
            "{} ({}), {}-{}, mayor {}; {} segments",
            plan.municipality,
            plan.department,
            plan.period.0,
            plan.period.1,
            plan.mayor.as_deref().unwrap_or("not named"),
            self.segments.len()
        )?;
        writeln!(f, "  feasibility {:.2}", self.feasibility.overall)?;
        for (name, score) in plan.axes.iter().zip(&self.feasibility.axes) {
            writeln!(f, "    {score:.2}  {name}")?;
        }
        writeln!(f, "  responsibilities")?;
        for found in &self.responsibilities {
            writeln!(
                f,
                "    {} ({}): {}",
                found.entity,
                found.verb,
                quote(found.segment)
            )?;
        }
        writeln!(f, "  money")?;
        for amount in &self.amounts {
            writeln!(
                f,
                "    {} pesos (in {:?}): {}",
                grouped(amount.pesos),
                amount.currency,
                quote(amount.segment)
            )?;
        }
        writeln!(f, "  contradictions")?;
        for found in &self.contradictions {
            writeln!(
                f,
                "    {:?} on `{}` (similarity {:.2}):\n      {}\n      {}",
                found.kind,
                found.subject,
                found.similarity,
                quote(found.first),
                quote(found.second)
            )?;
        }
        writeln!(f, "  causal links")?;
        for link in &self.links {
            writeln!(
                f,
                "    `{}` -> `{}` ({})",
                link.cause, link.effect, link.connective
            )?;
        }
        let theory = &self.theory;
        writeln!(
            f,
            "  theory of change: {} concepts, {} links, {} complete input-to-outcome chains",
            theory.concepts.len(),
            theory.edges.len(),
            theory.complete_chains
        )?;
        match &self.validation {
            Ok(report) if !report.validated => {
                writeln!(f, "  not validated: `dag_validation` was unavailable")
            }
            Ok(report) => {
                writeln!(
                    f,
                    "  valid: longest chain {} links, robustness {:.2}; in topological order:",
                    report.longest_path, report.robustness
                )?;
                for &at in &report.order {
                    writeln!(f, "    {:?} `{}`", theory.stages[at], theory.concepts[at])?;
                }
                Ok(())
            }
            Err(cycle) => writeln!(f, "  invalid: {cycle}"),
        }
    }
}

/// The whole run, added up.
#[derive(Default)]
pub(crate) struct Totals {
    documents: u64,
    rejected: u64,
    failed: u64,
    circular: u64,
    unvalidated: u64,
    segments: usize,
    responsibilities: usize,
    contradictions: usize,
    amounts: usize,
    pesos: u128,
    complete_chains: usize,
    feasibility: f64,
    robustness: f64,
    longest_chain: usize,
}

impl Totals {
    pub(crate) fn add(&mut self, findings: &Result<Findings<'_>, DocumentError>) {
        self.documents += 1;
        let findings = match findings {
            Ok(findings) => findings,
            Err(DocumentError::Rejected(_)) => {
                self.rejected += 1;
                return;
            }
            Err(DocumentError::Failed(_)) => {
                self.failed += 1;
                return;
            }
        };
        self.segments += findings.segments.len();
        self.responsibilities += findings.responsibilities.len();
        self.contradictions += findings.contradictions.len();
        self.amounts += findings.amounts.len();
        self.pesos += findings
            .amounts
            .iter()
            .map(|amount| u128::from(amount.pesos))
            .sum::<u128>();
        self.complete_chains += findings.theory.complete_chains;
        self.feasibility += findings.feasibility.overall;
        match &findings.validation {
            Ok(report) if !report.validated => self.unvalidated += 1,
            Ok(report) => {
                self.robustness += report.robustness;
                self.longest_chain = self.longest_chain.max(report.longest_path);
            }
            Err(_) => self.circular += 1,
        }
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "averages and totals, printed to a few significant figures"
    )]
    pub(crate) fn summary(&self, seed: u64, elapsed: Duration) -> String {
        let analysed = self.documents - self.rejected - self.failed;
        let validated = analysed - self.circular - self.unvalidated;
        let mean = |sum: f64, count: u64| if count == 0 { 0.0 } else { sum / count as f64 };
        format!(
            "pipeline: {} plans (seed {}) in {:.2}s: {analysed} analysed, {} rejected, {} failed; \
             {} segments, {} responsibilities, {} contradictions, {} amounts \
             (COP {:.1} trillion), {} complete input-to-outcome chains (longest {} links), \
             {} circular and {} unvalidated theories of change; mean feasibility {:.2}, \
             mean robustness {:.2}",
            self.documents,
            seed,
            elapsed.as_secs_f64(),
            self.rejected,
            self.failed,
            self.segments,
            self.responsibilities,
            self.contradictions,
            self.amounts,
            self.pesos as f64 / 1e12,
            self.complete_chains,
            self.longest_chain,
            self.circular,
            self.unvalidated,
            mean(self.feasibility, analysed),
            mean(self.robustness, validated),
        )
    }
}
