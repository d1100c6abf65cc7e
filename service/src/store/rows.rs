//! What the store reads and writes, and the row decoders.

use super::{Result, StoreError};
use serde::{Deserialize, Serialize};

/// One file of a stored rule pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct NewPack {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub files: Vec<StoredFile>,
    pub builtin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PackSummary {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub builtin: bool,
    pub registered_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRow {
    pub summary: PackSummary,
    pub files: Vec<StoredFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Activation {
    pub seq: i64,
    pub digest: String,
    pub activated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    /// The use context, as JSON text.
    pub context: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewModelVersion<'a> {
    pub model_ref: &'a str,
    pub format: &'a str,
    pub document: &'a [u8],
    pub record_json: &'a str,
    pub document_digest: &'a str,
    /// The licence the record declares (its `license_expression`), for the board's filter.
    pub license: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelVersion {
    pub model_ref: String,
    pub version: i64,
    pub format: String,
    pub document: Vec<u8>,
    /// The normalized model record, as JSON text.
    pub record: String,
    pub document_digest: String,
    pub created_at: i64,
    /// The licence the record declares (`app::models::declared_license`).
    pub license: Option<String>,
}

/// Where a (model, profile) pair stands on the status board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Approved,
    Conditional,
    PendingReview,
    Rejected,
    /// The metadata or the active pack changed since the latest decision.
    Stale,
    /// Registered, never evaluated.
    Unevaluated,
}

impl ModelStatus {
    pub const ALL: &'static [&'static str] = &[
        "approved",
        "conditional",
        "pending_review",
        "rejected",
        "stale",
        "unevaluated",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Approved => "approved",
            ModelStatus::Conditional => "conditional",
            ModelStatus::PendingReview => "pending_review",
            ModelStatus::Rejected => "rejected",
            ModelStatus::Stale => "stale",
            ModelStatus::Unevaluated => "unevaluated",
        }
    }

    pub fn parse(s: &str) -> Option<ModelStatus> {
        Some(match s {
            "approved" => ModelStatus::Approved,
            "conditional" => ModelStatus::Conditional,
            "pending_review" => ModelStatus::PendingReview,
            "rejected" => ModelStatus::Rejected,
            "stale" => ModelStatus::Stale,
            "unevaluated" => ModelStatus::Unevaluated,
            _ => return None,
        })
    }
}

impl TryFrom<String> for ModelStatus {
    type Error = StoreError;
    fn try_from(s: String) -> Result<ModelStatus> {
        ModelStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("status {s}")))
    }
}

/// What the status board shows: every row, or those of one status, profile (`""`: ad-hoc
/// contexts), declared licence, or whose model reference contains `search` (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardFilter {
    pub status: Option<ModelStatus>,
    pub profile: Option<String>,
    pub license: Option<String>,
    pub search: Option<String>,
}

/// Position on the status board: the last (model, profile) of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardCursor {
    pub model_ref: String,
    pub profile: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BoardRow {
    pub model_ref: String,
    pub latest_version: i64,
    /// The licence the latest version's record declares.
    pub license: Option<String>,
    /// `""` for decisions made under an ad-hoc context.
    pub profile: String,
    #[sqlx(try_from = "String")]
    pub status: ModelStatus,
    pub decision_id: Option<String>,
    pub verdict: Option<String>,
    pub decided_at: Option<i64>,
    pub pack_digest: Option<String>,
    pub model_version: Option<i64>,
    /// The review of the latest decision, when it has one.
    #[sqlx(skip)]
    pub review: Option<BoardReview>,
}

/// Who reviewed the board row's decision, how and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardReview {
    pub id: String,
    pub outcome: String,
    pub reviewer: String,
    pub reviewed_at: i64,
}

/// A decision to record. `id` is a UUIDv7 (time-ordered) made by the caller.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub model_ref: &'a str,
    pub model_version: Option<i64>,
    pub profile: Option<&'a str>,
    pub verdict: &'a str,
    pub format: &'a str,
    pub document: &'a [u8],
    pub record_json: &'a str,
    pub context_json: &'a str,
    pub decision_json: &'a str,
    pub pack_digest: &'a str,
    pub engine_version: &'a str,
    pub input_digest: &'a str,
    pub created_at: i64,
    pub requested_by: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// Digest of the request (body and the parts that shape it): tells a retry from a
    /// different request under the same idempotency key.
    pub request_digest: Option<&'a str>,
    /// OpenTelemetry trace id (32 hex digits) of the request, when traces are exported.
    pub trace_id: Option<&'a str>,
    /// Hash of the decision's audit-log leaf (`crate::audit::decision_leaf`); writing the
    /// row queues it for the log in the same statement.
    pub leaf_hash: Option<[u8; 32]>,
    /// The tenant's state generation (`Store::tenant_generation`) the decision was
    /// evaluated under: the row is written only while it is still the current one
    /// (`Inserted::Stale` otherwise). `None`: unconditionally.
    pub generation: Option<i64>,
    /// With `model_version` `None`: the digest (`sha256:…`) of the document, so that the
    /// insert links the decision to the model's latest registered version when that version
    /// is this document (in the same statement, no lookup before it).
    pub link_digest: Option<&'a str>,
}

impl NewDecision<'_> {
    /// The row this decision becomes once written (the profile `None` for an ad-hoc context).
    pub fn to_row(&self) -> DecisionRow {
        DecisionRow {
            id: self.id.to_string(),
            tenant: self.tenant.to_string(),
            model_ref: self.model_ref.to_string(),
            model_version: self.model_version,
            profile: self.profile.filter(|p| !p.is_empty()).map(str::to_string),
            verdict: self.verdict.to_string(),
            format: self.format.to_string(),
            document: self.document.to_vec(),
            record: self.record_json.to_string(),
            context: self.context_json.to_string(),
            decision: self.decision_json.to_string(),
            pack_digest: self.pack_digest.to_string(),
            engine_version: self.engine_version.to_string(),
            input_digest: self.input_digest.to_string(),
            created_at: self.created_at,
            requested_by: self.requested_by.map(str::to_string),
            idempotency_key: self.idempotency_key.map(str::to_string),
            request_digest: self.request_digest.map(str::to_string),
            trace_id: self.trace_id.map(str::to_string),
            leaf_hash: self.leaf_hash.map(|h| h.to_vec()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: String,
    pub tenant: String,
    pub model_ref: String,
    pub model_version: Option<i64>,
    /// `None` for an ad-hoc context.
    pub profile: Option<String>,
    pub verdict: String,
    pub format: String,
    pub document: Vec<u8>,
    pub record: String,
    pub context: String,
    pub decision: String,
    pub pack_digest: String,
    pub engine_version: String,
    pub input_digest: String,
    pub created_at: i64,
    pub requested_by: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_digest: Option<String>,
    pub trace_id: Option<String>,
    /// Hash of the audit-log leaf written with the row (`None` for rows older than the log).
    pub leaf_hash: Option<Vec<u8>>,
}

impl DecisionRow {
    /// The row as the decision that was written (what its audit-log leaf is built from).
    pub fn as_new(&self) -> NewDecision<'_> {
        NewDecision {
            id: &self.id,
            tenant: &self.tenant,
            model_ref: &self.model_ref,
            model_version: self.model_version,
            profile: self.profile.as_deref(),
            verdict: &self.verdict,
            format: &self.format,
            document: &self.document,
            record_json: &self.record,
            context_json: &self.context,
            decision_json: &self.decision,
            pack_digest: &self.pack_digest,
            engine_version: &self.engine_version,
            input_digest: &self.input_digest,
            created_at: self.created_at,
            requested_by: self.requested_by.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            request_digest: self.request_digest.as_deref(),
            trace_id: self.trace_id.as_deref(),
            leaf_hash: None,
            generation: None,
            link_digest: None,
        }
    }
}

/// The columns [`DecisionRow`] reads, of table alias `d` (the profile `NULL` for an ad-hoc
/// context, which the table keeps as `''`).
pub(super) const DECISION_COLUMNS: &str = "d.id, d.tenant, d.model_ref, d.model_version, \
    NULLIF(d.profile, '') AS profile, d.verdict, d.format, d.document, d.record, d.context, \
    d.decision, d.pack_digest, d.engine_version, d.input_digest, d.created_at, d.requested_by, \
    d.idempotency_key, d.request_digest, d.trace_id, d.leaf_hash";

/// Filters of `GET /v1/decisions`. Times are Unix microseconds; `until` is exclusive.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub model_ref: Option<String>,
    pub verdict: Option<String>,
    pub profile: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New(DecisionRow),
    /// A retry under the same idempotency key: the first decision, nothing written.
    Replayed(DecisionRow),
    /// Nothing written: the tenant's waivers or active pack changed since the state the
    /// decision was evaluated under (`NewDecision::generation`). Evaluate again.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// Opaque cursors: a version tag and hex of the JSON position, so clients cannot build
/// or read them and a server can change what is inside.
pub fn encode_cursor<T: Serialize>(pos: &T) -> String {
    let json = serde_json::to_vec(pos).unwrap_or_default();
    format!("c1{}", hex::encode(json))
}

pub fn decode_cursor<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T> {
    let hexed = s.strip_prefix("c1").ok_or(StoreError::BadCursor)?;
    let bytes = hex::decode(hexed).map_err(|_| StoreError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
}
