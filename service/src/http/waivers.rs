//! Waivers: `POST /v1/waivers`, `GET /v1/waivers`, `GET /v1/waivers/{id}`,
//! `DELETE /v1/waivers/{id}` (revoke). Approvers grant and revoke; everyone reads.

use super::AppState;
use super::auth::principal;
use super::problem::{Problem, ProblemType};
use super::request::{Items, JsonBody, Reply, tenant};
use crate::app::packs::active_pack;
use crate::store::WaiverRow;
use crate::time::{Rfc3339, now_micros, parse_rfc3339_micros, rfc3339_micros};
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::waiver::{REASONS, validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

type Data = web::Data<AppState>;

/// The longest a waiver may run.
pub const MAX_DAYS: i64 = 365;
/// Waivers expiring within this many days are flagged on the status board.
pub const EXPIRING_DAYS: i64 = 14;

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
    let state = if w.revoked_at.is_some() {
        "revoked"
    } else if w.expires_at <= now {
        "expired"
    } else {
        "active"
    };
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
        expiring_soon: state == "active"
            && w.expires_at - now <= EXPIRING_DAYS * 86_400 * 1_000_000,
    }
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::InvalidWaiver, detail)
}

pub async fn create_waiver(req: HttpRequest, st: Data, body: JsonBody<WaiverIn>) -> Reply {
    let body: WaiverIn = body.value;
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    let tenant = &tenant(&req)?;
    let now = now_micros();
    if !REASONS.contains(&body.reason.as_str()) {
        return Err(invalid(format!(
            "`reason` must be one of {}; got `{}`",
            REASONS.join(", "),
            body.reason
        )));
    }
    let justification = body.justification.trim();
    if justification.is_empty() || justification.len() > 10_000 {
        return Err(invalid(
            "`justification` must say why, in 1 to 10,000 characters",
        ));
    }
    let expires_at = parse_rfc3339_micros(&body.expires_at).ok_or_else(|| {
        invalid(format!(
            "`expires_at` must be an RFC 3339 time or a date, got `{}`",
            body.expires_at
        ))
    })?;
    let pack = active_pack(&st, tenant).await?;
    if !pack.rules.iter().any(|r| r.def.id == body.rule_id) {
        return Err(invalid(format!(
            "the active rule pack has no rule `{}`",
            body.rule_id
        )));
    }
    let row = WaiverRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        model_ref: body.model_ref.trim().to_string(),
        rule_id: body.rule_id.clone(),
        profile: body.profile.clone().filter(|p| !p.is_empty()),
        reason: body.reason.clone(),
        justification: justification.to_string(),
        ticket: body.ticket.clone().filter(|t| !t.trim().is_empty()),
        approver: me.key_id.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
    };
    validate(&row.to_engine(), crate::time::second_of(now), MAX_DAYS).map_err(invalid)?;
    let event = crate::audit::event(
        "waiver_created",
        tenant,
        now,
        json!({
            "waiver_id": row.id,
            "model_ref": row.model_ref,
            "rule_id": row.rule_id,
            "profile": row.profile,
            "reason": row.reason,
            "justification": row.justification,
            "ticket": row.ticket,
            "approver": row.approver,
            "expires_at": rfc3339_micros(row.expires_at),
        }),
    )
    .map_err(Problem::internal)?;
    st.store.insert_waiver(&row, &event).await?;
    st.tenants.forget(tenant).await;
    st.log.wake();
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
    let tenant = &tenant(&req)?;
    let now = now_micros();
    let event = crate::audit::event(
        "waiver_revoked",
        tenant,
        now,
        json!({"waiver_id": id, "revoked_by": me.key_id}),
    )
    .map_err(Problem::internal)?;
    if !st
        .store
        .revoke_waiver(tenant, &id, &me.key_id, now, &event)
        .await?
    {
        return Err(Problem::not_found(format!(
            "there is no waiver {id} in force in this tenant"
        )));
    }
    st.tenants.forget(tenant).await;
    st.log.wake();
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's waivers in force now, for an evaluation.
pub async fn in_force(st: &AppState, tenant: &str, now: i64) -> Result<Vec<WaiverRow>, Problem> {
    Ok(st.store.list_waivers(tenant, Some(now)).await?)
}
