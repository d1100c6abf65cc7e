//! The rule pack lifecycle: upload (`POST /v1/packs`, a tar.gz of a `rules/`-shaped
//! directory, validated and its tests run), impact analysis against the active pack
//! (`POST /v1/packs/{digest}/impact`) and activation with `If-Match`
//! (`POST /v1/packs/{digest}/activate`), which re-evaluates the registry.

use super::auth::principal;
use super::problem::{Problem, ProblemType};
use super::request::{Data, Reply, read_body, tenant};
use crate::app::packs::activation_etag;
use crate::store::PackSummary;
use crate::time::{Rfc3339, now_micros};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::Pack;
use modelgate_engine::decision::Verdict;
use serde::Serialize;

/// The largest pack upload (compressed).
pub const MAX_UPLOAD: usize = crate::packdir::MAX_UPLOAD;

pub async fn upload(req: HttpRequest, st: Data, payload: web::Payload) -> Reply {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ![
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
    ]
    .iter()
    .any(|t| ct.starts_with(t))
    {
        return Err(Problem::new(
            ProblemType::UnsupportedMediaType,
            format!("send the pack as a tar.gz (Content-Type: application/gzip), not `{ct}`"),
        ));
    }
    let raw = read_body(payload, MAX_UPLOAD).await?;
    let tenant = &tenant(&req)?;
    let u = crate::app::packs::upload(&st, tenant, raw.to_vec(), now_micros()).await?;
    let location = format!("/v1/packs/{}", u.digest);
    let new = u.new;
    let body = Uploaded {
        digest: u.digest,
        name: u.name,
        version: u.version,
        tests: TestCounts {
            passed: u.passed,
            failed: 0,
        },
        new,
    };
    let mut resp = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(resp.insert_header((header::LOCATION, location)).json(body))
}

/// `POST /v1/packs/{digest}/impact`: every registered model under every stored profile,
/// with the candidate and with the active pack; the differences.
pub async fn impact(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let digest = path.into_inner();
    let i = crate::app::packs::impact(&st, &tenant(&req)?, &digest).await?;
    let changes: Vec<_> = i
        .changes
        .iter()
        .map(|c| ImpactChange {
            model_ref: &c.model_ref,
            profile: c.profile.as_deref(),
            verdict: BeforeAfter {
                before: c.before,
                after: c.after,
            },
            findings_added: &c.added,
            findings_removed: &c.removed,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ImpactOut {
        candidate: PackRef::of(&i.candidate),
        active: PackRef::of(&i.active),
        evaluated: i.evaluated,
        changed: changes.len(),
        changes,
        elapsed_ms: i.elapsed.as_millis() as u64,
    }))
}

/// `POST /v1/packs/{digest}/activate` with `If-Match: <ETag of GET /v1/packs>`.
pub async fn activate(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let digest = path.into_inner();
    let tenant = &tenant(&req)?;
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    let Some(if_match) = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Problem::new(
            ProblemType::PreconditionRequired,
            "send If-Match with the ETag of GET /v1/packs (the current activation)",
        ));
    };
    let a = crate::app::packs::activate(&st, tenant, &digest, if_match, &me.key_id).await?;
    let etag = activation_etag(Some(a.seq));
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.clone()))
        .json(ActivatedOut {
            digest: &digest,
            seq: a.seq,
            activated_at: Rfc3339(a.activated_at),
            etag: &etag,
            reevaluated: a.reevaluated,
        }))
}

pub async fn list_packs(req: HttpRequest, st: Data) -> Reply {
    let tenant = &tenant(&req)?;
    let active = st.store.active_pack(tenant).await?;
    let packs = st.store.list_packs(tenant).await?;
    let items = packs
        .iter()
        .map(|p| PackItem::of(p, active.as_ref().is_some_and(|a| a.digest == p.digest)))
        .collect();
    let etag = activation_etag(active.as_ref().map(|a| a.seq));
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.clone()))
        .json(PackList {
            items,
            active: active.as_ref().map(|a| ActiveOut {
                digest: &a.digest,
                activated_at: Rfc3339(a.activated_at),
                seq: a.seq,
            }),
            etag: &etag,
        }))
}

pub async fn get_pack(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let tenant = &tenant(&req)?;
    let digest = path.into_inner();
    let row = st
        .store
        .get_pack(tenant, &digest)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no pack {digest}")))?;
    let active = st.store.active_pack(tenant).await?;
    let pack = st.packs.get(&st.store, tenant, &digest).await?;
    let count = |f: fn(&Pack) -> usize| pack.as_deref().map(f);
    Ok(HttpResponse::Ok().json(PackDetail {
        summary: PackItem::of(&row.summary, active.is_some_and(|a| a.digest == digest)),
        files: row.files.iter().map(|f| f.path.as_str()).collect(),
        licenses: count(|p| p.catalog.len()),
        models: count(|p| p.models.len()),
        rules: count(|p| p.rules.len()),
        tests: count(|p| p.tests.len()),
    }))
}

/// A problem in an uploaded pack's file.
#[derive(Serialize)]
pub(super) struct FileProblem<'a> {
    pub file: &'a str,
    pub message: &'a str,
}

/// A pack test that fails.
#[derive(Serialize)]
pub(super) struct FailedCase<'a> {
    pub file: &'a str,
    pub case: &'a str,
    pub failures: &'a [String],
}

#[derive(Serialize)]
struct TestCounts {
    passed: usize,
    failed: usize,
}

/// `POST /v1/packs`'s answer.
#[derive(Serialize)]
struct Uploaded {
    digest: String,
    name: String,
    version: String,
    tests: TestCounts,
    new: bool,
}

/// A pack named by digest, name and version.
#[derive(Serialize)]
struct PackRef<'a> {
    digest: &'a str,
    name: &'a str,
    version: &'a str,
}

impl<'a> PackRef<'a> {
    fn of(p: &'a Pack) -> PackRef<'a> {
        PackRef {
            digest: p.digest.as_str(),
            name: &p.manifest.name,
            version: &p.manifest.version,
        }
    }
}

#[derive(Serialize)]
struct BeforeAfter {
    before: Verdict,
    after: Verdict,
}

#[derive(Serialize)]
struct ImpactChange<'a> {
    model_ref: &'a str,
    profile: Option<&'a str>,
    verdict: BeforeAfter,
    findings_added: &'a [String],
    findings_removed: &'a [String],
}

/// `POST /v1/packs/{digest}/impact`'s answer.
#[derive(Serialize)]
struct ImpactOut<'a> {
    candidate: PackRef<'a>,
    active: PackRef<'a>,
    evaluated: usize,
    changed: usize,
    changes: Vec<ImpactChange<'a>>,
    elapsed_ms: u64,
}

/// `POST /v1/packs/{digest}/activate`'s answer.
#[derive(Serialize)]
struct ActivatedOut<'a> {
    digest: &'a str,
    seq: i64,
    activated_at: Rfc3339,
    etag: &'a str,
    reevaluated: usize,
}

/// A registered pack in `GET /v1/packs`.
#[derive(Serialize)]
struct PackItem<'a> {
    digest: &'a str,
    name: &'a str,
    version: &'a str,
    builtin: bool,
    registered_at: Rfc3339,
    active: bool,
}

impl<'a> PackItem<'a> {
    fn of(p: &'a PackSummary, active: bool) -> PackItem<'a> {
        PackItem {
            digest: p.digest.as_str(),
            name: &p.name,
            version: &p.version,
            builtin: p.builtin,
            registered_at: Rfc3339(p.registered_at),
            active,
        }
    }
}

#[derive(Serialize)]
struct ActiveOut<'a> {
    digest: &'a str,
    activated_at: Rfc3339,
    seq: i64,
}

/// `GET /v1/packs`'s answer.
#[derive(Serialize)]
struct PackList<'a> {
    items: Vec<PackItem<'a>>,
    active: Option<ActiveOut<'a>>,
    etag: &'a str,
}

/// `GET /v1/packs/{digest}`'s answer.
#[derive(Serialize)]
struct PackDetail<'a> {
    #[serde(flatten)]
    summary: PackItem<'a>,
    files: Vec<&'a str>,
    licenses: Option<usize>,
    models: Option<usize>,
    rules: Option<usize>,
    tests: Option<usize>,
}
