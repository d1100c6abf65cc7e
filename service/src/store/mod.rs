//! Storage: the only module that speaks SQL.
//!
//! One [`Store`] over two backends: embedded SQLite (a file in the data directory, the
//! default) and PostgreSQL (`DATABASE_URL=postgres://…`). Every query is written once and
//! run on either pool (the [`on_pool!`] macro); the two migration folders
//! (`migrations/sqlite`, `migrations/postgres`) carry the same versions and names. Every
//! row belongs to a tenant, and every query is scoped by the tenant passed in (which the
//! HTTP layer takes from the credential, never from the request).

mod rows;

pub use rows::*;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Errors of the storage layer. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "unsupported database URL scheme `{0}` (expected postgres://, postgresql:// or sqlite:)"
    )]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the idempotency key `{0}` was already used with a different request")]
    IdempotencyConflict(String),
    #[error("rule pack {0} is not registered")]
    UnknownPack(String),
    #[error("the cursor is not one this server issued")]
    BadCursor,
    #[error("stored row is not what this version expects: {0}")]
    Corrupt(String),
    #[error("`{0}` is not a tenant name (1 to 64 of a-z, 0-9, -, _ and .)")]
    BadTenant(String),
    #[error(
        "the database user may not switch to the role modelgate_app, which tenant-scoped \
         work runs under ({0}); run `GRANT modelgate_app TO <user>` as its owner"
    )]
    NoAppRole(String),
}

impl StoreError {
    /// The database has no modelgate tables (never migrated, or not modelgate's).
    pub fn is_missing_table(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => {
                d.code().as_deref() == Some("42P01") || d.message().starts_with("no such table")
            }
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    /// The connecting user's own pool (migrations, work across tenants), and the pool of
    /// tenant-scoped work, whose connections are switched to the role `modelgate_app`
    /// for good (see [`in_tenant!`]).
    Postgres(PgPool, PgPool),
}

/// The database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

/// Runs the same code on whichever pool the store holds. The body is compiled once per
/// backend, so a query is written once and must be valid SQL for both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool, _) => $body,
        }
    };
}

/// Runs `body` for one tenant, with `$c` a `&mut` connection of either backend (use it
/// as `&mut *$c`); evaluates to the body's value, a [`Result`]. Write
/// `in_tenant!(store, tenant, tx, |c| …)` when the body makes more than one write that must
/// land together: it then runs in a transaction, which commits when the body returns `Ok`
/// and rolls back otherwise.
///
/// On PostgreSQL the body runs on a connection of the tenant pool, whose sessions were
/// switched to the role `modelgate_app` when they connected, after declaring the tenant
/// (`modelgate.tenant`; for the session, or with `tx` for the transaction, in its `BEGIN`).
/// Row-level security (migration 0011) then holds every statement to that tenant's rows,
/// whatever its `WHERE` clause says. Every query of the tenant pool that touches a table
/// goes through here (the readiness ping only runs `SELECT 1`), so a connection never
/// reads or writes under the tenant a previous use declared. On SQLite (no row-level
/// security) the body runs on a pooled connection.
macro_rules! in_tenant {
    ($store:expr, $tenant:expr, |$c:ident| $body:expr) => {
        in_tenant!(@run $store, $tenant, false, acquire, |$c| $body)
    };
    ($store:expr, $tenant:expr, tx, |$c:ident| $body:expr) => {
        in_tenant!(@run $store, $tenant, true, begin, |$c| $body)
    };
    (@run $store:expr, $tenant:expr, $tx:expr, $open_sqlite:ident, |$c:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(p) => {
                let mut conn = p.$open_sqlite().await?;
                let out: $crate::store::Result<_> = {
                    let $c: &mut sqlx::SqliteConnection = &mut conn;
                    $body
                };
                if out.is_ok() {
                    $crate::store::Finish::finish(conn).await?;
                }
                out
            }
            Pool::Postgres(_, p) => {
                let mut conn = $crate::store::TenantConn::open(p, $tenant, $tx).await?;
                let out: $crate::store::Result<_> = {
                    let $c: &mut sqlx::PgConnection = conn.connection();
                    $body
                };
                if out.is_ok() {
                    conn.finish().await?;
                }
                out
            }
        }
    };
}

/// A connection of the tenant pool with its tenant declared (see [`in_tenant!`]).
pub(crate) enum TenantConn {
    Session(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Tx(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl TenantConn {
    /// One round trip either way: `SELECT set_config(…)` for the session, or a `BEGIN`
    /// that also sets it for the transaction.
    pub(crate) async fn open(pool: &PgPool, tenant: &str, tx: bool) -> Result<TenantConn> {
        let tenant = checked_tenant(tenant)?;
        if tx {
            let begin = format!("BEGIN; SET LOCAL modelgate.tenant = '{tenant}'");
            return Ok(TenantConn::Tx(pool.begin_with(begin).await?));
        }
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT set_config('modelgate.tenant', $1, false)")
            .bind(tenant)
            .execute(&mut *conn)
            .await?;
        Ok(TenantConn::Session(conn))
    }

    pub(crate) fn connection(&mut self) -> &mut sqlx::PgConnection {
        match self {
            TenantConn::Session(c) => c,
            TenantConn::Tx(t) => t,
        }
    }

    pub(crate) async fn finish(self) -> std::result::Result<(), sqlx::Error> {
        match self {
            TenantConn::Session(_) => Ok(()),
            TenantConn::Tx(t) => t.commit().await,
        }
    }
}

/// A tenant name as the store accepts it: 1 to 64 of `a-z A-Z 0-9 - _ .` (checked rather
/// than quoted where it goes into SQL text).
fn checked_tenant(tenant: &str) -> Result<&str> {
    let plain = (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if plain {
        Ok(tenant)
    } else {
        Err(StoreError::BadTenant(tenant.to_string()))
    }
}

/// How [`in_tenant!`] ends a SQLite unit of work: a pooled connection goes back to the
/// pool, a transaction commits.
pub(crate) trait Finish {
    async fn finish(self) -> std::result::Result<(), sqlx::Error>;
}

impl Finish for sqlx::pool::PoolConnection<sqlx::Sqlite> {
    async fn finish(self) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }
}

impl Finish for sqlx::Transaction<'static, sqlx::Sqlite> {
    async fn finish(self) -> std::result::Result<(), sqlx::Error> {
        self.commit().await
    }
}

/// After a write of `done` rows: its audit event, if there is one and a row was written.
macro_rules! event_if_written {
    ($exec:expr, $tenant:expr, $done:expr, $event:expr) => {
        if $done == 1
            && let Some(ev) = $event
        {
            insert_event_in!($exec, $tenant, ev);
        }
    };
}

/// Inserts an audit event (its queue row follows by trigger) on an executor of either
/// backend, typically a transaction that also writes what the event records.
macro_rules! insert_event_in {
    ($exec:expr, $tenant:expr, $ev:expr) => {
        sqlx::query(
            "INSERT INTO log_events (id, tenant, kind, leaf_hash, leaf, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&$ev.id)
        .bind($tenant)
        .bind(&$ev.kind)
        .bind($ev.leaf_hash.to_vec())
        .bind(&$ev.leaf)
        .bind($ev.created_at)
        .execute($exec)
        .await?
    };
}

mod keys;
mod log;
mod reviews;
mod waivers;

pub use keys::*;
pub use log::*;
pub use reviews::*;
pub use waivers::*;

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The columns `model_version_from` reads.
const MODEL_VERSION_COLUMNS: &str =
    "model_ref, version, format, document, record, document_digest, created_at";

/// A column list with each column prefixed by a table alias (`a, b` -> `v.a, v.b`).
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Opens the embedded SQLite database `modelgate.db` in `dir` (created if needed).
    #[tracing::instrument(name = "store.open", skip_all, fields(backend = "sqlite"))]
    pub async fn open_sqlite_dir(dir: &Path, cfg: &PoolConfig) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir {
            path: dir.display().to_string(),
            source: e,
        })?;
        let opts = SqliteConnectOptions::new()
            .filename(dir.join("modelgate.db"))
            .create_if_missing(true);
        Store::open_sqlite(opts, cfg).await
    }

    async fn open_sqlite(opts: SqliteConnectOptions, cfg: &PoolConfig) -> Result<Store> {
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(cfg.acquire_timeout)
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Opens a database by URL: `postgres://…` / `postgresql://…` or `sqlite:PATH`.
    #[tracing::instrument(name = "store.open", skip_all, fields(backend = url.split(':').next().unwrap_or_default()))]
    pub async fn open_url(url: &str, cfg: &PoolConfig) -> Result<Store> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url)?;
                // One connection first: its error says why (refused, unknown host, bad
                // password) where the pool would only report a timeout.
                let probe = <sqlx::PgConnection as sqlx::Connection>::connect_with(&opts);
                if let Ok(conn) = tokio::time::timeout(cfg.acquire_timeout, probe).await {
                    let _ = sqlx::Connection::close(conn?).await;
                }
                let pool = PgPoolOptions::new()
                    .max_connections(cfg.max_connections)
                    .acquire_timeout(cfg.acquire_timeout)
                    .connect_with(opts.clone())
                    .await?;
                // Lazy: the role exists only once the migrations ran.
                let tenants = PgPoolOptions::new()
                    .max_connections(cfg.max_connections)
                    .acquire_timeout(cfg.acquire_timeout)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::Executor::execute(conn, "SET ROLE modelgate_app").await?;
                            Ok(())
                        })
                    })
                    .connect_lazy_with(opts);
                Ok(Store {
                    pool: Pool::Postgres(pool, tenants),
                })
            }
            "sqlite" => {
                let opts = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
                Store::open_sqlite(opts, cfg).await
            }
            other => Err(StoreError::UnsupportedUrl(other.to_string())),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(..) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations (idempotent).
    #[tracing::instrument(name = "store.migrate", skip_all, fields(backend = self.backend().as_str()))]
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::Postgres(p, _) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Checks that tenant-scoped work can run: on PostgreSQL the connecting user must be
    /// allowed to `SET ROLE modelgate_app` (a superuser, or a member of the role, which
    /// migration 0011 makes the user that runs the migrations).
    #[tracing::instrument(name = "store.check_tenant_scope", skip_all, fields(backend = self.backend().as_str()))]
    pub async fn check_tenant_scope(&self) -> Result<()> {
        let probe = in_tenant!(self, "default", |c| {
            sqlx::query("SELECT 1").execute(&mut *c).await?;
            Ok(())
        });
        probe.map_err(|e| match e {
            StoreError::Db(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501") => {
                StoreError::NoAppRole(d.message().to_string())
            }
            other => other,
        })
    }

    /// The migrations this binary carries: (version, description).
    pub fn migrations(&self) -> Vec<(i64, String)> {
        let m = match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(..) => &POSTGRES_MIGRATIONS,
        };
        m.iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    }

    /// A round trip to the database (readiness), on each pool.
    #[tracing::instrument(name = "store.ping", skip_all, fields(backend = self.backend().as_str()))]
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        // On PostgreSQL the tenant pool too: its sessions must be able to switch role.
        if let Pool::Postgres(_, tenants) = &self.pool {
            sqlx::query("SELECT 1").execute(tenants).await?;
        }
        Ok(())
    }

    /// Connections in use and idle.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match &self.pool {
            Pool::Sqlite(p) => (p.size(), p.num_idle()),
            Pool::Postgres(p, t) => (p.size() + t.size(), p.num_idle() + t.num_idle()),
        };
        PoolStats {
            size,
            idle: idle as u32,
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p, t) => {
                t.close().await;
                p.close().await;
            }
        }
    }

    // ---- packs ----------------------------------------------------------------------

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
        let known = in_tenant!(self, tenant, |c| sqlx::query(
            "SELECT 1 FROM packs WHERE tenant = $1 AND digest = $2"
        )
        .bind(tenant)
        .bind(digest)
        .fetch_optional(&mut *c)
        .await
        .map(|r| r.is_some())
        .map_err(StoreError::from))?;
        if !known {
            return Err(StoreError::UnknownPack(digest.to_string()));
        }
        // The sequence number is the key: two concurrent activations cannot both take it.
        for _ in 0..5 {
            let seq = in_tenant!(self, tenant, |c| {
                sqlx::query(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM pack_activations WHERE tenant = $1"
            )
            .bind(tenant)
            .fetch_one(&mut *c)
            .await
            .and_then(|r| r.try_get::<i64, _>("next"))
            .map_err(StoreError::from)
            })?;
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
            if done == 1 {
                return Ok(Activation {
                    seq,
                    digest: digest.to_string(),
                    activated_at: now,
                });
            }
        }
        Err(StoreError::Db(sqlx::Error::Protocol(
            "pack activation kept losing a race; try again".into(),
        )))
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
            row.map(|r| {
                Ok(Activation {
                    seq: r.try_get("seq")?,
                    digest: r.try_get("digest")?,
                    activated_at: r.try_get("activated_at")?,
                })
            })
            .transpose()
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
                    summary: PackSummary {
                        digest: r.try_get("digest")?,
                        name: r.try_get("name")?,
                        version: r.try_get("version")?,
                        builtin: r.try_get("builtin")?,
                        registered_at: r.try_get("registered_at")?,
                    },
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
            rows.iter()
                .map(|r| {
                    Ok(PackSummary {
                        digest: r.try_get("digest")?,
                        name: r.try_get("name")?,
                        version: r.try_get("version")?,
                        builtin: r.try_get("builtin")?,
                        registered_at: r.try_get("registered_at")?,
                    })
                })
                .collect()
        })
    }

    // ---- profiles -------------------------------------------------------------------

    /// Creates or updates a named use context; each update bumps its version.
    #[tracing::instrument(name = "store.put_profile", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, profile = name))]
    pub async fn put_profile(
        &self,
        tenant: &str,
        name: &str,
        description: Option<&str>,
        context_json: &str,
        now: i64,
    ) -> Result<Profile> {
        in_tenant!(self, tenant, |c| {
            sqlx::query(
            "INSERT INTO profiles (tenant, name, description, context, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) \
             ON CONFLICT (tenant, name) DO UPDATE SET description = excluded.description, \
             context = excluded.context, version = profiles.version + 1, updated_at = excluded.updated_at"
        )
        .bind(tenant)
        .bind(name)
        .bind(description)
        .bind(context_json)
        .bind(now)
        .execute(&mut *c)
        .await?;
            Ok(())
        })?;
        self.get_profile(tenant, name)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("profile {name} vanished after writing")))
    }

    #[tracing::instrument(name = "store.get_profile", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, profile = name))]
    pub async fn get_profile(&self, tenant: &str, name: &str) -> Result<Option<Profile>> {
        in_tenant!(self, tenant, |c| {
            let row = sqlx::query(
                "SELECT name, description, context, version, created_at, updated_at FROM profiles \
             WHERE tenant = $1 AND name = $2",
            )
            .bind(tenant)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| profile_from(&r)).transpose()
        })
    }

    #[tracing::instrument(name = "store.list_profiles", skip_all, fields(backend = self.backend().as_str(), tenant = tenant))]
    pub async fn list_profiles(&self, tenant: &str) -> Result<Vec<Profile>> {
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(
                "SELECT name, description, context, version, created_at, updated_at FROM profiles \
             WHERE tenant = $1 ORDER BY name",
            )
            .bind(tenant)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(profile_from).collect()
        })
    }

    // ---- model registry -------------------------------------------------------------

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
                 (tenant, model_ref, version, format, document, record, document_digest, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
            row.map(|r| model_version_from(&r)).transpose()
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
            rows.iter().map(model_version_from).collect()
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
            rows.iter().map(model_version_from).collect()
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
        status: Option<ModelStatus>,
        after: Option<&BoardCursor>,
        limit: u32,
    ) -> Result<Vec<BoardRow>> {
        self.board(tenant, active_pack, status, after, limit, None)
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
        self.board(tenant, active_pack, None, None, 10_000, Some(model_ref))
            .await
    }

    async fn board(
        &self,
        tenant: &str,
        active_pack: &str,
        status: Option<ModelStatus>,
        after: Option<&BoardCursor>,
        limit: u32,
        model: Option<&str>,
    ) -> Result<Vec<BoardRow>> {
        let (after_model, after_profile) = match after {
            Some(c) => (Some(c.model_ref.as_str()), c.profile.as_str()),
            None => (None, ""),
        };
        in_tenant!(self, tenant, |c| {
            let rows = sqlx::query(BOARD_SQL)
                .bind(tenant)
                .bind(active_pack)
                .bind(status.map(ModelStatus::as_str))
                .bind(after_model)
                .bind(after_profile)
                .bind(i64::from(limit))
                .bind(model)
                .fetch_all(&mut *c)
                .await?;
            rows.iter()
                .map(|r| {
                    let status: String = r.try_get("status")?;
                    Ok(BoardRow {
                        model_ref: r.try_get("model_ref")?,
                        latest_version: r.try_get("latest_version")?,
                        profile: r.try_get("profile")?,
                        status: ModelStatus::parse(&status)
                            .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                        decision_id: r.try_get("decision_id")?,
                        verdict: r.try_get("verdict")?,
                        decided_at: r.try_get("decided_at")?,
                        pack_digest: r.try_get("pack_digest")?,
                        model_version: r.try_get("model_version")?,
                        review: match r.try_get::<Option<String>, _>("review_id")? {
                            None => None,
                            Some(id) => Some(BoardReview {
                                id,
                                outcome: r.try_get("review_outcome")?,
                                reviewer: r.try_get("reviewer")?,
                                reviewed_at: r.try_get("reviewed_at")?,
                            }),
                        },
                    })
                })
                .collect()
        })
    }

    // ---- decisions ------------------------------------------------------------------

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
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE tenant = $1 AND idempotency_key = $2"
        ))
        .bind(d.tenant)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?;
            let Some(first) = row.map(|r| decision_from(&r)).transpose()? else {
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
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE tenant = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
            row.map(|r| decision_from(&r)).transpose()
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
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE tenant = $1 \
             AND ($2 IS NULL OR model_ref = $2) AND ($3 IS NULL OR verdict = $3) \
             AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
             AND ($6 IS NULL OR profile = $6) AND ($7 IS NULL OR id < $7) \
             ORDER BY id DESC LIMIT $8"
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
            rows.iter().map(decision_from).collect()
        })
    }
}

/// The status of a (model, profile) pair on the board, computed in SQL so that a status
/// filter still returns full pages.
const BOARD_SQL: &str = "\
WITH models AS (
    SELECT model_ref, MAX(version) AS latest_version FROM model_versions
    WHERE tenant = $1 GROUP BY model_ref
),
latest AS (
    SELECT d.model_ref, d.profile, MAX(d.id) AS id FROM decisions d
    JOIN models m ON m.model_ref = d.model_ref
    WHERE d.tenant = $1 GROUP BY d.model_ref, d.profile
),
board AS (
    SELECT m.model_ref, m.latest_version, COALESCE(l.profile, '') AS profile,
           d.id AS decision_id, d.verdict, d.created_at AS decided_at, d.pack_digest,
           d.model_version, r.id AS review_id, r.outcome AS review_outcome,
           r.reviewer AS reviewer, r.created_at AS reviewed_at,
           CASE
               WHEN d.id IS NULL THEN 'unevaluated'
               WHEN d.pack_digest <> $2 OR d.model_version IS NULL
                    OR d.model_version <> m.latest_version THEN 'stale'
               WHEN d.verdict = 'allow' THEN 'approved'
               WHEN d.verdict = 'conditional' THEN 'conditional'
               WHEN d.verdict = 'review' AND r.outcome = 'approve' AND r.conditions IS NULL
                    THEN 'approved'
               WHEN d.verdict = 'review' AND r.outcome = 'approve' THEN 'conditional'
               WHEN d.verdict = 'review' AND r.outcome = 'reject' THEN 'rejected'
               WHEN d.verdict = 'review' THEN 'pending_review'
               ELSE 'rejected'
           END AS status
    FROM models m
    LEFT JOIN latest l ON l.model_ref = m.model_ref
    LEFT JOIN decisions d ON d.tenant = $1 AND d.id = l.id
    LEFT JOIN reviews r ON r.tenant = $1 AND r.decision_id = d.id
)
SELECT model_ref, latest_version, profile, decision_id, verdict, decided_at, pack_digest,
       model_version, review_id, review_outcome, reviewer, reviewed_at, status
FROM board
WHERE ($3 IS NULL OR status = $3) AND ($7 IS NULL OR model_ref = $7)
  AND ($4 IS NULL OR model_ref > $4 OR (model_ref = $4 AND profile > $5))
ORDER BY model_ref, profile
LIMIT $6";

/// A change another process made to something servers cache (see migration 0010).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An API key was updated (revoked).
    Key(String),
    /// A tenant's waivers or active pack changed.
    Tenant(String),
    /// Notifications may have been missed (the listening connection was lost): drop all.
    Unknown,
}

/// Notifications of [`Change`]s, on PostgreSQL.
pub struct ChangeListener {
    listener: sqlx::postgres::PgListener,
}

impl ChangeListener {
    /// The next change. After a lost connection it reconnects and yields
    /// [`Change::Unknown`] once.
    pub async fn next(&mut self) -> Result<Change> {
        match self.listener.try_recv().await? {
            None => Ok(Change::Unknown),
            Some(n) => Ok(match n.payload().split_once(':') {
                Some(("key", id)) => Change::Key(id.to_string()),
                Some(("tenant", t)) => Change::Tenant(t.to_string()),
                _ => Change::Unknown,
            }),
        }
    }
}

impl Store {
    /// Listens for changes made by any process (PostgreSQL); `None` on SQLite, where the
    /// one server makes every change itself.
    pub async fn listen_changes(&self) -> Result<Option<ChangeListener>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(p, _) => {
                // Its own connection, outside the pool the requests use.
                let own = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with((*p.connect_options()).clone());
                let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
                listener.listen("modelgate_changes").await?;
                Ok(Some(ChangeListener { listener }))
            }
        }
    }
}
