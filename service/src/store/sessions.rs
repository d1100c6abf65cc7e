//! Sessions of the web dashboard: who signed in with which API key. The browser holds the
//! session id; the table holds its hash, so neither the id nor the key is stored.

use super::{Pool, Result, Store, StoreError, decode};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// Hex SHA-256 of the session id the cookie holds.
    pub id_hash: String,
    pub tenant: String,
    /// The API key the session was opened with.
    pub key_id: String,
    /// The token every form of the session carries (CSRF).
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const SESSION_COLUMNS: &str = "id_hash, tenant, key_id, csrf, created_at, expires_at";

impl Store {
    /// Opens a session (and drops every expired one, of any tenant).
    #[tracing::instrument(name = "store.insert_session", skip_all, fields(backend = self.backend().as_str(), tenant = %s.tenant))]
    pub async fn insert_session(&self, s: &SessionRow) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                .bind(s.created_at)
                .execute(p)
                .await?;
            Ok::<_, StoreError>(())
        })?;
        in_tenant!(self, &s.tenant, |c| {
            sqlx::query(&format!(
                "INSERT INTO web_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(&s.id_hash)
            .bind(&s.tenant)
            .bind(&s.key_id)
            .bind(&s.csrf)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
    }

    /// A session by its id hash, whatever its tenant (to authenticate a page request);
    /// `None` when there is none or it expired before `now`.
    #[tracing::instrument(name = "store.session", skip_all, fields(backend = self.backend().as_str()))]
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        on_pool!(self, |p| {
            let row = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM web_sessions WHERE id_hash = $1 AND expires_at > $2"
            ))
            .bind(id_hash)
            .bind(now)
            .fetch_optional(p)
            .await?;
            row.map(|r| decode(&r)).transpose()
        })
    }

    /// Ends a session (signing out). False when there was none.
    #[tracing::instrument(name = "store.delete_session", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn delete_session(&self, tenant: &str, id_hash: &str) -> Result<bool> {
        in_tenant!(self, tenant, |c| {
            let done = sqlx::query("DELETE FROM web_sessions WHERE tenant = $1 AND id_hash = $2")
                .bind(tenant)
                .bind(id_hash)
                .execute(&mut *c)
                .await?
                .rows_affected();
            Ok(done == 1)
        })
    }
}
