//! The one evaluation path. [`decide`] evaluates a model under a use context with the
//! waivers in force; every caller goes through it: `POST /v1/evaluations` and dry runs
//! ([`evaluate`]), `modelgate check`, impact analysis and activation ([`super::packs`]),
//! and replay ([`super::replay`]). [`evaluate`] is the "evaluate and record" use case:
//! model selection, profile or context, the tenant's state, the decision's record and
//! its audit-log leaf, idempotency, and the retry when the tenant's state changed.

use super::tenants::{TenantState, tenant_state};
use super::{App, Corrupt};
use crate::store::{DecisionRow, Inserted, NewDecision, StoreError};
use modelgate_engine::Digest;
use modelgate_engine::context::{ContextError, UseContext};
use modelgate_engine::ingest::split_model_ref;
use modelgate_engine::waiver::{Waiver, applicable};
use modelgate_engine::{
    Decision, Evaluation, Format, IngestError, ModelRecord, Pack, ParseOptions, Timestamp,
};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The name the card parser gives a model it cannot name.
const UNNAMED: &str = "unnamed-model";

/// How often an evaluation is run again when the tenant's pack or waivers changed while it
/// ran (see [`super::tenants`]); after that the caller is asked to retry.
const STALE_RETRIES: usize = 4;

/// One evaluation: a model (with the ancestors the caller knows), its reference and
/// profile (which waivers are scoped by), the use context, the digest of the input and
/// the waivers of the tenant.
pub struct Decide<'a> {
    pub pack: &'a Pack,
    pub record: &'a ModelRecord,
    pub ancestors: &'a [ModelRecord],
    pub model_ref: &'a str,
    pub profile: Option<&'a str>,
    pub context: &'a UseContext,
    pub input_digest: &'a str,
    /// The tenant's waivers: those that cover `model_ref` under `profile` at `now` apply.
    pub waivers: &'a [Waiver],
    pub now: Timestamp,
}

/// The decision of one evaluation: the engine's [`modelgate_engine::evaluate`] with the
/// waivers that apply. Pure.
pub fn decide(d: &Decide<'_>) -> Decision {
    let waived = applicable(d.waivers, d.model_ref, d.profile, d.now);
    modelgate_engine::evaluate(&Evaluation {
        ancestors: d.ancestors,
        waivers: &waived,
        ..Evaluation::new(d.pack, d.record, d.context, d.now, d.input_digest)
    })
}

/// What to evaluate: a document given inline, a native record as JSON, a model on the
/// Hugging Face Hub, or (none of them) the latest registered metadata of `model_ref`.
#[derive(Default)]
pub struct Input {
    pub document: Option<Document>,
    pub record: Option<Value>,
    /// `hf:<org>/<name>[@<revision>]`: fetched from the Hub ([`super::hub`]).
    pub hub: Option<String>,
}

/// A document given inline.
pub struct Document {
    /// `auto` (detect it) or a format name ([`Format::NAMES`]).
    pub format: String,
    pub content: String,
}

/// An evaluation request.
pub struct Request {
    pub input: Input,
    /// The use context given, or
    pub context: Option<UseContext>,
    /// the name of a stored profile (the default context when neither).
    pub profile: Option<String>,
    /// Which model: required for [`Input::Registered`], picks one model of a document that
    /// describes several, and names a document that does not name its model.
    pub model_ref: Option<String>,
    /// Evaluate only: nothing is recorded.
    pub dry_run: bool,
    /// The API key that asked (recorded with the decision).
    pub requested_by: Option<String>,
    pub idempotency_key: Option<String>,
    /// The digest of the request as sent (idempotency compares it).
    pub request_digest: String,
    /// The trace the request runs in, when traces are exported.
    pub trace_id: Option<String>,
}

/// The outcome of an evaluation.
pub enum Outcome {
    /// A dry run: the decision, not recorded.
    Evaluated {
        decision: Box<Decision>,
        profile: Option<String>,
    },
    /// A recorded decision (`replayed`: an earlier one with the same idempotency key).
    Recorded {
        row: Box<DecisionRow>,
        replayed: bool,
    },
}

/// How long the evaluation itself took (parse and engine), and the Hub fetch before it
/// (an `hf:` reference), for metrics.
pub struct Timed<T> {
    pub value: T,
    pub evaluation: Duration,
    pub hub_fetch: Option<Duration>,
}

/// Why an evaluation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("give either `context` or `profile`, not both")]
    ContextAndProfile,
    #[error("there is no profile `{0}`")]
    UnknownProfile(String),
    #[error("the use context is not valid: {0}")]
    InvalidContext(ContextError),
    #[error("give one of `document`, `record` and `hub`")]
    SeveralInputs,
    /// The service was started without Hub access (`--hf-endpoint off`).
    #[error("this service does not fetch models from the Hugging Face Hub")]
    HubDisabled,
    /// Fetching from the Hub failed (or the reference is not one).
    #[error("{0}")]
    Hub(crate::hub::HubError),
    #[error("`document.format` is `{0}`")]
    UnknownFormat(String),
    #[error("the body needs `document`, `record`, or the `model_ref` of a registered model")]
    NothingToEvaluate,
    #[error("the body needs `document` or `record`")]
    NoDocument,
    #[error("`{0}` is not registered")]
    UnknownModel(String),
    #[error("the document is not valid: {0}")]
    Invalid(IngestError),
    #[error("the document describes {} models ({})", .0.len(), .0.join(", "))]
    SeveralModels(Vec<String>),
    #[error("the document does not name the model; give `model_ref`")]
    ModelRefRequired,
    #[error("the model's name holds a NUL character (U+0000)")]
    NulInModelRef,
    /// The model reference (given, or the name the document gives its model) is not one
    /// ([`super::models::model_ref_problem`]).
    #[error("{0}")]
    InvalidModelRef(String),
    /// The tenant's pack or waivers kept changing while the evaluation ran.
    #[error("the tenant's rule pack or waivers kept changing during the evaluation")]
    KeptChanging,
    #[error(transparent)]
    Pack(#[from] super::packs::PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Evaluates and (unless a dry run) records, under the tenant's current state.
pub async fn evaluate(
    app: &App,
    tenant: &str,
    req: &Request,
) -> Result<Timed<Outcome>, EvaluateError> {
    for attempt in 0..STALE_RETRIES {
        let state = tenant_state(app, tenant, attempt > 0).await?;
        if let Some(out) = evaluate_once(app, tenant, &state, req).await? {
            return Ok(out);
        }
    }
    Err(EvaluateError::KeptChanging)
}

/// A document and the model picked from it.
pub struct Parsed<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// The format read (`hf-card`...).
    pub format: String,
    pub record: ModelRecord,
    /// The other models of the same document (known ancestors of this one).
    pub siblings: Vec<ModelRecord>,
    /// The document named the model (else `model_ref` must be given).
    pub named: bool,
    /// The registered version evaluated (no document or record given).
    pub version: Option<i64>,
}

/// The one rule for a model reference ([`super::models::model_ref_problem`]); a NUL has a
/// problem of its own.
fn check_model_ref(r: &str) -> Result<(), EvaluateError> {
    if r.contains('\0') {
        return Err(EvaluateError::NulInModelRef);
    }
    match super::models::model_ref_problem(r) {
        Some(why) => Err(EvaluateError::InvalidModelRef(why)),
        None => Ok(()),
    }
}

/// One evaluation under the tenant's `state`; `None` when the state changed before the
/// decision could be recorded.
async fn evaluate_once(
    app: &App,
    tenant: &str,
    state: &TenantState,
    req: &Request,
) -> Result<Option<Timed<Outcome>>, EvaluateError> {
    let pack = &state.pack;
    // The caller's reference first: it also names the document's model.
    if let Some(r) = &req.model_ref {
        check_model_ref(r)?;
    }
    let (ctx, profile) = use_context(app, tenant, pack, req).await?;

    // The document: inline, or the latest registered metadata of `model_ref`. Parse and
    // evaluation run in one span.
    let eval_span = tracing::info_span!(
        "evaluation",
        pack = %pack.digest,
        model_ref = tracing::field::Empty,
        format = tracing::field::Empty,
        verdict = tracing::field::Empty,
        findings = tracing::field::Empty,
    );
    let mut started = Instant::now();
    let mut hub_fetch = None;
    let parsed =
        if req.input.document.is_none() && req.input.record.is_none() && req.input.hub.is_none() {
            registered(app, tenant, pack, req.model_ref.as_deref())
                .instrument(eval_span.clone())
                .await?
        } else {
            let read = read_input(app, pack, &req.input, req.model_ref.as_deref())
                .instrument(eval_span.clone())
                .await?;
            if req.input.hub.is_some() {
                // The fetch (and the parse of what it fetched) is timed on its own.
                hub_fetch = Some(started.elapsed());
                started = Instant::now();
            }
            read
        };
    if !parsed.named {
        return Err(EvaluateError::ModelRefRequired);
    }
    // The caller's reference was checked first; the document's name for its model now.
    let model_ref = match &req.model_ref {
        Some(r) => r.clone(),
        None => {
            check_model_ref(&parsed.record.id)?;
            parsed.record.id.clone()
        }
    };
    let digest = modelgate_engine::input_digest(&parsed.bytes, &ctx);
    let now_us = crate::time::now_micros();
    let now = crate::time::second_of(now_us);
    let decision: Decision = eval_span.in_scope(|| {
        decide(&Decide {
            pack,
            record: &parsed.record,
            ancestors: &parsed.siblings,
            model_ref: &model_ref,
            profile: profile.as_deref(),
            context: &ctx,
            input_digest: digest.as_str(),
            waivers: &state.waivers,
            now,
        })
    });
    eval_span.record("model_ref", model_ref.as_str());
    eval_span.record("format", parsed.format.as_str());
    eval_span.record("verdict", decision.verdict.as_str());
    eval_span.record("findings", decision.findings.len());
    drop(eval_span);
    let evaluation = started.elapsed();

    if req.dry_run {
        return Ok(Some(Timed {
            value: Outcome::Evaluated {
                decision: Box::new(decision),
                profile,
            },
            evaluation,
            hub_fetch,
        }));
    }
    let decision_json =
        serde_json::to_string(&decision).map_err(|e| Corrupt::new("decision", e))?;
    // A document sent inline that is the registered latest version is linked to it (by
    // the insert itself).
    let link_digest = parsed
        .version
        .is_none()
        .then(|| Digest::of(&parsed.bytes).to_string());
    let id = uuid::Uuid::now_v7().to_string();
    let record_json =
        serde_json::to_string(&parsed.record).map_err(|e| Corrupt::new("record", e))?;
    let context_json = serde_json::to_string(&ctx).map_err(|e| Corrupt::new("context", e))?;
    let mut new = NewDecision {
        link_digest: link_digest.as_deref(),
        id: &id,
        tenant,
        model_ref: &model_ref,
        model_version: parsed.version,
        profile: profile.as_deref(),
        verdict: decision.verdict.as_str(),
        format: &parsed.format,
        document: &parsed.bytes,
        record_json: &record_json,
        context_json: &context_json,
        decision_json: &decision_json,
        pack_digest: pack.digest.as_str(),
        engine_version: modelgate_engine::ENGINE_VERSION,
        input_digest: digest.as_str(),
        created_at: now_us,
        requested_by: req.requested_by.as_deref(),
        idempotency_key: req.idempotency_key.as_deref(),
        request_digest: Some(&req.request_digest),
        trace_id: req.trace_id.as_deref(),
        leaf_hash: None,
        generation: Some(state.generation),
    };
    // The decision's audit-log leaf: the row and its queue entry are written together.
    new.leaf_hash =
        Some(crate::audit::decision_leaf_hash(&new).map_err(|e| Corrupt::new("leaf", e))?);
    // No wake-up for the sequencer: it takes the queue in batches every 100 ms, which
    // keeps its per-entry cost low under load (an entry waits at most ~0.1 s plus a batch).
    let value = match app.store.insert_decision(&new).await? {
        Inserted::New(row) => Outcome::Recorded {
            row: Box::new(row),
            replayed: false,
        },
        Inserted::Replayed(row) => Outcome::Recorded {
            row: Box::new(row),
            replayed: true,
        },
        Inserted::Stale => {
            app.tenants.forget(tenant).await;
            return Ok(None);
        }
    };
    Ok(Some(Timed {
        value,
        evaluation,
        hub_fetch,
    }))
}

/// The use context (normalized and checked) and the profile it came from.
async fn use_context(
    app: &App,
    tenant: &str,
    pack: &Pack,
    req: &Request,
) -> Result<(UseContext, Option<String>), EvaluateError> {
    let (mut ctx, profile) = match (&req.context, &req.profile) {
        (Some(_), Some(_)) => return Err(EvaluateError::ContextAndProfile),
        (Some(c), None) => (c.clone(), None),
        (None, Some(name)) => {
            let p = app
                .store
                .get_profile(tenant, name)
                .await?
                .ok_or_else(|| EvaluateError::UnknownProfile(name.clone()))?;
            let c: UseContext = serde_json::from_str(&p.context)
                .map_err(|e| Corrupt::new(format!("stored profile {name}"), e))?;
            (c, Some(name.clone()))
        }
        (None, None) => (UseContext::default(), None),
    };
    ctx.prepare(pack.use_categories())
        .map_err(EvaluateError::InvalidContext)?;
    Ok((ctx, profile))
}

/// The latest registered metadata of `model_ref`, with the other models of its document.
async fn registered(
    app: &App,
    tenant: &str,
    pack: &Pack,
    model_ref: Option<&str>,
) -> Result<Parsed<'static>, EvaluateError> {
    let Some(r) = model_ref else {
        return Err(EvaluateError::NothingToEvaluate);
    };
    let Some(v) = app.store.latest_model_version(tenant, r).await? else {
        return Err(EvaluateError::UnknownModel(r.to_string()));
    };
    let record: ModelRecord = serde_json::from_str(&v.record)
        .map_err(|e| Corrupt::new(format!("stored record of {r}"), e))?;
    let siblings = siblings_of(pack, &v.document, &v.format, r, &record);
    Ok(Parsed {
        bytes: Cow::Owned(v.document),
        format: v.format,
        record,
        siblings,
        named: true,
        version: Some(v.version),
    })
}

/// Reads the input given: fetches a Hub reference ([`super::hub`]), else parses the
/// document or record.
pub async fn read_input<'a>(
    app: &App,
    pack: &Arc<Pack>,
    input: &'a Input,
    model_ref: Option<&str>,
) -> Result<Parsed<'a>, EvaluateError> {
    let reference = match (&input.document, &input.record, &input.hub) {
        (Some(d), None, None) => return parse_document(pack, d, model_ref),
        (None, Some(v), None) => return parse_record(pack, v, model_ref),
        (None, None, Some(r)) => r,
        (None, None, None) => return Err(EvaluateError::NoDocument),
        _ => return Err(EvaluateError::SeveralInputs),
    };
    let access = app.hub.as_ref().ok_or(EvaluateError::HubDisabled)?;
    let f = access
        .fetch(pack.clone(), reference)
        .await
        .map_err(EvaluateError::Hub)?;
    Ok(Parsed {
        bytes: Cow::Owned(f.stored),
        format: super::hub::STORED_FORMAT.to_string(),
        record: f.record,
        siblings: f.ancestors,
        named: true,
        version: None,
    })
}

/// The other models of a registered multi-model document (or the fetched base models of
/// a stored Hub fetch): this one's known ancestors.
pub fn siblings_of(
    pack: &Pack,
    document: &[u8],
    format: &str,
    model_ref: &str,
    record: &ModelRecord,
) -> Vec<ModelRecord> {
    if format == super::hub::STORED_FORMAT {
        return super::hub::rebuild(pack, document)
            .map(|(_, ancestors)| ancestors)
            .unwrap_or_default();
    }
    match Format::parse(format) {
        Some(f) if f != Format::Native => pack
            .parse_all(document, Some(f), &ParseOptions::with_model_ref(model_ref))
            .map(|all| all.into_iter().filter(|o| o.id != record.id).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn options(model_ref: Option<&str>) -> ParseOptions {
    ParseOptions {
        model_ref: model_ref.map(str::to_string),
        ..ParseOptions::default()
    }
}

/// Parses a document given inline; `model_ref` picks one model of a document that
/// describes several.
#[tracing::instrument(name = "document.parse", skip_all, fields(bytes, format))]
fn parse_document<'a>(
    pack: &Pack,
    doc: &'a Document,
    model_ref: Option<&str>,
) -> Result<Parsed<'a>, EvaluateError> {
    let format = match doc.format.as_str() {
        "auto" => None,
        n => Some(Format::parse(n).ok_or_else(|| EvaluateError::UnknownFormat(n.into()))?),
    };
    let bytes = doc.content.as_bytes();
    let span = tracing::Span::current();
    span.record("bytes", bytes.len());
    span.record("format", doc.format.as_str());
    let mut records = pack
        .parse_all(bytes, format, &options(model_ref))
        .map_err(EvaluateError::Invalid)?;
    // A document describing several models (a BOM with several model components):
    // `model_ref` picks one.
    let index = if records.len() == 1 {
        0
    } else {
        let pick = model_ref.and_then(|m| {
            let (id, _) = split_model_ref(m);
            records.iter().position(|r| r.id == id || r.id == m)
        });
        match pick {
            Some(i) => i,
            None => {
                return Err(EvaluateError::SeveralModels(
                    records.iter().map(|r| r.id.clone()).collect(),
                ));
            }
        }
    };
    let rec = records.swap_remove(index);
    let format = rec.source_format.clone();
    let named = model_ref.is_some() || rec.id != UNNAMED;
    Ok(Parsed {
        bytes: Cow::Borrowed(bytes),
        format,
        record: rec,
        siblings: records,
        named,
        version: None,
    })
}

/// Validates a native record given as JSON.
#[tracing::instrument(name = "document.parse", skip_all, fields(format = "native"))]
fn parse_record(
    pack: &Pack,
    v: &Value,
    model_ref: Option<&str>,
) -> Result<Parsed<'static>, EvaluateError> {
    let bytes = serde_json::to_vec(v).map_err(|e| Corrupt::new("record", e))?;
    let rec = pack
        .record_from_json(v.clone(), &options(model_ref))
        .map_err(EvaluateError::Invalid)?;
    Ok(Parsed {
        bytes: Cow::Owned(bytes),
        format: Format::Native.as_str().to_string(),
        record: rec,
        siblings: Vec::new(),
        named: true,
        version: None,
    })
}
