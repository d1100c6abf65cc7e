//! What the templates read: one struct per page (askama, compiled in from
//! `service/templates/ui/`), the frame every page shares, and the decision as a page shows
//! it. Values are escaped by the templates; nothing here builds HTML.

use super::session::Viewer;
use crate::auth::Permission;
use crate::http::problem::Problem;
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

/// `2026-12-05 08:21 UTC`.
pub fn when(micros: i64) -> String {
    let t = modelgate_engine::time::from_micros(micros);
    let s = modelgate_engine::time::micros(t);
    // 2026-12-05T08:21:33.123456Z
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// What [`urlencode`] leaves as it is besides letters and digits: the unreserved marks, and
/// `/` and `:` (model references keep their slashes in paths).
const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/')
    .remove(b':');

/// Percent-encodes a query value or path segment.
pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

/// The page of a model.
pub fn model_link(model_ref: &str) -> String {
    format!("/ui/models/{}", urlencode(model_ref))
}

/// The frame of every page: the title, where we are, who is signed in and what the role
/// may do (which links and buttons exist).
pub struct Chrome {
    pub title: String,
    pub here: &'static str,
    pub user: Option<String>,
    pub role: String,
    pub csrf: String,
    pub can_evaluate: bool,
    pub can_review: bool,
    pub can_audit: bool,
    pub can_admin: bool,
}

impl Chrome {
    pub fn new(title: String, here: &'static str, me: Option<&Viewer>) -> Chrome {
        Chrome {
            title,
            here,
            user: me.map(|m| m.key_id.clone()),
            role: me.map(|m| m.role.as_str().to_string()).unwrap_or_default(),
            csrf: me.map(|m| m.csrf.clone()).unwrap_or_default(),
            can_evaluate: me.is_some_and(|m| m.can(Permission::Evaluate)),
            can_review: me.is_some_and(|m| m.can(Permission::Review)),
            can_audit: me.is_some_and(|m| m.can(Permission::Audit)),
            can_admin: me.is_some_and(|m| m.can(Permission::Admin)),
        }
    }

    /// `aria-current` for the navigation link of `page`.
    pub fn current(&self, page: &str) -> &'static str {
        if self.here == page { "page" } else { "false" }
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub status: u16,
    pub title: String,
    pub detail: String,
    /// Extra members of the problem (where a document is wrong...), as `name: value`.
    pub extra: Vec<(String, String)>,
}

impl ErrorPage {
    pub fn new(p: &Problem) -> ErrorPage {
        ErrorPage {
            chrome: Chrome::new(p.title.clone(), "error", None),
            status: p.status,
            title: p.title.clone(),
            detail: p.detail.clone(),
            extra: p
                .extra
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.replace('_', " "), v)
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/signin.html")]
pub struct SignInPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub next: String,
    pub error: Option<String>,
}

/// A message shown in place above a page's content (after a form).
pub struct Notice {
    pub error: bool,
    pub text: String,
}

// ---- the decision as pages show it ------------------------------------------------------

/// The parts of a decision (`modelgate_engine::Decision`, as recorded or as just made) a
/// page shows. Read from its JSON, so recorded decisions of older versions still show.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DecisionView {
    pub model: ModelView,
    pub verdict: String,
    pub summary: SummaryView,
    pub findings: Vec<FindingView>,
    pub obligations: Vec<ObligationView>,
    pub license: LicenseView,
    pub openness: OpennessView,
    pub pack: PackView,
    pub engine_version: String,
    pub evaluated_at: String,
    pub context: Value,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ModelView {
    pub id: String,
    pub name: Option<String>,
    pub source_format: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct SummaryView {
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub skip: u64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct FindingView {
    pub rule_id: String,
    pub title: String,
    pub category: String,
    pub effect: String,
    pub result: String,
    pub severity: String,
    pub message: String,
    pub how_to_fix: String,
    pub evidence: Vec<EvidenceView>,
    pub citation: Option<CitationView>,
    pub waived: bool,
    pub waiver: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct EvidenceView {
    pub path: String,
    pub value: Value,
    pub source: Option<String>,
}

impl EvidenceView {
    pub fn shown(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CitationView {
    pub license: Option<String>,
    pub source: String,
    pub section: String,
    pub summary: Option<String>,
    pub url: Option<String>,
}

impl CitationView {
    /// A link only to the web (never `javascript:` or the like).
    pub fn href(&self) -> Option<&str> {
        self.url
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ObligationView {
    pub rule_id: String,
    pub title: String,
    pub text: String,
    pub licenses: Vec<String>,
    pub citation: Option<CitationView>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct LicenseView {
    pub declared: Vec<DeclaredView>,
    pub chosen: Option<String>,
    pub conflicting: bool,
    pub inherited: Vec<InheritedView>,
    pub effective: Vec<EffectiveView>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DeclaredView {
    pub raw: String,
    pub id: Option<String>,
    pub resolution: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct InheritedView {
    pub model: String,
    pub license: Option<String>,
    pub relation: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct EffectiveView {
    pub id: String,
    pub name: String,
    pub origin: String,
    pub via: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct OpennessView {
    pub mof_class: i64,
    pub mof_class_name: String,
    pub components: Vec<ComponentView>,
    pub missing_for_next_class: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ComponentView {
    pub name: String,
    pub released: bool,
    pub license: Option<String>,
    pub open: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct PackView {
    pub name: String,
    pub version: String,
    pub digest: String,
}

impl DecisionView {
    pub fn from_json(v: Value) -> Result<DecisionView, serde_json::Error> {
        serde_json::from_value(v)
    }

    /// The verdict in plain words.
    pub fn verdict_words(&self) -> &'static str {
        verdict_words(&self.verdict)
    }

    /// The findings that count against the model (failed, errors, warnings), then the rest.
    pub fn failing(&self) -> impl Iterator<Item = &FindingView> {
        self.findings
            .iter()
            .filter(|f| matches!(f.result.as_str(), "fail" | "error" | "warn"))
    }
}

pub fn verdict_words(v: &str) -> &'static str {
    match v {
        "allow" => "Allowed: this use of the model is permitted.",
        "conditional" => "Allowed with conditions: the obligations below must be met.",
        "review" => "Needs review: an approver must decide before this model is used.",
        "deny" => "Denied: this use of the model is not permitted.",
        _ => "Unknown verdict.",
    }
}

/// A status on the board, in words.
pub fn status_words(s: &str) -> &'static str {
    match s {
        "approved" => "Approved",
        "conditional" => "Conditional",
        "pending_review" => "Pending review",
        "rejected" => "Denied",
        "stale" => "Stale (re-evaluate)",
        "unevaluated" => "Unevaluated",
        _ => "Unknown",
    }
}
