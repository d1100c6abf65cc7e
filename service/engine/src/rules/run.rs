//! Rule running and the one evaluation entry point, [`evaluate`].

use super::def::{Effect, RuleCategory, RuleResult};
use super::pack::{Pack, Rule};
use super::scope::Scope;
use super::value::FactRefs;
use crate::context::UseContext;
use crate::decision::*;
use crate::facts::LicenseFacts;
use crate::facts::build::{Prepared, SharedFacts, serde_plain};
use crate::lineage::Source;
use crate::openness;
use crate::record::ModelRecord;
use crate::rules::celval::cel_to_json;
use crate::time::{self, Timestamp};
use crate::waiver::Waiver;

/// The engine's version, pinned in every decision.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything one evaluation reads. Start from [`Evaluation::new`] and set `ancestors` and
/// `waivers` with struct update syntax where there are any:
///
/// ```ignore
/// let d = evaluate(&Evaluation { waivers: &applicable, ..Evaluation::new(&pack, &rec, &ctx, now, &digest) });
/// ```
#[derive(Clone, Copy)]
pub struct Evaluation<'a> {
    /// The rule pack: catalogs and rules.
    pub pack: &'a Pack,
    /// The model evaluated.
    pub record: &'a ModelRecord,
    /// Records of base models the caller knows (fetched from the Hub, or the other models of
    /// the same document): an ancestor in the base-model catalog uses the catalog; otherwise
    /// a record with its id supplies the ancestor's licence and continues the chain.
    pub ancestors: &'a [ModelRecord],
    /// The intended use (normalized by the engine).
    pub context: &'a UseContext,
    /// The evaluation time: the engine reads no clock.
    pub now: Timestamp,
    /// The digest of the input ([`crate::input_digest`]), pinned in the decision.
    pub input_digest: &'a str,
    /// The waivers that apply ([`crate::waiver::applicable`]): a finding of a waived rule
    /// stays in the decision, marked `waived` with the waiver's id, and does not count
    /// towards the verdict.
    pub waivers: &'a [&'a Waiver],
}

impl<'a> Evaluation<'a> {
    /// An evaluation with no known ancestors and no waivers.
    pub fn new(
        pack: &'a Pack,
        record: &'a ModelRecord,
        context: &'a UseContext,
        now: Timestamp,
        input_digest: &'a str,
    ) -> Self {
        Evaluation {
            pack,
            record,
            ancestors: &[],
            context,
            now,
            input_digest,
            waivers: &[],
        }
    }
}

/// Evaluates a record under a use context. The one entry point of every evaluation (API,
/// dry run, CLI, impact analysis, replay, pack tests). Pure and deterministic: the same
/// inputs give the same decision.
pub fn evaluate(e: &Evaluation<'_>) -> Decision {
    let pack = e.pack;
    let rec = e.record;
    let Prepared {
        ctx,
        mut declared,
        lin,
        inherited,
        model,
        context,
        now,
        lineage_base,
        alternatives,
    } = pack.prepare(rec, e.ancestors, e.context, e.now);
    let mut runs: Vec<AltRun> = Vec::with_capacity(alternatives.len());
    let mut shared = Some(SharedFacts {
        declared: std::mem::take(&mut declared.facts),
        inherited,
        lineage: lineage_base,
    });
    for (i, alt) in alternatives.iter().enumerate() {
        let this = if i + 1 == alternatives.len() {
            shared.take()
        } else {
            shared.clone()
        };
        let (license, lineage_f) = pack.license_facts(
            rec,
            alt,
            alternatives.len(),
            declared.conflicting,
            this.unwrap_or_default(),
            &lin,
        );
        let (openness, openness_f) = pack.openness(rec, &license);
        let facts = FactRefs {
            model: &model,
            context: &context,
            license: &license,
            lineage: &lineage_f,
            openness: &openness_f,
            now: &now,
        };
        runs.push(pack.run_rules(rec, facts, openness, e.waivers));
    }
    let best = (0..runs.len())
        .min_by_key(|&i| {
            let r = &runs[i];
            (r.verdict, r.failing, r.obligations.len(), i)
        })
        .unwrap_or(0);
    let alt_out: Vec<AlternativeOut> = if alternatives.len() > 1 {
        runs.iter()
            .map(|r| AlternativeOut {
                expression: r.chosen.clone(),
                verdict: r.verdict,
            })
            .collect()
    } else {
        Vec::new()
    };
    let run = runs.swap_remove(best);
    Decision {
        model: ModelOut {
            id: rec.id.clone(),
            revision: rec.revision.clone(),
            name: rec.name.clone(),
            source_format: rec.source_format.clone(),
        },
        verdict: run.verdict,
        summary: run.summary,
        findings: run.findings,
        obligations: run.obligations,
        license: LicenseOut {
            declared: declared.out,
            chosen: declared.expr.as_ref().map(|_| run.chosen.clone()),
            alternatives: alt_out,
            conflicting: declared.conflicting,
            inherited: lin
                .ancestors
                .iter()
                .map(|a| InheritedOut {
                    model: a.model.clone(),
                    license: a.license.clone(),
                    relation: serde_plain(&a.relation),
                    source: match a.source {
                        Source::Inferred => "inferred".into(),
                        Source::Declared | Source::Catalog => "declared".into(),
                    },
                })
                .collect(),
            effective: run.effective,
        },
        lineage: LineageOut {
            inferred: lin.inferred,
            evidence: lin.evidence.clone(),
            unresolved: lin.unresolved.clone(),
            fetched: lin.fetched.clone(),
        },
        openness: run.openness,
        context: ctx,
        pack: PackOut {
            name: pack.manifest.name.clone(),
            version: pack.manifest.version.clone(),
            digest: pack.digest.clone(),
        },
        engine_version: ENGINE_VERSION.to_string(),
        input_digest: e.input_digest.to_string(),
        evaluated_at: time::seconds(e.now),
    }
}

impl Pack {
    fn run_rules(
        &self,
        rec: &ModelRecord,
        facts: FactRefs<'_>,
        openness: openness::Openness,
        waivers: &[&crate::waiver::Waiver],
    ) -> AltRun {
        let license = facts.license;
        let scope = self.scope(facts);
        let ctx = &scope;
        let mut summary = Summary::default();
        let mut findings = Vec::new();
        let mut obligations = Vec::new();
        let mut verdict = Verdict::Allow;
        let mut failing = 0usize;
        let mut license_waived = false;
        for rule in &self.rules {
            let (result, fired, error) = match eval_rule(rule, ctx) {
                Ok((r, fired)) => (r, fired, None),
                Err(e) => (RuleResult::Error, false, Some(e)),
            };
            match result {
                RuleResult::Pass => summary.pass += 1,
                RuleResult::Skip => summary.skip += 1,
                RuleResult::Fail => summary.fail += 1,
                RuleResult::Warn => summary.warn += 1,
                RuleResult::Error => summary.error += 1,
            }
            if !fired && error.is_none() {
                continue;
            }
            let culprits = self.culprits(rule, ctx, license);
            let citation = self.citation(rule, &culprits);
            if rule.def.effect == Effect::Obligation && fired {
                obligations.push(Obligation {
                    rule_id: rule.def.id.clone(),
                    title: rule.def.title.clone(),
                    category: rule.def.category,
                    text: rule.message.render_with(ctx),
                    licenses: culprits,
                    citation,
                });
                continue;
            }
            let waiver = waivers
                .iter()
                .find(|w| w.rule_id == rule.def.id)
                .map(|w| w.id.clone());
            if waiver.is_none() {
                failing += 1;
            } else if rule.def.category == RuleCategory::License {
                license_waived = true;
            }
            let message = match &error {
                Some(e) => {
                    format!("The rule could not be evaluated, so the model needs review: {e}")
                }
                None => rule.message.render_with(ctx),
            };
            if waiver.is_none() {
                verdict = verdict.max(match (result, rule.def.effect) {
                    (RuleResult::Error, _) => Verdict::Review,
                    (_, Effect::Deny) => Verdict::Deny,
                    (_, Effect::Review) => Verdict::Review,
                    _ => Verdict::Allow,
                });
            }
            findings.push(Finding {
                rule_id: rule.def.id.clone(),
                title: rule.def.title.clone(),
                category: rule.def.category,
                effect: rule.def.effect,
                result,
                severity: rule.def.severity,
                message,
                how_to_fix: rule.how_to_fix.render_with(ctx),
                evidence: rule
                    .evidence
                    .iter()
                    .map(|c| EvidenceItem {
                        path: c.source.clone(),
                        value: c.json(ctx),
                        source: provenance(rec, &c.source),
                    })
                    .collect(),
                citation,
                waived: waiver.is_some(),
                waiver,
            });
        }
        // Fail closed: an unknown licence never passes without review (unless a waiver
        // covers the licence finding that says so).
        if verdict < Verdict::Review && license.status != "resolved" && !license_waived {
            verdict = Verdict::Review;
        }
        if verdict == Verdict::Allow && !obligations.is_empty() {
            verdict = Verdict::Conditional;
        }
        findings.sort_by(|a, b| {
            (a.effect, a.severity, &a.rule_id).cmp(&(b.effect, b.severity, &b.rule_id))
        });
        AltRun {
            verdict,
            failing,
            summary,
            findings,
            obligations,
            chosen: license.chosen.clone(),
            effective: license
                .terms
                .iter()
                .map(|t| EffectiveOut {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    origin: t.origin.clone(),
                    via: t.via.clone(),
                })
                .collect(),
            openness,
        }
    }

    fn culprits(&self, rule: &Rule, ctx: &Scope<'_>, license: &LicenseFacts) -> Vec<String> {
        match &rule.culprits {
            Some(c) => c.strings(ctx),
            None if rule.def.cite.is_some() => license.terms.iter().map(|t| t.id.clone()).collect(),
            None => Vec::new(),
        }
    }

    fn citation(&self, rule: &Rule, culprits: &[String]) -> Option<Citation> {
        if let Some(key) = &rule.def.cite {
            for id in culprits {
                if let Some(t) = self.catalog.get(id)
                    && let Some(c) = t.clauses.get(key)
                {
                    return Some(Citation {
                        license: Some(t.id.clone()),
                        source: t.name.clone(),
                        section: c.section.clone(),
                        summary: Some(c.summary.clone()),
                        url: t.url.clone(),
                    });
                }
            }
        }
        rule.def.citation.as_ref().map(|c| Citation {
            license: None,
            source: c.source.clone(),
            section: c.section.clone(),
            summary: c.summary.clone(),
            url: c.url.clone(),
        })
    }
}

struct AltRun {
    verdict: Verdict,
    failing: usize,
    summary: Summary,
    findings: Vec<Finding>,
    obligations: Vec<Obligation>,
    chosen: String,
    effective: Vec<EffectiveOut>,
    openness: openness::Openness,
}

/// Runs one rule: `Ok((result, fired))`, where `fired` says `fails_if` held (for an
/// obligation: it applies), or `Err(reason)` when it could not be evaluated.
#[inline]
fn eval_rule(rule: &Rule, ctx: &Scope<'_>) -> Result<(RuleResult, bool), String> {
    if let Some(a) = &rule.applies_if {
        match a.truth(ctx) {
            Ok(true) => {}
            Ok(false) => return Ok((RuleResult::Skip, false)),
            Err(Ok(v)) => {
                return Err(format!(
                    "applies_if returned {}, not a bool",
                    cel_to_json(&v)
                ));
            }
            Err(Err(e)) => return Err(format!("applies_if: {e}")),
        }
    }
    match rule.fails_if.truth(ctx) {
        Ok(false) => Ok((RuleResult::Pass, false)),
        Ok(true) => Ok((
            match rule.def.effect {
                Effect::Deny | Effect::Review => RuleResult::Fail,
                Effect::Warn => RuleResult::Warn,
                Effect::Obligation => RuleResult::Pass,
            },
            true,
        )),
        Err(Ok(v)) => Err(format!("fails_if returned {}, not a bool", cel_to_json(&v))),
        Err(Err(e)) => Err(format!("fails_if: {e}")),
    }
}

fn provenance(rec: &ModelRecord, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let field = match (parts.next(), parts.next()) {
        (Some("model"), Some(f)) => f,
        (Some("license"), Some("declared" | "status" | "ids" | "conflicting" | "chosen")) => {
            "licenses"
        }
        (Some("lineage"), _) => "base_models",
        _ => return None,
    };
    let field = field.split(['[', '(']).next().unwrap_or(field);
    let field = match field {
        "gated" | "eu_disallowed" => "gating",
        "declares_license" | "has_license_text" => "licenses",
        "modalities_in" | "modalities_out" | "multimodal" => "task",
        other => other,
    };
    rec.provenance.get(field).map(|p| {
        let mut s = String::with_capacity(p.format.len() + 1 + p.pointer.len());
        s.push_str(&p.format);
        s.push(':');
        s.push_str(&p.pointer);
        s
    })
}
