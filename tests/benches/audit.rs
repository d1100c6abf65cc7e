//! Audit log throughput: the sequencer (queued entries sequenced, hashed, stored and
//! checkpointed per second) and `audit verify` (entries rebuilt from their decisions and
//! checked per second), on SQLite and PostgreSQL. A throughput run, not a criterion
//! statistic: each figure is one timed pass over a fresh database.
//!
//!   cargo bench -p modelgate-tests --bench audit            # 20,000 entries each
//!   ENTRIES=100000 cargo bench -p modelgate-tests --bench audit
//!   BACKENDS=postgres cargo bench -p modelgate-tests --bench audit
//!   VERIFY_ROUNDS=5 cargo bench -p modelgate-tests --bench audit   # fastest of 5 verifies

use modelgate::audit::{Log, decision_leaf_hash, load_or_create_key, verify_log};
use modelgate::store::{NewDecision, Store};
use modelgate_tests::db::TestDb;
use std::time::Instant;

/// A realistic decision body: the built-in pack's decision on the example card.
fn decision_json() -> (String, String, String) {
    let files = modelgate::packdir::builtin_files();
    let pack = modelgate_engine::Pack::load(&files).expect("built-in pack");
    let card = include_str!("../../examples/acme-chat-8b.md");
    let rec = pack
        .parse_all(card.as_bytes(), None, &Default::default())
        .expect("card")
        .remove(0);
    let ctx = modelgate_engine::context::UseContext::default();
    let d = modelgate_tests::evaluate(&pack, &rec, &[], &ctx, 1_700_000_000, "sha256:input");
    (
        serde_json::to_string(&d).expect("decision"),
        serde_json::to_string(&rec).expect("record"),
        pack.digest.to_string(),
    )
}

async fn fill(store: &Store, n: usize) {
    let (decision, record, digest) = decision_json();
    let card = include_str!("../../examples/acme-chat-8b.md");
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let (decision, record, digest) = (decision.clone(), record.clone(), digest.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                let id = uuid::Uuid::now_v7().to_string();
                let model = format!("org/model-{i}");
                let mut d = NewDecision {
                    verdict: "conditional",
                    document: card.as_bytes(),
                    record_json: &record,
                    decision_json: &decision,
                    pack_digest: &digest,
                    engine_version: "0.1.0",
                    input_digest: "sha256:input",
                    ..modelgate_tests::sample_decision(
                        &id,
                        &model,
                        1_700_000_000_000_000 + i as i64,
                    )
                };
                d.leaf_hash = Some(decision_leaf_hash(&d).expect("leaf"));
                store.insert_decision(&d).await.expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("fill task");
    }
}

async fn run(name: &str, db: TestDb, n: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let log = Log::new(load_or_create_key(&dir.path().join("k")).expect("key"));
    let t = Instant::now();
    fill(&db.store, n).await;
    let fill_s = t.elapsed().as_secs_f64();
    let mut lease = db
        .store
        .try_sequencer_lease()
        .await
        .expect("lease")
        .expect("leads");
    let t = Instant::now();
    while log.step(&db.store, &mut lease).await.expect("step") {}
    // The last, partial batch.
    log.step(&db.store, &mut lease).await.expect("step");
    let seq_s = t.elapsed().as_secs_f64();
    db.store.drop_sequencer_lease(lease).await;
    let size = db.store.log_state().await.expect("state").size;
    assert_eq!(size, n as u64, "everything sequenced");
    // The fastest of VERIFY_ROUNDS (default 1) runs.
    let rounds: usize = std::env::var("VERIFY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut verify_s = f64::INFINITY;
    let mut report = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let r = verify_log(&db.store, &[log.signer().verifier_key()])
            .await
            .expect("the log verifies");
        verify_s = verify_s.min(t.elapsed().as_secs_f64());
        report = Some(r);
    }
    let report = report.expect("one round");
    println!(
        "{name:8} entries {n:>7}  recorded {:>7.0}/s (8 writers)  sequencer {:>7.0} entries/s ({:.2} s)  \
         verify {:>7.0} entries/s ({:.2} s, {} checkpoints)",
        n as f64 / fill_s,
        n as f64 / seq_s,
        seq_s,
        n as f64 / verify_s,
        verify_s,
        report.checkpoints
    );
    db.finish().await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else we use.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let backends = std::env::var("BACKENDS").unwrap_or_else(|_| "sqlite postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for b in backends.split_whitespace() {
            match b {
                "sqlite" => run(b, TestDb::sqlite().await, n).await,
                "postgres" => run(b, TestDb::postgres().await, n).await,
                other => panic!("unknown backend {other}"),
            }
        }
    });
}
