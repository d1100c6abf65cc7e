//! The rule pack lifecycle: upload (`POST /v1/packs`, a tar.gz of a `rules/`-shaped
//! directory, validated and its tests run), impact analysis against the active pack
//! (`POST /v1/packs/{digest}/impact`) and activation with `If-Match`
//! (`POST /v1/packs/{digest}/activate`), which re-evaluates the registry.

use super::api::{Reply, read_body, tenant};
use super::auth::principal;
use super::problem::Problem;
use super::{AppState, now_micros, rfc3339_micros};
use crate::store::{NewDecision, NewPack};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::waiver::{Waiver, applicable};
use modelgate_engine::{Decision, Format, ModelRecord, Pack, PackFile, ParseOptions, UseContext};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Arc;

type Data = web::Data<AppState>;

/// Upload limits: compressed body, unpacked total, number of files.
pub const MAX_UPLOAD: usize = 8 * 1024 * 1024;
const MAX_UNPACKED: u64 = 32 * 1024 * 1024;
const MAX_FILES: usize = 4096;

fn invalid(slug: &str, detail: impl Into<String>) -> Problem {
    Problem::unprocessable(slug, detail)
}

/// The files of a tar.gz pack, relative to the directory holding `pack.yaml`.
pub fn unpack(bytes: &[u8]) -> Result<Vec<PackFile>, String> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED + 1));
    let mut files = Vec::new();
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| format!("the body is not a tar.gz archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let kind = entry.header().entry_type();
        let path = entry
            .path()
            .map_err(|e| format!("an archive path is not valid: {e}"))?
            .to_string_lossy()
            .replace('\\', "/");
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "`{path}` is not a regular file (links and devices are refused)"
            ));
        }
        let path = path.trim_start_matches("./").to_string();
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(format!("`{path}` points outside the pack"));
        }
        if path.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        files.push((path, {
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| format!("the archive is damaged: {e}"))?;
            total += buf.len() as u64;
            if total > MAX_UNPACKED {
                return Err(format!(
                    "the pack unpacks to more than {} MiB",
                    MAX_UNPACKED / 1024 / 1024
                ));
            }
            buf
        }));
        if files.len() > MAX_FILES {
            return Err(format!("the pack holds more than {MAX_FILES} files"));
        }
    }
    // The pack's root: where pack.yaml is (the archive's root or one directory down).
    let root = files
        .iter()
        .filter(|(p, _)| p == "pack.yaml" || p.ends_with("/pack.yaml"))
        .map(|(p, _)| p.trim_end_matches("pack.yaml").to_string())
        .min_by_key(|r| r.len())
        .ok_or("the archive has no pack.yaml")?;
    let mut out: Vec<PackFile> = files
        .into_iter()
        .filter_map(|(p, bytes)| {
            p.strip_prefix(&root).map(|rel| PackFile {
                path: rel.to_string(),
                bytes,
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

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
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the pack as a tar.gz (Content-Type: application/gzip), not `{ct}`"),
        ));
    }
    let raw = read_body(payload, MAX_UPLOAD).await?;
    let tenant = &tenant(&req);
    let files = web::block(move || unpack(&raw))
        .await
        .map_err(Problem::internal)?
        .map_err(|e| invalid("invalid-pack", e))?;
    let stored = crate::packdir::stored_files(&files)
        .map_err(|path| invalid("invalid-pack", format!("`{path}` is not UTF-8 text")))?;
    let checked = web::block(move || {
        let pack = Pack::load(&files)?;
        let report = pack.run_tests();
        Ok::<_, modelgate_engine::PackError>((pack, report))
    })
    .await
    .map_err(Problem::internal)?;
    let (pack, report) = checked.map_err(|e| {
        invalid(
            "invalid-pack",
            format!("the rule pack is invalid ({} problem(s))", e.problems.len()),
        )
        .with(
            "problems",
            e.problems
                .iter()
                .map(|p| json!({"file": p.file, "message": p.message}))
                .collect::<Vec<_>>(),
        )
    })?;
    if report.failed > 0 {
        let failures: Vec<Value> = report
            .cases
            .iter()
            .filter(|c| !c.passed)
            .map(|c| json!({"file": c.file, "case": c.name, "failures": c.failures}))
            .collect();
        return Err(invalid(
            "pack-tests-failed",
            format!(
                "{} of the pack's {} tests fail",
                report.failed,
                report.failed + report.passed
            ),
        )
        .with("failures", failures));
    }
    let now = now_micros();
    let event = crate::audit::pack_registered(
        tenant,
        now,
        &pack.digest,
        &pack.manifest.name,
        &pack.manifest.version,
        false,
    )
    .map_err(Problem::internal)?;
    let new = st
        .store
        .register_pack(
            tenant,
            &NewPack {
                digest: pack.digest.clone(),
                name: pack.manifest.name.clone(),
                version: pack.manifest.version.clone(),
                files: stored,
                builtin: false,
            },
            now,
            Some(&event),
        )
        .await?;
    st.log.wake();
    let body = json!({
        "digest": pack.digest,
        "name": pack.manifest.name,
        "version": pack.manifest.version,
        "tests": {"passed": report.passed, "failed": report.failed},
        "new": new,
    });
    st.packs.insert(tenant, Arc::new(pack));
    let mut resp = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(resp
        .insert_header((
            header::LOCATION,
            format!("/v1/packs/{}", body["digest"].as_str().unwrap_or_default()),
        ))
        .json(body))
}

/// One registered model, ready to evaluate.
struct Subject {
    model_ref: String,
    version: i64,
    format: String,
    document: Vec<u8>,
    record: ModelRecord,
    siblings: Vec<ModelRecord>,
}

/// A use context to evaluate under: a stored profile, or (no profile stored) the default.
struct Use {
    profile: Option<String>,
    ctx: UseContext,
}

async fn registry(
    st: &AppState,
    tenant: &str,
    parse_with: &Pack,
) -> Result<(Vec<Subject>, Vec<Use>), Problem> {
    let versions = st.store.latest_versions(tenant).await?;
    let mut subjects = Vec::with_capacity(versions.len());
    for v in versions {
        let record: ModelRecord = serde_json::from_str(&v.record)
            .map_err(|e| Problem::internal(format!("stored record of {}: {e}", v.model_ref)))?;
        let siblings = match Format::parse(&v.format) {
            Some(f) if f != Format::Native => parse_with
                .parse_all(
                    &v.document,
                    Some(f),
                    &ParseOptions::with_model_ref(&v.model_ref),
                )
                .map(|all| all.into_iter().filter(|o| o.id != record.id).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        subjects.push(Subject {
            model_ref: v.model_ref,
            version: v.version,
            format: v.format,
            document: v.document,
            record,
            siblings,
        });
    }
    let mut uses = Vec::new();
    for p in st.store.list_profiles(tenant).await? {
        let mut ctx: UseContext = serde_json::from_str(&p.context)
            .map_err(|e| Problem::internal(format!("stored profile {}: {e}", p.name)))?;
        ctx.normalize();
        uses.push(Use {
            profile: Some(p.name),
            ctx,
        });
    }
    if uses.is_empty() {
        uses.push(Use {
            profile: None,
            ctx: UseContext::default(),
        });
    }
    Ok((subjects, uses))
}

fn evaluate(
    pack: &Pack,
    s: &Subject,
    u: &Use,
    waivers: &[Waiver],
    now_s: i64,
) -> (Decision, String) {
    let digest = modelgate_engine::input_digest(&s.document, &u.ctx);
    let a = applicable(waivers, &s.model_ref, u.profile.as_deref(), now_s);
    (
        pack.evaluate_waived(&s.record, &s.siblings, &u.ctx, now_s, &digest, &a),
        digest,
    )
}

fn failing(d: &Decision) -> BTreeSet<String> {
    d.findings
        .iter()
        .filter(|f| !f.waived)
        .map(|f| f.rule_id.clone())
        .collect()
}

async fn pack_by_digest(st: &AppState, tenant: &str, digest: &str) -> Result<Arc<Pack>, Problem> {
    st.packs
        .get(&st.store, tenant, digest)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no pack {digest}")))
}

/// `POST /v1/packs/{digest}/impact`: every registered model under every stored profile,
/// with the candidate and with the active pack; the differences.
pub async fn impact(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let digest = path.into_inner();
    let tenant = &tenant(&req);
    let candidate = pack_by_digest(&st, tenant, &digest).await?;
    let active = super::api::active_pack(&st, tenant).await?;
    let started = std::time::Instant::now();
    let (subjects, uses) = registry(&st, tenant, &active).await?;
    let now = now_micros();
    let waivers = super::waivers::engine_waivers(&st, tenant, now).await?;
    let now_s = now.div_euclid(1_000_000);
    let (active2, candidate2) = (active.clone(), candidate.clone());
    let (changes, evaluated) = web::block(move || {
        let mut changes = Vec::new();
        let mut evaluated = 0usize;
        for s in &subjects {
            for u in &uses {
                let (before, _) = evaluate(&active2, s, u, &waivers, now_s);
                let (after, _) = evaluate(&candidate2, s, u, &waivers, now_s);
                evaluated += 1;
                let (fb, fa) = (failing(&before), failing(&after));
                if before.verdict != after.verdict || fb != fa {
                    changes.push(json!({
                        "model_ref": s.model_ref,
                        "profile": u.profile,
                        "verdict": {"before": before.verdict.as_str(), "after": after.verdict.as_str()},
                        "findings_added": fa.difference(&fb).collect::<Vec<_>>(),
                        "findings_removed": fb.difference(&fa).collect::<Vec<_>>(),
                    }));
                }
            }
        }
        (changes, evaluated)
    })
    .await
    .map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "candidate": {"digest": candidate.digest, "name": candidate.manifest.name, "version": candidate.manifest.version},
        "active": {"digest": active.digest, "name": active.manifest.name, "version": active.manifest.version},
        "evaluated": evaluated,
        "changed": changes.len(),
        "changes": changes,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    })))
}

/// The ETag of a tenant's current activation.
pub fn activation_etag(seq: Option<i64>) -> String {
    format!("\"activation-{}\"", seq.unwrap_or(0))
}

/// `POST /v1/packs/{digest}/activate` with `If-Match: <ETag of GET /v1/packs>`.
pub async fn activate(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let digest = path.into_inner();
    let tenant = &tenant(&req);
    let me = principal(&req).ok_or_else(|| Problem::internal("no principal"))?;
    let Some(if_match) = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "send If-Match with the ETag of GET /v1/packs (the current activation)",
        ));
    };
    let pack = pack_by_digest(&st, tenant, &digest).await?;
    let current = st.store.active_pack(tenant).await?;
    let etag = activation_etag(current.as_ref().map(|a| a.seq));
    if if_match.trim() != etag && if_match.trim() != "*" {
        return Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            format!("the activation changed: If-Match is {if_match}, the current ETag is {etag}"),
        )
        .header(header::ETAG, &etag));
    }
    let now = now_micros();
    let event = crate::audit::pack_activated(tenant, now, &digest).map_err(Problem::internal)?;
    let activation = st
        .store
        .activate_pack(tenant, &digest, now, Some(&event))
        .await?;
    st.tenants.forget(tenant);
    // Re-evaluate the registry under the new pack and record the decisions.
    let (subjects, uses) = registry(&st, tenant, &pack).await?;
    let waivers = super::waivers::engine_waivers(&st, tenant, now).await?;
    let now_s = now.div_euclid(1_000_000);
    let mut recorded = 0usize;
    for s in &subjects {
        for u in &uses {
            let (decision, input_digest) = evaluate(&pack, s, u, &waivers, now_s);
            let id = uuid::Uuid::now_v7().to_string();
            let record_json = serde_json::to_string(&s.record).map_err(Problem::internal)?;
            let context_json = serde_json::to_string(&u.ctx).map_err(Problem::internal)?;
            let decision_json = serde_json::to_string(&decision).map_err(Problem::internal)?;
            let mut new = NewDecision {
                link_digest: None,
                generation: None,
                id: &id,
                tenant,
                model_ref: &s.model_ref,
                model_version: Some(s.version),
                profile: u.profile.as_deref(),
                verdict: decision.verdict.as_str(),
                format: &s.format,
                document: &s.document,
                record_json: &record_json,
                context_json: &context_json,
                decision_json: &decision_json,
                pack_digest: &pack.digest,
                engine_version: modelgate_engine::ENGINE_VERSION,
                input_digest: &input_digest,
                created_at: now_micros(),
                requested_by: Some(&me.key_id),
                idempotency_key: None,
                request_digest: None,
                trace_id: None,
                leaf_hash: None,
            };
            new.leaf_hash =
                Some(crate::audit::decision_leaf_hash(&new).map_err(Problem::internal)?);
            st.store.insert_decision(&new).await?;
            recorded += 1;
        }
    }
    st.log.wake();
    let etag = activation_etag(Some(activation.seq));
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.clone()))
        .json(json!({
            "digest": digest,
            "seq": activation.seq,
            "activated_at": rfc3339_micros(activation.activated_at),
            "etag": etag,
            "reevaluated": recorded,
        })))
}
