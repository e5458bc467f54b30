//! The plan generator (not measured): the same seed and index always give the same document,
//! whatever `--documents` says.

mod vocabulary;

use super::rng::{Rng, document_rng};
use vocabulary::{AXES, Axis, DEPARTMENTS, IMPACTS, Indicator, MAYORS, MOTTOS, MUNICIPALITIES};

/// Writes one municipal development plan: a header, an introduction and four to seven axes of
/// hard-wrapped paragraphs, then the noise of real documents (odd spaces, CRLF, typographic
/// quotes, page breaks). About 2% of plans have a broken header, 4% reason in a circle, and one
/// axis in four contradicts itself.
pub(crate) fn generate_plan(seed: u64, index: u64) -> String {
    let mut rng = document_rng(seed, index);
    let mut plan = PlanWriter::default();
    let municipality = *rng.pick(MUNICIPALITIES);
    let start = if rng.percent(50) { 2020 } else { 2024 };
    let end = start + 3;

    plan.line(&format!("MUNICIPAL DEVELOPMENT PLAN {start}-{end}"));
    plan.line(&format!("\u{201c}{}\u{201d}", rng.pick(MOTTOS)));
    plan.line(&format!("Municipality: {municipality}"));
    if !rng.percent(1) {
        plan.line(&format!("Department: {}", rng.pick(DEPARTMENTS)));
    }
    plan.line(&match rng.below(100) {
        0 => format!("Period: {start}-2O{}", end % 100), // a letter O read for a zero
        1..=30 => format!("Period: {start}\u{2013}{end}"),
        _ => format!("Period: {start}-{end}"),
    });
    if rng.percent(90) {
        plan.line(&format!("Mayor: {}", rng.pick(MAYORS)));
    }
    plan.blank();

    plan.sentence(&format!(
        "This plan was built with the participation of {} community workshops held in the {} \
         veredas of {municipality}.",
        rng.between(12, 60),
        rng.between(8, 40)
    ));
    plan.sentence(
        "It is aligned with the National Development Plan and the Sustainable Development Goals.",
    );
    if rng.percent(70) {
        plan.sentence(&format!(
            "The total investment of the plan amounts to {}.",
            money(&mut rng, 20_000, 150_000)
        ));
    }
    plan.sentence(&format!(
        "The diagnosis covers the period {}-{}.",
        start - 4,
        start - 1
    ));
    plan.end_paragraph(&mut rng);

    let mut order: Vec<usize> = (0..AXES.len()).collect();
    for at in (1..order.len()).rev() {
        order.swap(at, rng.below(at + 1));
    }
    let axis_count = 4 + rng.below(4);
    let circular_axis = rng.percent(4).then(|| rng.below(axis_count));
    for (number, &theme) in order[..axis_count].iter().enumerate() {
        if rng.percent(30) {
            plan.text.push_str("\u{c}\n"); // a page break
        }
        plan.line(&format!(
            "Strategic axis {}: {}",
            number + 1,
            AXES[theme].name
        ));
        plan.blank();
        let draft = AxisDraft::new(&mut rng, &AXES[theme], end);
        draft.diagnosis(&mut plan, &mut rng);
        draft.strategy(&mut plan, &mut rng, circular_axis == Some(number), start);
        draft.governance(&mut plan, &mut rng);
        if rng.percent(25) {
            draft.contradiction(&mut plan, &mut rng);
        }
    }
    add_noise(&plan.text, &mut rng)
}

/// What one axis of a plan commits to: the indicators it targets and the outputs it delivers.
struct AxisDraft<'a> {
    axis: &'a Axis,
    indicators: &'a [Indicator],
    outputs: &'a [&'static str],
    /// Baseline and target of each indicator, in percent.
    targets: Vec<(u32, u32)>,
    end: u32,
}

impl<'a> AxisDraft<'a> {
    fn new(rng: &mut Rng, axis: &'a Axis, end: u32) -> Self {
        let indicators = &axis.indicators[..=rng.below(axis.indicators.len().min(2))];
        let outputs = &axis.outputs[..=rng.below(axis.outputs.len())];
        let targets = indicators
            .iter()
            .map(|indicator| {
                if indicator.rises {
                    let baseline = rng.between(20, 70);
                    (baseline, (baseline + rng.between(5, 25)).min(99))
                } else {
                    let baseline = rng.between(10, 60);
                    (baseline, baseline - rng.between(3, baseline / 2))
                }
            })
            .collect();
        Self {
            axis,
            indicators,
            outputs,
            targets,
            end,
        }
    }

    fn diagnosis(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        plan.sentence(&format!(
            "The diagnosis identified {} priority needs in this area.",
            rng.between(3, 15)
        ));
        for (indicator, (baseline, target)) in self.indicators.iter().zip(&self.targets) {
            plan.sentence(&format!(
                "{} will {} from a baseline of {baseline}% to {target}% by {}.",
                capitalize(indicator.name),
                if indicator.rises {
                    "increase"
                } else {
                    "decrease"
                },
                self.end
            ));
        }
        plan.end_paragraph(rng);
    }

    /// Inputs -> outputs -> outcomes -> impacts, in the words plans use; a circular plan also
    /// claims that an outcome pays for its own input.
    fn strategy(&self, plan: &mut PlanWriter, rng: &mut Rng, circular: bool, start: u32) {
        for (at, output) in self.outputs.iter().enumerate() {
            let indicator = &self.indicators[at % self.indicators.len()];
            let funded_in_a_circle = circular && at == 0;
            plan.sentence(&if funded_in_a_circle || rng.percent(50) {
                format!("Funding for the {output} leads to the {output}.")
            } else {
                format!(
                    "An investment of {} in the {output} results in the {output}.",
                    money(rng, 300, 9_500)
                )
            });
            let (comparative, verb) = if indicator.rises {
                ("higher", "increase")
            } else {
                ("lower", "decrease")
            };
            plan.sentence(&match rng.below(3) {
                0 => format!(
                    "The {output} contributes to {comparative} {}.",
                    indicator.name
                ),
                1 => format!(
                    "{} will improve as a result of the {output}.",
                    capitalize(indicator.name)
                ),
                _ => format!("Thanks to the {output}, {} will {verb}.", indicator.name),
            });
            if rng.percent(60) {
                plan.sentence(&format!(
                    "{} {} {} {}.",
                    capitalize(comparative),
                    indicator.name,
                    rng.pick(&["leads to", "results in", "contributes to"]),
                    rng.pick(IMPACTS)
                ));
            }
            if funded_in_a_circle {
                plan.sentence(&format!(
                    "{} {} leads to more funding for the {output}.",
                    capitalize(comparative),
                    indicator.name
                ));
            }
        }
        if rng.percent(60) {
            plan.sentence(&format!(
                "The \u{201c}{}\u{201d} programme has a total budget of {}.",
                self.axis.programme,
                money(rng, 1_000, 30_000)
            ));
        }
        if rng.percent(25) {
            plan.sentence(&format!(
                "Because of heavy rains in {}, several works were delayed.",
                start - 1
            ));
        }
        plan.end_paragraph(rng);
    }

    fn governance(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        let entity = self.axis.entity;
        if rng.percent(85) {
            plan.sentence(&match rng.below(3) {
                0 => format!(
                    "The {entity} will coordinate the \u{201c}{}\u{201d} programme.",
                    self.axis.programme
                ),
                1 => format!("The {entity} is responsible for the {}.", self.outputs[0]),
                _ => format!(
                    "The {entity} and the Office of Planning must jointly monitor {}.",
                    self.indicators[0].name
                ),
            });
        }
        if rng.percent(40) {
            plan.sentence(
                "The Mayor\u{2019}s Office shall report progress to the Municipal Council every \
                 semester.",
            );
        }
        let closing = *rng.pick(&[
            "The community will participate in the monitoring committees.",
            "Local leaders will validate the annual action plan.",
            "Progress will be published on the municipal website.",
        ]);
        plan.sentence(closing);
        plan.end_paragraph(rng);
    }

    /// A later statement that contradicts the first target: the opposite direction, a denial,
    /// or a different target for the same year.
    fn contradiction(&self, plan: &mut PlanWriter, rng: &mut Rng) {
        let indicator = &self.indicators[0];
        let (_, target) = self.targets[0];
        let (same, opposite) = if indicator.rises {
            ("increase", "decrease")
        } else {
            ("decrease", "increase")
        };
        let name = capitalize(indicator.name);
        let end = self.end;
        plan.sentence(&match rng.below(3) {
            0 => format!(
                "{name} will {opposite} to {}% by {end}.",
                rng.between(5, 40)
            ),
            1 => format!("{name} will not {same} during the period."),
            _ => {
                let other = if target > 50 {
                    target - rng.between(15, 30)
                } else {
                    target + rng.between(15, 30)
                };
                format!("{name} will {same} to {other}% by {end}.")
            }
        });
        plan.end_paragraph(rng);
    }
}

/// An amount between `low` and `high` million pesos, written one of the ways plans write money.
pub(crate) fn money(rng: &mut Rng, low: u32, high: u32) -> String {
    let millions = rng.between(low, high);
    match rng.below(5) {
        0 => format!("COP {} million", grouped(millions)),
        1 => format!("${},000,000", grouped(millions)),
        2 => format!("{} million pesos", grouped(millions)),
        3 => {
            let tenths = (millions / 400).max(1);
            format!("USD {}.{} million", tenths / 10, tenths % 10)
        }
        _ => format!("$ {} million", grouped(millions)),
    }
}

/// `1250` -> `1,250`.
pub(crate) fn grouped(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Accumulates the clean text of a plan, paragraph by paragraph.
#[derive(Default)]
struct PlanWriter {
    text: String,
    paragraph: Vec<String>,
}

impl PlanWriter {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn sentence(&mut self, sentence: &str) {
        self.paragraph.push(sentence.to_owned());
    }

    /// Writes the paragraph hard-wrapped at 72 to 96 columns, then a blank line.
    fn end_paragraph(&mut self, rng: &mut Rng) {
        if self.paragraph.is_empty() {
            return;
        }
        let width = 72 + rng.below(25);
        let mut column = 0;
        for word in self
            .paragraph
            .iter()
            .flat_map(|sentence| sentence.split(' '))
        {
            if column > 0 && column + 1 + word.len() > width {
                self.text.push('\n');
                column = 0;
            } else if column > 0 {
                self.text.push(' ');
                column += 1;
            }
            self.text.push_str(word);
            column += word.len();
        }
        self.text.push_str("\n\n");
        self.paragraph.clear();
    }
}

/// What scanned and converted documents look like: doubled spaces, tabs, no-break and
/// zero-width spaces, trailing spaces, and Windows line endings in some documents.
fn add_noise(clean: &str, rng: &mut Rng) -> String {
    let crlf = rng.percent(25);
    let mut noisy = String::with_capacity(clean.len() + clean.len() / 8);
    for c in clean.chars() {
        match c {
            ' ' => noisy.push_str(match rng.below(200) {
                0..=5 => "  ",
                6 | 7 => "\t",
                8 => "\u{a0}",
                9 => " \u{200b}",
                _ => " ",
            }),
            '\n' => {
                if rng.percent(5) {
                    noisy.push_str("  ");
                }
                noisy.push_str(if crlf { "\r\n" } else { "\n" });
            }
            c => noisy.push(c),
        }
    }
    noisy
}
