//! The facts rules read: `model`, `context`, `license`, `lineage`, `openness`, `now`.
//! Every field is always present (sentinels: `""`, `0`, `false`, `[]`) so that rule
//! conditions never meet a missing key.
//!
//! Each field is declared once, in `facts!`: the struct, its reading by the fast
//! evaluator ([`Object`]) and its shape ([`Shaped`]), from which the facts schema that
//! rule paths are checked against is made ([`schema`]).

pub mod build;
mod shape;

pub use shape::{FieldShape, Shape, Shaped, schema};

use crate::rules::value::{AsV, Field, Object, V};
use serde::Serialize;

/// Declares facts structs. For each: the struct (serialisable, with `Default`), its
/// [`Object`] implementation (each field read by its interned [`Field`] name, which must
/// be in `rules::value`'s vocabulary) and its [`Shaped`] implementation (the field's
/// kind and doc comment, for the schema).
macro_rules! facts {
    ($(
        $(#[$sm:meta])*
        pub struct $t:ident {
            $( $(#[doc = $doc:literal])* pub $f:ident: $ty:ty, )*
        }
    )*) => {
        $(
            $(#[$sm])*
            #[derive(Debug, Clone, Default, PartialEq, Serialize)]
            pub struct $t {
                $( $(#[doc = $doc])* pub $f: $ty, )*
            }

            impl Object for $t {
                fn get(&self, f: Field) -> Option<V<'_>> {
                    match f {
                        $(Field::$f => Some(AsV::as_v(&self.$f)),)*
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
                fn fields(&self) -> &'static [Field] {
                    &[$(Field::$f),*]
                }
                fn sorted_fields(&self) -> &'static [Field] {
                    static SORTED: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
                    SORTED.get_or_init(|| {
                        let mut v = vec![$(Field::$f),*];
                        v.sort_by_key(|f| f.name());
                        v
                    })
                }
            }

            impl Shaped for $t {
                fn shape() -> Shape {
                    Shape::Object {
                        name: stringify!($t),
                        fields: vec![$(FieldShape {
                            name: stringify!($f),
                            shape: <$ty as Shaped>::shape(),
                            doc: &[$($doc),*],
                        }),*],
                    }
                }
            }
        )*
    };
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    pub model: ModelFacts,
    pub context: ContextFacts,
    pub license: LicenseFacts,
    pub lineage: LineageFacts,
    pub openness: OpennessFacts,
    pub now: NowFacts,
}

facts! {
    pub struct SectionFacts {
        pub intended_uses: bool,
        pub out_of_scope_uses: bool,
        pub limitations: bool,
        pub bias_risks: bool,
        pub evaluation: bool,
        pub environmental_impact: bool,
        pub training_data: bool,
    }

    pub struct DatasetFacts {
        pub id: String,
        pub license: String,
        pub sensitive_data: bool,
    }

    pub struct AiActFacts {
        pub general_purpose: bool,
        pub training_summary_url: String,
        pub copyright_policy_url: String,
        pub provider_in_eu: bool,
        pub provider_in_eu_known: bool,
    }

    pub struct ModelFacts {
        pub id: String,
        /// The part of the id after the last `/`.
        pub short_name: String,
        pub name: String,
        pub revision: String,
        pub publisher: String,
        pub source_format: String,
        pub task: String,
        pub modalities_in: Vec<String>,
        pub modalities_out: Vec<String>,
        /// Takes more than one input modality (itself or through its lineage).
        pub multimodal: bool,
        pub languages: Vec<String>,
        pub library: String,
        pub architecture: String,
        pub parameter_count: i64,
        /// Training compute in FLOPs, from the document or the base-model catalog; 0 if unknown.
        pub training_compute_flops: f64,
        pub gated: bool,
        pub eu_disallowed: bool,
        pub tags: Vec<String>,
        pub sections: SectionFacts,
        pub datasets: Vec<DatasetFacts>,
        pub eval_results: i64,
        pub eval_results_unverified: i64,
        pub safety_risk_assessment: String,
        pub ai_act: AiActFacts,
        pub files: Vec<String>,
        /// At least one licence declaration is present.
        pub declares_license: bool,
        /// A `license_link` or a LICENSE file is known.
        pub has_license_text: bool,
    }

    pub struct ContextFacts {
        pub purpose: String,
        pub deployment: String,
        pub monthly_active_users: i64,
        pub annual_revenue_usd: i64,
        pub regions: Vec<String>,
        pub domicile: String,
        pub domains: Vec<String>,
        pub modification: String,
        pub distribute_weights: bool,
        pub train_on_outputs: bool,
        /// Derived: the organisation is based in the EU.
        pub eu_domiciled: bool,
        /// Derived: deployed in the EU or an EU member state.
        pub deployed_in_eu: bool,
        /// Derived: purpose is `commercial`.
        pub commercial: bool,
        /// Derived: purpose is `commercial` or `internal` (a company's own business use):
        /// use for commercial advantage, which non-commercial licences do not cover.
        pub commercial_advantage: bool,
        /// Derived: offered to third parties as a hosted service (`saas`).
        pub hosted: bool,
        /// Derived: the model will be modified (`modification` is not `none`).
        pub modifies: bool,
    }

    pub struct GeoFacts {
        pub region: String,
        pub scope: String,
        pub basis: String,
    }

    /// The terms of one licence that applies, flattened from the catalog.
    pub struct TermFacts {
        pub id: String,
        pub name: String,
        /// `declared` (the model's own licence) or `inherited` (from a base model).
        pub origin: String,
        /// The model whose licence this is.
        pub via: String,
        pub category: String,
        pub restrictiveness: i64,
        pub commercial: String,
        pub research_only: bool,
        pub non_production: bool,
        /// 0 when there is none.
        pub mau_threshold: i64,
        /// Users are counted in the month before the licence version's release date.
        pub mau_at_release: bool,
        /// The thresholds cap commercial use only.
        pub thresholds_commercial_only: bool,
        /// 0 when there is none.
        pub revenue_threshold_usd: i64,
        pub above_threshold: String,
        pub aup_url: String,
        pub aup_updatable: bool,
        pub use_restrictions: Vec<String>,
        /// Use categories allowed only under a condition the licence states.
        pub conditional_uses: Vec<String>,
        pub attribution: Vec<String>,
        /// Shared copies must credit the licensor (no fixed wording).
        pub credit: bool,
        pub notice: String,
        pub license_copy: bool,
        pub mark_modifications: bool,
        pub flow_down: bool,
        pub name_prefix: String,
        pub outputs_training: String,
        pub share_alike: bool,
        pub no_derivatives: bool,
        pub hosting_restricted: bool,
        pub geo: Vec<GeoFacts>,
        pub termination: Vec<String>,
        pub remote_restriction: bool,
        pub must_use_latest: bool,
        pub export_control: bool,
        pub governing_law: String,
        pub osi_approved: bool,
        pub osaid_compatible: bool,
        pub mof_open: bool,
        pub verified: bool,
        /// Date of the licence revision (`YYYY-MM-DD` or `YYYY-MM`), or `""`.
        pub version_date: String,
    }

    pub struct DeclaredFacts {
        pub raw: String,
        pub id: String,
        pub resolution: String,
        pub source: String,
        pub deprecated_spdx: bool,
        /// For a licence read from the document's prose or links rather than its licence
        /// field: the sentence or address it was read from; else `""`.
        pub evidence: String,
    }

    pub struct LicenseFacts {
        /// Worst resolution among the chosen alternative's declared terms: `resolved`,
        /// `custom`, `ambiguous`, `unknown` or `missing`.
        pub status: String,
        pub declared: Vec<DeclaredFacts>,
        /// Separate declarations in one document resolve to different licences.
        pub conflicting: bool,
        /// The chosen alternative, as an expression.
        pub chosen: String,
        /// How many alternatives the declared expression offers.
        pub alternatives: i64,
        /// Catalog ids of the chosen alternative's declared terms.
        pub ids: Vec<String>,
        /// Catalog ids inherited from base models.
        pub inherited_ids: Vec<String>,
        /// Every licence that applies: the chosen declared ones, then inherited ones.
        pub terms: Vec<TermFacts>,
    }

    pub struct AncestorFacts {
        pub model: String,
        pub license: String,
        pub relation: String,
        pub source: String,
        pub depth: i64,
        pub known: bool,
        pub multimodal: bool,
    }

    pub struct PermissiveFacts {
        pub ancestor: String,
        pub ancestor_license: String,
        pub declared: String,
    }

    pub struct LineageFacts {
        pub derivative: bool,
        pub inferred: bool,
        pub ancestors: Vec<AncestorFacts>,
        pub unresolved: Vec<String>,
        pub self_known: bool,
        pub relicensed: bool,
        pub cycle: bool,
        /// Declared licences more permissive than an ancestor's.
        pub more_permissive: Vec<PermissiveFacts>,
        /// Licences of the multimodal models of the base-model catalog (the licensors' own
        /// models) in the lineage, the model itself included when it is one of them.
        pub multimodal_licenses: Vec<String>,
        /// Licences of every model of the base-model catalog in the lineage, the model itself
        /// included when it is one of them.
        pub catalog_licenses: Vec<String>,
    }

    pub struct OpennessFacts {
        pub mof_class: i64,
        pub mof_class_name: String,
        pub released: Vec<String>,
        pub open: Vec<String>,
        pub missing_for_next_class: Vec<String>,
        /// Every applicable licence is OSI-approved.
        pub osi_open: bool,
        /// Every applicable licence is free of use restrictions (OSAID-compatible).
        pub osaid_compatible: bool,
    }

    pub struct NowFacts {
        /// Seconds since the Unix epoch.
        pub unix: i64,
        /// `YYYY-MM-DD` (UTC).
        pub date: String,
    }
}
