//! Rule packs: registration, activation (which moves the tenant's generation), reading.

use super::*;
use sqlx::Row;

impl Store {
    /// Registers a pack (idempotent: a pack is immutable and addressed by its digest).
    /// Returns true when it was new.
    #[tracing::instrument(name = "store.register_pack", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, digest = %pack.digest))]
    pub async fn register_pack(
        &self,
        tenant: &str,
        pack: &NewPack,
        now: i64,
        event: Option<&NewEvent>,
    ) -> Result<bool> {
        let files =
            serde_json::to_string(&pack.files).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        in_tenant!(self, tenant, tx, |c| {
            let done = sqlx::query(
                "INSERT INTO packs (tenant, digest, name, version, files, builtin, registered_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, digest) DO NOTHING",
            )
            .bind(tenant)
            .bind(&pack.digest)
            .bind(&pack.name)
            .bind(&pack.version)
            .bind(files)
            .bind(pack.builtin)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            event_if_written!(&mut *c, tenant, done, event);
            Ok(done == 1)
        })
    }

    /// Makes a registered pack the active one. Returns the activation.
    #[tracing::instrument(name = "store.activate_pack", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, digest = digest))]
    pub async fn activate_pack(
        &self,
        tenant: &str,
        digest: &str,
        now: i64,
        event: Option<&NewEvent>,
    ) -> Result<Activation> {
        self.check_registered(tenant, digest).await?;
        // The sequence number is the key: two concurrent activations cannot both take it.
        for _ in 0..5 {
            let current = in_tenant!(self, tenant, |c| {
                sqlx::query("SELECT MAX(seq) AS seq FROM pack_activations WHERE tenant = $1")
                    .bind(tenant)
                    .fetch_one(&mut *c)
                    .await
                    .and_then(|r| r.try_get::<Option<i64>, _>("seq"))
                    .map_err(StoreError::from)
            })?;
            if let Some(a) = self
                .insert_activation(tenant, digest, now, event, current)
                .await?
            {
                return Ok(a);
            }
        }
        Err(StoreError::Db(sqlx::Error::Protocol(
            "pack activation kept losing a race; try again".into(),
        )))
    }

    /// Activates pack `digest` for `tenant` if the current activation is still `after`
    /// (its sequence number; `None`: no pack was ever activated). `None` when another
    /// activation came first: nothing is written, and the caller decides what that means.
    #[tracing::instrument(name = "store.activate_pack_after", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, digest = digest))]
    pub async fn activate_pack_after(
        &self,
        tenant: &str,
        digest: &str,
        now: i64,
        event: Option<&NewEvent>,
        after: Option<i64>,
    ) -> Result<Option<Activation>> {
        self.check_registered(tenant, digest).await?;
        self.insert_activation(tenant, digest, now, event, after)
            .await
    }

    /// `UnknownPack` unless the tenant has pack `digest` registered.
    async fn check_registered(&self, tenant: &str, digest: &str) -> Result<()> {
        let known = in_tenant!(self, tenant, |c| sqlx::query(
            "SELECT 1 FROM packs WHERE tenant = $1 AND digest = $2"
        )
        .bind(tenant)
        .bind(digest)
        .fetch_optional(&mut *c)
        .await
        .map(|r| r.is_some())
        .map_err(StoreError::from))?;
        if known {
            Ok(())
        } else {
            Err(StoreError::UnknownPack(digest.to_string()))
        }
    }

    /// Writes activation `after + 1` unless it exists.
    async fn insert_activation(
        &self,
        tenant: &str,
        digest: &str,
        now: i64,
        event: Option<&NewEvent>,
        after: Option<i64>,
    ) -> Result<Option<Activation>> {
        let seq = after.unwrap_or(0) + 1;
        let done = in_tenant!(self, tenant, tx, |c| {
            let done = sqlx::query(
                "INSERT INTO pack_activations (tenant, seq, digest, activated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, seq) DO NOTHING",
            )
            .bind(tenant)
            .bind(seq)
            .bind(digest)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            event_if_written!(&mut *c, tenant, done, event);
            Ok::<_, StoreError>(done)
        })?;
        Ok((done == 1).then(|| Activation {
            seq,
            digest: digest.to_string(),
            activated_at: now,
        }))
    }

    /// The tenant's state generation: it grows with every waiver created or revoked and
    /// every pack activation (database triggers, migration 0008). Read it before the state
    /// it guards, then write decisions with `NewDecision::generation`.
    #[tracing::instrument(name = "store.tenant_generation", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn tenant_generation(&self, tenant: &str) -> Result<i64> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query("SELECT generation FROM tenant_state WHERE tenant = $1")
                .bind(tenant)
                .fetch_optional(&mut *c)
                .await?;
            Ok(row
                .map(|r| r.try_get("generation"))
                .transpose()?
                .unwrap_or(0))
        })
    }

    /// The active pack, if one was ever activated.
    #[tracing::instrument(name = "store.active_pack", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn active_pack(&self, tenant: &str) -> Result<Option<Activation>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(
                "SELECT seq, digest, activated_at FROM pack_activations WHERE tenant = $1 \
             ORDER BY seq DESC LIMIT 1",
            )
            .bind(tenant)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    #[tracing::instrument(name = "store.get_pack", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, digest = digest))]
    pub async fn get_pack(&self, tenant: &str, digest: &str) -> Result<Option<PackRow>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(
                "SELECT digest, name, version, files, builtin, registered_at FROM packs \
             WHERE tenant = $1 AND digest = $2",
            )
            .bind(tenant)
            .bind(digest)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| {
                let files: String = r.try_get("files")?;
                Ok(PackRow {
                    summary: decode(&r)?,
                    files: serde_json::from_str(&files)
                        .map_err(|e| StoreError::Corrupt(format!("packs.files: {e}")))?,
                })
            })
            .transpose()
        })
    }

    /// Registered packs, newest first.
    #[tracing::instrument(name = "store.list_packs", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn list_packs(&self, tenant: &str) -> Result<Vec<PackSummary>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(
                "SELECT digest, name, version, builtin, registered_at FROM packs WHERE tenant = $1 \
             ORDER BY registered_at DESC, digest",
            )
            .bind(tenant)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }
}
