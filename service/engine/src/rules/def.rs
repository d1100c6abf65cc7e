//! Rule definitions as written in `rules/policies/*.yaml`, and pack test cases.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleCategory {
    License,
    Use,
    Lineage,
    Safety,
    Openness,
    Regulatory,
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Deny,
    Review,
    Warn,
    Obligation,
}

/// Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// PolicyReport result vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleResult {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

/// A citation written in the rule itself (regulations, standards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCitation {
    pub source: String,
    pub section: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub title: String,
    pub category: RuleCategory,
    pub effect: Effect,
    pub severity: Severity,
    #[serde(default)]
    pub description: Option<String>,
    /// CEL; when false the rule is skipped.
    #[serde(default)]
    pub applies_if: Option<String>,
    /// CEL; when true the rule fails (or, for obligations, the obligation applies).
    pub fails_if: String,
    /// Template: literal text with `{{ CEL }}` parts.
    pub message: String,
    pub how_to_fix: String,
    /// Clause key in the licence catalog to cite (`commercial`, `thresholds`, ...).
    #[serde(default)]
    pub cite: Option<String>,
    /// CEL list of the licence ids responsible; defaults to every applicable licence.
    #[serde(default)]
    pub culprits: Option<String>,
    #[serde(default)]
    pub citation: Option<StaticCitation>,
    /// CEL paths recorded as evidence when the rule fails.
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

/// One `rules/policies/*.yaml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub description: Option<String>,
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// `hf-card`, `native` or `auto`.
    #[serde(default = "auto")]
    pub format: String,
    pub content: String,
    #[serde(default)]
    pub model_ref: Option<String>,
}

fn auto() -> String {
    "auto".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestExpect {
    pub verdict: String,
    /// Exact set of rule ids whose result is fail, warn or error.
    #[serde(default)]
    pub failing: Option<Vec<String>>,
    /// Rule ids that must be among the failing ones.
    #[serde(default)]
    pub includes: Vec<String>,
    /// Rule ids that must not be failing.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// Exact set of rule ids that produced obligations.
    #[serde(default)]
    pub obligations: Option<Vec<String>>,
    /// Chosen licence alternative (expression text), when the test checks it.
    #[serde(default)]
    pub chosen: Option<String>,
}

/// One `rules/tests/*.yaml` case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub input: TestInput,
    #[serde(default)]
    pub context: crate::context::UseContext,
    /// Evaluation time (RFC 3339 date `YYYY-MM-DD`), default 2026-01-01.
    #[serde(default)]
    pub now: Option<String>,
    pub expect: TestExpect,
}
