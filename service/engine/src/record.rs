//! The model record: what every metadata format is parsed into (DESIGN §3).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a field of the record came from: the source format and a JSON pointer
/// (for YAML front matter, the pointer into the YAML document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub format: String,
    pub pointer: String,
}

/// What part of the release a declared licence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LicenseScope {
    Weights,
    Code,
    Data,
    Docs,
    #[default]
    Whole,
}

/// A licence as the document declares it, before resolution against the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredLicense {
    /// The raw value (`apache-2.0`, `other`, `Apache 2.0`, an SPDX expression, ...).
    pub value: String,
    /// Hugging Face `license_name` (used with `license: other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_name: Option<String>,
    /// Hugging Face `license_link`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_link: Option<String>,
    #[serde(default)]
    pub scope: LicenseScope,
    /// JSON pointer of the declaration in the source document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Finetune,
    Adapter,
    Quantized,
    Merge,
    Distilled,
    Unknown,
}

impl Relation {
    pub fn parse(s: &str) -> Relation {
        match s.trim().to_ascii_lowercase().as_str() {
            "finetune" | "fine-tune" | "finetuned" => Relation::Finetune,
            "adapter" | "lora" => Relation::Adapter,
            "quantized" | "quantization" | "quantised" => Relation::Quantized,
            "merge" | "merged" => Relation::Merge,
            "distilled" | "distillation" => Relation::Distilled,
            _ => Relation::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseModelRef {
    pub id: String,
    pub relation: Relation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default)]
    pub sensitive_data: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gating {
    #[serde(default)]
    pub gated: bool,
    #[serde(default)]
    pub eu_disallowed: bool,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Which sections of a model card are present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    #[serde(default)]
    pub intended_uses: bool,
    #[serde(default)]
    pub out_of_scope_uses: bool,
    #[serde(default)]
    pub limitations: bool,
    #[serde(default)]
    pub bias_risks: bool,
    #[serde(default)]
    pub evaluation: bool,
    #[serde(default)]
    pub environmental_impact: bool,
    #[serde(default)]
    pub training_data: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default)]
    pub verified: bool,
}

/// One Model Openness Framework component and the licence it is released under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpennessComponent {
    /// MOF component name, e.g. `model_parameters_final`, `training_code`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// Energy used by one activity of the model's life cycle (SPDX 3 `energyConsumption`,
/// CycloneDX `environmentalConsiderations.energyConsumptions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyUse {
    /// `training`, `finetuning`, `inference`, ... as the document names it.
    pub activity: String,
    /// Energy in kilowatt-hours, when the document gives it in a convertible unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kwh: Option<f64>,
    /// CO2-equivalent emissions in tonnes, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2_tonnes: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiActFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_purpose: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_summary_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright_policy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_in_eu: Option<bool>,
}

/// The normalized model record. Every format becomes one of these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRecord {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default = "default_source_format")]
    pub source_format: String,
    #[serde(default)]
    pub licenses: Vec<DeclaredLicense>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_expression: Option<String>,
    #[serde(default)]
    pub base_models: Vec<BaseModelRef>,
    #[serde(default)]
    pub datasets: Vec<DatasetRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default)]
    pub modalities_in: Vec<String>,
    #[serde(default)]
    pub modalities_out: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_compute_flops: Option<f64>,
    #[serde(default)]
    pub gating: Gating,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sections: Sections,
    #[serde(default)]
    pub eval_results: Vec<EvalResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_risk_assessment: Option<String>,
    #[serde(default)]
    pub openness: Vec<OpennessComponent>,
    #[serde(default)]
    pub ai_act: AiActFacts,
    /// Learning approach (CycloneDX `approach.type`: supervised, self-supervised, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_approach: Option<String>,
    /// Whether the system acts without a human in the loop (SPDX 3 `autonomyType`:
    /// `yes`, `no`, `noAssertion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autonomy_type: Option<String>,
    /// Application domains the publisher names (SPDX 3 `domain`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub application_domains: Vec<String>,
    /// Standards the model complies with, as claimed (SPDX 3 `standardCompliance`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standard_compliance: Vec<String>,
    /// The model uses sensitive personal information (SPDX 3
    /// `useSensitivePersonalInformation`); `None` when not asserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_sensitive_personal_information: Option<bool>,
    /// Energy consumption per activity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub energy: Vec<EnergyUse>,
    /// Training hyperparameters (SPDX 3 `hyperparameter`), as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hyperparameters: BTreeMap<String, String>,
    /// Files known to be in the repository (`LICENSE`, `USE_POLICY.md`, ...).
    #[serde(default)]
    pub files: Vec<String>,
    /// The prose of the document's licence section (a card's "License" heading),
    /// bounded: licences it names beside the declared one are conflicting declarations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_text: Option<String>,
    /// Provenance per top-level field name.
    #[serde(default)]
    pub provenance: BTreeMap<String, Provenance>,
    /// Prose of the card (Markdown body), used for lineage inference; not part of the
    /// serialized record.
    #[serde(skip)]
    pub prose: String,
}

fn default_source_format() -> String {
    "native".to_string()
}

impl ModelRecord {
    pub fn note(&mut self, field: &str, format: &str, pointer: &str) {
        self.provenance.insert(
            field.to_string(),
            Provenance {
                format: format.to_string(),
                pointer: pointer.to_string(),
            },
        );
    }
}

/// The records of a document other than model `index`: that model's known ancestors when
/// it is evaluated (a BOM listing a fine-tune and its base, say).
pub fn others(records: &[ModelRecord], index: usize) -> Vec<ModelRecord> {
    records
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != index)
        .map(|(_, r)| r.clone())
        .collect()
}
