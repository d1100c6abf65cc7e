//! Recorded decisions: `GET /v1/decisions`, `GET /v1/decisions/{id}`.

use super::AppState;
use super::evaluations::row_body;
use super::problem::Problem;
use super::request::{Data, Page, Reply, page_limit, split_page, tenant};
use crate::store::{DecisionFilter, DecisionRow, decode_cursor, encode_cursor};
use crate::time::parse_rfc3339_micros;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

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
        .get_decision(&tenant(req)?, id)
        .await?
        .ok_or_else(not_found)
}

pub(super) async fn get_decision(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let row = decision_of(&req, &st, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(row_body(&row)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionQuery {
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

pub(super) async fn list_decisions(
    req: HttpRequest,
    st: Data,
    q: web::Query<DecisionQuery>,
) -> Reply {
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
        .list_decisions(&tenant(&req)?, &filter, after.as_deref(), limit + 1)
        .await?;
    let (rows, next) = split_page(rows, limit, |r| encode_cursor(&r.id));
    let items = rows.iter().map(row_body).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next,
    }))
}
