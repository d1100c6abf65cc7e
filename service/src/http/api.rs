//! The routes of `openapi.yaml`.

use super::auditlog;
use super::problem::{self, Problem};
use super::{AppState, DEFAULT_TENANT, now_micros, parse_rfc3339_micros, rfc3339_micros};
use crate::auth::Permission;
use crate::store::{
    BoardCursor, BoardRow, DecisionFilter, DecisionRow, Inserted, ModelStatus, NewDecision,
    NewModelVersion, decode_cursor, encode_cursor,
};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use modelgate_engine::context::UseContext;
use modelgate_engine::{Decision, Format, IngestError, ModelRecord, Pack, ParseOptions};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

type Data = web::Data<AppState>;
pub(super) type Reply = Result<HttpResponse, Problem>;

const MAX_LIMIT: u32 = 200;
const DEFAULT_LIMIT: u32 = 50;
/// The name the card parser gives a model it cannot name.
const UNNAMED: &str = "unnamed-model";

/// (path in `openapi.yaml`, actix pattern, (method, permission, handler) per method).
/// A permission of `None`: the route needs no credentials.
type RouteRow = (
    &'static str,
    &'static str,
    Vec<(&'static str, Option<Permission>, actix_web::Route)>,
);

/// Every route: the path as `openapi.yaml` writes it, actix's pattern, and the handler per
/// method. Registration and the contract test both read this table.
fn table() -> Vec<RouteRow> {
    vec![
        (
            "/v1/evaluations",
            "/v1/evaluations",
            vec![(
                "POST",
                Some(Permission::Evaluate),
                web::post().to(create_evaluation),
            )],
        ),
        (
            "/v1/decisions",
            "/v1/decisions",
            vec![("GET", Some(Permission::Read), web::get().to(list_decisions))],
        ),
        (
            "/v1/decisions/{id}",
            "/v1/decisions/{id}",
            vec![("GET", Some(Permission::Read), web::get().to(get_decision))],
        ),
        (
            "/v1/decisions/{id}/evidence",
            "/v1/decisions/{id}/evidence",
            vec![(
                "GET",
                Some(Permission::Audit),
                web::get().to(auditlog::evidence),
            )],
        ),
        (
            "/v1/decisions/{id}/replay",
            "/v1/decisions/{id}/replay",
            vec![(
                "POST",
                Some(Permission::Audit),
                web::post().to(auditlog::replay),
            )],
        ),
        (
            "/v1/log/checkpoint",
            "/v1/log/checkpoint",
            vec![(
                "GET",
                Some(Permission::Read),
                web::get().to(auditlog::checkpoint),
            )],
        ),
        (
            "/v1/log/keys",
            "/v1/log/keys",
            vec![("GET", Some(Permission::Read), web::get().to(auditlog::keys))],
        ),
        (
            "/v1/log/proof/inclusion",
            "/v1/log/proof/inclusion",
            vec![(
                "GET",
                Some(Permission::Read),
                web::get().to(auditlog::inclusion),
            )],
        ),
        (
            "/v1/log/proof/consistency",
            "/v1/log/proof/consistency",
            vec![(
                "GET",
                Some(Permission::Read),
                web::get().to(auditlog::consistency),
            )],
        ),
        (
            "/v1/log/entries",
            "/v1/log/entries",
            vec![(
                "GET",
                Some(Permission::Audit),
                web::get().to(auditlog::entries),
            )],
        ),
        (
            "/v1/reviews",
            "/v1/reviews",
            vec![(
                "POST",
                Some(Permission::Review),
                web::post().to(super::reviews::create_review),
            )],
        ),
        (
            "/v1/waivers",
            "/v1/waivers",
            vec![
                (
                    "GET",
                    Some(Permission::Read),
                    web::get().to(super::waivers::list_waivers),
                ),
                (
                    "POST",
                    Some(Permission::Review),
                    web::post().to(super::waivers::create_waiver),
                ),
            ],
        ),
        (
            "/v1/waivers/{id}",
            "/v1/waivers/{id}",
            vec![
                (
                    "GET",
                    Some(Permission::Read),
                    web::get().to(super::waivers::get_waiver),
                ),
                (
                    "DELETE",
                    Some(Permission::Review),
                    web::delete().to(super::waivers::revoke_waiver),
                ),
            ],
        ),
        (
            "/v1/keys",
            "/v1/keys",
            vec![
                (
                    "GET",
                    Some(Permission::Admin),
                    web::get().to(super::keys::list_keys),
                ),
                (
                    "POST",
                    Some(Permission::Admin),
                    web::post().to(super::keys::create_key),
                ),
            ],
        ),
        (
            "/v1/keys/{id}",
            "/v1/keys/{id}",
            vec![(
                "DELETE",
                Some(Permission::Admin),
                web::delete().to(super::keys::revoke_key),
            )],
        ),
        (
            "/v1/models",
            "/v1/models",
            vec![("GET", Some(Permission::Read), web::get().to(list_models))],
        ),
        (
            "/v1/models/{model_ref}",
            "/v1/models/{model_ref:.+}",
            vec![
                ("PUT", Some(Permission::Evaluate), web::put().to(put_model)),
                ("GET", Some(Permission::Read), web::get().to(get_model)),
            ],
        ),
        (
            "/v1/profiles",
            "/v1/profiles",
            vec![
                ("GET", Some(Permission::Read), web::get().to(list_profiles)),
                (
                    "POST",
                    Some(Permission::Admin),
                    web::post().to(create_profile),
                ),
            ],
        ),
        (
            "/v1/profiles/{name}",
            "/v1/profiles/{name}",
            vec![
                ("GET", Some(Permission::Read), web::get().to(get_profile)),
                ("PUT", Some(Permission::Admin), web::put().to(put_profile)),
            ],
        ),
        (
            "/v1/licenses",
            "/v1/licenses",
            vec![("GET", Some(Permission::Read), web::get().to(list_licenses))],
        ),
        (
            "/v1/licenses/{id}",
            "/v1/licenses/{id}",
            vec![("GET", Some(Permission::Read), web::get().to(get_license))],
        ),
        (
            "/v1/packs",
            "/v1/packs",
            vec![
                ("GET", Some(Permission::Read), web::get().to(list_packs)),
                (
                    "POST",
                    Some(Permission::Admin),
                    web::post().to(super::packs::upload),
                ),
            ],
        ),
        (
            "/v1/packs/{digest}/impact",
            "/v1/packs/{digest}/impact",
            vec![(
                "POST",
                Some(Permission::Admin),
                web::post().to(super::packs::impact),
            )],
        ),
        (
            "/v1/packs/{digest}/activate",
            "/v1/packs/{digest}/activate",
            vec![(
                "POST",
                Some(Permission::Admin),
                web::post().to(super::packs::activate),
            )],
        ),
        (
            "/v1/packs/{digest}",
            "/v1/packs/{digest}",
            vec![("GET", Some(Permission::Read), web::get().to(get_pack))],
        ),
        (
            "/healthz",
            "/healthz",
            vec![("GET", None, web::get().to(healthz))],
        ),
        (
            "/readyz",
            "/readyz",
            vec![("GET", None, web::get().to(readyz))],
        ),
        (
            "/metrics",
            "/metrics",
            vec![("GET", None, web::get().to(metrics))],
        ),
        (
            "/openapi.yaml",
            "/openapi.yaml",
            vec![("GET", None, web::get().to(openapi))],
        ),
    ]
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (_, pattern, methods) in table() {
        let mut r = web::resource(pattern);
        for (_, _, route) in methods {
            r = r.route(route);
        }
        cfg.service(
            r.default_service(web::to(method_not_allowed))
                .wrap(actix_web::middleware::from_fn(super::auth::authenticate))
                .wrap(actix_web::middleware::from_fn(reject_nul)),
        );
    }
}

/// (method, path as in `openapi.yaml`) of every route served.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .flat_map(|(path, _, methods)| methods.into_iter().map(move |(m, _, _)| (m, path)))
        .collect()
}

/// What a route needs: `Some(None)` for a public route, `Some(Some(p))` for one that needs
/// permission `p`, `None` for a (pattern, method) that is not a route.
pub fn permission(pattern: &str, method: &str) -> Option<Option<Permission>> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    type Map = HashMap<(&'static str, &'static str), Option<Permission>>;
    static MAP: OnceLock<Map> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        table()
            .into_iter()
            .flat_map(|(_, pattern, methods)| {
                methods.into_iter().map(move |(m, p, _)| ((pattern, m), p))
            })
            .collect()
    });
    map.get(&(pattern, method)).copied()
}

/// (method, path as in `openapi.yaml`, permission) of every route.
pub fn route_permissions() -> Vec<(&'static str, &'static str, Option<Permission>)> {
    table()
        .into_iter()
        .flat_map(|(path, _, methods)| methods.into_iter().map(move |(m, p, _)| (m, path, p)))
        .collect()
}

/// A path or query string with an encoded NUL (`%00`) is refused: no identifier, name or
/// filter holds one, and PostgreSQL cannot store it in text.
async fn reject_nul<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"))
    {
        let p = Problem::bad_request(
            "the path or query string contains an encoded NUL character (%00)",
        );
        return Ok(req.into_response(p.error_response()).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

pub async fn not_found(req: HttpRequest) -> Problem {
    Problem::not_found(format!("there is no route {} {}", req.method(), req.path()))
}

async fn method_not_allowed(req: HttpRequest) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{} is not allowed on {}", req.method(), req.path()),
    )
}

// ---- request helpers -----------------------------------------------------------------

/// The tenant of the request. Until API keys exist every request is the default tenant.
/// The request's tenant: its key's.
pub(super) fn tenant(req: &HttpRequest) -> String {
    super::auth::principal(req).map_or_else(|| DEFAULT_TENANT.to_string(), |p| p.tenant)
}

/// Reads a JSON body: the content type must be JSON and the body within `limit`.
pub(super) fn json_body<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    body: &[u8],
    limit: usize,
) -> Result<T, Problem> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(essence == "application/json" || essence.ends_with("+json")) {
        return Err(problem::unsupported_media_type());
    }
    if body.len() > limit {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!(
                "the request body is {} bytes, over the limit of {limit} bytes for this route",
                body.len()
            ),
        ));
    }
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(at) = nul_string(&v, String::new())
    {
        return Err(nul_problem(&at));
    }
    serde_json::from_slice(body).map_err(|e| problem::body_problem(&e))
}

/// The JSON pointer of the first string (or key) holding U+0000.
fn nul_string(v: &Value, at: String) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_string(x, format!("{at}/{i}"))),
        Value::Object(o) => o.iter().find_map(|(k, x)| {
            let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_string(x, here)
            }
        }),
        _ => None,
    }
}

fn nul_problem(at: &str) -> Problem {
    Problem::unprocessable(
        "invalid-text",
        format!(
            "the request body holds a NUL character (U+0000) at `{at}`; modelgate does not store it"
        ),
    )
    .with("pointer", at)
}

/// Reads the whole body up to `limit` bytes (a longer one is 413 without reading it all).
pub(super) async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(Problem::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
        Err(_) => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is over the limit of {limit} bytes for this route"),
        )),
    }
}

fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "`limit` must be between 1 and {MAX_LIMIT}, got {n}"
        ))
        .with("parameter", "limit")),
    }
}

/// The active pack of the tenant, compiled.
pub(super) async fn active_pack(st: &AppState, tenant: &str) -> Result<Arc<Pack>, Problem> {
    let Some(a) = st.store.active_pack(tenant).await? else {
        // A tenant's first request: it starts with the built-in pack.
        return super::bootstrap(&st.store, &st.packs, tenant, now_micros())
            .await
            .map_err(|e| {
                Problem::unavailable(format!("no rule pack is active for this tenant: {e}"))
            });
    };
    st.packs
        .get(&st.store, tenant, &a.digest)
        .await?
        .ok_or_else(|| Problem::internal(format!("active pack {} is not stored", a.digest)))
}

fn ingest_problem(e: &IngestError) -> Problem {
    Problem::unprocessable(
        "invalid-document",
        format!("the document is not valid: {e}"),
    )
    .with("format", e.format.as_str())
    .with("location", &e.location)
    .with("expected", &e.expected)
}

fn format_arg(s: &str) -> Result<Option<Format>, Problem> {
    if s == "auto" {
        return Ok(None);
    }
    Format::parse(s).map(Some).ok_or_else(|| {
        let mut names = vec!["auto"];
        names.extend_from_slice(Format::NAMES);
        Problem::unprocessable(
            "unknown-format",
            format!(
                "`document.format` is `{s}`; modelgate reads: {}",
                names.join(", ")
            ),
        )
        .with("allowed", names)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentIn {
    #[serde(default = "auto")]
    format: String,
    content: String,
}

fn auto() -> String {
    "auto".into()
}

/// A document given inline: its bytes, format name and parsed record.
struct Parsed {
    bytes: Vec<u8>,
    format: String,
    record: ModelRecord,
    /// The other models of the same document (known ancestors of this one).
    siblings: Vec<ModelRecord>,
    /// The document named the model (else `model_ref` must be given).
    named: bool,
}

#[tracing::instrument(name = "document.parse", skip_all, fields(bytes, format))]
fn parse_document(
    pack: &Pack,
    doc: Option<DocumentIn>,
    record: Option<Value>,
    model_ref: Option<&str>,
) -> Result<Parsed, Problem> {
    let opts = ParseOptions {
        model_ref: model_ref.map(str::to_string),
        ..ParseOptions::default()
    };
    match (doc, record) {
        (Some(_), Some(_)) => Err(Problem::unprocessable(
            "invalid-body",
            "give either `document` or `record`, not both",
        )),
        (Some(d), None) => {
            let format = format_arg(&d.format)?;
            let bytes = d.content.into_bytes();
            let span = tracing::Span::current();
            span.record("bytes", bytes.len());
            span.record("format", d.format.as_str());
            let mut records = pack
                .parse_all(&bytes, format, &opts)
                .map_err(|e| ingest_problem(&e))?;
            // A document describing several models (a BOM with several model
            // components): `model_ref` picks one.
            let index = if records.len() == 1 {
                0
            } else {
                let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
                let pick = model_ref.and_then(|m| {
                    let (id, _) = modelgate_engine::ingest::split_model_ref(m);
                    records.iter().position(|r| r.id == id || r.id == m)
                });
                match pick {
                    Some(i) => i,
                    None => {
                        return Err(Problem::unprocessable(
                            "several-models",
                            format!(
                                "the document describes {} models ({}); give `model_ref` naming the one to evaluate",
                                ids.len(),
                                ids.join(", ")
                            ),
                        )
                        .with("models", ids));
                    }
                }
            };
            let rec = records.swap_remove(index);
            let format = rec.source_format.clone();
            let named = model_ref.is_some() || rec.id != UNNAMED;
            Ok(Parsed {
                bytes,
                format,
                record: rec,
                siblings: records,
                named,
            })
        }
        (None, Some(v)) => {
            let bytes = serde_json::to_vec(&v).map_err(Problem::internal)?;
            let rec = pack
                .record_from_json(v, &opts)
                .map_err(|e| ingest_problem(&e))?;
            Ok(Parsed {
                bytes,
                format: Format::Native.as_str().to_string(),
                record: rec,
                siblings: Vec::new(),
                named: true,
            })
        }
        (None, None) => Err(Problem::unprocessable(
            "invalid-body",
            "the body needs `document` ({\"format\", \"content\"}) or `record`",
        )),
    }
}

/// The decision as the API shows it: `id`, `created_at`, `profile`, then the fields of
/// the CLI's JSON output.
fn decision_body(
    recorded: Option<&DecisionRow>,
    profile: Option<&str>,
    decision_json: &str,
) -> Result<Value, Problem> {
    let inner: Map<String, Value> = serde_json::from_str(decision_json)
        .map_err(|e| Problem::internal(format!("stored decision is not JSON: {e}")))?;
    let mut out = Map::new();
    if let Some(d) = recorded {
        out.insert("id".into(), d.id.clone().into());
        out.insert("created_at".into(), rfc3339_micros(d.created_at).into());
        out.insert(
            "trace_id".into(),
            d.trace_id.clone().map_or(Value::Null, Value::from),
        );
    }
    out.insert("profile".into(), profile.map_or(Value::Null, Value::from));
    out.extend(inner);
    Ok(Value::Object(out))
}

fn row_body(d: &DecisionRow) -> Result<Value, Problem> {
    decision_body(Some(d), d.profile.as_deref(), &d.decision)
}

/// The digest a registered metadata version is known by.
fn document_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The OpenTelemetry trace id of the current request, when traces are exported.
fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

fn location(id: &str) -> (header::HeaderName, String) {
    (header::LOCATION, format!("/v1/decisions/{id}"))
}

// ---- evaluations -----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluationIn {
    document: Option<DocumentIn>,
    record: Option<Value>,
    context: Option<UseContext>,
    profile: Option<String>,
    model_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluationQuery {
    #[serde(default)]
    dry_run: bool,
}

/// How often an evaluation is run again when the tenant's pack or waivers changed while it
/// ran (see `tenant_state`); after that the client is asked to retry.
const STALE_RETRIES: usize = 4;

async fn create_evaluation(
    req: HttpRequest,
    st: Data,
    q: web::Query<EvaluationQuery>,
    payload: web::Payload,
) -> Reply {
    let tenant = &tenant(&req);
    let raw = read_body(payload, st.limits.evaluation_body).await?;
    for attempt in 0..STALE_RETRIES {
        // The body is decoded again for a second attempt rather than kept: it is rare.
        let body: EvaluationIn = json_body(&req, &raw, st.limits.evaluation_body)?;
        if let Some(resp) =
            evaluate_once(&req, &st, tenant, &raw, body, q.dry_run, attempt > 0).await?
        {
            return Ok(resp);
        }
    }
    Err(Problem::unavailable(
        "the tenant's rule pack or waivers kept changing during the evaluation; retry",
    ))
}

/// One evaluation under the tenant's state (cached unless `fresh`); `None` when the state
/// changed before the decision could be recorded.
async fn evaluate_once(
    req: &HttpRequest,
    st: &AppState,
    tenant: &str,
    raw: &[u8],
    body: EvaluationIn,
    dry_run: bool,
    fresh: bool,
) -> Result<Option<HttpResponse>, Problem> {
    let idem_key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    Problem::bad_request(
                        "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
                    )
                })?;
            Some(k.to_string())
        }
    };
    let state = super::tenant_state::tenant_state(st, tenant, fresh).await?;
    let pack = &state.pack;

    // The use context: a stored profile or the body's context (defaults when neither).
    let (mut ctx, profile) = match (body.context, body.profile) {
        (Some(_), Some(_)) => {
            return Err(Problem::unprocessable(
                "invalid-body",
                "give either `context` or `profile`, not both",
            ));
        }
        (Some(c), None) => (c, None),
        (None, Some(name)) => {
            let p = st.store.get_profile(tenant, &name).await?.ok_or_else(|| {
                Problem::unprocessable("unknown-profile", format!("there is no profile `{name}`"))
            })?;
            let c: UseContext = serde_json::from_str(&p.context)
                .map_err(|e| Problem::internal(format!("stored profile {name}: {e}")))?;
            (c, Some(name))
        }
        (None, None) => (UseContext::default(), None),
    };
    ctx.normalize();
    ctx.validate(pack.use_categories()).map_err(|e| {
        Problem::unprocessable(
            "invalid-context",
            format!("the use context is not valid: {e}"),
        )
        .with("field", &e.field)
    })?;

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
    let started = Instant::now();
    let (parsed, model_version) = if body.document.is_none() && body.record.is_none() {
        let Some(r) = body.model_ref.as_deref() else {
            return Err(Problem::unprocessable(
                "invalid-body",
                "the body needs `document`, `record`, or the `model_ref` of a registered model",
            ));
        };
        let Some(v) = st
            .store
            .latest_model_version(tenant, r)
            .instrument(eval_span.clone())
            .await?
        else {
            return Err(Problem::unprocessable(
                "unknown-model",
                format!(
                    "`{r}` is not registered; send its `document` or register it with PUT /v1/models/{r}"
                ),
            ));
        };
        let record: ModelRecord = serde_json::from_str(&v.record)
            .map_err(|e| Problem::internal(format!("stored record of {r}: {e}")))?;
        // The other models of a multi-model document are this one's known ancestors.
        let siblings = match Format::parse(&v.format) {
            Some(f) if f != Format::Native => pack
                .parse_all(&v.document, Some(f), &ParseOptions::with_model_ref(r))
                .map(|all| all.into_iter().filter(|o| o.id != record.id).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        (
            Parsed {
                bytes: v.document,
                format: v.format,
                record,
                siblings,
                named: true,
            },
            Some(v.version),
        )
    } else {
        let parsed = eval_span.in_scope(|| {
            parse_document(pack, body.document, body.record, body.model_ref.as_deref())
        })?;
        (parsed, None)
    };
    if !parsed.named {
        return Err(Problem::unprocessable(
            "model-ref-required",
            "the document does not name the model; give `model_ref`",
        ));
    }
    let model_ref = body
        .model_ref
        .clone()
        .unwrap_or_else(|| parsed.record.id.clone());
    if model_ref.contains('\0') {
        return Err(Problem::unprocessable(
            "invalid-text",
            "the model's name holds a NUL character (U+0000); give a `model_ref` without one",
        ));
    }
    let digest = modelgate_engine::input_digest(&parsed.bytes, &ctx);
    let now = now_micros();
    let applicable = modelgate_engine::waiver::applicable(
        &state.waivers,
        &model_ref,
        profile.as_deref(),
        now.div_euclid(1_000_000),
    );
    let decision: Decision = eval_span.in_scope(|| {
        pack.evaluate_waived(
            &parsed.record,
            &parsed.siblings,
            &ctx,
            now.div_euclid(1_000_000),
            &digest,
            &applicable,
        )
    });
    eval_span.record("model_ref", model_ref.as_str());
    eval_span.record("format", parsed.format.as_str());
    eval_span.record("verdict", decision.verdict.as_str());
    eval_span.record("findings", decision.findings.len());
    drop(eval_span);
    st.metrics
        .evaluation
        .observe(started.elapsed().as_secs_f64());
    let decision_json = serde_json::to_string(&decision).map_err(Problem::internal)?;

    if dry_run {
        let body = decision_body(None, profile.as_deref(), &decision_json)?;
        return Ok(Some(HttpResponse::Ok().json(body)));
    }
    // A document sent inline that is the registered latest version is linked to it (by
    // the insert itself).
    let link_digest = model_version
        .is_none()
        .then(|| document_digest(&parsed.bytes));
    let id = uuid::Uuid::now_v7().to_string();
    let record_json = serde_json::to_string(&parsed.record).map_err(Problem::internal)?;
    let context_json = serde_json::to_string(&ctx).map_err(Problem::internal)?;
    let request_digest = format!("sha256:{}", hex::encode(Sha256::digest(raw)));
    let trace_id = current_trace_id();
    let asked_by = super::auth::principal(req).map(|p| p.key_id);
    let verdict = decision.verdict.as_str();
    let mut new = NewDecision {
        link_digest: link_digest.as_deref(),
        id: &id,
        tenant,
        model_ref: &model_ref,
        model_version,
        profile: profile.as_deref(),
        verdict,
        format: &parsed.format,
        document: &parsed.bytes,
        record_json: &record_json,
        context_json: &context_json,
        decision_json: &decision_json,
        pack_digest: &pack.digest,
        engine_version: modelgate_engine::ENGINE_VERSION,
        input_digest: &digest,
        created_at: now,
        requested_by: asked_by.as_deref(),
        idempotency_key: idem_key.as_deref(),
        request_digest: Some(&request_digest),
        trace_id: trace_id.as_deref(),
        leaf_hash: None,
        generation: Some(state.generation),
    };
    // The decision's audit-log leaf: the row and its queue entry are written together.
    new.leaf_hash = Some(crate::audit::decision_leaf_hash(&new).map_err(Problem::internal)?);
    // No wake-up for the sequencer: it takes the queue in batches every 100 ms, which
    // keeps its per-entry cost low under load (an entry waits at most ~0.1 s plus a batch).
    let inserted = st.store.insert_decision(&new).await?;
    super::trace::record_decision_id(&id);
    let (row, replayed) = match inserted {
        Inserted::New(r) => {
            st.metrics.decisions.with_label_values(&[verdict]).inc();
            (r, false)
        }
        Inserted::Replayed(r) => (r, true),
        Inserted::Stale => {
            st.tenants.forget(tenant);
            return Ok(None);
        }
    };
    let mut resp = HttpResponse::Created();
    resp.insert_header(location(&row.id));
    if replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(Some(resp.json(row_body(&row)?)))
}

// ---- decisions ---------------------------------------------------------------------------

/// The request tenant's decision `id` (404 for an id that is not a UUID, unknown, or
/// another tenant's).
pub(super) async fn decision_of(
    req: &HttpRequest,
    st: &AppState,
    id: &str,
) -> Result<DecisionRow, Problem> {
    let not_found = || Problem::not_found(format!("there is no decision {id}"));
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found());
    }
    st.store
        .get_decision(&tenant(req), id)
        .await?
        .ok_or_else(not_found)
}

async fn get_decision(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let row = decision_of(&req, &st, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(row_body(&row)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionQuery {
    model_ref: Option<String>,
    verdict: Option<String>,
    profile: Option<String>,
    from: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn time_param(name: &str, v: Option<&str>) -> Result<Option<i64>, Problem> {
    v.map(|s| {
        parse_rfc3339_micros(s).ok_or_else(|| {
            Problem::bad_request(format!(
                "`{name}` must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got `{s}`"
            ))
            .with("parameter", name)
        })
    })
    .transpose()
}

async fn list_decisions(req: HttpRequest, st: Data, q: web::Query<DecisionQuery>) -> Reply {
    let limit = page_limit(q.limit)?;
    if let Some(v) = &q.verdict
        && !["allow", "conditional", "review", "deny"].contains(&v.as_str())
    {
        return Err(Problem::bad_request(format!(
            "`verdict` must be one of allow, conditional, review, deny; got `{v}`"
        ))
        .with("parameter", "verdict"));
    }
    let filter = DecisionFilter {
        model_ref: q.model_ref.clone(),
        verdict: q.verdict.clone(),
        profile: q.profile.clone(),
        from: time_param("from", q.from.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
    };
    let after: Option<String> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = st
        .store
        .list_decisions(&tenant(&req), &filter, after.as_deref(), limit + 1)
        .await?;
    let (rows, next) = split_page(rows, limit, |r| encode_cursor(&r.id));
    let items = rows.iter().map(row_body).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}

/// Keeps `limit` rows; the cursor of the last one when there is more.
fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(cursor) } else { None };
    (rows, next)
}

// ---- models --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelIn {
    document: Option<DocumentIn>,
    record: Option<Value>,
}

fn check_model_ref(r: &str) -> Result<(), Problem> {
    if r.is_empty() || r.len() > 512 || r.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Problem::bad_request(
            "a model reference is 1 to 512 characters without spaces or control characters",
        ));
    }
    Ok(())
}

async fn put_model(
    req: HttpRequest,
    st: Data,
    path: web::Path<String>,
    payload: web::Payload,
) -> Reply {
    let tenant = &tenant(&req);
    let model_ref = path.into_inner();
    check_model_ref(&model_ref)?;
    let raw = read_body(payload, st.limits.evaluation_body).await?;
    let body: ModelIn = json_body(&req, &raw, st.limits.evaluation_body)?;
    let pack = active_pack(&st, tenant).await?;
    let parsed = parse_document(&pack, body.document, body.record, Some(&model_ref))?;
    let record_json = serde_json::to_string(&parsed.record).map_err(Problem::internal)?;
    let digest = document_digest(&parsed.bytes);
    let (v, created) = st
        .store
        .put_model_version(
            tenant,
            &NewModelVersion {
                model_ref: &model_ref,
                format: &parsed.format,
                document: &parsed.bytes,
                record_json: &record_json,
                document_digest: &digest,
            },
            now_micros(),
        )
        .await?;
    let body = json!({
        "model_ref": model_ref,
        "version": v.version,
        "format": v.format,
        "document_digest": v.document_digest,
        "created_at": rfc3339_micros(v.created_at),
        "new_version": created,
    });
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/models/{model_ref}")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn board_item(r: &BoardRow, waivers: &[crate::store::WaiverRow], now: i64) -> Value {
    let soon = super::waivers::EXPIRING_DAYS * 86_400 * 1_000_000;
    let profile = (!r.profile.is_empty()).then_some(r.profile.as_str());
    let expiring: Vec<Value> = waivers
        .iter()
        .filter(|w| w.expires_at - now <= soon)
        .filter(|w| w.to_engine().covers(&r.model_ref, profile, now.div_euclid(1_000_000)))
        .map(|w| json!({"id": w.id, "rule_id": w.rule_id, "expires_at": rfc3339_micros(w.expires_at)}))
        .collect();
    json!({
        "waivers_expiring": expiring,
        "model_ref": r.model_ref,
        "profile": if r.profile.is_empty() { Value::Null } else { Value::from(r.profile.clone()) },
        "status": r.status.as_str(),
        "latest_version": r.latest_version,
        "decision": r.decision_id.as_ref().map(|id| json!({
            "id": id,
            "verdict": r.verdict,
            "created_at": r.decided_at.map(rfc3339_micros),
            "pack_digest": r.pack_digest,
            "model_version": r.model_version,
        })),
        "review": r.review.as_ref().map(|v| json!({
            "id": v.id,
            "outcome": v.outcome,
            "reviewer": v.reviewer,
            "created_at": rfc3339_micros(v.reviewed_at),
        })),
    })
}

async fn get_model(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let tenant = &tenant(&req);
    let model_ref = path.into_inner();
    let versions = st.store.model_versions(tenant, &model_ref).await?;
    if versions.is_empty() {
        return Err(Problem::not_found(format!(
            "model `{model_ref}` is not registered"
        )));
    }
    let active = st
        .store
        .active_pack(tenant)
        .await?
        .map(|a| a.digest)
        .unwrap_or_default();
    let board = st.store.model_status(tenant, &active, &model_ref).await?;
    let now = now_micros();
    let waivers = super::waivers::in_force(&st, tenant, now).await?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            Ok(json!({
                "version": v.version,
                "format": v.format,
                "document_digest": v.document_digest,
                "created_at": rfc3339_micros(v.created_at),
                "record": serde_json::from_str::<Value>(&v.record).map_err(Problem::internal)?,
            }))
        })
        .collect::<Result<_, Problem>>()?;
    Ok(HttpResponse::Ok().json(json!({
        "model_ref": model_ref,
        "versions": versions,
        "status": board.iter().map(|b| board_item(b, &waivers, now)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_models(req: HttpRequest, st: Data, q: web::Query<BoardQuery>) -> Reply {
    let tenant = &tenant(&req);
    let limit = page_limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            ModelStatus::parse(s).ok_or_else(|| {
                Problem::bad_request(format!(
                    "`status` must be one of {}; got `{s}`",
                    ModelStatus::ALL.join(", ")
                ))
                .with("parameter", "status")
            })
        })
        .transpose()?;
    let after: Option<BoardCursor> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let active = st
        .store
        .active_pack(tenant)
        .await?
        .map(|a| a.digest)
        .unwrap_or_default();
    let rows = st
        .store
        .status_board(tenant, &active, status, after.as_ref(), limit + 1)
        .await?;
    let now = now_micros();
    let waivers = super::waivers::in_force(&st, tenant, now).await?;
    let (rows, next) = split_page(rows, limit, |r| {
        encode_cursor(&BoardCursor {
            model_ref: r.model_ref.clone(),
            profile: r.profile.clone(),
        })
    });
    Ok(HttpResponse::Ok().json(json!({
        "items": rows.iter().map(|b| board_item(b, &waivers, now)).collect::<Vec<_>>(),
        "next_cursor": next,
        "active_pack": active,
    })))
}

// ---- profiles -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileIn {
    name: Option<String>,
    description: Option<String>,
    context: UseContext,
}

fn check_profile_name(n: &str) -> Result<(), Problem> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Problem::unprocessable(
            "invalid-profile-name",
            format!(
                "profile name `{n}`: use 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
            ),
        ))
    }
}

fn profile_body(p: &crate::store::Profile) -> Result<Value, Problem> {
    Ok(json!({
        "name": p.name,
        "description": p.description,
        "context": serde_json::from_str::<Value>(&p.context).map_err(Problem::internal)?,
        "version": p.version,
        "created_at": rfc3339_micros(p.created_at),
        "updated_at": rfc3339_micros(p.updated_at),
    }))
}

async fn save_profile(
    st: &AppState,
    tenant: &str,
    name: &str,
    body: ProfileIn,
) -> Result<crate::store::Profile, Problem> {
    check_profile_name(name)?;
    let pack = active_pack(st, tenant).await?;
    let mut ctx = body.context;
    ctx.normalize();
    ctx.validate(pack.use_categories()).map_err(|e| {
        Problem::unprocessable(
            "invalid-context",
            format!("the use context is not valid: {e}"),
        )
        .with("field", &e.field)
    })?;
    let json = serde_json::to_string(&ctx).map_err(Problem::internal)?;
    Ok(st
        .store
        .put_profile(
            tenant,
            name,
            body.description.as_deref(),
            &json,
            now_micros(),
        )
        .await?)
}

async fn create_profile(req: HttpRequest, st: Data, payload: web::Payload) -> Reply {
    let tenant = &tenant(&req);
    let raw = read_body(payload, st.limits.small_body).await?;
    let body: ProfileIn = json_body(&req, &raw, st.limits.small_body)?;
    let Some(name) = body.name.clone() else {
        return Err(Problem::unprocessable(
            "invalid-body",
            "a new profile needs a `name`",
        ));
    };
    check_profile_name(&name)?;
    if st.store.get_profile(tenant, &name).await?.is_some() {
        return Err(Problem::conflict(
            "profile-exists",
            format!("profile `{name}` exists; update it with PUT /v1/profiles/{name}"),
        ));
    }
    let p = save_profile(&st, tenant, &name, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/profiles/{name}")))
        .json(profile_body(&p)?))
}

async fn put_profile(
    req: HttpRequest,
    st: Data,
    path: web::Path<String>,
    payload: web::Payload,
) -> Reply {
    let tenant = &tenant(&req);
    let name = path.into_inner();
    let raw = read_body(payload, st.limits.small_body).await?;
    let body: ProfileIn = json_body(&req, &raw, st.limits.small_body)?;
    if let Some(n) = &body.name
        && *n != name
    {
        return Err(Problem::unprocessable(
            "invalid-body",
            format!("the body names profile `{n}` but the path names `{name}`"),
        ));
    }
    let p = save_profile(&st, tenant, &name, body).await?;
    let body = profile_body(&p)?;
    Ok(if p.version == 1 {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/profiles/{name}")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

async fn get_profile(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let name = path.into_inner();
    let p = st
        .store
        .get_profile(&tenant(&req), &name)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no profile `{name}`")))?;
    Ok(HttpResponse::Ok().json(profile_body(&p)?))
}

async fn list_profiles(req: HttpRequest, st: Data) -> Reply {
    let items = st
        .store
        .list_profiles(&tenant(&req))
        .await?
        .iter()
        .map(profile_body)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

// ---- catalog and packs -----------------------------------------------------------------------

async fn list_licenses(req: HttpRequest, st: Data) -> Reply {
    let pack = active_pack(&st, &tenant(&req)).await?;
    let items: Vec<Value> = pack
        .catalog
        .entries()
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "spdx": l.spdx,
                "category": l.category,
                "commercial": l.commercial,
                "verified": l.verified,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "pack": pack.digest, "items": items })))
}

async fn get_license(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let pack = active_pack(&st, &tenant(&req)).await?;
    let l = pack.catalog.get(&id).ok_or_else(|| {
        Problem::not_found(format!(
            "licence `{id}` is not in the catalog of the active pack"
        ))
    })?;
    Ok(HttpResponse::Ok().json(l))
}

async fn list_packs(req: HttpRequest, st: Data) -> Reply {
    let tenant = &tenant(&req);
    let active = st.store.active_pack(tenant).await?;
    let items: Vec<Value> = st
        .store
        .list_packs(tenant)
        .await?
        .into_iter()
        .map(|p| {
            let is_active = active.as_ref().is_some_and(|a| a.digest == p.digest);
            json!({
                "digest": p.digest,
                "name": p.name,
                "version": p.version,
                "builtin": p.builtin,
                "registered_at": rfc3339_micros(p.registered_at),
                "active": is_active,
            })
        })
        .collect();
    let etag = super::packs::activation_etag(active.as_ref().map(|a| a.seq));
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.clone()))
        .json(json!({
            "items": items,
            "active": active.map(|a| json!({"digest": a.digest, "activated_at": rfc3339_micros(a.activated_at), "seq": a.seq})),
            "etag": etag,
        })))
}

async fn get_pack(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let tenant = &tenant(&req);
    let digest = path.into_inner();
    let row = st
        .store
        .get_pack(tenant, &digest)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no pack {digest}")))?;
    let active = st.store.active_pack(tenant).await?;
    let pack = st.packs.get(&st.store, tenant, &digest).await?;
    Ok(HttpResponse::Ok().json(json!({
        "digest": row.summary.digest,
        "name": row.summary.name,
        "version": row.summary.version,
        "builtin": row.summary.builtin,
        "registered_at": rfc3339_micros(row.summary.registered_at),
        "active": active.is_some_and(|a| a.digest == digest),
        "files": row.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        "licenses": pack.as_ref().map(|p| p.catalog.len()),
        "models": pack.as_ref().map(|p| p.models.len()),
        "rules": pack.as_ref().map(|p| p.rules.len()),
        "tests": pack.as_ref().map(|p| p.tests.len()),
    })))
}

// ---- operations -----------------------------------------------------------------------------

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(req: HttpRequest, st: Data) -> Reply {
    st.store
        .ping()
        .await
        .map_err(|_| Problem::unavailable("the database is not reachable"))?;
    let pack = active_pack(&st, &tenant(&req)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": st.store.backend().as_str(),
        "pack": { "name": pack.manifest.name, "version": pack.manifest.version, "digest": pack.digest },
    })))
}

async fn metrics(st: Data) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(st.metrics.render(st.store.pool_stats()))
}

/// The contract, served as written.
pub const OPENAPI: &str = include_str!("../../../openapi.yaml");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
