//! The audit log end to end, on SQLite and PostgreSQL: decisions reach the log and a signed
//! checkpoint; evidence bundles verify offline (and fail when touched); proofs served over
//! HTTP verify; replay is byte-identical; the database guards fire; and tamper drills —
//! changing a decision, deleting a log row, rewriting a stored hash, as the database owner
//! with the guards removed — make `modelgate audit verify` name the first bad index.

use modelgate_audit::{entry, evidence, tree};
use modelgate_tests::api::TestServer;
use modelgate_tests::{api_on_both_backends, on_both_backends};
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::Duration;

const CARD: &str = "---\nlicense: apache-2.0\nbase_model: []\n---\n# Demo model\n";

fn card(name: &str) -> Value {
    json!({
        "document": {"format": "hf-card", "content": CARD},
        "model_ref": name,
        "context": {"purpose": "research", "deployment": "internal"},
    })
}

/// Records `n` decisions and returns their ids in order.
async fn evaluate_n(s: &TestServer, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = s
            .post_json("/v1/evaluations", &card(&format!("org/model-{i}")))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_str().expect("id").to_string());
    }
    ids
}

/// Waits until the log holds `size` entries under a signed checkpoint.
async fn wait_for_checkpoint(s: &TestServer, size: u64) {
    for _ in 0..200 {
        if let Some(c) = s.db.store.latest_checkpoint().await.expect("checkpoint")
            && c.size >= size
        {
            return;
        }
        s.log.wake();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the log did not reach {size} entries under a checkpoint within 5 s");
}

/// A JSON array of hex hashes.
fn hashes(v: &Value) -> Vec<modelgate_audit::Hash> {
    v.as_array()
        .expect("an array of hashes")
        .iter()
        .map(|h| entry::parse_hex_hash(h.as_str().expect("hex")).expect("hash"))
        .collect()
}

fn verifier_key(s: &TestServer) -> String {
    s.log.signer().verifier_key()
}

/// Runs the CLI against the test server's database and key; (exit code, stdout). The CLI
/// makes its own runtime, so it runs on a blocking thread.
async fn cli(s: &TestServer, args: &[&str]) -> (i32, String) {
    cli_with_key(s, args, &s.key_dir.path().join("audit-log.key")).await
}

/// [`cli`] with another signing key file (`--audit-key`).
async fn cli_with_key(s: &TestServer, args: &[&str], key: &std::path::Path) -> (i32, String) {
    let url = s.db.url.clone();
    let key = key.to_path_buf();
    let mut argv: Vec<String> = vec!["modelgate".into()];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv.push("--audit-key".into());
    argv.push(key.display().to_string());
    tokio::task::spawn_blocking(move || {
        let env = move |k: &str| (k == "DATABASE_URL").then(|| url.clone());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = modelgate::cli::run_with_env(argv, &env, &mut out, &mut err);
        let text = String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err);
        (code, text)
    })
    .await
    .expect("CLI thread")
}

/// Runs one SQL statement as the database owner, outside the service.
async fn owner_sql(url: &str, sql: &str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::raw_sql(sql)
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
    } else {
        let mut c = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::raw_sql(sql)
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Removes the append-only guards, as a database owner could.
async fn drop_guards(url: &str) {
    let sql = if url.starts_with("sqlite:") {
        "DROP TRIGGER decisions_no_update; DROP TRIGGER log_entries_no_delete; \
         DROP TRIGGER log_hashes_no_update;"
    } else {
        "ALTER TABLE decisions DISABLE TRIGGER USER; ALTER TABLE log_entries DISABLE TRIGGER USER; \
         ALTER TABLE log_hashes DISABLE TRIGGER USER;"
    };
    owner_sql(url, sql).await.expect("drop the guards");
}

async fn evidence_round_trip(s: &TestServer) {
    let ids = evaluate_n(s, 3).await;
    // Asked right after the evaluation: the server waits for the checkpoint.
    let r = s.get(&format!("/v1/decisions/{}/evidence", ids[1])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bundle = r.text.clone();
    let v = evidence::verify_bundle(bundle.as_bytes(), &verifier_key(s)).expect("bundle verifies");
    assert_eq!(v.decision_id, ids[1]);
    assert_eq!(v.model_ref.as_deref(), Some("org/model-1"));
    let b: Value = serde_json::from_str(&bundle).expect("JSON");
    let leaf = b["entry"]["leaf"].as_str().expect("leaf");
    assert!(leaf.starts_with("decision/v1\n{"), "{leaf}");
    let (kind, e) = entry::parse_leaf(leaf.as_bytes()).expect("canonical leaf");
    assert_eq!(kind, "decision");
    assert_eq!(e["id"], ids[1]);
    // The leaf records the verdict and the decision's digest; the bundle carries the
    // decision exactly as stored.
    let verdict = v.verdict.clone().expect("verdict");
    assert_eq!(e["verdict"], verdict.as_str());
    assert_eq!(
        e.get("decision"),
        None,
        "the leaf holds the decision by digest"
    );
    let stored = s.get(&format!("/v1/decisions/{}", ids[1])).await.json();
    assert_eq!(stored["verdict"], verdict.as_str());
    let carried: Value = serde_json::from_str(b["decision"].as_str().expect("decision text"))
        .expect("decision JSON");
    assert_eq!(carried["verdict"], verdict.as_str());
    assert_eq!(carried["findings"], stored["findings"]);

    // Any changed byte of the leaf, decision, checkpoint or proof is refused.
    for (ptr, from, to) in [
        ("/entry/leaf", "org/model-1", "org/model-9"),
        ("/decision", "\"verdict\":\"", "\"verdict\": \""),
        ("/checkpoint", "\n\n", "\n \n"),
    ] {
        let mut t = b.clone();
        let text = t
            .pointer(ptr)
            .and_then(Value::as_str)
            .expect(ptr)
            .replacen(from, to, 1);
        *t.pointer_mut(ptr).expect(ptr) = Value::from(text);
        let bytes = serde_json::to_vec(&t).expect("JSON");
        assert!(
            evidence::verify_bundle(&bytes, &verifier_key(s)).is_err(),
            "a bundle with {ptr} changed must not verify"
        );
    }
    if let Some(first) = b["entry"]["inclusion_proof"][0].as_str() {
        let mut t = b.clone();
        let flipped = format!(
            "{}{}",
            if first.starts_with('0') { "1" } else { "0" },
            &first[1..]
        );
        t["entry"]["inclusion_proof"][0] = Value::from(flipped);
        assert!(
            evidence::verify_bundle(&serde_json::to_vec(&t).unwrap(), &verifier_key(s)).is_err()
        );
    }

    // Offline check through the CLI: valid, then a touched copy is invalid (exit 1).
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("evidence.json");
    std::fs::write(&good, &bundle).expect("write");
    let key = verifier_key(s);
    let run = |file: &std::path::Path, key: &str| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = modelgate::cli::run_with_env(
            [
                "modelgate",
                "audit",
                "verify-evidence",
                file.to_str().unwrap(),
                "--key",
                key,
            ],
            &|_| None,
            &mut out,
            &mut err,
        );
        (code, String::from_utf8_lossy(&out).into_owned())
    };
    let (code, out) = run(&good, &key);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("valid: decision"), "{out}");
    let bad = dir.path().join("touched.json");
    std::fs::write(&bad, bundle.replacen("org/model-1", "org/model-2", 1)).expect("write");
    let (code, out) = run(&bad, &key);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("invalid: "), "{out}");
    // Another log's key is refused.
    let other = modelgate_audit::checkpoint::generate_key(&mut rand_core::OsRng, "someone-else").1;
    let (code, out) = run(&good, &other);
    assert_eq!(code, 1, "{out}");

    // The printable page.
    let r = s
        .send(
            s.client
                .get(format!("{}/v1/decisions/{}/evidence", s.base, ids[1]))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(r.text.contains("org/model-1") && r.text.contains("verify-evidence"));

    // Unknown decision.
    let r = s
        .get("/v1/decisions/01890000-0000-7000-8000-000000000000/evidence")
        .await;
    r.problem(404);
}

async fn proofs_over_http(s: &TestServer) {
    evaluate_n(s, 5).await;
    // The built-in pack's registration and activation and the admin key's creation are
    // entries too: 3 + 5.
    wait_for_checkpoint(s, 8).await;
    let r = s.get("/v1/log/checkpoint").await;
    assert_eq!(r.status, 200);
    let cp = modelgate_audit::checkpoint::open_checkpoint(&r.text, &verifier_key(s))
        .expect("checkpoint verifies");
    assert!(cp.size >= 8);
    let entries = s.get("/v1/log/entries?start=0&end=8").await.json();
    let items = entries["entries"].as_array().expect("entries");
    assert_eq!(items.len(), 8);
    assert_eq!(items[0]["kind"], "pack_registered");
    assert_eq!(items[1]["kind"], "pack_activated");
    assert_eq!(items[2]["kind"], "key_created");
    for (i, e) in items.iter().enumerate() {
        let leaf = e["leaf"].as_str().expect("leaf");
        let h = entry::hex_hash(&entry::leaf_hash(leaf.as_bytes()));
        assert_eq!(e["leaf_hash"], h, "entry {i}");
        let p = s
            .get(&format!(
                "/v1/log/proof/inclusion?index={i}&tree_size={}",
                cp.size
            ))
            .await
            .json();
        let proof = hashes(&p["proof"]);
        tree::verify_inclusion(
            i as u64,
            cp.size,
            entry::parse_hex_hash(&h).unwrap(),
            &proof,
            cp.root,
        )
        .expect("inclusion proof verifies against the signed root");
    }
    let c = s
        .get(&format!(
            "/v1/log/proof/consistency?first=3&second={}",
            cp.size
        ))
        .await
        .json();
    let proof = hashes(&c["proof"]);
    tree::verify_consistency(
        3,
        cp.size,
        entry::parse_hex_hash(c["first_root"].as_str().unwrap()).unwrap(),
        cp.root,
        &proof,
    )
    .expect("consistency proof verifies");
    // Client mistakes.
    s.get(&format!(
        "/v1/log/proof/inclusion?index=5&tree_size={}",
        cp.size + 100
    ))
    .await
    .problem(422);
    s.get("/v1/log/proof/inclusion?index=3&tree_size=3")
        .await
        .problem(422);
    s.get("/v1/log/proof/inclusion?index=x&tree_size=3")
        .await
        .problem(400);
    s.get("/v1/log/proof/consistency?first=5&second=2")
        .await
        .problem(422);
    s.get("/v1/log/entries?start=0&end=1000").await.problem(422);
    let keys = s.get("/v1/log/keys").await.json();
    assert_eq!(keys["keys"][0]["verifier_key"], verifier_key(s));
}

async fn replay_is_identical(s: &TestServer) {
    let ids = evaluate_n(s, 1).await;
    let r = s
        .post_json(&format!("/v1/decisions/{}/replay", ids[0]), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["identical"], true, "{v}");
    assert_eq!(v["recorded_digest"], v["replayed_digest"]);
    assert_eq!(v["differences"], json!([]));
}

async fn verify_passes_then_names_changed_decision(s: &TestServer) {
    let ids = evaluate_n(s, 6).await;
    wait_for_checkpoint(s, 9).await;
    let (code, out) = cli(s, &["audit", "verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit log OK: 9 entries"), "{out}");
    // An auditor without the signing key verifies with the verifier key alone; another
    // key is not trusted, and no key at all is a clear refusal.
    let nowhere = s.key_dir.path().join("no-such.key");
    let (code, out) =
        cli_with_key(s, &["audit", "verify", "--key", &verifier_key(s)], &nowhere).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("trusting only the verifier key") && out.contains("audit log OK: 9 entries"),
        "{out}"
    );
    let stranger = modelgate::audit::load_or_create_key(&s.key_dir.path().join("stranger.key"))
        .unwrap()
        .verifier_key();
    let (code, out) = cli_with_key(s, &["audit", "verify", "--key", &stranger], &nowhere).await;
    assert_eq!(code, 1, "{out}");
    let (code, out) = cli_with_key(s, &["audit", "verify"], &nowhere).await;
    assert_eq!(code, 69, "{out}");
    assert!(out.contains("--key"), "{out}");
    assert!(!nowhere.exists(), "verify never makes a key");
    // Decision 4 is log index 3 + 4 = 7.
    let tamper = format!(
        "UPDATE decisions SET decision = REPLACE(decision, 'research', 'commercial') \
         WHERE id = '{}'",
        ids[4]
    );
    tamper_then_verify(s, &tamper, 7).await;
    // The evidence of the changed decision is a problem that says so, not a 500.
    let p = s
        .get(&format!("/v1/decisions/{}/evidence", ids[4]))
        .await
        .problem(409);
    assert!(
        p["type"].as_str().unwrap().ends_with("/decision-tampered"),
        "{p}"
    );
    assert_eq!(p["log_index"], 7, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("entry 7"), "{p}");
    // The decision's page says it in place.
    let me = modelgate_tests::ui::Session::sign_in(&s.base, &s.admin_key).await;
    let page = me.get(&format!("/ui/decisions/{}", ids[4])).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("no longer matches its audit log entry 7"),
        "{}",
        page.text
    );
}

/// As the database owner: removes the guards, runs `tamper`, and expects `modelgate audit
/// verify` to exit 1 naming `index` as the first bad one.
async fn tamper_then_verify(s: &TestServer, tamper: &str, index: u64) {
    drop_guards(&s.db.url).await;
    owner_sql(&s.db.url, tamper).await.expect("tamper");
    let (code, out) = cli(s, &["audit", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("first bad index: {index}")), "{out}");
}

async fn verify_names_deleted_log_row(s: &TestServer) {
    evaluate_n(s, 6).await;
    wait_for_checkpoint(s, 9).await;
    tamper_then_verify(s, "DELETE FROM log_entries WHERE idx = 5", 5).await;
}

async fn verify_names_rewritten_hash(s: &TestServer) {
    evaluate_n(s, 6).await;
    wait_for_checkpoint(s, 9).await;
    // The stored hash of leaf 3 (tlog stored-hash index of level 0, position 3).
    let id = tlog_tiles::tlog::stored_hash_index(0, 3);
    let zero = if s.db.url.starts_with("sqlite:") {
        format!("X'{}'", "00".repeat(32))
    } else {
        format!("'\\x{}'::bytea", "00".repeat(32))
    };
    tamper_then_verify(
        s,
        &format!("UPDATE log_hashes SET hash = {zero} WHERE id = {id}"),
        3,
    )
    .await;
}

/// `verify` on a live service (the dashboard's "verify now"): decisions appended and
/// signed while the log is walked are no tampering. Hashes and checkpoints beyond the size
/// read first once made it say "a stored tree hash beyond the log's N entries exists".
async fn verify_while_the_log_grows_finds_nothing(s: &TestServer) {
    let done = std::sync::atomic::AtomicBool::new(false);
    let trusted = [verifier_key(s)];
    let appends = async {
        for i in 0..40 {
            let r = s
                .post_json("/v1/evaluations", &card(&format!("org/growing-{i}")))
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            s.log.wake();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let verifies = async {
        let mut runs = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            if let Err(e) = modelgate::audit::verify_log(&s.db.store, &trusted).await {
                panic!("verify during appends (run {runs}): {e}");
            }
            runs += 1;
            tokio::task::yield_now().await;
        }
        runs
    };
    let ((), runs) = tokio::join!(appends, verifies);
    assert!(runs > 0, "verify never ran during the appends");
    // Hashes beyond even the present log are still found.
    wait_for_checkpoint(s, 43).await;
    let zero = if s.db.url.starts_with("sqlite:") {
        format!("X'{}'", "00".repeat(32))
    } else {
        format!("'\\x{}'::bytea", "00".repeat(32))
    };
    let far = tlog_tiles::tlog::stored_hash_index(0, 1000);
    drop_guards(&s.db.url).await;
    owner_sql(
        &s.db.url,
        &format!("INSERT INTO log_hashes (id, hash) VALUES ({far}, {zero})"),
    )
    .await
    .expect("tamper");
    let e = modelgate::audit::verify_log(&s.db.store, &trusted)
        .await
        .expect_err("a hash beyond the log");
    assert!(e.to_string().contains("beyond the log's 43 entries"), "{e}");
}

api_on_both_backends!(
    verify_while_the_log_grows_finds_nothing,
    evidence_round_trip,
    proofs_over_http,
    replay_is_identical,
    verify_passes_then_names_changed_decision,
    verify_names_deleted_log_row,
    verify_names_rewritten_hash,
    a_changed_verdict_is_reported_not_shown,
);

/// A decision whose content was changed behind the service (its verdict no longer the one
/// recorded in the row, which filters read): reads and filtered lists say so (409) instead of
/// answering one thing to `?verdict=` and another to `GET /v1/decisions/{id}`.
async fn a_changed_verdict_is_reported_not_shown(s: &TestServer) {
    let ids = evaluate_n(s, 1).await;
    let d = s.get(&format!("/v1/decisions/{}", ids[0])).await.json();
    let verdict = d["verdict"].as_str().unwrap().to_string();
    let other = if verdict == "deny" { "allow" } else { "deny" };
    drop_guards(&s.db.url).await;
    owner_sql(
        &s.db.url,
        &format!(
            "UPDATE decisions SET decision = REPLACE(decision, '\"verdict\":\"{verdict}\"', \
             '\"verdict\":\"{other}\"') WHERE id = '{}'",
            ids[0]
        ),
    )
    .await
    .expect("tamper");
    let p = s
        .get(&format!("/v1/decisions/{}", ids[0]))
        .await
        .problem(409);
    assert!(
        p["type"].as_str().unwrap().ends_with("/decision-tampered"),
        "{p}"
    );
    assert!(p["detail"].as_str().unwrap().contains(other), "{p}");
    let p = s
        .get(&format!("/v1/decisions?verdict={verdict}"))
        .await
        .problem(409);
    assert_eq!(p["decision_id"], ids[0].as_str(), "{p}");
}

mod guards {
    use super::*;
    use modelgate::store::Store;

    /// The role `modelgate_app` (what the service should run as) may read and append, and
    /// nothing else on the audit tables: the database refuses the rest by privilege, before
    /// any trigger.
    async fn app_role_grants(url: &str) {
        let role = format!("mg_app_{}", uuid::Uuid::now_v7().simple());
        owner_sql(
            url,
            &format!("CREATE ROLE {role} LOGIN IN ROLE modelgate_app"),
        )
        .await
        .expect("create a member of modelgate_app");
        let (scheme, rest) = url.split_once("://").expect("URL");
        let host = rest.split_once('@').map_or(rest, |(_, h)| h);
        let app = format!("{scheme}://{role}@{host}");
        let result = async {
            owner_sql(&app, "SELECT COUNT(*) FROM decisions").await?;
            owner_sql(&app, "SELECT size FROM log_state FOR UPDATE").await?;
            for sql in [
                "UPDATE decisions SET verdict = 'allow'",
                "DELETE FROM decisions",
                "DELETE FROM log_entries",
                "UPDATE log_hashes SET hash = hash",
                "TRUNCATE log_checkpoints",
                "ALTER TABLE decisions DISABLE TRIGGER USER",
                "DROP TRIGGER decisions_append_only ON decisions",
            ] {
                match owner_sql(&app, sql).await {
                    Ok(()) => return Err(format!("{sql}: allowed for modelgate_app")),
                    Err(e) if e.contains("permission denied") || e.contains("must be owner") => {}
                    Err(e) => return Err(format!("{sql}: refused, but not by privilege: {e}")),
                }
            }
            Ok::<_, String>(())
        }
        .await;
        let _ = owner_sql(url, &format!("DROP ROLE {role}")).await;
        result.expect("grants of modelgate_app");
    }

    /// The append-only guards refuse changes to decisions and the log, even by the owner.
    pub async fn guards_fire(store: &Store, url: &str) {
        let _ = store;
        let refused = [
            "UPDATE decisions SET verdict = 'allow'",
            "DELETE FROM decisions",
            "UPDATE log_entries SET kind = 'x'",
            "DELETE FROM log_entries",
            "UPDATE log_hashes SET id = id",
            "DELETE FROM log_hashes",
            "DELETE FROM log_checkpoints",
            "UPDATE log_checkpoints SET note = ''",
            "DELETE FROM log_events",
            "UPDATE log_queue SET kind = 'x'",
            "DELETE FROM log_state",
            "UPDATE log_state SET size = size - 1",
        ];
        // A queued entry (no sequencer runs here).
        owner_sql(
            url,
            "INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at) \
             VALUES ('t', 'decision', 'nope', X'00', 1)"
                .replace(
                    "X'00'",
                    if url.starts_with("sqlite:") {
                        "X'00'"
                    } else {
                        "'\\x00'::bytea"
                    },
                )
                .as_str(),
        )
        .await
        .expect("queue insert");
        for sql in refused {
            let e = owner_sql(url, sql).await.expect_err(sql);
            assert!(e.contains("modelgate"), "{sql}: {e}");
        }
        let e = owner_sql(url, "DELETE FROM log_queue WHERE ref_id = 'nope'")
            .await
            .expect_err("unsequenced delete");
        assert!(e.contains("only be removed once it is in the log"), "{e}");
        if !url.starts_with("sqlite:") {
            for t in [
                "decisions",
                "log_entries",
                "log_hashes",
                "log_checkpoints",
                "log_queue",
                "log_state",
            ] {
                let e = owner_sql(url, &format!("TRUNCATE {t} CASCADE"))
                    .await
                    .expect_err(t);
                assert!(e.contains("modelgate"), "TRUNCATE {t}: {e}");
            }
            app_role_grants(url).await;
            // ENABLE ALWAYS: replication mode does not switch them off.
            let e = owner_sql(
                url,
                "SET session_replication_role = replica; DELETE FROM decisions",
            )
            .await
            .expect_err("replica role");
            assert!(e.contains("modelgate"), "{e}");
        }
    }
}

/// Sequences what is queued (one batch), as the leader of the moment.
async fn sequence_queued(store: &modelgate::store::Store, log: &modelgate::audit::Log) {
    let mut lease = store
        .try_sequencer_lease()
        .await
        .expect("lease")
        .expect("leads");
    log.step(store, &mut lease).await.expect("sequence");
    store.drop_sequencer_lease(lease).await;
}

/// A database with two logged decisions, an event and a checkpoint, written without a running
/// sequencer (so a row queued by hand stays queued).
async fn logged_db(db: &modelgate_tests::db::TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let log = modelgate::audit::Log::new(
        modelgate::audit::load_or_create_key(&dir.path().join("k")).expect("key"),
    );
    for i in 0..2 {
        let id = uuid::Uuid::now_v7().to_string();
        let mut d = modelgate_tests::sample_decision(&id, "org/m", i);
        d.leaf_hash = Some(modelgate::audit::decision_leaf_hash(&d).expect("leaf"));
        db.store.insert_decision(&d).await.expect("insert");
    }
    let ev = modelgate::audit::pack_activated("default", 5, "sha256:p").expect("event");
    db.store.insert_event("default", &ev).await.expect("event");
    sequence_queued(&db.store, &log).await;
    assert_eq!(db.store.log_state().await.expect("state").size, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_fire_on_sqlite() {
    let db = modelgate_tests::db::TestDb::sqlite().await;
    logged_db(&db).await;
    guards::guards_fire(&db.store, &db.url).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_fire_on_postgres() {
    let db = modelgate_tests::db::TestDb::postgres().await;
    logged_db(&db).await;
    guards::guards_fire(&db.store, &db.url).await;
    db.finish().await;
}

/// The sequencer's lease is exclusive on PostgreSQL: a second process cannot lead.
pub async fn one_sequencer_at_a_time(store: &modelgate::store::Store) {
    let first = store.try_sequencer_lease().await.expect("lease");
    assert!(first.is_some());
    let second = store.try_sequencer_lease().await.expect("lease");
    if store.backend() == modelgate::store::Backend::Postgres {
        assert!(second.is_none(), "a second sequencer must not lead");
        store.drop_sequencer_lease(first.unwrap()).await;
        let third = store.try_sequencer_lease().await.expect("lease");
        assert!(
            third.is_some(),
            "leadership moves on once the leader is gone"
        );
    }
}

mod lease {
    use super::*;
    on_both_backends!(one_sequencer_at_a_time);
}

/// A decision written without a log entry (before the log existed, or around the service)
/// is queued by the sequencer's back-fill, and then the log verifies.
pub async fn backfill_logs_unlogged_decisions(store: &modelgate::store::Store) {
    let dir = tempfile::tempdir().expect("dir");
    let log = modelgate::audit::Log::new(
        modelgate::audit::load_or_create_key(&dir.path().join("k")).expect("key"),
    );
    let id = uuid::Uuid::now_v7().to_string();
    store
        .insert_decision(&modelgate_tests::sample_decision(&id, "org/old", 1))
        .await
        .expect("insert");
    let trusted = [log.signer().verifier_key()];
    let e = modelgate::audit::verify_log(store, &trusted)
        .await
        .expect_err("an unlogged decision");
    assert!(e.to_string().contains(&id), "{e}");
    assert_eq!(log.backfill(store).await.expect("back-fill"), 1);
    assert_eq!(log.backfill(store).await.expect("back-fill"), 0, "once");
    sequence_queued(store, &log).await;
    let r = modelgate::audit::verify_log(store, &trusted)
        .await
        .expect("the log verifies");
    assert_eq!(r.size, 1);
}

mod backfill {
    use super::*;
    on_both_backends!(backfill_logs_unlogged_decisions);
}

/// A logged decision's leaf rebuilds from its stored row exactly, whatever its content
/// holds (bytes that are not UTF-8 in the document, text beyond ASCII): on PostgreSQL from
/// the digests the database computes, on SQLite from the row's content.
pub async fn leaves_rebuild_from_stored_rows(store: &modelgate::store::Store) {
    use modelgate::store::EntrySource;
    let dir = tempfile::tempdir().expect("dir");
    let log = modelgate::audit::Log::new(
        modelgate::audit::load_or_create_key(&dir.path().join("k")).expect("key"),
    );
    let document: &[u8] = b"\xff\x00\xfe caf\xc3\xa9 \xf0\x9f\x9a\x80";
    let record = r#"{"name":"modèle ✓ 🚀","note":"tab\tand \"quote\""}"#;
    let context = r#"{"purpose":"recherche — ü"}"#;
    let decision = r#"{"verdict":"allow","reasons":["Ω"]}"#;
    let mut written = Vec::new();
    for i in 0..3 {
        let id = uuid::Uuid::now_v7().to_string();
        let mut d = modelgate::store::NewDecision {
            document,
            record_json: record,
            context_json: context,
            decision_json: decision,
            ..modelgate_tests::sample_decision(&id, "org/ü", i)
        };
        d.leaf_hash = Some(modelgate::audit::decision_leaf_hash(&d).expect("leaf"));
        store.insert_decision(&d).await.expect("insert");
        written.push(modelgate::audit::decision_leaf(&d).expect("leaf"));
    }
    sequence_queued(store, &log).await;
    let entries = store.log_entries(0, 3).await.expect("entries");
    let sources = store.entry_sources(&entries).await.expect("sources");
    assert_eq!(sources.len(), 3);
    for (src, want) in sources.iter().zip(&written) {
        let EntrySource::Decision { row, digests } = src else {
            panic!("a decision's source: {src:?}");
        };
        assert_eq!(
            digests.is_some(),
            store.backend() == modelgate::store::Backend::Postgres,
            "digests come from the database on PostgreSQL only"
        );
        let leaf = modelgate::audit::stored_decision_leaf(row, digests.as_ref()).expect("leaf");
        assert_eq!(
            String::from_utf8_lossy(&leaf),
            String::from_utf8_lossy(want),
            "the leaf as written"
        );
    }
    modelgate::audit::verify_log(store, &[log.signer().verifier_key()])
        .await
        .expect("the log verifies");
}

mod rebuild {
    use super::*;
    on_both_backends!(leaves_rebuild_from_stored_rows);
}
