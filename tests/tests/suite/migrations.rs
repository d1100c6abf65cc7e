//! Migration drift: the SQLite and PostgreSQL folders carry the same versions and names,
//! and migrating either gives the same tables with the same columns.

use modelgate_tests::db::TestDb;
use sqlx::{Connection, Row};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn folder(backend: &str) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn both_folders_list_the_same_versions_and_names() {
    let (sqlite, postgres) = (folder("sqlite"), folder("postgres"));
    assert!(sqlite.len() >= 11, "{sqlite:?}");
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres differ"
    );
    for (i, n) in sqlite.iter().enumerate() {
        let version: usize = n[..4]
            .parse()
            .unwrap_or_else(|_| panic!("`{n}`: NNNN_name.sql"));
        assert_eq!(version, i + 1, "versions are 1, 2, 3… without gaps: `{n}`");
    }
}

/// (table, column) of every table but sqlx's own.
async fn sqlite_columns(url: &str) -> BTreeSet<(String, String)> {
    let mut c = sqlx::SqliteConnection::connect(url).await.expect("SQLite");
    sqlx::query(
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .expect("SQLite columns")
    .iter()
    .map(|r| (r.get("t"), r.get("c")))
    .collect()
}

async fn postgres_columns(url: &str) -> BTreeSet<(String, String)> {
    let mut c = sqlx::PgConnection::connect(url).await.expect("PostgreSQL");
    sqlx::query(
        "SELECT c.table_name::text AS t, c.column_name::text AS c \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .expect("PostgreSQL columns")
    .iter()
    .map(|r| (r.get("t"), r.get("c")))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    let (lite, pg) = (TestDb::sqlite().await, TestDb::postgres().await);
    let (a, b) = (
        sqlite_columns(&lite.url).await,
        postgres_columns(&pg.url).await,
    );
    lite.finish().await;
    pg.finish().await;
    assert!(a.iter().any(|(t, _)| t == "decisions"), "{a:?}");
    let only_sqlite: Vec<_> = a.difference(&b).collect();
    let only_pg: Vec<_> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "schema drift\n  only on SQLite: {only_sqlite:?}\n  only on PostgreSQL: {only_pg:?}"
    );
}
