//! API keys: only hashes are stored. Creating and revoking a key are audit events, written
//! in the same transaction.

use super::{Backend, NewEvent, Pool, Result, Store, StoreError, decode};

/// A key as stored (no secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub tenant: String,
    pub role: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_by: Option<String>,
}

const KEY_COLUMNS: &str =
    "id, tenant, role, secret_hash, created_at, expires_at, revoked_at, created_by";

impl Store {
    /// Stores a new key (and its audit event).
    #[tracing::instrument(name = "store.insert_key", skip_all, fields(backend = self.backend().as_str(), tenant = %k.tenant, key_id = %k.id))]
    pub async fn insert_key(&self, k: &KeyRow, event: Option<&NewEvent>) -> Result<()> {
        self.insert_key_if(k, event, false).await.map(|_| ())
    }

    /// Inserts `k` only if there is no key at all (the first admin key), atomically across
    /// processes: on PostgreSQL under a table lock, on SQLite in one statement. False when a
    /// key existed (nothing written).
    pub async fn insert_first_key(&self, k: &KeyRow, event: &NewEvent) -> Result<bool> {
        self.insert_key_if(k, Some(event), true).await
    }

    async fn insert_key_if(
        &self,
        k: &KeyRow,
        event: Option<&NewEvent>,
        only_first: bool,
    ) -> Result<bool> {
        // The body, for a tenant's transaction or (the first key, which must see every
        // tenant's keys) one with the connecting user's own rights.
        macro_rules! insert {
            ($c:ident) => {{
                if only_first && self.backend() == Backend::Postgres {
                    // Blocks a concurrent first start's insert until this one commits.
                    sqlx::query("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *$c)
                        .await?;
                }
                let done = sqlx::query(&format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                     WHERE NOT $9 OR NOT EXISTS (SELECT 1 FROM api_keys)"
                ))
                .bind(&k.id)
                .bind(&k.tenant)
                .bind(&k.role)
                .bind(&k.secret_hash)
                .bind(k.created_at)
                .bind(k.expires_at)
                .bind(k.revoked_at)
                .bind(&k.created_by)
                .bind(only_first)
                .execute(&mut *$c)
                .await?
                .rows_affected();
                event_if_written!(&mut *$c, &k.tenant, done, event);
                Ok::<_, StoreError>(done == 1)
            }};
        }
        if !only_first {
            return in_tenant!(self, &k.tenant, tx, |c| insert!(c));
        }
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let c = &mut *tx;
            let done = insert!(c)?;
            tx.commit().await?;
            Ok(done)
        })
    }

    /// A key by its public id, whatever its tenant (for authentication).
    #[tracing::instrument(name = "store.key", skip_all, fields(backend = self.backend().as_str(), key_id = id))]
    pub async fn key_by_id(&self, id: &str) -> Result<Option<KeyRow>> {
        on_pool!(self, |p| {
            let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// The tenant's keys, oldest first.
    pub async fn list_keys(&self, tenant: &str) -> Result<Vec<KeyRow>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = $1 ORDER BY created_at, id"
            ))
            .bind(tenant)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Every key (for `modelgate keys list`).
    pub async fn all_keys(&self) -> Result<Vec<KeyRow>> {
        on_pool!(self, |p| {
            let rows = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY tenant, created_at, id"
            ))
            .fetch_all(p)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Revokes the tenant's key `id` (with its audit event). False when the tenant has no
    /// such key or it was revoked already.
    pub async fn revoke_key(
        &self,
        tenant: &str,
        id: &str,
        now: i64,
        event: Option<&NewEvent>,
    ) -> Result<bool> {
        in_tenant!(self, tenant, tx, |c| {
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = $1 WHERE tenant = $2 AND id = $3 \
                 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(tenant)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected();
            event_if_written!(&mut *c, tenant, done, event);
            Ok::<_, StoreError>(done == 1)
        })
    }

    /// How many keys exist (revoked ones included).
    pub async fn count_keys(&self) -> Result<u64> {
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM api_keys"
        )
        .fetch_one(p)
        .await)
        .map(|n| n as u64)
        .map_err(Into::into)
    }
}
