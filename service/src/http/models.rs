//! The model registry: `PUT`/`GET /v1/models/{model_ref}` and the status board
//! `GET /v1/models`.

use super::evaluations::DocumentIn;
use super::problem::Problem;
use super::request::{Data, JsonBody, Reply, page_limit, split_page, tenant};
use crate::app::evaluate::{Document, Input};
use crate::store::{
    BoardCursor, BoardFilter, BoardRow, ModelStatus, WaiverRow, decode_cursor, encode_cursor,
};
use crate::time::{Rfc3339, now_micros};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelIn {
    document: Option<DocumentIn>,
    record: Option<Value>,
    /// `hf:<org>/<name>[@<revision>]`: fetched from the Hugging Face Hub.
    hub: Option<String>,
}

pub(super) async fn put_model(
    req: HttpRequest,
    st: Data,
    path: web::Path<String>,
    body: JsonBody<ModelIn, true>,
) -> Reply {
    let tenant = &tenant(&req)?;
    let model_ref = path.into_inner();
    let body: ModelIn = body.value;
    let input = Input {
        document: body.document.map(Document::from),
        record: body.record,
        hub: body.hub,
    };
    let (v, created) =
        crate::app::models::register(&st, tenant, &model_ref, &input, now_micros()).await?;
    let body = VersionOut {
        model_ref: &model_ref,
        version: v.version,
        format: &v.format,
        document_digest: &v.document_digest,
        created_at: Rfc3339(v.created_at),
        new_version: created,
    };
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/models/{model_ref}")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `PUT /v1/models/{model_ref}`'s answer.
#[derive(Serialize)]
struct VersionOut<'a> {
    model_ref: &'a str,
    version: i64,
    format: &'a str,
    document_digest: &'a str,
    created_at: Rfc3339,
    new_version: bool,
}

/// A row of the status board: a model under one profile.
#[derive(Serialize)]
pub(crate) struct BoardItem<'a> {
    waivers_expiring: Vec<ExpiringWaiver<'a>>,
    model_ref: &'a str,
    profile: Option<&'a str>,
    status: &'static str,
    latest_version: i64,
    decision: Option<BoardDecision<'a>>,
    review: Option<BoardReviewOut<'a>>,
}

#[derive(Serialize)]
struct ExpiringWaiver<'a> {
    id: &'a str,
    rule_id: &'a str,
    expires_at: Rfc3339,
}

#[derive(Serialize)]
struct BoardDecision<'a> {
    id: &'a str,
    verdict: Option<&'a str>,
    created_at: Option<Rfc3339>,
    pack_digest: Option<&'a str>,
    model_version: Option<i64>,
}

#[derive(Serialize)]
struct BoardReviewOut<'a> {
    id: &'a str,
    outcome: &'a str,
    reviewer: &'a str,
    created_at: Rfc3339,
}

pub(crate) fn board_item<'a>(r: &'a BoardRow, waivers: &'a [WaiverRow], now: i64) -> BoardItem<'a> {
    let profile = (!r.profile.is_empty()).then_some(r.profile.as_str());
    let waivers_expiring = crate::app::waivers::expiring_for(waivers, &r.model_ref, profile, now)
        .map(|w| ExpiringWaiver {
            id: &w.id,
            rule_id: &w.rule_id,
            expires_at: Rfc3339(w.expires_at),
        })
        .collect();
    BoardItem {
        waivers_expiring,
        model_ref: &r.model_ref,
        profile,
        status: r.status.as_str(),
        latest_version: r.latest_version,
        decision: r.decision_id.as_deref().map(|id| BoardDecision {
            id,
            verdict: r.verdict.as_deref(),
            created_at: r.decided_at.map(Rfc3339),
            pack_digest: r.pack_digest.as_deref(),
            model_version: r.model_version,
        }),
        review: r.review.as_ref().map(|v| BoardReviewOut {
            id: &v.id,
            outcome: &v.outcome,
            reviewer: &v.reviewer,
            created_at: Rfc3339(v.reviewed_at),
        }),
    }
}

/// `GET /v1/models/{model_ref}`'s answer.
#[derive(Serialize)]
struct ModelOut<'a> {
    model_ref: &'a str,
    versions: Vec<StoredVersion<'a>>,
    status: Vec<BoardItem<'a>>,
}

#[derive(Serialize)]
struct StoredVersion<'a> {
    version: i64,
    format: &'a str,
    document_digest: &'a str,
    created_at: Rfc3339,
    record: Box<RawValue>,
}

/// `GET /v1/models`'s answer.
#[derive(Serialize)]
struct BoardPage<'a> {
    items: Vec<BoardItem<'a>>,
    next_cursor: Option<String>,
    active_pack: String,
}

pub(super) async fn get_model(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let tenant = &tenant(&req)?;
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
    let versions = versions
        .iter()
        .map(|v| {
            Ok(StoredVersion {
                version: v.version,
                format: &v.format,
                document_digest: &v.document_digest,
                created_at: Rfc3339(v.created_at),
                record: RawValue::from_string(v.record.clone()).map_err(Problem::internal)?,
            })
        })
        .collect::<Result<_, Problem>>()?;
    Ok(HttpResponse::Ok().json(ModelOut {
        model_ref: &model_ref,
        versions,
        status: board.iter().map(|b| board_item(b, &waivers, now)).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BoardQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(super) async fn list_models(req: HttpRequest, st: Data, q: web::Query<BoardQuery>) -> Reply {
    let tenant = &tenant(&req)?;
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
        .status_board(
            tenant,
            &active,
            &BoardFilter {
                status,
                ..BoardFilter::default()
            },
            after.as_ref(),
            limit + 1,
        )
        .await?;
    let now = now_micros();
    let waivers = super::waivers::in_force(&st, tenant, now).await?;
    let (rows, next) = split_page(rows, limit, |r| {
        encode_cursor(&BoardCursor {
            model_ref: r.model_ref.clone(),
            profile: r.profile.clone(),
        })
    });
    Ok(HttpResponse::Ok().json(BoardPage {
        items: rows.iter().map(|b| board_item(b, &waivers, now)).collect(),
        next_cursor: next,
        active_pack: active,
    }))
}
