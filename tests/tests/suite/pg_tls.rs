//! PostgreSQL over TLS: managed PostgreSQL services require it. A private server that
//! accepts only TLS connections (`modelgate_tests::pgtls`): `modelgate migrate` and a
//! running service connect with `sslmode=require` and with `verify-full` against the CA;
//! a connection without TLS, or with a certificate the given CA did not sign, is refused
//! with a message that says why and shows no password.

use modelgate_tests::api::TestServer;
use modelgate_tests::db::TestDb;
use modelgate_tests::pgtls::TlsPostgres;
use serde_json::json;

const CARD: &str = include_str!("../../../examples/acme-chat-8b.md");

fn migrate(url: &str) -> (i32, String) {
    let url = url.to_string();
    let env = move |k: &str| (k == "DATABASE_URL").then(|| url.clone());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = modelgate::cli::run_with_env(["modelgate", "migrate"], &env, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_connects_to_postgresql_over_tls() {
    let pg = tokio::task::spawn_blocking(TlsPostgres::start)
        .await
        .expect("start the TLS server");
    let ca = pg.ca.display().to_string();
    let verified = pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );

    // The server refuses a connection without TLS: what follows connects over TLS.
    let (code, out) = tokio::task::spawn_blocking({
        let url = pg
            .url("127.0.0.1", "sslmode=disable")
            .replace("postgres@", "postgres:hunter2pw@");
        move || migrate(&url)
    })
    .await
    .unwrap();
    assert_eq!(code, 69, "{out}");
    assert!(
        out.contains("no encryption") || out.contains("pg_hba"),
        "{out}"
    );
    assert!(!out.contains("hunter2pw"), "the password is shown: {out}");

    // A certificate the given CA did not sign is refused.
    let other = pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", pg.other_ca.display()),
    );
    let (code, out) = tokio::task::spawn_blocking(move || migrate(&other))
        .await
        .unwrap();
    assert_eq!(code, 69, "{out}");
    assert!(out.to_lowercase().contains("certificate"), "{out}");

    // TLS without verification, and verified against the CA for the certificate's name.
    for url in [pg.url("127.0.0.1", "sslmode=require"), verified.clone()] {
        let (code, out) = tokio::task::spawn_blocking(move || migrate(&url))
            .await
            .unwrap();
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("schema at version"), "{out}");
    }

    // The service over verify-full: both of its pools (the owner's and the tenants'
    // `modelgate_app`) record and read a decision.
    let s = TestServer::start(TestDb::postgres_at(&verified).await).await;
    let r = s
        .post_json(
            "/v1/evaluations",
            &json!({"document": {"format": "auto", "content": CARD}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let d = s.get(&format!("/v1/decisions/{id}")).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    s.stop().await;
    drop(pg);
}
