//! The audit log over HTTP: checkpoint, keys, proofs, entries, a decision's evidence
//! bundle, and replay of a recorded decision.

use super::AppState;
use super::decisions::decision_of;
use super::problem::{Problem, ProblemType};
use super::request::{Data, Reply, tenant};
use crate::audit::stored_decision_leaf;
use crate::store::EntrySource;
use crate::time::Rfc3339;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_audit::evidence::render_html;
use modelgate_audit::{Hash, entry, tree};
use modelgate_engine::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Entries per `GET /v1/log/entries` answer.
pub const MAX_ENTRIES: u64 = 256;
/// How long a request for evidence waits for its decision to reach a checkpoint.
const EVIDENCE_WAIT: Duration = Duration::from_secs(3);

async fn hashes(
    st: &AppState,
    ids: &[u64],
) -> Result<std::collections::HashMap<u64, Hash>, Problem> {
    Ok(crate::audit::tree_hashes(&st.store, ids).await?)
}

fn tree_problem(e: modelgate_audit::AuditError) -> Problem {
    Problem::internal(format!("audit log tree: {e}"))
}

pub async fn checkpoint(st: Data) -> Reply {
    let c = st.store.latest_checkpoint().await?.ok_or_else(|| {
        Problem::unavailable("the audit log has no checkpoint yet; retry shortly")
            .header(header::RETRY_AFTER, "1")
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(c.note))
}

pub async fn keys(st: Data) -> Reply {
    let current = st.log.signer().verifier_key();
    let mut all = st.store.checkpoint_keys().await?;
    if !all.contains(&current) {
        all.push(current.clone());
    }
    let keys = all
        .iter()
        .map(|k| VerifierKey {
            name: k.split('+').next().unwrap_or_default(),
            verifier_key: k,
            current: *k == current,
        })
        .collect();
    Ok(HttpResponse::Ok().json(KeysOut {
        origin: st.log.signer().origin(),
        keys,
    }))
}

/// A tree size the log has reached, for proofs.
async fn checked_size(st: &AppState, size: u64, name: &str) -> Result<(), Problem> {
    let now = st.store.log_state().await?.size;
    if size > now {
        return Err(Problem::new(
            ProblemType::BeyondLog,
            format!("`{name}` is {size} but the log holds {now} entries"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    tree_size: u64,
}

pub async fn inclusion(st: Data, q: web::Query<InclusionQuery>) -> Reply {
    let (index, size) = (q.index, q.tree_size);
    if index >= size {
        return Err(Problem::new(
            ProblemType::InvalidProofRequest,
            format!("`index` ({index}) must be below `tree_size` ({size})"),
        ));
    }
    checked_size(&st, size, "tree_size").await?;
    let stored = hashes(&st, &tree::needed_for_inclusion(index, size)).await?;
    let proof = tree::inclusion_proof(index, size, &stored).map_err(tree_problem)?;
    let leaf = hashes(&st, &[tlog_tiles::tlog::stored_hash_index(0, index)]).await?;
    let leaf = leaf
        .values()
        .next()
        .ok_or_else(|| Problem::internal(format!("stored leaf hash {index} is missing")))?;
    let root = tree::root(size, &hashes(&st, &tree::needed_for_root(size)).await?)
        .map_err(tree_problem)?;
    Ok(HttpResponse::Ok().json(InclusionOut {
        index,
        tree_size: size,
        leaf_hash: entry::hex_hash(leaf),
        root_hash: entry::hex_hash(&root),
        proof: proof.iter().map(entry::hex_hash).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    first: u64,
    second: u64,
}

pub async fn consistency(st: Data, q: web::Query<ConsistencyQuery>) -> Reply {
    let (first, second) = (q.first, q.second);
    if first > second {
        return Err(Problem::new(
            ProblemType::InvalidProofRequest,
            format!("`first` ({first}) must not exceed `second` ({second})"),
        ));
    }
    checked_size(&st, second, "second").await?;
    let stored = hashes(&st, &tree::needed_for_consistency(first, second)).await?;
    let proof = tree::consistency_proof(first, second, &stored).map_err(tree_problem)?;
    let first_root = tree::root(first, &hashes(&st, &tree::needed_for_root(first)).await?)
        .map_err(tree_problem)?;
    let second_root = tree::root(second, &hashes(&st, &tree::needed_for_root(second)).await?)
        .map_err(tree_problem)?;
    Ok(HttpResponse::Ok().json(ConsistencyOut {
        first,
        second,
        first_root: entry::hex_hash(&first_root),
        second_root: entry::hex_hash(&second_root),
        proof: proof.iter().map(entry::hex_hash).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    start: u64,
    end: Option<u64>,
}

/// Entries `start..end` (at most [`MAX_ENTRIES`]). Another tenant's entries show their
/// index, kind and leaf hash only.
pub async fn entries(req: HttpRequest, st: Data, q: web::Query<EntriesQuery>) -> Reply {
    let size = st.store.log_state().await?.size;
    let start = q.start;
    let end = q.end.unwrap_or(start.saturating_add(MAX_ENTRIES)).min(size);
    if q.end.is_some_and(|e| e < start) {
        return Err(Problem::new(
            ProblemType::InvalidRange,
            format!("`end` must not be below `start` ({start})"),
        ));
    }
    if q.end.is_some_and(|e| e - start > MAX_ENTRIES) {
        return Err(Problem::new(
            ProblemType::InvalidRange,
            format!("at most {MAX_ENTRIES} entries per request"),
        ));
    }
    let rows = if start < end {
        st.store.log_entries(start, end).await?
    } else {
        Vec::new()
    };
    let me = tenant(&req)?;
    // Only this tenant's rows are read back: another tenant's entry shows its hash alone.
    let mine: Vec<_> = rows.iter().filter(|e| e.tenant == me).cloned().collect();
    let mut sources = st.store.entry_sources(&mine).await?.into_iter();
    let mut out = Vec::with_capacity(rows.len());
    for e in &rows {
        let mut item = EntryOut {
            index: e.idx,
            kind: &e.kind,
            leaf_hash: hex::encode(&e.leaf_hash),
            sequenced_at: Rfc3339(e.sequenced_at),
            leaf: None,
        };
        if e.tenant == me {
            let leaf = match sources.next() {
                Some(EntrySource::Decision { row, digests }) => {
                    Some(stored_decision_leaf(&row, digests.as_ref()).map_err(Problem::internal)?)
                }
                Some(EntrySource::Event { leaf }) => Some(leaf),
                Some(EntrySource::Missing) | None => None,
            };
            item.leaf = Some(leaf.map(|l| String::from_utf8_lossy(&l).into_owned()));
        }
        out.push(item);
    }
    Ok(HttpResponse::Ok().json(EntriesOut {
        tree_size: size,
        start,
        entries: out,
    }))
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            let html = a.find("text/html");
            let json = a.find("application/json");
            match (html, json) {
                (Some(h), Some(j)) => h < j,
                (Some(_), None) => true,
                _ => false,
            }
        })
}

/// `GET /v1/decisions/{id}/evidence`: the self-contained bundle (or its printable page).
pub async fn evidence(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let row = decision_of(&req, &st, &id).await?;
    let bundle = crate::app::evidence::bundle(&st, &row, EVIDENCE_WAIT).await?;
    if wants_html(&req) {
        let page = render_html(&bundle).map_err(Problem::internal)?;
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page));
    }
    Ok(HttpResponse::Ok().json(bundle))
}

/// `POST /v1/decisions/{id}/replay`: evaluates the stored input again with the stored pack
/// (by digest) at the recorded time, and compares the output byte for byte.
pub async fn replay(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let tenant = &tenant(&req)?;
    let row = decision_of(&req, &st, &id).await?;
    let crate::app::replay::Replayed {
        decision,
        json: replayed,
    } = crate::app::replay::replay(&st, tenant, &row).await?;
    let identical = replayed == row.decision;
    let (before, after): (Value, Value) = if identical {
        (Value::Null, Value::Null)
    } else {
        (
            serde_json::from_str(&row.decision).map_err(Problem::internal)?,
            serde_json::from_str(&replayed).map_err(Problem::internal)?,
        )
    };
    let mut differences = Vec::new();
    diff(&before, &after, String::new(), &mut differences);
    let digest = |s: &str| Digest::of(s.as_bytes());
    Ok(HttpResponse::Ok().json(ReplayOut {
        decision_id: &id,
        identical,
        pack_digest: &row.pack_digest,
        engine_version: EngineVersions {
            recorded: &row.engine_version,
            current: modelgate_engine::ENGINE_VERSION,
        },
        recorded_digest: digest(&row.decision),
        replayed_digest: digest(&replayed),
        verdict: Verdicts {
            recorded: &row.verdict,
            replayed: decision.verdict.as_str(),
        },
        differences,
    }))
}

/// JSON pointer escaping (RFC 6901).
fn pointer_token(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Differences between two JSON values as `{"path", "recorded", "replayed"}` (at most 100).
fn diff<'a>(a: &'a Value, b: &'a Value, at: String, out: &mut Vec<Difference<'a>>) {
    if out.len() >= 100 || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{at}/{}", pointer_token(k));
                diff(va, y.get(k).unwrap_or(&Value::Null), p, out);
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    diff(&Value::Null, vb, format!("{at}/{}", pointer_token(k)), out);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(va, vb, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(Difference {
            path: at,
            recorded: a,
            replayed: b,
        }),
    }
}

#[derive(Serialize)]
struct VerifierKey<'a> {
    name: &'a str,
    verifier_key: &'a str,
    current: bool,
}

/// `GET /v1/log/keys`'s answer.
#[derive(Serialize)]
struct KeysOut<'a> {
    origin: &'a str,
    keys: Vec<VerifierKey<'a>>,
}

/// `GET /v1/log/proof/inclusion`'s answer.
#[derive(Serialize)]
struct InclusionOut {
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    root_hash: String,
    proof: Vec<String>,
}

/// `GET /v1/log/proof/consistency`'s answer.
#[derive(Serialize)]
struct ConsistencyOut {
    first: u64,
    second: u64,
    first_root: String,
    second_root: String,
    proof: Vec<String>,
}

/// A log entry; `leaf` only for the request tenant's own entries (`null` when its source
/// row is gone).
#[derive(Serialize)]
struct EntryOut<'a> {
    index: u64,
    kind: &'a str,
    leaf_hash: String,
    sequenced_at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf: Option<Option<String>>,
}

/// `GET /v1/log/entries`'s answer.
#[derive(Serialize)]
struct EntriesOut<'a> {
    tree_size: u64,
    start: u64,
    entries: Vec<EntryOut<'a>>,
}

/// The engine version that recorded a decision and the one replaying it.
#[derive(Serialize)]
struct EngineVersions<'a> {
    recorded: &'a str,
    current: &'a str,
}

/// A verdict as recorded and as replayed.
#[derive(Serialize)]
struct Verdicts<'a> {
    recorded: &'a str,
    replayed: &'a str,
}

/// `POST /v1/decisions/{id}/replay`'s answer.
#[derive(Serialize)]
struct ReplayOut<'a> {
    decision_id: &'a str,
    identical: bool,
    pack_digest: &'a str,
    engine_version: EngineVersions<'a>,
    recorded_digest: Digest,
    replayed_digest: Digest,
    verdict: Verdicts<'a>,
    differences: Vec<Difference<'a>>,
}

/// A JSON pointer where the replayed decision differs from the recorded one.
#[derive(Serialize)]
struct Difference<'a> {
    path: String,
    recorded: &'a Value,
    replayed: &'a Value,
}
