//! Waivers: `POST /v1/waivers`, `GET /v1/waivers`, `GET /v1/waivers/{id}`,
//! `DELETE /v1/waivers/{id}` (revoke). Approvers grant and revoke; everyone reads.

use super::AppState;
use super::auth::principal;
use super::problem::Problem;
use super::request::{Items, JsonBody, Reply, tenant};
use crate::app::waivers::{self, NewWaiver};
use crate::store::WaiverRow;
use crate::time::{Rfc3339, now_micros};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

type Data = web::Data<AppState>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaiverIn {
    model_ref: String,
    rule_id: String,
    profile: Option<String>,
    reason: String,
    justification: String,
    ticket: Option<String>,
    expires_at: String,
}

/// A waiver as the API shows it.
#[derive(Serialize)]
pub struct WaiverOut<'a> {
    id: &'a str,
    model_ref: &'a str,
    rule_id: &'a str,
    profile: Option<&'a str>,
    reason: &'a str,
    justification: &'a str,
    ticket: Option<&'a str>,
    approver: &'a str,
    created_at: Rfc3339,
    expires_at: Rfc3339,
    revoked_at: Option<Rfc3339>,
    revoked_by: Option<&'a str>,
    state: &'static str,
    expiring_soon: bool,
}

pub fn waiver_body(w: &WaiverRow, now: i64) -> WaiverOut<'_> {
    let state = waivers::state(w, now);
    WaiverOut {
        id: &w.id,
        model_ref: &w.model_ref,
        rule_id: &w.rule_id,
        profile: w.profile.as_deref(),
        reason: &w.reason,
        justification: &w.justification,
        ticket: w.ticket.as_deref(),
        approver: &w.approver,
        created_at: Rfc3339(w.created_at),
        expires_at: Rfc3339(w.expires_at),
        revoked_at: w.revoked_at.map(Rfc3339),
        revoked_by: w.revoked_by.as_deref(),
        state,
        expiring_soon: waivers::expiring_soon(w, now),
    }
}

pub async fn create_waiver(req: HttpRequest, st: Data, body: JsonBody<WaiverIn>) -> Reply {
    let body: WaiverIn = body.value;
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    let now = now_micros();
    let asked = NewWaiver {
        model_ref: &body.model_ref,
        rule_id: &body.rule_id,
        profile: body.profile.as_deref(),
        reason: &body.reason,
        justification: &body.justification,
        ticket: body.ticket.as_deref(),
        expires_at: &body.expires_at,
    };
    let row = waivers::create(&st, &me.tenant, &me.key_id, &asked, now).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/waivers/{}", row.id)))
        .json(waiver_body(&row, now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverQuery {
    #[serde(default)]
    active: bool,
}

pub async fn list_waivers(req: HttpRequest, st: Data, q: web::Query<WaiverQuery>) -> Reply {
    let now = now_micros();
    let rows = st
        .store
        .list_waivers(&tenant(&req)?, q.active.then_some(now))
        .await?;
    Ok(HttpResponse::Ok().json(Items {
        items: rows.iter().map(|w| waiver_body(w, now)).collect(),
    }))
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("there is no waiver {id}"))
}

pub async fn get_waiver(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let w = st
        .store
        .get_waiver(&tenant(&req)?, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(HttpResponse::Ok().json(waiver_body(&w, now_micros())))
}

pub async fn revoke_waiver(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    waivers::revoke(&st, &me.tenant, &id, &me.key_id, now_micros()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's waivers in force now, for an evaluation.
pub async fn in_force(st: &AppState, tenant: &str, now: i64) -> Result<Vec<WaiverRow>, Problem> {
    Ok(st.store.list_waivers(tenant, Some(now)).await?)
}
