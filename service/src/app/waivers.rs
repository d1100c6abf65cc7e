//! Waivers: an approver grants an exception to one rule for one model (reason code,
//! justification, expiry within a year) or revokes it. The API and the web pages both call
//! [`create`] and [`revoke`].

use super::packs::{PackError, active_pack};
use super::{App, Corrupt};
use crate::store::{StoreError, WaiverRow};
use crate::time::{parse_rfc3339_micros, rfc3339_micros};
use modelgate_engine::waiver::{REASONS, validate};
use serde_json::json;

/// The longest a waiver may run.
pub const MAX_DAYS: i64 = 365;
/// Waivers expiring within this many days are flagged (status board, waiver lists).
pub const EXPIRING_DAYS: i64 = 14;

/// A waiver as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewWaiver<'a> {
    pub model_ref: &'a str,
    pub rule_id: &'a str,
    /// `None` or empty: every profile.
    pub profile: Option<&'a str>,
    pub reason: &'a str,
    pub justification: &'a str,
    pub ticket: Option<&'a str>,
    /// RFC 3339 time or a date.
    pub expires_at: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum WaiverError {
    /// The waiver is not one that may be granted (what is wrong, in words).
    #[error("{0}")]
    Invalid(String),
    #[error("there is no waiver {0} in force in this tenant")]
    NotInForce(String),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Grants a waiver, with its audit-log event; the tenant's evaluations see it at once.
pub async fn create(
    app: &App,
    tenant: &str,
    approver: &str,
    w: &NewWaiver<'_>,
    now: i64,
) -> Result<WaiverRow, WaiverError> {
    let invalid = |s: String| Err(WaiverError::Invalid(s));
    if !REASONS.contains(&w.reason) {
        return invalid(format!(
            "`reason` must be one of {}; got `{}`",
            REASONS.join(", "),
            w.reason
        ));
    }
    let justification = w.justification.trim();
    if justification.is_empty() || justification.len() > 10_000 {
        return invalid("`justification` must say why, in 1 to 10,000 characters".into());
    }
    let Some(expires_at) = parse_rfc3339_micros(w.expires_at) else {
        return invalid(format!(
            "`expires_at` must be an RFC 3339 time or a date, got `{}`",
            w.expires_at
        ));
    };
    let pack = active_pack(app, tenant).await?;
    if !pack.rules.iter().any(|r| r.def.id == w.rule_id) {
        return invalid(format!("the active rule pack has no rule `{}`", w.rule_id));
    }
    let row = WaiverRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        model_ref: w.model_ref.trim().to_string(),
        rule_id: w.rule_id.to_string(),
        profile: w.profile.filter(|p| !p.is_empty()).map(str::to_string),
        reason: w.reason.to_string(),
        justification: justification.to_string(),
        ticket: w
            .ticket
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string),
        approver: approver.to_string(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
    };
    validate(&row.to_engine(), crate::time::second_of(now), MAX_DAYS)
        .map_err(WaiverError::Invalid)?;
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
    .map_err(|e| Corrupt::new("audit event", e))?;
    app.store.insert_waiver(&row, &event).await?;
    app.tenants.forget(tenant).await;
    app.log.wake();
    Ok(row)
}

/// Revokes a waiver in force, with its audit-log event.
pub async fn revoke(
    app: &App,
    tenant: &str,
    id: &str,
    by: &str,
    now: i64,
) -> Result<(), WaiverError> {
    let event = crate::audit::event(
        "waiver_revoked",
        tenant,
        now,
        json!({"waiver_id": id, "revoked_by": by}),
    )
    .map_err(|e| Corrupt::new("audit event", e))?;
    if !app.store.revoke_waiver(tenant, id, by, now, &event).await? {
        return Err(WaiverError::NotInForce(id.to_string()));
    }
    app.tenants.forget(tenant).await;
    app.log.wake();
    Ok(())
}

/// `active`, `expired` or `revoked` at `now`.
pub fn state(w: &WaiverRow, now: i64) -> &'static str {
    if w.revoked_at.is_some() {
        "revoked"
    } else if w.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

/// In force and expiring within [`EXPIRING_DAYS`].
pub fn expiring_soon(w: &WaiverRow, now: i64) -> bool {
    state(w, now) == "active" && w.expires_at - now <= EXPIRING_DAYS * 86_400 * 1_000_000
}

/// The waivers of `waivers` in force that cover `model_ref` under `profile` and expire within
/// [`EXPIRING_DAYS`] (the status board flags them).
pub fn expiring_for<'a>(
    waivers: &'a [WaiverRow],
    model_ref: &'a str,
    profile: Option<&'a str>,
    now: i64,
) -> impl Iterator<Item = &'a WaiverRow> + 'a {
    waivers.iter().filter(move |w| {
        expiring_soon(w, now)
            && w.to_engine()
                .covers(model_ref, profile, crate::time::second_of(now))
    })
}
