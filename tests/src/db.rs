//! Databases for the store and API suites: a fresh SQLite file or a fresh PostgreSQL
//! database per test.
//!
//! PostgreSQL is reached at `MODELGATE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth as on the CI machine). A
//! PostgreSQL that cannot be reached is a test failure, never a skip: `.ci/run` starts it.

use modelgate::store::{PoolConfig, Store};
use sqlx::Connection;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of the test PostgreSQL server.
pub fn pg_admin_url() -> String {
    std::env::var("MODELGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A database for one test; dropped (PostgreSQL) or deleted (SQLite) on [`TestDb::finish`].
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg_name: Option<String>,
    pg_role: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A migrated SQLite store in a new temporary data directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open_sqlite_dir(dir.path(), &PoolConfig::default())
            .await
            .expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        let url = format!("sqlite:{}", dir.path().join("modelgate.db").display());
        TestDb {
            store,
            url,
            pg_name: None,
            pg_role: None,
            _dir: Some(dir),
        }
    }

    /// A migrated store in a new PostgreSQL database `mg_test_<uuid>`, used (and migrated)
    /// as the admin user, a superuser.
    pub async fn postgres() -> TestDb {
        TestDb::postgres_with(false).await
    }

    /// As [`TestDb::postgres`], but the database belongs to a new role that is not a
    /// superuser (`LOGIN CREATEROLE`, as a production deployment would have), which
    /// migrates and uses it.
    pub async fn postgres_as_owner() -> TestDb {
        TestDb::postgres_with(true).await
    }

    async fn postgres_with(own_role: bool) -> TestDb {
        let admin = pg_admin_url();
        let name = format!("mg_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {admin} ({e}); start it (see .ci/run) or set \
                 MODELGATE_TEST_DATABASE_URL"
                )
            });
        let role = own_role.then(|| format!("{name}_owner"));
        let mut url = replace_db_name(&admin, &name);
        let mut create = format!("CREATE DATABASE {name}");
        if let Some(role) = &role {
            sqlx::query(&format!("CREATE ROLE {role} LOGIN CREATEROLE"))
                .execute(&mut conn)
                .await
                .expect("create the owner role");
            create.push_str(&format!(" OWNER {role}"));
            url = replace_user(&url, role);
        }
        sqlx::query(&create)
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let store = Store::open_url(&url, &PoolConfig::default())
            .await
            .expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        TestDb {
            store,
            url,
            pg_name: Some(name),
            pg_role: role,
            _dir: None,
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.pg_name
            && let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
            if let Some(role) = self.pg_role {
                let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

/// `postgres://u@h:p/db?x` with the user replaced (and no password: trust auth).
fn replace_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

/// `postgres://u@h:p/db?x` with the database name replaced.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Generates a test per backend for each async conformance function
/// `async fn name(store: &Store)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::db::TestDb::sqlite().await;
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::db::TestDb::postgres().await;
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            )*
        }
    };
}
