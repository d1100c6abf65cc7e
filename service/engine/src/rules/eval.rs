//! Evaluation: licence resolution, lineage, openness, facts, rules, verdict.

use super::def::{Effect, RuleCategory, RuleResult};
use super::pack::{Pack, Rule};
use super::scope::Scope;
use super::value::FactRefs;
use crate::context::UseContext;
use crate::decision::*;
use crate::facts::*;
use crate::ingest::{self, Format, IngestError, ParseOptions};
use crate::license::resolve::{resolve_declared_value, resolve_term};
use crate::license::{Expr, LicenseTerms, Resolution, Term};
use crate::lineage::{self, Lineage, Source};
use crate::openness;
use crate::record::ModelRecord;
use crate::record::{DeclaredLicense, LicenseScope};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The engine's version, pinned in every decision.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

impl Pack {
    /// Parses a document that describes one model. `format: None` (or
    /// [`Format::Auto`]) detects it from the content. A document describing several
    /// models is an error: use [`Pack::parse_all`].
    pub fn parse(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        opts: &ParseOptions,
    ) -> Result<ModelRecord, IngestError> {
        let mut recs = self.parse_all(bytes, format, opts)?;
        if recs.len() == 1
            && let Some(rec) = recs.pop()
        {
            return Ok(rec);
        }
        let format = recs
            .first()
            .and_then(|r| Format::parse(&r.source_format))
            .unwrap_or(Format::Auto);
        let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
        Err(IngestError::new(
            format,
            format!(
                "the document describes {} models ({}); evaluate each one: Pack::parse_all, \
                 or `modelgate check`, which gives one decision per model",
                recs.len(),
                ids.join(", ")
            ),
        )
        .expected("a document describing one model"))
    }

    /// Parses a document into one record per model it describes (a CycloneDX BOM or an
    /// SPDX 3 document may describe several). `format: None` (or [`Format::Auto`])
    /// detects the format from the content. Documents over `opts.max_bytes` are refused
    /// before anything is parsed.
    pub fn parse_all(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        opts: &ParseOptions,
    ) -> Result<Vec<ModelRecord>, IngestError> {
        let named = format.filter(|f| *f != Format::Auto);
        if bytes.len() as u64 > opts.max_bytes {
            return Err(IngestError::new(
                named.unwrap_or(Format::Auto),
                format!(
                    "the document is {} bytes, over the limit of {} bytes",
                    bytes.len(),
                    opts.max_bytes
                ),
            )
            .expected(format!("a document of at most {} bytes", opts.max_bytes)));
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(
                IngestError::new(named.unwrap_or(Format::Auto), "the document is empty")
                    .expected(ingest::FORMATS_READ),
            );
        }
        let (format, value) = match named {
            Some(f) => (f, None),
            None => ingest::sniff(bytes)?,
        };
        let schemas = &self.format_schemas;
        let recs = match (format, value) {
            (Format::HfCard, _) => vec![ingest::hf_card::parse(bytes, opts)?],
            (Format::Native, Some(v)) => {
                vec![ingest::native::from_value(v, opts, &self.model_schema)?]
            }
            (Format::Native, None) => vec![ingest::native::parse(bytes, opts, &self.model_schema)?],
            (Format::Cyclonedx, Some(v)) => {
                ingest::cyclonedx::from_value(v, opts, &schemas.cyclonedx)?
            }
            (Format::Cyclonedx, None) => ingest::cyclonedx::parse(bytes, opts, &schemas.cyclonedx)?,
            (Format::Spdx3, Some(v)) => ingest::spdx3::from_value(v, opts, &schemas.spdx3)?,
            (Format::Spdx3, None) => ingest::spdx3::parse(bytes, opts, &schemas.spdx3)?,
            (Format::Mof, _) => vec![ingest::mof::parse(bytes, opts, &schemas.mof)?],
            (Format::Auto, _) => {
                return Err(
                    IngestError::new(Format::Auto, "the format could not be detected")
                        .expected(ingest::FORMATS_READ),
                );
            }
        };
        if recs.is_empty() {
            return Err(IngestError::new(format, "the document describes no model")
                .expected(ingest::FORMATS_READ));
        }
        Ok(recs)
    }

    /// Validates a native record given as a JSON value.
    pub fn record_from_json(
        &self,
        value: serde_json::Value,
        opts: &ParseOptions,
    ) -> Result<ModelRecord, IngestError> {
        ingest::native::from_value(value, opts, &self.model_schema)
    }

    /// Evaluates a record under a use context at time `now_unix` (seconds). Pure and
    /// deterministic: the same inputs give the same decision.
    pub fn evaluate(
        &self,
        rec: &ModelRecord,
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
    ) -> Decision {
        self.evaluate_with_ancestors(rec, &[], ctx, now_unix, input_digest)
    }

    /// [`Pack::evaluate`] with the records of base models fetched by the caller (from
    /// the Hugging Face Hub): an ancestor in the base-model catalog uses the catalog;
    /// otherwise a fetched record with its id supplies the ancestor's licence (its
    /// declared licence resolved against the licence catalog) and its own base models
    /// continue the chain (`lineage::resolve_with`).
    pub fn evaluate_with_ancestors(
        &self,
        rec: &ModelRecord,
        ancestors: &[ModelRecord],
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
    ) -> Decision {
        self.evaluate_waived(rec, ancestors, ctx, now_unix, input_digest, &[])
    }

    /// [`Pack::evaluate_with_ancestors`] with the waivers that apply (see
    /// [`crate::waiver::applicable`]): a finding of a waived rule stays in the decision,
    /// marked `waived` with the waiver's id, and does not count towards the verdict. The one
    /// code path for every evaluation (API, dry run, CLI, re-evaluation).
    pub fn evaluate_waived(
        &self,
        rec: &ModelRecord,
        ancestors: &[ModelRecord],
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
        waivers: &[&crate::waiver::Waiver],
    ) -> Decision {
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
        } = self.prepare(rec, ancestors, ctx, now_unix);
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
            let (license, lineage_f) = self.license_facts(
                rec,
                alt,
                alternatives.len(),
                declared.conflicting,
                this.unwrap_or_default(),
                &lin,
            );
            let (openness, openness_f) = self.openness(rec, &license);
            let facts = FactRefs {
                model: &model,
                context: &context,
                license: &license,
                lineage: &lineage_f,
                openness: &openness_f,
                now: &now,
            };
            runs.push(self.run_rules(rec, facts, openness, waivers));
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
                name: self.manifest.name.clone(),
                version: self.manifest.version.clone(),
                digest: self.digest.clone(),
            },
            engine_version: ENGINE_VERSION.to_string(),
            input_digest: input_digest.to_string(),
            evaluated_at: rfc3339(now_unix),
        }
    }

    /// Evaluates every model a document describes (see [`Pack::parse_all`]). A model whose
    /// base is another model of the same document (a CycloneDX BOM listing a fine-tune and
    /// its base, say) inherits that model's declared terms, as with models fetched from
    /// the Hub; the base-model catalog still comes first.
    pub fn evaluate_document(
        &self,
        records: &[ModelRecord],
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
    ) -> Vec<Decision> {
        self.evaluate_document_waived(records, ctx, now_unix, input_digest, &[], None)
    }

    /// [`Pack::evaluate_document`] with waivers: each model gets the waivers that apply to
    /// its reference (`model_ref`, else its id) under no profile at `now_unix`.
    pub fn evaluate_document_waived(
        &self,
        records: &[ModelRecord],
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
        waivers: &[crate::waiver::Waiver],
        model_ref: Option<&str>,
    ) -> Vec<Decision> {
        (0..records.len())
            .filter_map(|i| {
                let rec = records.get(i)?;
                let applicable = crate::waiver::applicable(
                    waivers,
                    model_ref.unwrap_or(&rec.id),
                    None,
                    now_unix,
                );
                self.evaluate_in_document_waived(
                    records,
                    i,
                    ctx,
                    now_unix,
                    input_digest,
                    &applicable,
                )
            })
            .collect()
    }

    /// Evaluates model `index` of a document, with the other models as known ancestors
    /// (`None` when there is no such model).
    pub fn evaluate_in_document(
        &self,
        records: &[ModelRecord],
        index: usize,
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
    ) -> Option<Decision> {
        self.evaluate_in_document_waived(records, index, ctx, now_unix, input_digest, &[])
    }

    /// [`Pack::evaluate_in_document`] with the waivers that apply.
    pub fn evaluate_in_document_waived(
        &self,
        records: &[ModelRecord],
        index: usize,
        ctx: &UseContext,
        now_unix: i64,
        input_digest: &str,
        waivers: &[&crate::waiver::Waiver],
    ) -> Option<Decision> {
        let siblings: Vec<ModelRecord> = records
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .map(|(_, r)| r.clone())
            .collect();
        let rec = records.get(index)?;
        Some(self.evaluate_waived(rec, &siblings, ctx, now_unix, input_digest, waivers))
    }

    /// The facts the rules see when `rec` is evaluated under `ctx` at `now_unix`: one
    /// [`Facts`] per licence alternative, built as [`Pack::evaluate`] builds them (for
    /// tools and tests that run expressions over real facts).
    pub fn facts(&self, rec: &ModelRecord, ctx: &UseContext, now_unix: i64) -> Vec<Facts> {
        let Prepared {
            declared,
            lin,
            inherited,
            model,
            context,
            now,
            lineage_base,
            alternatives,
            ..
        } = self.prepare(rec, &[], ctx, now_unix);
        alternatives
            .iter()
            .map(|alt| {
                let (license, lineage) = self.license_facts(
                    rec,
                    alt,
                    alternatives.len(),
                    declared.conflicting,
                    SharedFacts {
                        declared: declared.facts.clone(),
                        inherited: inherited.clone(),
                        lineage: lineage_base.clone(),
                    },
                    &lin,
                );
                let (_, openness) = self.openness(rec, &license);
                Facts {
                    model: model.clone(),
                    context: context.clone(),
                    license,
                    lineage,
                    openness,
                    now: now.clone(),
                }
            })
            .collect()
    }

    /// What every licence alternative shares: the normalized context, the declared
    /// licences, the lineage (with fetched ancestors) and the facts that do not depend on
    /// the alternative. [`Pack::evaluate_with_ancestors`] and [`Pack::facts`] both start here.
    fn prepare(
        &self,
        rec: &ModelRecord,
        ancestors: &[ModelRecord],
        ctx: &UseContext,
        now_unix: i64,
    ) -> Prepared {
        let mut ctx = ctx.clone();
        ctx.normalize();
        let declared = self.resolve_declared(rec);
        let fetched: Vec<lineage::FetchedAncestor<'_>> = ancestors
            .iter()
            .map(|a| lineage::FetchedAncestor {
                record: a,
                license: lineage::declared_license_id(
                    a,
                    &self.catalog,
                    &self.manifest.ambiguous_license_ids,
                ),
            })
            .collect();
        let declared_ids: Vec<String> = declared
            .expr
            .as_ref()
            .map(|e| e.terms().iter().filter_map(|t| t.id.clone()).collect())
            .unwrap_or_default();
        let lin = lineage::resolve_declaring(rec, &self.models, &fetched, &declared_ids);
        let inherited = self.inherited_terms(&lin);
        let model = self.model_facts(rec, &lin);
        let context = self.context_facts(&ctx);
        let now = NowFacts {
            unix: now_unix,
            date: date_of(now_unix),
        };
        let lineage_base = lineage_facts(&lin);
        let alternatives: Vec<Vec<Term>> = match &declared.expr {
            None => vec![Vec::new()],
            Some(e) => e
                .alternatives()
                .unwrap_or_else(|| vec![e.terms().into_iter().cloned().collect()]),
        };
        Prepared {
            ctx,
            declared,
            lin,
            inherited,
            model,
            context,
            now,
            lineage_base,
            alternatives,
        }
    }

    fn resolve_declared(&self, rec: &ModelRecord) -> Declared {
        let amb = &self.manifest.ambiguous_license_ids;
        // A record's `license_expression` counts when it declares no licence otherwise.
        let from_expression;
        let declarations: &[DeclaredLicense] = match rec.license_expression.as_deref() {
            Some(e) if rec.licenses.is_empty() && !e.trim().is_empty() => {
                from_expression = [DeclaredLicense {
                    value: e.to_string(),
                    license_name: None,
                    license_link: None,
                    scope: LicenseScope::Whole,
                    source: Some("/license_expression".into()),
                }];
                &from_expression
            }
            _ => &rec.licenses,
        };
        let mut items: Vec<(Cow<'_, DeclaredLicense>, Option<String>, Expr)> = declarations
            .iter()
            .map(|d| {
                let expr =
                    resolve_declared_value(&d.value, d.license_name.as_deref(), &self.catalog, amb);
                (Cow::Borrowed(d), None, expr)
            })
            .collect();
        if !declarations.is_empty() {
            let mut named: Vec<String> = items
                .iter()
                .flat_map(|(_, _, e)| e.terms().into_iter().filter_map(|t| t.id.clone()))
                .collect();
            for (value, source, evidence) in self.licences_named_elsewhere(rec, &mut named) {
                let expr = Expr::Term(resolve_term(&value, &self.catalog, amb));
                let d = DeclaredLicense {
                    value,
                    license_name: None,
                    license_link: None,
                    scope: LicenseScope::Whole,
                    source: Some(source),
                };
                items.push((Cow::Owned(d), Some(evidence), expr));
            }
        }
        let mut out = Vec::with_capacity(items.len());
        let mut facts = Vec::with_capacity(items.len());
        let mut exprs = Vec::with_capacity(items.len());
        for (d, evidence, expr) in items {
            let terms = expr.terms();
            let resolution = terms
                .iter()
                .map(|t| t.resolution)
                .max()
                .unwrap_or(Resolution::Missing);
            let (id, spdx) = match (&expr, terms.first()) {
                (Expr::Term(_), Some(t)) => (t.id.clone(), t.spdx.clone()),
                _ => (None, None),
            };
            let deprecated_spdx = terms.iter().any(|t| t.deprecated_spdx);
            facts.push(DeclaredFacts {
                raw: d.value.clone(),
                id: id.clone().unwrap_or_default(),
                resolution: resolution.as_str().to_string(),
                source: d.source.clone().unwrap_or_default(),
                deprecated_spdx,
                evidence: evidence.clone().unwrap_or_default(),
            });
            out.push(DeclaredOut {
                raw: d.value.clone(),
                license_name: d.license_name.clone(),
                license_link: d.license_link.clone(),
                id,
                spdx,
                resolution: resolution.as_str().to_string(),
                source: d.source.clone(),
                evidence,
            });
            exprs.push(expr);
        }
        // Separate declarations that name different licences contradict each other.
        let conflicting = exprs.len() > 1 && {
            let keys: BTreeSet<String> = exprs
                .iter()
                .map(|e| {
                    e.terms()
                        .iter()
                        .map(|t| t.id.clone().unwrap_or_else(|| t.raw.to_ascii_lowercase()))
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .collect();
            keys.len() > 1
        };
        let expr = match exprs.len() {
            0 => None,
            1 => exprs.pop(),
            _ => Some(Expr::And(exprs)),
        };
        Declared {
            out,
            facts,
            expr,
            conflicting,
        }
    }

    /// Catalog licences a document names outside its licence declarations: a
    /// `license_link` to a known licence (by the catalog's addresses, or the LICENSE file
    /// of a base-model catalog entry whose licence never changed), and licences the card's
    /// licence section names in prose or links. Each licence once, and only those not in
    /// `named` (which grows), as (catalog id, source, evidence). Revisions of one licence
    /// count as the same licence.
    fn licences_named_elsewhere(
        &self,
        rec: &ModelRecord,
        named: &mut Vec<String>,
    ) -> Vec<(String, String, String)> {
        use crate::license::mentions::{links_in, normalize_link};
        let mut found = Vec::new();
        let mentions = self.catalog.mentions();
        let cat = &self.catalog;
        let same = |a: &str, b: &str| a == b || cat.family_id(a) == cat.family_id(b);
        let mut add = |id: &str, source: &str, evidence: &str, named: &mut Vec<String>| {
            if !named.iter().any(|n| same(n, id)) {
                named.push(id.to_string());
                found.push((id.to_string(), source.to_string(), evidence.to_string()));
            }
        };
        let link_licence = |url: &str| -> Option<String> {
            let n = normalize_link(url);
            match mentions.normalized_link(&n) {
                Some(id) => Some(id.to_string()),
                None => self.model_license_file(&n),
            }
        };
        let mut links: Vec<&str> = Vec::new();
        for d in &rec.licenses {
            if let Some(l) = d.license_link.as_deref()
                && !links.contains(&l)
            {
                links.push(l);
            }
        }
        for l in links {
            if let Some(id) = link_licence(l) {
                add(&id, "/license_link", l, named);
            }
        }
        if let Some(text) = rec.license_text.as_deref() {
            let source = "card section `License`";
            let prose = mentions.in_prose_except(text, |id| named.iter().any(|n| same(n, id)));
            for m in prose {
                add(&m.id, source, &m.sentence, named);
            }
            for l in links_in(text) {
                if let Some(id) = link_licence(&l) {
                    add(&id, source, &l, named);
                }
            }
        }
        found
    }

    /// The licence of a base-model catalog entry whose Hugging Face LICENSE file is at the
    /// normalized address `n` (`huggingface.co/<org>/<name>/blob/<rev>/license…`); `None`
    /// for any other address and for models whose licence changed across revisions.
    fn model_license_file(&self, n: &str) -> Option<String> {
        let rest = n.strip_prefix("huggingface.co/")?;
        let mut parts = rest.split('/');
        let (org, name, kind, _rev, file) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if kind != "blob" || !file.starts_with("license") || parts.next().is_some() {
            return None;
        }
        // `org/name` is the start of `rest`.
        let m = self.models.get(rest.get(..org.len() + 1 + name.len())?)?;
        m.revision_licenses.is_empty().then(|| m.license.clone())
    }

    /// The revision of licence `id` the model's lineage carries: a model that declares
    /// `gemma` and derives from (or is) a Gemma 3 model is under the Gemma terms as Gemma 3
    /// is released (`gemma-2025-03-24`), not the earlier ones. `id` itself otherwise.
    fn revision_in_lineage<'a>(&'a self, id: &'a str, lin: &'a Lineage) -> &'a str {
        if !self.catalog.has_revisions(id) {
            return id;
        }
        let own = lin
            .self_known
            .as_deref()
            .and_then(|m| self.models.get(m))
            .map(|m| m.license.as_str());
        own.into_iter()
            .chain(lin.ancestors.iter().filter_map(|a| a.license.as_deref()))
            .find(|l| {
                self.catalog
                    .get(l)
                    .is_some_and(|t| t.revision_of.as_deref() == Some(id))
            })
            .unwrap_or(id)
    }

    fn inherited_terms(&self, lin: &Lineage) -> Vec<TermFacts> {
        // Terms are large: reserve rather than grow.
        let mut out: Vec<TermFacts> = Vec::with_capacity(lin.ancestors.len());
        for a in &lin.ancestors {
            if let Some(t) = a.license.as_deref().and_then(|id| self.catalog.get(id))
                && !out.iter().any(|x| x.id == t.id)
            {
                out.push(term_facts(t, "inherited", &a.model));
            }
        }
        out
    }

    fn model_facts(&self, rec: &ModelRecord, lin: &Lineage) -> ModelFacts {
        let flops = rec
            .training_compute_flops
            .or(lin.training_compute_flops)
            .unwrap_or(0.0);
        ModelFacts {
            id: rec.id.clone(),
            short_name: rec.id.rsplit('/').next().unwrap_or("").to_string(),
            name: rec.name.clone().unwrap_or_default(),
            revision: rec.revision.clone().unwrap_or_default(),
            publisher: rec.publisher.clone().unwrap_or_default(),
            source_format: rec.source_format.clone(),
            task: rec.task.clone().unwrap_or_default(),
            modalities_in: rec.modalities_in.clone(),
            modalities_out: rec.modalities_out.clone(),
            // A derivative of a multimodal base carries its weights, whatever its own tag says.
            multimodal: rec.modalities_in.len() > 1
                || lin.ancestors.iter().any(|a| a.multimodal)
                || lin
                    .self_known
                    .as_deref()
                    .and_then(|id| self.models.get(id))
                    .is_some_and(|m| m.modalities_in.len() > 1),
            languages: rec.languages.clone(),
            library: rec.library.clone().unwrap_or_default(),
            architecture: rec.architecture.clone().unwrap_or_default(),
            parameter_count: rec.parameter_count.unwrap_or(0),
            training_compute_flops: flops,
            gated: rec.gating.gated,
            eu_disallowed: rec.gating.eu_disallowed,
            tags: rec.tags.iter().map(|t| t.to_ascii_lowercase()).collect(),
            sections: SectionFacts {
                intended_uses: rec.sections.intended_uses,
                out_of_scope_uses: rec.sections.out_of_scope_uses,
                limitations: rec.sections.limitations,
                bias_risks: rec.sections.bias_risks,
                evaluation: rec.sections.evaluation,
                environmental_impact: rec.sections.environmental_impact,
                training_data: rec.sections.training_data,
            },
            datasets: rec
                .datasets
                .iter()
                .map(|d| DatasetFacts {
                    id: d.id.clone(),
                    license: d
                        .license
                        .as_deref()
                        .map(|l| {
                            resolve_term(l, &self.catalog, &self.manifest.ambiguous_license_ids)
                                .id
                                .unwrap_or_else(|| l.to_string())
                        })
                        .unwrap_or_default(),
                    sensitive_data: d.sensitive_data,
                })
                .collect(),
            eval_results: rec.eval_results.len() as i64,
            eval_results_unverified: rec.eval_results.iter().filter(|e| !e.verified).count() as i64,
            safety_risk_assessment: rec
                .safety_risk_assessment
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            ai_act: AiActFacts {
                general_purpose: rec.ai_act.general_purpose.unwrap_or(false),
                training_summary_url: rec.ai_act.training_summary_url.clone().unwrap_or_default(),
                copyright_policy_url: rec.ai_act.copyright_policy_url.clone().unwrap_or_default(),
                provider_in_eu: rec.ai_act.provider_in_eu.unwrap_or(false),
                provider_in_eu_known: rec.ai_act.provider_in_eu.is_some(),
            },
            files: rec.files.clone(),
            declares_license: !rec.licenses.is_empty() || rec.license_expression.is_some(),
            has_license_text: rec.licenses.iter().any(|l| l.license_link.is_some())
                || rec
                    .files
                    .iter()
                    .any(|f| f.to_ascii_uppercase().starts_with("LICENSE")),
        }
    }

    fn context_facts(&self, ctx: &UseContext) -> ContextFacts {
        ContextFacts {
            purpose: ctx.purpose.as_str().into(),
            deployment: ctx.deployment.as_str().into(),
            monthly_active_users: ctx.monthly_active_users,
            annual_revenue_usd: ctx.annual_revenue_usd,
            regions: ctx.regions.clone(),
            domicile: ctx.domicile.clone().unwrap_or_default(),
            domains: ctx.domains.clone(),
            modification: ctx.modification.as_str().into(),
            distribute_weights: ctx.distribute_weights,
            train_on_outputs: ctx.train_on_outputs,
            eu_domiciled: ctx.domicile.as_deref().is_some_and(|d| self.is_eu(d)),
            deployed_in_eu: ctx.regions.iter().any(|r| self.is_eu(r)),
            commercial: ctx.purpose == crate::context::Purpose::Commercial,
            commercial_advantage: matches!(
                ctx.purpose,
                crate::context::Purpose::Commercial | crate::context::Purpose::Internal
            ),
            hosted: ctx.deployment == crate::context::Deployment::Saas,
            modifies: ctx.modification != crate::context::Modification::None,
        }
    }

    /// The licence and lineage facts of one alternative. `shared` is what every
    /// alternative starts from, taken by value: the callers clone it for all alternatives
    /// but the last (usually the only one).
    fn license_facts(
        &self,
        rec: &ModelRecord,
        alt: &[Term],
        n_alternatives: usize,
        conflicting: bool,
        shared: SharedFacts,
        lin: &Lineage,
    ) -> (LicenseFacts, LineageFacts) {
        let SharedFacts {
            declared,
            inherited,
            mut lineage,
        } = shared;
        let mut terms: Vec<TermFacts> = Vec::with_capacity(alt.len() + inherited.len());
        let mut ids = Vec::with_capacity(alt.len());
        for t in alt {
            if let Some(lt) =
                t.id.as_deref()
                    .and_then(|id| self.catalog.get(self.revision_in_lineage(id, lin)))
                && !ids.contains(&lt.id)
            {
                ids.push(lt.id.clone());
                terms.push(term_facts(lt, "declared", &rec.id));
            }
        }
        let status = match alt.iter().map(|t| t.resolution).max() {
            None => "missing",
            Some(r) if r.is_resolved() => "resolved",
            Some(r) => r.as_str(),
        };
        let mut more_permissive = Vec::new();
        for a in lin.ancestors.iter().filter(|a| a.known) {
            let Some(base) = a.license.as_deref().and_then(|id| self.catalog.get(id)) else {
                continue;
            };
            for id in &ids {
                if let Some(mine) = self.catalog.get(id)
                    && mine.category.restrictiveness() < base.category.restrictiveness()
                {
                    more_permissive.push(PermissiveFacts {
                        ancestor: a.model.clone(),
                        ancestor_license: base.id.clone(),
                        declared: mine.id.clone(),
                    });
                }
            }
        }
        let inherited_ids: Vec<String> = inherited.iter().map(|t| t.id.clone()).collect();
        for t in inherited {
            if !ids.contains(&t.id) {
                terms.push(t);
            }
        }
        let chosen = alt
            .iter()
            .map(|t| t.id.clone().unwrap_or_else(|| t.raw.clone()))
            .collect::<Vec<_>>()
            .join(" AND ");
        lineage.more_permissive = more_permissive;
        (
            LicenseFacts {
                status: status.into(),
                declared,
                conflicting,
                chosen,
                alternatives: n_alternatives as i64,
                ids,
                inherited_ids,
                terms,
            },
            lineage,
        )
    }

    fn openness(
        &self,
        rec: &ModelRecord,
        license: &LicenseFacts,
    ) -> (openness::Openness, OpennessFacts) {
        let amb = &self.manifest.ambiguous_license_ids;
        // Components and their licence ids: those the document lists (MOF), else every
        // licence that applies to the weights (declared and inherited) for the components
        // a card shows.
        let listed: Vec<(&str, Option<String>)> = rec
            .openness
            .iter()
            .map(|c| {
                let id = c.license.as_deref().map(|l| {
                    resolve_term(l, &self.catalog, amb)
                        .id
                        .unwrap_or_else(|| l.to_string())
                });
                (c.name.as_str(), id)
            })
            .collect();
        let lic: Option<String> = (rec.openness.is_empty() && !license.ids.is_empty()).then(|| {
            license
                .terms
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
                .join(" AND ")
        });
        let released: Vec<(&str, Option<&str>)> = if !rec.openness.is_empty() {
            listed.iter().map(|(n, l)| (*n, l.as_deref())).collect()
        } else {
            let lic = lic.as_deref();
            let mut v = vec![("model_parameters_final", lic), ("model_card", lic)];
            if rec.library.is_some() {
                v.push(("model_architecture", lic));
            }
            if rec.sections.training_data {
                v.push(("data_card", lic));
            }
            if rec.sections.evaluation || !rec.eval_results.is_empty() {
                v.push(("evaluation_results", lic));
            }
            if rec.tags.iter().any(|t| t.starts_with("arxiv:")) {
                v.push(("technical_report", None));
            }
            v
        };
        let is_open = |l: &str| {
            l.split(" AND ")
                .all(|id| self.catalog.get(id).is_some_and(|t| t.openness.mof_open))
        };
        // Components mostly share one licence: look each distinct one up once.
        let mut known: Vec<(&str, bool)> = Vec::with_capacity(2);
        for l in released.iter().filter_map(|(_, l)| *l) {
            if !known.iter().any(|(k, _)| *k == l) {
                known.push((l, is_open(l)));
            }
        }
        let o = openness::classify(&released, |l| {
            known
                .iter()
                .find(|(k, _)| *k == l)
                .map_or_else(|| is_open(l), |(_, open)| *open)
        });
        let all =
            |f: fn(&TermFacts) -> bool| !license.terms.is_empty() && license.terms.iter().all(f);
        let facts = OpennessFacts {
            mof_class: o.mof_class,
            mof_class_name: o.mof_class_name.clone(),
            released: o
                .components
                .iter()
                .filter(|c| c.released)
                .map(|c| c.name.to_string())
                .collect(),
            open: o
                .components
                .iter()
                .filter(|c| c.open)
                .map(|c| c.name.to_string())
                .collect(),
            missing_for_next_class: o
                .missing_for_next_class
                .iter()
                .map(|n| n.to_string())
                .collect(),
            osi_open: all(|t| t.osi_approved),
            osaid_compatible: all(|t| t.osaid_compatible),
        };
        (o, facts)
    }

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

/// See [`Pack::prepare`].
struct Prepared {
    ctx: UseContext,
    declared: Declared,
    lin: Lineage,
    inherited: Vec<TermFacts>,
    model: ModelFacts,
    context: ContextFacts,
    now: NowFacts,
    lineage_base: LineageFacts,
    alternatives: Vec<Vec<Term>>,
}

/// The facts every licence alternative starts from.
#[derive(Clone, Default)]
struct SharedFacts {
    declared: Vec<DeclaredFacts>,
    inherited: Vec<TermFacts>,
    lineage: LineageFacts,
}

struct Declared {
    out: Vec<DeclaredOut>,
    facts: Vec<DeclaredFacts>,
    expr: Option<Expr>,
    conflicting: bool,
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

/// The plain string form of a unit enum (its serde name).
pub fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn term_facts(t: &LicenseTerms, origin: &str, via: &str) -> TermFacts {
    TermFacts {
        id: t.id.clone(),
        name: t.name.clone(),
        origin: origin.into(),
        via: via.into(),
        category: t.category.as_str().to_string(),
        restrictiveness: i64::from(t.category.restrictiveness()),
        commercial: t.commercial.as_str().to_string(),
        research_only: t.research_only,
        non_production: t.non_production,
        mau_threshold: t.thresholds.monthly_active_users.unwrap_or(0),
        mau_at_release: t.thresholds.mau_measured_at.as_deref() == Some("release_date"),
        thresholds_commercial_only: t.thresholds.applies_to == "commercial",
        revenue_threshold_usd: t.thresholds.annual_revenue_usd.unwrap_or(0),
        above_threshold: t.thresholds.above_threshold.clone().unwrap_or_default(),
        aup_url: t
            .aup
            .as_ref()
            .and_then(|a| a.url.clone())
            .unwrap_or_default(),
        aup_updatable: t.aup.as_ref().is_some_and(|a| a.updatable_by_licensor),
        use_restrictions: t.use_restrictions.clone(),
        conditional_uses: t.conditional_uses.clone(),
        attribution: t.obligations.attribution.clone(),
        credit: t.obligations.credit,
        notice: t.obligations.notice.clone().unwrap_or_default(),
        license_copy: t.obligations.license_copy,
        mark_modifications: t.obligations.mark_modifications,
        flow_down: t.obligations.flow_down,
        name_prefix: t.derivative_name_prefix.clone().unwrap_or_default(),
        outputs_training: t.outputs_training.clone(),
        share_alike: t.share_alike,
        no_derivatives: t.no_derivatives,
        hosting_restricted: t.hosting_restricted,
        geo: t
            .geo_restrictions
            .iter()
            .map(|g| GeoFacts {
                region: g.region.clone(),
                scope: g.scope.clone(),
                basis: g.basis.clone(),
            })
            .collect(),
        termination: t.termination.clone(),
        remote_restriction: t.remote_restriction,
        must_use_latest: t.must_use_latest,
        export_control: t.export_control,
        governing_law: t.governing_law.clone().unwrap_or_default(),
        osi_approved: t.openness.osi_approved,
        osaid_compatible: t.openness.osaid_compatible,
        mof_open: t.openness.mof_open,
        verified: t.verified,
        version_date: t.version_date.clone().unwrap_or_default(),
    }
}

fn lineage_facts(lin: &Lineage) -> LineageFacts {
    LineageFacts {
        derivative: !lin.ancestors.is_empty(),
        inferred: lin.inferred,
        ancestors: lin
            .ancestors
            .iter()
            .map(|a| AncestorFacts {
                model: a.model.clone(),
                license: a.license.clone().unwrap_or_default(),
                relation: serde_plain(&a.relation),
                source: serde_plain(&a.source),
                depth: a.depth,
                known: a.known,
                multimodal: a.multimodal,
            })
            .collect(),
        unresolved: lin.unresolved.clone(),
        self_known: lin.self_known.is_some(),
        relicensed: lin.relicensed,
        cycle: lin.cycle,
        more_permissive: Vec::new(),
        multimodal_licenses: lin.multimodal_licenses.clone(),
        catalog_licenses: lin.catalog_licenses.clone(),
    }
}

/// CEL value -> JSON, for evidence.
pub fn cel_to_json(v: &cel::Value) -> serde_json::Value {
    use cel::Value as V;
    use serde_json::Value as J;
    match v {
        V::Null => J::Null,
        V::Bool(b) => J::Bool(*b),
        V::Int(i) => J::from(*i),
        V::UInt(u) => J::from(*u),
        V::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        V::String(s) => J::String(s.to_string()),
        V::List(items) => J::Array(items.iter().map(cel_to_json).collect()),
        V::Map(m) => {
            let mut entries: Vec<(String, J)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => s.to_string(),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => u.to_string(),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    (key, cel_to_json(v))
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(entries.into_iter().collect())
        }
        other => J::String(format!("{other:?}")),
    }
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) -> days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Two decimal digits (`n` < 100).
fn push2(out: &mut String, n: i64) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `YYYY-MM-DD` of a Unix time, written without the formatting machinery.
fn push_date(out: &mut String, unix: i64) {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    if (0..=9999).contains(&y) {
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        out.push_str(&format!("{y:04}"));
    }
    out.push('-');
    push2(out, i64::from(m));
    out.push('-');
    push2(out, i64::from(d));
}

pub fn date_of(unix: i64) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, unix);
    out
}

pub fn rfc3339(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    let mut out = String::with_capacity(20);
    push_date(&mut out, unix);
    out.push('T');
    push2(&mut out, secs / 3600);
    out.push(':');
    push2(&mut out, secs % 3600 / 60);
    out.push(':');
    push2(&mut out, secs % 60);
    out.push('Z');
    out
}

/// Parses `YYYY-MM-DD` (optionally followed by `T...`, ignored) to a Unix time at midnight UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    let d = s.get(..10)?;
    let mut it = d.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let day: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written date formatting is `format!`'s.
    #[test]
    fn dates_format_as_before() {
        let mut t: i64 = -62_167_219_200 - 86_400 * 400; // before year 0
        while t < 253_402_300_800 + 86_400 * 400 {
            // after year 9999
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let secs = t.rem_euclid(86_400);
            let date = format!("{y:04}-{m:02}-{d:02}");
            assert_eq!(date_of(t), date);
            assert_eq!(
                rfc3339(t),
                format!(
                    "{date}T{:02}:{:02}:{:02}Z",
                    secs / 3600,
                    secs % 3600 / 60,
                    secs % 60
                )
            );
            t += 86_400 * 37 + 3_671;
        }
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(parse_date(&date_of(1_767_225_600)), Some(1_767_225_600));
    }
}
