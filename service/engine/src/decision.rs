//! The decision: what an evaluation returns (and what `check --output json` prints).

use crate::rules::def::{Effect, RuleCategory, RuleResult, Severity};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Conditional,
    Review,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Conditional => "conditional",
            Verdict::Review => "review",
            Verdict::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceItem {
    pub path: String,
    pub value: serde_json::Value,
    /// Where in the source document the value came from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    /// Catalog licence id, for licence clauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Licence name or the regulation / standard cited.
    pub source: String,
    pub section: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub title: String,
    pub category: RuleCategory,
    pub effect: Effect,
    pub result: RuleResult,
    pub severity: Severity,
    pub message: String,
    pub how_to_fix: String,
    pub evidence: Vec<EvidenceItem>,
    pub citation: Option<Citation>,
    pub waived: bool,
    /// The waiver that waived it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Obligation {
    pub rule_id: String,
    pub title: String,
    pub category: RuleCategory,
    pub text: String,
    pub licenses: Vec<String>,
    pub citation: Option<Citation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub error: usize,
    pub skip: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeclaredOut {
    pub raw: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_link: Option<String>,
    pub id: Option<String>,
    pub spdx: Option<String>,
    pub resolution: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For a licence read from the document's prose or links rather than its licence
    /// field: the sentence or address it was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InheritedOut {
    pub model: String,
    pub license: Option<String>,
    pub relation: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveOut {
    pub id: String,
    pub name: String,
    pub origin: String,
    pub via: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlternativeOut {
    pub expression: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenseOut {
    pub declared: Vec<DeclaredOut>,
    /// The alternative chosen (an expression), or `null` when nothing was declared.
    pub chosen: Option<String>,
    pub alternatives: Vec<AlternativeOut>,
    pub conflicting: bool,
    pub inherited: Vec<InheritedOut>,
    pub effective: Vec<EffectiveOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageOut {
    pub inferred: bool,
    pub evidence: Vec<crate::lineage::Evidence>,
    pub unresolved: Vec<String>,
    /// Ancestors whose terms came from records fetched from a registry (the Hugging Face
    /// Hub) rather than the base-model catalog.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fetched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOut {
    pub id: String,
    pub revision: Option<String>,
    pub name: Option<String>,
    pub source_format: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackOut {
    pub name: String,
    pub version: String,
    pub digest: crate::Digest,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub model: ModelOut,
    pub verdict: Verdict,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub obligations: Vec<Obligation>,
    pub license: LicenseOut,
    pub lineage: LineageOut,
    pub openness: crate::openness::Openness,
    pub context: crate::context::UseContext,
    pub pack: PackOut,
    pub engine_version: String,
    pub input_digest: String,
    pub evaluated_at: String,
}
