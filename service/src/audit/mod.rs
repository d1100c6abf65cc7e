//! The audit log (DESIGN §6): log entries for decisions and events, the signing key, the
//! sequencer and checkpointer, and verification of the whole log against the database.
//!
//! The arithmetic (canonical leaves, RFC 6962 tree, proofs, signed checkpoints, evidence
//! bundles) is the pure crate `modelgate_audit`; this module does the IO around it.

mod key;
mod sequencer;
mod verify;

pub use key::{KeyError, load_or_create_key, read_key};
pub use sequencer::{Log, SEQUENCER_BATCH};
pub use verify::{VerifyError, VerifyReport, verify_log};

use crate::store::{ContentDigests, DecisionRow, NewDecision, NewEvent};
use modelgate_audit::{AuditError, Hash, entry};
use serde_json::{Value, json};

/// The kind of a decision's log entry.
pub const DECISION_KIND: &str = "decision";

fn sha256_tagged(bytes: &[u8]) -> String {
    modelgate_engine::Digest::of(bytes).into()
}

/// The log entry of a decision: what was decided (the verdict, and the recorded decision by
/// digest), for whom, when, on which input (by digest), under which pack and engine. The
/// registered model version a decision is linked to is not in it: the insert finds it, and
/// the document digest pins the same fact. Built
/// from the stored row's fields alone, so `audit verify` rebuilds it without parsing the
/// decision; the evidence bundle carries the decision whose digest it records.
pub fn decision_entry(d: &NewDecision<'_>) -> Value {
    decision_entry_with(d, &content_digests(d))
}

/// The digests of a decision's content, as its log entry records them.
pub fn content_digests(d: &NewDecision<'_>) -> ContentDigests {
    ContentDigests {
        document: sha256_tagged(d.document),
        record: sha256_tagged(d.record_json.as_bytes()),
        context: sha256_tagged(d.context_json.as_bytes()),
        decision: sha256_tagged(d.decision_json.as_bytes()),
    }
}

/// [`decision_entry`] with the content digests given (`d`'s content fields are not read).
pub fn decision_entry_with(d: &NewDecision<'_>, c: &ContentDigests) -> Value {
    json!({
        "id": d.id,
        "tenant": d.tenant,
        "model_ref": d.model_ref,
        // As stored: an empty profile is no profile (`NewDecision::to_row`).
        "profile": d.profile.filter(|p| !p.is_empty()),
        "requested_by": d.requested_by,
        "created_at": crate::time::rfc3339_micros(d.created_at),
        "format": d.format,
        "document_digest": c.document,
        "record_digest": c.record,
        "context_digest": c.context,
        "input_digest": d.input_digest,
        "pack_digest": d.pack_digest,
        "engine_version": d.engine_version,
        "trace_id": d.trace_id,
        "verdict": d.verdict,
        "decision_digest": c.decision,
    })
}

/// The leaf bytes of a decision (`"decision/v1\n"` + canonical JSON); for a stored row,
/// pass `row.as_new()`.
pub fn decision_leaf(d: &NewDecision<'_>) -> Result<Vec<u8>, AuditError> {
    entry::leaf_bytes(DECISION_KIND, &decision_entry(d))
}

/// The leaf bytes of a decision read for the log (`EntrySource::Decision`): from the
/// digests the database computed, or else from the row's content.
pub fn stored_decision_leaf(
    row: &DecisionRow,
    digests: Option<&ContentDigests>,
) -> Result<Vec<u8>, AuditError> {
    let d = row.as_new();
    match digests {
        Some(c) => entry::leaf_bytes(DECISION_KIND, &decision_entry_with(&d, c)),
        None => decision_leaf(&d),
    }
}

/// The leaf hash of a decision.
pub fn decision_leaf_hash(d: &NewDecision<'_>) -> Result<[u8; 32], AuditError> {
    Ok(entry::leaf_hash(&decision_leaf(d)?).0)
}

/// An audit event of `kind` with `entry` as its content (the tenant and time are added).
pub fn event(kind: &str, tenant: &str, now: i64, mut entry: Value) -> Result<NewEvent, AuditError> {
    let id = uuid::Uuid::now_v7().to_string();
    if let Value::Object(m) = &mut entry {
        m.insert("id".into(), Value::from(id.clone()));
        m.insert("tenant".into(), Value::from(tenant));
        m.insert(
            "created_at".into(),
            Value::from(crate::time::rfc3339_micros(now)),
        );
    }
    let leaf = entry::leaf_bytes(kind, &entry)?;
    let leaf_hash = entry::leaf_hash(&leaf).0;
    Ok(NewEvent {
        id,
        kind: kind.to_string(),
        leaf,
        leaf_hash,
        created_at: now,
    })
}

/// `pack_registered`: a rule pack became available (by digest; its files are in the store).
pub fn pack_registered(
    tenant: &str,
    now: i64,
    digest: &str,
    name: &str,
    version: &str,
    builtin: bool,
) -> Result<NewEvent, AuditError> {
    event(
        "pack_registered",
        tenant,
        now,
        json!({"pack_digest": digest, "name": name, "version": version, "builtin": builtin}),
    )
}

/// `pack_activated`: the pack evaluations use from now on.
pub fn pack_activated(tenant: &str, now: i64, digest: &str) -> Result<NewEvent, AuditError> {
    event(
        "pack_activated",
        tenant,
        now,
        json!({"pack_digest": digest}),
    )
}

/// Stored tree hashes by index, as the tree arithmetic wants them.
pub async fn tree_hashes(
    store: &crate::store::Store,
    ids: &[u64],
) -> Result<std::collections::HashMap<u64, Hash>, crate::store::StoreError> {
    Ok(store
        .tree_hashes(ids)
        .await?
        .into_iter()
        .map(|(k, v)| (k, Hash(v)))
        .collect())
}
