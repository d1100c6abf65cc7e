//! The dashboard's models board over a large registry, through the real server: MODELS
//! registered models (default 10,000), each with a decision (a mix of verdicts, some with
//! a profile), on SQLite and on PostgreSQL. Times `GET /` (the first page, 50 rows, as a
//! signed-in person sees it), a filtered page and the CSV export, client side over
//! loopback: an upper bound of the server's time.
//!
//!   cargo bench -p modelgate-tests --bench board
//!   MODELS=20000 ROUNDS=50 cargo bench -p modelgate-tests --bench board

use modelgate::store::NewModelVersion;
use modelgate_tests::api::TestServer;
use modelgate_tests::db::TestDb;
use modelgate_tests::ui::Session;
use std::time::{Duration, Instant};

const LICENSES: [&str; 5] = ["apache-2.0", "cc-by-nc-4.0", "llama3.1", "mit", "other"];
const VERDICTS: [&str; 4] = ["allow", "conditional", "review", "deny"];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fill(s: &TestServer, n: usize) -> f64 {
    let t = Instant::now();
    let active = s.get("/v1/packs").await.json()["active"]["digest"]
        .as_str()
        .expect("active pack")
        .to_string();
    for i in 0..n {
        let model = format!("org/model-{i:05}");
        let lic = LICENSES[i % LICENSES.len()];
        let record = format!(r#"{{"id":"{model}","license_expression":"{lic}"}}"#);
        s.db.store
            .put_model_version(
                "default",
                &NewModelVersion {
                    model_ref: &model,
                    format: "native",
                    document: record.as_bytes(),
                    record_json: &record,
                    document_digest: &format!("sha256:{i:064x}"),
                    license: Some(lic),
                },
                1,
            )
            .await
            .expect("register");
        let id = uuid::Uuid::now_v7().to_string();
        let d = modelgate::store::NewDecision {
            model_version: Some(1),
            verdict: VERDICTS[i % VERDICTS.len()],
            pack_digest: &active,
            profile: (i % 3 == 0).then_some("eu-saas"),
            ..modelgate_tests::sample_decision(&id, &model, 2 + i as i64)
        };
        s.db.store.insert_decision(&d).await.expect("decision");
    }
    t.elapsed().as_secs_f64()
}

async fn time(me: &Session, path: &str, rounds: usize) -> (Duration, Duration, Duration) {
    for _ in 0..3 {
        assert_eq!(me.get(path).await.status, 200, "{path}");
    }
    let mut ts = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = me.get(path).await;
        ts.push(t.elapsed());
        assert_eq!(r.status, 200, "{path}");
    }
    ts.sort();
    (ts[0], ts[ts.len() / 2], ts[ts.len() * 95 / 100])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env("MODELS", 10_000);
    let rounds = env("ROUNDS", 30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for backend in ["sqlite", "postgres"] {
            let db = if backend == "sqlite" {
                TestDb::sqlite().await
            } else {
                TestDb::postgres().await
            };
            let s = TestServer::start(db).await;
            let secs = fill(&s, n).await;
            let me = Session::sign_in(&s.base, &s.admin_key).await;
            let first = me.get("/").await.text;
            assert!(first.contains("org/model-00000"), "the first page shows the first model");
            for (what, path, r) in [
                ("first page", "/", rounds),
                ("licence filter", "/ui/models?license=mit", rounds),
                ("name search", "/ui/models?q=model-099", rounds),
                ("CSV export", "/ui/models.csv", 5),
            ] {
                let (min, p50, p95) = time(&me, path, r).await;
                println!(
                    "board {backend}: {what:<14} {n} models: min {:.1} ms, p50 {:.1} ms, p95 {:.1} ms ({r} rounds; filled in {secs:.0} s)",
                    min.as_secs_f64() * 1e3,
                    p50.as_secs_f64() * 1e3,
                    p95.as_secs_f64() * 1e3
                );
            }
            s.stop().await;
        }
    });
}
