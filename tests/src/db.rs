//! Databases for the store and API suites: a fresh SQLite file or a fresh PostgreSQL
//! database per test. A PostgreSQL test database is a clone of a migrated template
//! (`CREATE DATABASE … TEMPLATE`, made once per set of migrations), and is dropped when its
//! [`TestDb`] is finished or dropped.
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

/// A database for one test; dropped (PostgreSQL) or deleted (SQLite) on [`TestDb::finish`],
/// or when it is dropped unfinished (a failing test).
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
        let mut conn = admin_connection(&admin).await;
        let role = own_role.then(|| format!("{name}_owner"));
        let mut url = replace_db_name(&admin, &name);
        let mut create = format!("CREATE DATABASE {name}");
        if !own_role {
            // A clone of the migrated template: no migration per test.
            create.push_str(&format!(" TEMPLATE {}", template(&admin).await));
        }
        if let Some(role) = &role {
            sqlx::query(&format!("CREATE ROLE {role} LOGIN CREATEROLE"))
                .execute(&mut conn)
                .await
                .expect("create the owner role");
            create.push_str(&format!(" OWNER {role}"));
            url = replace_user(&url, role);
        }
        // Cloning fails while another session is connected to the template (a moment
        // after it is made): try again.
        let mut tries = 0;
        while let Err(e) = sqlx::query(&create).execute(&mut conn).await {
            tries += 1;
            assert!(tries < 50, "create test database: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
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

    /// The migrated store of a database the test made elsewhere (nothing is dropped
    /// afterwards: the database goes with its server).
    pub async fn postgres_at(url: &str) -> TestDb {
        let store = Store::open_url(url, &PoolConfig::default())
            .await
            .expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        TestDb {
            store,
            url: url.to_string(),
            pg_name: None,
            pg_role: None,
            _dir: None,
        }
    }

    pub async fn finish(mut self) {
        self.store.close().await;
        drop_database(self.pg_name.take(), self.pg_role.take()).await;
    }
}

impl Drop for TestDb {
    /// An unfinished PostgreSQL database (the test failed before `finish`) is dropped too,
    /// from a thread of its own (this may run inside a runtime).
    fn drop(&mut self) {
        let (name, role) = (self.pg_name.take(), self.pg_role.take());
        if name.is_none() {
            return;
        }
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(name, role));
            }
        })
        .join();
    }
}

async fn drop_database(name: Option<String>, role: Option<String>) {
    if let Some(name) = name
        && let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        if let Some(role) = role {
            let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
                .execute(&mut conn)
                .await;
        }
    }
}

async fn admin_connection(admin: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}); start it (see .ci/run) or set \
             MODELGATE_TEST_DATABASE_URL"
            )
        })
}

/// The name of the migrated template database for this build's PostgreSQL migrations,
/// made when missing. Named by a hash of the migration files, so a changed migration gets
/// a new template; an advisory lock keeps concurrent test processes from making it twice.
async fn template(admin: &str) -> String {
    static NAME: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    NAME.get_or_init(|| async {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("migrations/postgres")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        // FNV-1a over names and contents: stable across builds and toolchains.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for f in &files {
            let bytes = std::fs::read(f).expect("migration file");
            for b in f
                .file_name()
                .map(|n| n.as_encoded_bytes().to_vec())
                .unwrap_or_default()
                .iter()
                .chain(&bytes)
            {
                h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        let name = format!("mg_template_{h:016x}");
        let mut conn = admin_connection(admin).await;
        sqlx::query("SELECT pg_advisory_lock(7341202611)")
            .execute(&mut conn)
            .await
            .expect("template lock");
        let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut conn)
            .await
            .expect("look for the template")
            .is_some();
        if !exists {
            // Made under another name and renamed when migrated: a half-made template
            // (a test process killed) is never cloned.
            let building = format!("{name}_building");
            for q in [
                format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                format!("CREATE DATABASE {building}"),
            ] {
                sqlx::query(&q)
                    .execute(&mut conn)
                    .await
                    .expect("make the template");
            }
            let store = Store::open_url(&replace_db_name(admin, &building), &PoolConfig::default())
                .await
                .expect("open the template");
            store.migrate().await.expect("migrate the template");
            store.close().await;
            // A closed connection's server process may outlive it for a moment, and a
            // database cannot be renamed while anyone is connected: wait for them to go.
            let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
            let mut tries = 0;
            while let Err(e) = sqlx::query(&rename).execute(&mut conn).await {
                tries += 1;
                assert!(tries < 100, "name the template: {e}");
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&building)
                .execute(&mut conn)
                .await
                .expect("end connections to the template");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        sqlx::query("SELECT pg_advisory_unlock(7341202611)")
            .execute(&mut conn)
            .await
            .expect("template unlock");
        conn.close().await.ok();
        name
    })
    .await
    .clone()
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
