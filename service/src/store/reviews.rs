//! Reviews: one per decision, append-only, written with their audit event.

use super::{NewEvent, Pool, Result, Store, StoreError, decode};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: String,
    pub tenant: String,
    pub decision_id: String,
    pub model_ref: String,
    /// `""` for an ad-hoc context.
    pub profile: String,
    pub outcome: String,
    pub justification: String,
    /// JSON array of strings.
    pub conditions: Option<String>,
    pub reviewer: String,
    pub created_at: i64,
}

const REVIEW_COLUMNS: &str = "id, tenant, decision_id, model_ref, profile, outcome, \
    justification, conditions, reviewer, created_at";

impl Store {
    /// Records a review and its audit event. False when the decision has one already.
    #[tracing::instrument(name = "store.insert_review", skip_all, fields(backend = self.backend().as_str(), tenant = %r.tenant, decision_id = %r.decision_id))]
    pub async fn insert_review(&self, r: &ReviewRow, event: &NewEvent) -> Result<bool> {
        in_tenant!(self, &r.tenant, tx, |c| {
            let done = sqlx::query(&format!(
                "INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (tenant, decision_id) DO NOTHING"
            ))
            .bind(&r.id)
            .bind(&r.tenant)
            .bind(&r.decision_id)
            .bind(&r.model_ref)
            .bind(&r.profile)
            .bind(&r.outcome)
            .bind(&r.justification)
            .bind(&r.conditions)
            .bind(&r.reviewer)
            .bind(r.created_at)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if done == 1 {
                insert_event_in!(&mut *c, &r.tenant, event);
            }
            Ok::<_, StoreError>(done == 1)
        })
    }

    /// The review of a decision, if any.
    pub async fn review_of(&self, tenant: &str, decision_id: &str) -> Result<Option<ReviewRow>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(&format!(
                "SELECT {REVIEW_COLUMNS} FROM reviews WHERE tenant = $1 AND decision_id = $2"
            ))
            .bind(tenant)
            .bind(decision_id)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// The reviews of a model's decisions.
    pub async fn reviews_of_model(&self, tenant: &str, model_ref: &str) -> Result<Vec<ReviewRow>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {REVIEW_COLUMNS} FROM reviews WHERE tenant = $1 AND model_ref = $2"
            ))
            .bind(tenant)
            .bind(model_ref)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }
}
