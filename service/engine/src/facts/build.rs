//! Fact building: a record, its lineage and a use context -> the [`Facts`] the rules read
//! (one set per licence alternative). Rule running is [`crate::rules::run`].

use super::*;
use crate::context::UseContext;
use crate::decision::*;
use crate::license::resolve::{resolve_declared_value, resolve_term};
use crate::license::{Expr, LicenseTerms, Resolution, Term};
use crate::lineage::{self, Lineage};
use crate::openness;
use crate::record::ModelRecord;
use crate::record::{DeclaredLicense, LicenseScope};
use crate::rules::Pack;
use crate::time::{self, Timestamp};
use std::borrow::Cow;
use std::collections::BTreeSet;

impl Pack {
    /// The facts the rules see when `rec` is evaluated under `ctx` at `now_unix`: one
    /// [`Facts`] per licence alternative, built as [`crate::rules::run::evaluate`] builds them (for
    /// tools and tests that run expressions over real facts).
    pub fn facts(&self, rec: &ModelRecord, ctx: &UseContext, now: Timestamp) -> Vec<Facts> {
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
        } = self.prepare(rec, &[], ctx, now);
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
    /// the alternative. [`crate::rules::run::evaluate`] and [`Pack::facts`] both start here.
    pub(crate) fn prepare(
        &self,
        rec: &ModelRecord,
        ancestors: &[ModelRecord],
        ctx: &UseContext,
        now: Timestamp,
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
            unix: now.as_second(),
            date: time::date(now),
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
    pub(crate) fn license_facts(
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

    pub(crate) fn openness(
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
}

/// See [`Pack::prepare`].
pub(crate) struct Prepared {
    pub(crate) ctx: UseContext,
    pub(crate) declared: Declared,
    pub(crate) lin: Lineage,
    pub(crate) inherited: Vec<TermFacts>,
    pub(crate) model: ModelFacts,
    pub(crate) context: ContextFacts,
    pub(crate) now: NowFacts,
    pub(crate) lineage_base: LineageFacts,
    pub(crate) alternatives: Vec<Vec<Term>>,
}

/// The facts every licence alternative starts from.
#[derive(Clone, Default)]
pub(crate) struct SharedFacts {
    pub(crate) declared: Vec<DeclaredFacts>,
    pub(crate) inherited: Vec<TermFacts>,
    pub(crate) lineage: LineageFacts,
}

pub(crate) struct Declared {
    pub(crate) out: Vec<DeclaredOut>,
    pub(crate) facts: Vec<DeclaredFacts>,
    pub(crate) expr: Option<Expr>,
    pub(crate) conflicting: bool,
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

pub(crate) fn lineage_facts(lin: &Lineage) -> LineageFacts {
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
