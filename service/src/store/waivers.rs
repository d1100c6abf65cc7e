//! Waivers: created and revoked with their audit events.

use super::{NewEvent, Pool, Result, Store, StoreError, decode};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WaiverRow {
    pub id: String,
    pub tenant: String,
    pub model_ref: String,
    pub rule_id: String,
    pub profile: Option<String>,
    pub reason: String,
    pub justification: String,
    pub ticket: Option<String>,
    pub approver: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

impl WaiverRow {
    /// The engine's view, at whole seconds as evaluations run (a waiver granted at
    /// 10.7 s applies to an evaluation at 10.2 s, which runs at 10 s).
    pub fn to_engine(&self) -> modelgate_engine::waiver::Waiver {
        use crate::time::second_of;
        modelgate_engine::waiver::Waiver {
            id: self.id.clone(),
            model_ref: self.model_ref.clone(),
            rule_id: self.rule_id.clone(),
            profile: self.profile.clone(),
            created_at: Some(second_of(self.created_at)),
            expires_at: second_of(self.expires_at),
            revoked_at: self.revoked_at.map(second_of),
        }
    }
}

const WAIVER_COLUMNS: &str = "id, tenant, model_ref, rule_id, profile, reason, justification, \
    ticket, approver, created_at, expires_at, revoked_at, revoked_by";

impl Store {
    #[tracing::instrument(name = "store.insert_waiver", skip_all, fields(backend = self.backend().as_str(), tenant = %w.tenant, waiver_id = %w.id))]
    pub async fn insert_waiver(&self, w: &WaiverRow, event: &NewEvent) -> Result<()> {
        in_tenant!(self, &w.tenant, tx, |c| {
            sqlx::query(&format!(
                "INSERT INTO waivers ({WAIVER_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ))
            .bind(&w.id)
            .bind(&w.tenant)
            .bind(&w.model_ref)
            .bind(&w.rule_id)
            .bind(&w.profile)
            .bind(&w.reason)
            .bind(&w.justification)
            .bind(&w.ticket)
            .bind(&w.approver)
            .bind(w.created_at)
            .bind(w.expires_at)
            .bind(w.revoked_at)
            .bind(&w.revoked_by)
            .execute(&mut *c)
            .await?;
            insert_event_in!(&mut *c, &w.tenant, event);
            Ok(())
        })
    }

    pub async fn get_waiver(&self, tenant: &str, id: &str) -> Result<Option<WaiverRow>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(&format!(
                "SELECT {WAIVER_COLUMNS} FROM waivers WHERE tenant = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// The tenant's waivers, newest first (`active_at`: only those in force then).
    pub async fn list_waivers(
        &self,
        tenant: &str,
        active_at: Option<i64>,
    ) -> Result<Vec<WaiverRow>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {WAIVER_COLUMNS} FROM waivers WHERE tenant = $1 \
                 AND ($2 IS NULL OR (revoked_at IS NULL AND expires_at > $2 AND created_at <= $2)) \
                 ORDER BY id DESC LIMIT 10000"
            ))
            .bind(tenant)
            .bind(active_at)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Waivers by id (any state), for replaying a decision that used them.
    pub async fn waivers_by_id(&self, tenant: &str, ids: &[String]) -> Result<Vec<WaiverRow>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(w) = self.get_waiver(tenant, id).await? {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// Revokes a waiver (with its audit event). False when the tenant has no such waiver in
    /// force.
    pub async fn revoke_waiver(
        &self,
        tenant: &str,
        id: &str,
        by: &str,
        now: i64,
        event: &NewEvent,
    ) -> Result<bool> {
        in_tenant!(self, tenant, tx, |c| {
            let done = sqlx::query(
                "UPDATE waivers SET revoked_at = $1, revoked_by = $2 \
                 WHERE tenant = $3 AND id = $4 AND revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(by)
            .bind(tenant)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if done == 1 {
                insert_event_in!(&mut *c, tenant, event);
            }
            Ok::<_, StoreError>(done == 1)
        })
    }
}
