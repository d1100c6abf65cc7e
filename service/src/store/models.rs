//! The model registry: metadata versions and the status board.

use super::*;
use sqlx::Row;

impl Store {
    /// Records a metadata version of a model. When the document is byte-identical to the
    /// latest version, no new version is made and the latest is returned.
    #[tracing::instrument(name = "store.put_model_version", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, model_ref = v.model_ref))]
    pub async fn put_model_version(
        &self,
        tenant: &str,
        v: &NewModelVersion<'_>,
        now: i64,
    ) -> Result<(ModelVersion, bool)> {
        for _ in 0..5 {
            if let Some(latest) = self.latest_model_version(tenant, v.model_ref).await?
                && latest.document_digest == v.document_digest
                && latest.format == v.format
            {
                return Ok((latest, false));
            }
            let next = in_tenant!(self, tenant, |c| sqlx::query(
                "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions \
                 WHERE tenant = $1 AND model_ref = $2"
            )
            .bind(tenant)
            .bind(v.model_ref)
            .fetch_one(&mut *c)
            .await
            .and_then(|r| r.try_get::<i64, _>("next"))
            .map_err(StoreError::from))?;
            let done = in_tenant!(self, tenant, |c| {
                sqlx::query(
                "INSERT INTO model_versions \
                 (tenant, model_ref, version, format, document, record, document_digest, created_at, \
                  license) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (tenant, model_ref, version) DO NOTHING"
            )
            .bind(tenant)
            .bind(v.model_ref)
            .bind(next)
            .bind(v.format)
            .bind(v.document)
            .bind(v.record_json)
            .bind(v.document_digest)
            .bind(now)
            .bind(v.license.filter(|l| !l.is_empty()))
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::from)
            })?;
            if done == 1 {
                return Ok((
                    ModelVersion {
                        model_ref: v.model_ref.to_string(),
                        version: next,
                        format: v.format.to_string(),
                        document: v.document.to_vec(),
                        record: v.record_json.to_string(),
                        document_digest: v.document_digest.to_string(),
                        created_at: now,
                        license: v.license.filter(|l| !l.is_empty()).map(str::to_string),
                    },
                    true,
                ));
            }
        }
        Err(StoreError::Db(sqlx::Error::Protocol(
            "model version kept losing a race; try again".into(),
        )))
    }

    #[tracing::instrument(name = "store.latest_model_version", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, model_ref = model_ref))]
    pub async fn latest_model_version(
        &self,
        tenant: &str,
        model_ref: &str,
    ) -> Result<Option<ModelVersion>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(&format!(
                "SELECT {MODEL_VERSION_COLUMNS} \
             FROM model_versions WHERE tenant = $1 AND model_ref = $2 ORDER BY version DESC LIMIT 1"
            ))
            .bind(tenant)
            .bind(model_ref)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// The latest metadata version of every registered model, by model reference.
    #[tracing::instrument(name = "store.latest_versions", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn latest_versions(&self, tenant: &str) -> Result<Vec<ModelVersion>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {} FROM model_versions v \
                 JOIN (SELECT model_ref, MAX(version) AS version FROM model_versions \
                       WHERE tenant = $1 GROUP BY model_ref) m \
                   ON m.model_ref = v.model_ref AND m.version = v.version \
                 WHERE v.tenant = $1 ORDER BY v.model_ref",
                qualified(MODEL_VERSION_COLUMNS, "v")
            ))
            .bind(tenant)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Every metadata version of a model, oldest first (empty: not registered).
    #[tracing::instrument(name = "store.model_versions", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, model_ref = model_ref))]
    pub async fn model_versions(&self, tenant: &str, model_ref: &str) -> Result<Vec<ModelVersion>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {MODEL_VERSION_COLUMNS} \
             FROM model_versions WHERE tenant = $1 AND model_ref = $2 ORDER BY version"
            ))
            .bind(tenant)
            .bind(model_ref)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// The status board: one row per registered model and profile it was evaluated under
    /// (a model never evaluated has one row without a decision), ordered by model and
    /// profile, after the cursor, at most `limit` rows. `active_pack` decides staleness.
    #[tracing::instrument(name = "store.status_board", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, limit = limit))]
    pub async fn status_board(
        &self,
        tenant: &str,
        active_pack: &str,
        filter: &BoardFilter,
        after: Option<&BoardCursor>,
        limit: u32,
    ) -> Result<Vec<BoardRow>> {
        self.board(tenant, active_pack, filter, after, limit, None)
            .await
    }

    /// The board rows of one model (one per profile it was evaluated under).
    #[tracing::instrument(name = "store.model_status", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, model_ref = model_ref))]
    pub async fn model_status(
        &self,
        tenant: &str,
        active_pack: &str,
        model_ref: &str,
    ) -> Result<Vec<BoardRow>> {
        self.board(
            tenant,
            active_pack,
            &BoardFilter::default(),
            None,
            10_000,
            Some(model_ref),
        )
        .await
    }

    async fn board(
        &self,
        tenant: &str,
        active_pack: &str,
        filter: &BoardFilter,
        after: Option<&BoardCursor>,
        limit: u32,
        model: Option<&str>,
    ) -> Result<Vec<BoardRow>> {
        let (after_model, after_profile) = match after {
            Some(c) => (Some(c.model_ref.as_str()), c.profile.as_str()),
            None => (None, ""),
        };
        let search = filter.search.as_deref().map(|q| {
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        // The models a page can need: `limit` of them after the cursor's own model (whose
        // rows may all be on the previous page), unless rows are filtered by what is known
        // only once each model's decisions are read.
        let models = if filter.status.is_none() && filter.profile.is_none() {
            i64::from(limit) + 1
        } else {
            i64::MAX
        };
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(BOARD_SQL)
                .bind(tenant)
                .bind(active_pack)
                .bind(filter.status.map(ModelStatus::as_str))
                .bind(after_model)
                .bind(after_profile)
                .bind(i64::from(limit))
                .bind(model)
                .bind(search.as_deref())
                .bind(filter.license.as_deref())
                .bind(filter.profile.as_deref())
                .bind(models)
                .fetch_all(&mut *c)
                .await?;
            rows.iter()
                .map(|r| {
                    let mut row: BoardRow = decode(r)?;
                    // The review's columns are all NULL when there is none.
                    row.review = match r.try_get::<Option<String>, _>("review_id")? {
                        None => None,
                        Some(id) => Some(BoardReview {
                            id,
                            outcome: r.try_get("review_outcome")?,
                            reviewer: r.try_get("reviewer")?,
                            reviewed_at: r.try_get("reviewed_at")?,
                        }),
                    };
                    Ok(row)
                })
                .collect()
        })
    }
}

/// The status of a (model, profile) pair on the board, computed in SQL so that a status
/// filter still returns full pages. Each registered model's latest version is joined to
/// the latest decision of each profile it was evaluated under (both found through their
/// primary-key and `decisions_by_model` indexes). Every registered model has at least one
/// row, so without a status or profile filter the first `limit` models (`$11`) hold the
/// page: the query reads those and no more, whatever the planner knows of the tables.
const BOARD_SQL: &str = "\
SELECT model_ref, latest_version, license, profile, decision_id, verdict, decided_at,
       pack_digest, model_version, review_id, review_outcome, reviewer, reviewed_at, status
FROM (
    SELECT m.model_ref, m.version AS latest_version, m.license,
           COALESCE(d.profile, '') AS profile,
           d.id AS decision_id, d.verdict, d.created_at AS decided_at, d.pack_digest,
           d.model_version, r.id AS review_id, r.outcome AS review_outcome,
           r.reviewer AS reviewer, r.created_at AS reviewed_at,
           CASE
               WHEN d.id IS NULL THEN 'unevaluated'
               WHEN d.pack_digest <> $2 OR d.model_version IS NULL
                    OR d.model_version <> m.version THEN 'stale'
               WHEN d.verdict = 'allow' THEN 'approved'
               WHEN d.verdict = 'conditional' THEN 'conditional'
               WHEN d.verdict = 'review' AND r.outcome = 'approve' AND r.conditions IS NULL
                    THEN 'approved'
               WHEN d.verdict = 'review' AND r.outcome = 'approve' THEN 'conditional'
               WHEN d.verdict = 'review' AND r.outcome = 'reject' THEN 'rejected'
               WHEN d.verdict = 'review' THEN 'pending_review'
               ELSE 'rejected'
           END AS status
    FROM (
        SELECT v.model_ref, v.version, v.license FROM model_versions v
        WHERE v.tenant = $1
          AND v.version = (SELECT MAX(w.version) FROM model_versions w
                           WHERE w.tenant = $1 AND w.model_ref = v.model_ref)
          AND ($7 IS NULL OR v.model_ref = $7)
          AND ($8 IS NULL OR LOWER(v.model_ref) LIKE $8 ESCAPE '\\')
          AND ($9 IS NULL OR LOWER(v.license) = LOWER($9))
          AND ($4 IS NULL OR v.model_ref >= $4)
        ORDER BY v.model_ref
        LIMIT $11
    ) m
    LEFT JOIN decisions d ON d.tenant = $1 AND d.model_ref = m.model_ref
        AND d.id = (SELECT MAX(x.id) FROM decisions x
                    WHERE x.tenant = $1 AND x.model_ref = d.model_ref AND x.profile = d.profile)
    LEFT JOIN reviews r ON r.tenant = $1 AND r.decision_id = d.id
) board
WHERE ($3 IS NULL OR status = $3) AND ($10 IS NULL OR profile = $10)
  AND ($4 IS NULL OR model_ref > $4 OR (model_ref = $4 AND profile > $5))
ORDER BY model_ref, profile
LIMIT $6";
