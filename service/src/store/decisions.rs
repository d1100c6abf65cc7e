//! Recorded decisions: written under the tenant's current generation, with their
//! audit-log queue entry; read and listed.

use super::*;
use sqlx::Row;

impl Store {
    /// Records a decision. With an idempotency key, a repeat of the same request returns
    /// the first decision ([`Inserted::Replayed`]) and a different request under the same
    /// key is [`StoreError::IdempotencyConflict`].
    #[tracing::instrument(name = "store.insert_decision", skip_all, fields(backend = self.backend().as_str(), tenant = d.tenant, decision_id = d.id, model_ref = d.model_ref, verdict = d.verdict))]
    pub async fn insert_decision(&self, d: &NewDecision<'_>) -> Result<Inserted> {
        let done = in_tenant!(self, d.tenant, |c| {
            sqlx::query(
            "INSERT INTO decisions (id, tenant, model_ref, model_version, profile, verdict, format, \
             document, record, context, decision, pack_digest, engine_version, input_digest, \
             created_at, requested_by, idempotency_key, request_digest, trace_id, leaf_hash) \
             SELECT $1, $2, $3, COALESCE($4, (SELECT CASE WHEN v.document_digest = $22 THEN v.version END \
               FROM model_versions v WHERE v.tenant = $2 AND v.model_ref = $3 ORDER BY v.version DESC LIMIT 1)), \
             $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20 \
             WHERE $21 IS NULL OR $21 = COALESCE((SELECT generation FROM tenant_state WHERE tenant = $2), 0) \
             ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
             RETURNING model_version"
        )
        .bind(d.id)
        .bind(d.tenant)
        .bind(d.model_ref)
        .bind(d.model_version)
        .bind(d.profile.unwrap_or(""))
        .bind(d.verdict)
        .bind(d.format)
        .bind(d.document)
        .bind(d.record_json)
        .bind(d.context_json)
        .bind(d.decision_json)
        .bind(d.pack_digest)
        .bind(d.engine_version)
        .bind(d.input_digest)
        .bind(d.created_at)
        .bind(d.requested_by)
        .bind(d.idempotency_key)
        .bind(d.request_digest)
        .bind(d.trace_id)
        .bind(d.leaf_hash.map(|h| h.to_vec()))
        .bind(d.generation)
        .bind(d.link_digest)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| r.try_get::<Option<i64>, _>("model_version"))
        .transpose()
        .map_err(StoreError::from)
        })?;
        if let Some(model_version) = done {
            // The row is what was written: no second round trip to read it back.
            let mut row = d.to_row();
            row.model_version = model_version;
            return Ok(Inserted::New(row));
        }
        // Not written: a stale generation, or an earlier decision under the same key.
        let Some(key) = d.idempotency_key else {
            return Ok(Inserted::Stale);
        };
        in_tenant!(self, d.tenant, |c| {
            let row = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions d WHERE d.tenant = $1 AND d.idempotency_key = $2"
        ))
        .bind(d.tenant)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?;
            let Some(first) = row.map(|r| decode::<DecisionRow, _>(&r)).transpose()? else {
                return Ok(Inserted::Stale);
            };
            if first.request_digest.as_deref() == d.request_digest {
                Ok(Inserted::Replayed(first))
            } else {
                Err(StoreError::IdempotencyConflict(key.to_string()))
            }
        })
    }

    #[tracing::instrument(name = "store.get_decision", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, decision_id = id))]
    pub async fn get_decision(&self, tenant: &str, id: &str) -> Result<Option<DecisionRow>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d WHERE d.tenant = $1 AND d.id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// Decisions, newest first, filtered; `after` is the last id of the previous page.
    #[tracing::instrument(name = "store.list_decisions", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, limit = limit))]
    pub async fn list_decisions(
        &self,
        tenant: &str,
        f: &DecisionFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DecisionRow>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d WHERE d.tenant = $1 \
             AND ($2 IS NULL OR d.model_ref = $2) AND ($3 IS NULL OR d.verdict = $3) \
             AND ($4 IS NULL OR d.created_at >= $4) AND ($5 IS NULL OR d.created_at < $5) \
             AND ($6 IS NULL OR d.profile = $6) AND ($7 IS NULL OR d.id < $7) \
             ORDER BY d.id DESC LIMIT $8"
            ))
            .bind(tenant)
            .bind(f.model_ref.as_deref())
            .bind(f.verdict.as_deref())
            .bind(f.from)
            .bind(f.until)
            .bind(f.profile.as_deref())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Decisions awaiting a review (verdict `review`, none recorded), oldest first.
    #[tracing::instrument(name = "store.pending_reviews", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, limit = limit))]
    pub async fn pending_reviews(&self, tenant: &str, limit: u32) -> Result<Vec<DecisionRow>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d \
                 LEFT JOIN reviews r ON r.tenant = d.tenant AND r.decision_id = d.id \
                 WHERE d.tenant = $1 AND d.verdict = 'review' AND r.id IS NULL \
                 ORDER BY d.id LIMIT $2"
            ))
            .bind(tenant)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }
}
