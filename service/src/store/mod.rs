//! Storage: the only module that speaks SQL. One file per aggregate: packs, profiles,
//! models (registry and status board), decisions, reviews, waivers, keys, the audit log
//! (`log`), change notifications (`changes`); row types in `rows`.
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
use sqlx::{PgPool, SqlitePool};
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
    /// The error of a load that several requests waited for (a cache's single flight).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// The error of a shared load, as its one owner or as [`StoreError::Shared`].
    pub fn unshare(e: std::sync::Arc<StoreError>) -> StoreError {
        std::sync::Arc::try_unwrap(e).unwrap_or_else(StoreError::Shared)
    }

    /// The error itself, through any [`StoreError::Shared`].
    pub fn cause(&self) -> &StoreError {
        match self {
            StoreError::Shared(e) => e.cause(),
            e => e,
        }
    }

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

mod changes;
mod decisions;
mod keys;
mod log;
mod models;
mod packs;
mod profiles;
mod reviews;
mod sessions;
mod waivers;

pub use changes::*;
pub use keys::*;
pub use log::*;
pub use reviews::*;
pub use sessions::*;
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

/// A row as `T` (its `#[derive(sqlx::FromRow)]`: columns by field name), on either backend.
fn decode<'r, T, R>(r: &'r R) -> Result<T>
where
    R: sqlx::Row,
    T: sqlx::FromRow<'r, R>,
{
    Ok(T::from_row(r)?)
}

/// The columns [`ModelVersion`] reads.
const MODEL_VERSION_COLUMNS: &str =
    "model_ref, version, format, document, record, document_digest, created_at, license";

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

/// Creates an empty database file readable by its owner only (mode 0600, like the key
/// files; SQLite gives its WAL and shared-memory files the same mode). An existing file is
/// left as it is.
fn create_private(file: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Opens the embedded SQLite database `modelgate.db` in `dir` (created if needed).
    #[tracing::instrument(name = "store.open", skip_all, fields(backend = "sqlite"))]
    pub async fn open_sqlite_dir(dir: &Path, cfg: &PoolConfig) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir {
            path: dir.display().to_string(),
            source: e,
        })?;
        let file = dir.join("modelgate.db");
        create_private(&file).map_err(|e| StoreError::DataDir {
            path: file.display().to_string(),
            source: e,
        })?;
        let opts = SqliteConnectOptions::new()
            .filename(file)
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
}
