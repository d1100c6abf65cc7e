//! Reviews (issue 6) through the real server, on SQLite and PostgreSQL: an approver
//! approves or rejects a `review` verdict; the status board shows the outcome with who and
//! when; the requester cannot review its own evaluation; a review is logged.

use modelgate::auth::Role;
use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use serde_json::{Value, json};

const ODD: &str = "---\nlicense: other\n---\n# Odd model\n";

async fn register_and_evaluate(s: &TestServer, client: &reqwest::Client, model: &str) -> String {
    let doc = json!({"document": {"format": "hf-card", "content": ODD}});
    let r = s.put_json(&format!("/v1/models/{model}"), &doc).await;
    assert!(r.status < 300, "{}", r.text);
    let r = s
        .send(
            client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .body(json!({"model_ref": model}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["verdict"], "review", "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn status_of(s: &TestServer, model: &str) -> Value {
    let board = s.get("/v1/models").await.json();
    board["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["model_ref"] == model)
        .cloned()
        .unwrap_or_else(|| panic!("{model} not on the board: {board}"))
}

async fn approve_reject_and_separation(s: &TestServer) {
    let evaluator_key = s.key("default", Role::Evaluator).await;
    let evaluator = s.as_key(&evaluator_key);
    let approver_key = s.key("default", Role::Approver).await;
    let approver = s.as_key(&approver_key);
    let post = |c: &reqwest::Client, body: Value| {
        let req = c
            .post(format!("{}/v1/reviews", s.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        s.send(req)
    };

    let d1 = register_and_evaluate(s, &evaluator, "org/odd-1").await;
    assert_eq!(status_of(s, "org/odd-1").await["status"], "pending_review");
    // An evaluator may not review.
    post(
        &evaluator,
        json!({"decision_id": d1, "outcome": "approve", "justification": "ok"}),
    )
    .await
    .problem(403);
    let r = post(
        &approver,
        json!({"decision_id": d1, "outcome": "approve", "justification": "licence read by legal", "conditions": ["attribution in the app"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let review = r.json();
    assert_eq!(review["reviewer"], &approver_key[3..19]);
    let item = status_of(s, "org/odd-1").await;
    assert_eq!(item["status"], "conditional", "{item}");
    assert_eq!(item["review"]["outcome"], "approve");
    assert_eq!(item["review"]["reviewer"], &approver_key[3..19]);
    assert!(item["review"]["created_at"].is_string());
    // Once per decision.
    post(
        &approver,
        json!({"decision_id": d1, "outcome": "reject", "justification": "changed my mind"}),
    )
    .await
    .problem(409);

    let d2 = register_and_evaluate(s, &evaluator, "org/odd-2").await;
    post(
        &approver,
        json!({"decision_id": d2, "outcome": "reject", "justification": "no licence text"}),
    )
    .await;
    assert_eq!(status_of(s, "org/odd-2").await["status"], "rejected");

    // Approve without conditions: approved.
    let d3 = register_and_evaluate(s, &evaluator, "org/odd-3").await;
    let r = post(
        &approver,
        json!({"decision_id": d3, "outcome": "approve", "justification": "fine"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(status_of(s, "org/odd-3").await["status"], "approved");

    // The approver cannot review an evaluation it requested itself.
    let d4 = register_and_evaluate(s, &approver, "org/odd-4").await;
    let p = post(
        &approver,
        json!({"decision_id": d4, "outcome": "approve", "justification": "mine"}),
    )
    .await
    .problem(403);
    assert_eq!(
        p["type"].as_str().unwrap().rsplit('/').next(),
        Some("separation-of-duties")
    );

    // Mistakes.
    for (body, slug) in [
        (
            json!({"decision_id": d4, "outcome": "maybe", "justification": "x"}),
            "invalid-review",
        ),
        (
            json!({"decision_id": d4, "outcome": "approve", "justification": " "}),
            "invalid-review",
        ),
        (
            json!({"decision_id": d4, "outcome": "reject", "justification": "x", "conditions": ["a"]}),
            "invalid-review",
        ),
        (
            json!({"decision_id": "0190f000-0000-7000-8000-000000000000", "outcome": "approve", "justification": "x"}),
            "unknown-decision",
        ),
    ] {
        let p = post(&s.client, body.clone()).await.problem(422);
        assert!(p["type"].as_str().unwrap().ends_with(slug), "{body}: {p}");
    }
    // An allow verdict is not reviewable.
    let allow = s
        .post_json(
            "/v1/evaluations",
            &json!({"document": {"format": "hf-card", "content": "---\nlicense: apache-2.0\n---\n# A\n"}, "model_ref": "org/fine", "context": {"purpose": "research"}}),
        )
        .await
        .json();
    let p = post(
        &s.client,
        json!({"decision_id": allow["id"], "outcome": "approve", "justification": "x"}),
    )
    .await
    .problem(422);
    assert!(p["type"].as_str().unwrap().ends_with("not-reviewable"));

    // Another tenant cannot review (or see) the decision.
    let other = s.as_key(&s.key("tenant-x", Role::Approver).await);
    post(
        &other,
        json!({"decision_id": d2, "outcome": "approve", "justification": "x"}),
    )
    .await
    .problem(422);

    // Reviews are in the audit log.
    let mut found = 0;
    for _ in 0..100 {
        let page = s.get("/v1/log/entries?start=0").await.json();
        found = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "review")
            .count();
        if found == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found, 3, "three reviews logged");
}

api_on_both_backends!(approve_reject_and_separation);
