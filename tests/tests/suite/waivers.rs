//! Waivers (issue 6): the engine with an injected clock (before, during and after a
//! waiver's life, revoked), and the service on SQLite and PostgreSQL — granting, applying
//! on every evaluation route, revoking, the status board's expiry flag, the audit log, and
//! the CLI's `--waivers`.

use modelgate::auth::Role;
use modelgate_engine::time::from_unix;
use modelgate_engine::waiver::{Waiver, applicable};
use modelgate_engine::{Pack, UseContext, Verdict};
use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use serde_json::{Value, json};

const NC: &str = "---\nlicense: cc-by-nc-4.0\n---\n# NC Model\n\nA model.\n";
const RULE: &str = "license-non-commercial";

fn pack() -> Pack {
    Pack::load(&modelgate::packdir::builtin_files()).expect("built-in pack")
}

#[test]
fn the_engine_applies_a_waiver_only_while_it_is_in_force() {
    let pack = pack();
    let rec = pack
        .parse_all(NC.as_bytes(), None, &Default::default())
        .unwrap()
        .remove(0);
    let ctx = UseContext::default(); // commercial SaaS: the NC licence denies.
    let w = Waiver {
        id: "w-1".into(),
        model_ref: "NC Model".into(),
        rule_id: RULE.into(),
        profile: None,
        created_at: Some(from_unix(1_000)),
        expires_at: from_unix(2_000),
        revoked_at: Some(from_unix(1_800)),
    };
    let ws = [w];
    let at = |now: i64| {
        let a = applicable(&ws, &rec.id, None, from_unix(now));
        modelgate_engine::evaluate(&modelgate_engine::Evaluation {
            ancestors: &[],
            waivers: &a,
            ..modelgate_engine::Evaluation::new(
                &pack,
                &rec,
                &ctx,
                modelgate_engine::time::from_unix(now),
                "sha256:x",
            )
        })
    };
    for (now, waived) in [
        (999, false),
        (1_000, true),
        (1_799, true),
        (1_800, false),
        (2_500, false),
    ] {
        let d = at(now);
        let f = d
            .findings
            .iter()
            .find(|f| f.rule_id == RULE)
            .expect("finding stays");
        assert_eq!(f.waived, waived, "at {now}");
        assert_eq!(f.waiver.as_deref(), waived.then_some("w-1"), "at {now}");
        if waived {
            assert!(d.verdict < Verdict::Deny, "at {now}: {:?}", d.verdict);
        } else {
            assert_eq!(d.verdict, Verdict::Deny, "at {now}");
        }
    }
    // Without waivers the output is what it always was (no `waiver` key).
    let plain = serde_json::to_value(modelgate_engine::evaluate(
        &modelgate_engine::Evaluation::new(
            &pack,
            &rec,
            &ctx,
            modelgate_engine::time::from_unix(1_500),
            "sha256:x",
        ),
    ))
    .unwrap();
    assert!(
        plain["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("waiver").is_none())
    );
}

fn eval_body(model: &str) -> Value {
    json!({"document": {"format": "hf-card", "content": NC}, "model_ref": model})
}

async fn finding(s: &TestServer, path: &str, model: &str) -> (Value, Value) {
    let r = s.post_json(path, &eval_body(model)).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    let d = r.json();
    let f = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == RULE)
        .cloned()
        .expect("the finding");
    (d, f)
}

async fn grant_apply_revoke(s: &TestServer) {
    let approver = s.as_key(&s.key("default", Role::Approver).await);
    let soon = modelgate::time::rfc3339_micros(modelgate::time::now_micros() + 5 * 86_400_000_000);
    let body = json!({
        "model_ref": "acme/*",
        "rule_id": RULE,
        "reason": "license_acquired",
        "justification": "commercial licence bought, contract 2026-113",
        "ticket": "LEGAL-42",
        "expires_at": soon,
    });
    let r = s
        .send(
            approver
                .post(format!("{}/v1/waivers", s.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let w = r.json();
    let id = w["id"].as_str().unwrap().to_string();
    assert_eq!(w["state"], "active");
    assert_eq!(w["expiring_soon"], true);

    // Recorded and dry-run evaluations both apply it; other models do not get it.
    let (d, f) = finding(s, "/v1/evaluations", "acme/nc-1").await;
    assert_eq!(f["waived"], true, "{f}");
    assert_eq!(f["waiver"], id.as_str());
    assert_ne!(d["verdict"], "deny", "{d}");
    let (_, f) = finding(s, "/v1/evaluations?dry_run=true", "acme/nc-2").await;
    assert_eq!(f["waived"], true);
    let (d2, f) = finding(s, "/v1/evaluations", "other/nc").await;
    assert_eq!(f["waived"], false);
    assert_eq!(d2["verdict"], "deny");

    // Replay reproduces the waived decision byte for byte.
    let r = s
        .post_json(
            &format!("/v1/decisions/{}/replay", d["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(r.json()["identical"], true, "{}", r.text);

    // The board flags the waiver expiring within 14 days.
    s.put_json(
        "/v1/models/acme/nc-1",
        &json!({"document": {"format": "hf-card", "content": NC}}),
    )
    .await;
    let board = s.get("/v1/models").await.json();
    let item = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["model_ref"] == "acme/nc-1")
        .unwrap()
        .clone();
    assert_eq!(item["waivers_expiring"][0]["id"], id.as_str(), "{item}");

    // Reads.
    assert_eq!(
        s.get(&format!("/v1/waivers/{id}")).await.json()["id"],
        id.as_str()
    );
    assert_eq!(
        s.get("/v1/waivers?active=true").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another tenant sees nothing.
    let other = s.as_key(&s.key("tenant-w", Role::Approver).await);
    let r = s
        .send(other.get(format!("{}/v1/waivers/{id}", s.base)))
        .await;
    r.problem(404);
    let r = s
        .send(other.delete(format!("{}/v1/waivers/{id}", s.base)))
        .await;
    r.problem(404);

    // Revoked: never applies again.
    let r = s
        .send(approver.delete(format!("{}/v1/waivers/{id}", s.base)))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (d, f) = finding(s, "/v1/evaluations", "acme/nc-3").await;
    assert_eq!(f["waived"], false);
    assert_eq!(d["verdict"], "deny");
    assert_eq!(
        s.get(&format!("/v1/waivers/{id}")).await.json()["state"],
        "revoked"
    );
    let r = s
        .send(approver.delete(format!("{}/v1/waivers/{id}", s.base)))
        .await;
    r.problem(404);

    // Mistakes.
    let far = modelgate::time::rfc3339_micros(modelgate::time::now_micros() + 400 * 86_400_000_000);
    for bad in [
        json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "because", "justification": "x", "expires_at": soon}),
        json!({"model_ref": "acme/x", "rule_id": "no-such-rule", "reason": "false_positive", "justification": "x", "expires_at": soon}),
        json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "false_positive", "justification": "x", "expires_at": far}),
        json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "false_positive", "justification": "x", "expires_at": "2001-01-01"}),
        json!({"model_ref": "a*b", "rule_id": RULE, "reason": "false_positive", "justification": "x", "expires_at": soon}),
        json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "false_positive", "justification": " ", "expires_at": soon}),
    ] {
        s.post_json("/v1/waivers", &bad).await.problem(422);
    }
    // An evaluator may not grant one.
    let evaluator = s.as_key(&s.key("default", Role::Evaluator).await);
    let r = s
        .send(
            evaluator
                .post(format!("{}/v1/waivers", s.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    r.problem(403);

    // Both events are in the log.
    let mut kinds = Vec::new();
    for _ in 0..100 {
        let page = s.get("/v1/log/entries?start=0").await.json();
        kinds = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        if kinds.iter().any(|k| k == "waiver_revoked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(kinds.iter().any(|k| k == "waiver_created"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "waiver_revoked"), "{kinds:?}");
}

/// A waiver granted and revoked by another replica (here: straight through the store, so
/// this server's cached state is not dropped) applies to, and then leaves, the very next
/// recorded decision: the decision is written only under the tenant's current state
/// generation, and a stale cache makes the server evaluate again.
async fn a_change_made_elsewhere_reaches_the_next_recorded_decision(s: &TestServer) {
    let path = "/v1/evaluations";
    // Two recorded evaluations: the server now holds the tenant's state in memory.
    for _ in 0..2 {
        let (_, f) = finding(s, path, "acme/nc-1").await;
        assert_eq!(f["waived"], false, "{f}");
    }
    let g0 = s.db.store.tenant_generation("default").await.unwrap();
    let now = modelgate::time::now_micros();
    let row = modelgate::store::WaiverRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: "default".into(),
        model_ref: "acme/*".into(),
        rule_id: RULE.into(),
        profile: None,
        reason: "license_acquired".into(),
        justification: "granted on another replica".into(),
        ticket: None,
        approver: "elsewhere".into(),
        created_at: now,
        expires_at: now + 86_400_000_000,
        revoked_at: None,
        revoked_by: None,
    };
    let ev = modelgate::audit::event(
        "waiver_created",
        "default",
        now,
        json!({"waiver_id": row.id}),
    )
    .unwrap();
    s.db.store.insert_waiver(&row, &ev).await.unwrap();
    let g1 = s.db.store.tenant_generation("default").await.unwrap();
    assert!(g1 > g0, "a new waiver moves the generation: {g0} -> {g1}");
    let (_, f) = finding(s, path, "acme/nc-1").await;
    assert_eq!(f["waived"], true, "{f}");
    assert_eq!(f["waiver"], row.id.as_str(), "{f}");

    let later = modelgate::time::now_micros();
    let ev = modelgate::audit::event(
        "waiver_revoked",
        "default",
        later,
        json!({"waiver_id": row.id}),
    )
    .unwrap();
    assert!(
        s.db.store
            .revoke_waiver("default", &row.id, "elsewhere", later, &ev)
            .await
            .unwrap()
    );
    assert!(s.db.store.tenant_generation("default").await.unwrap() > g1);
    let (_, f) = finding(s, path, "acme/nc-1").await;
    assert_eq!(f["waived"], false, "a revoked waiver never applies: {f}");
}

/// A date that does not exist is refused, not moved to the next month: `2027-02-31` used
/// to be read as 3 March 2027 (a waiver expiring three days later than written).
async fn an_expiry_on_a_day_that_does_not_exist_is_refused(s: &TestServer) {
    use modelgate_engine::time::{Timestamp, date, from_unix};
    let now = Timestamp::now().as_second();
    let next_year: i32 = date(now_plus(now, 200))[..4].parse().unwrap();
    fn now_plus(now: i64, days: i64) -> Timestamp {
        from_unix(now + days * 86_400)
    }
    for day in [
        format!("{next_year}-02-31"),
        format!("{next_year}-02-30T12:00:00Z"),
        format!("{next_year}-04-31T00:00:00+02:00"),
        format!("{next_year}-06-31"),
    ] {
        let body = json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "false_positive",
            "justification": "x", "expires_at": day});
        let p = s.post_json("/v1/waivers", &body).await.problem(422);
        assert!(
            p["detail"]
                .as_str()
                .is_some_and(|d| d.contains("expires_at") && d.contains(&day)),
            "{p}"
        );
    }
    // A real day is kept as written.
    let real = date(now_plus(now, 40));
    let body = json!({"model_ref": "acme/x", "rule_id": RULE, "reason": "false_positive",
        "justification": "x", "expires_at": real});
    let r = s.post_json("/v1/waivers", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.json()["expires_at"]
            .as_str()
            .is_some_and(|e| e.starts_with(&format!("{real}T00:00:00"))),
        "{}",
        r.text
    );
}

api_on_both_backends!(
    grant_apply_revoke,
    a_change_made_elsewhere_reaches_the_next_recorded_decision,
    an_expiry_on_a_day_that_does_not_exist_is_refused
);

#[test]
fn the_cli_applies_a_waivers_file() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("nc.md");
    std::fs::write(&card, NC).unwrap();
    let waivers = dir.path().join("waivers.yaml");
    let run = |extra: &[&str]| {
        let mut argv = vec![
            "modelgate",
            "check",
            card.to_str().unwrap(),
            "--output",
            "json",
        ];
        argv.extend_from_slice(extra);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = modelgate::cli::run_with_env(argv, &|_| None, &mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err),
        )
    };
    let (code, _) = run(&[]);
    assert_eq!(code, 1, "deny without the waiver");
    std::fs::write(
        &waivers,
        format!("- id: w-cli\n  model_ref: NC Model\n  rule_id: {RULE}\n  expires_at: 2999-01-01\n  reason: license_acquired\n"),
    )
    .unwrap();
    let (code, out) = run(&["--waivers", waivers.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"waiver\": \"w-cli\""), "{out}");
    std::fs::write(
        &waivers,
        format!(
            "- id: w-old\n  model_ref: NC Model\n  rule_id: {RULE}\n  expires_at: 2001-01-01\n"
        ),
    )
    .unwrap();
    let (code, _) = run(&["--waivers", waivers.to_str().unwrap()]);
    assert_eq!(code, 1, "an expired waiver never applies");
    std::fs::write(&waivers, "- id: w\n  colour: red\n").unwrap();
    let (code, out) = run(&["--waivers", waivers.to_str().unwrap()]);
    assert_eq!(code, 65, "{out}");
    // A waiver that could never apply is refused, as the API refuses it, naming it.
    for (scope, why) in [
        (
            format!("model_ref: 'NC*Model'\n  rule_id: {RULE}"),
            "`model_ref`",
        ),
        (
            "model_ref: NC Model\n  rule_id: ' '".to_string(),
            "`rule_id`",
        ),
    ] {
        std::fs::write(
            &waivers,
            format!("- id: w-bad\n  {scope}\n  expires_at: 2999-01-01\n"),
        )
        .unwrap();
        let (code, out) = run(&["--waivers", waivers.to_str().unwrap()]);
        assert_eq!(code, 65, "{out}");
        assert!(out.contains("waiver w-bad: ") && out.contains(why), "{out}");
    }
}
