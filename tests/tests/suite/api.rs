//! The HTTP API through the real server, on SQLite and on PostgreSQL.

use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use serde_json::{Value, json};

api_on_both_backends!(
    evaluation_is_recorded_and_fetched,
    dry_run_records_nothing,
    idempotency_key_replays_or_refuses,
    client_mistakes_are_problems,
    decisions_list_filters_and_pages,
    registry_versions_and_status_board,
    profiles_create_update_and_evaluate,
    catalog_and_packs,
    operations_endpoints,
    every_format_and_several_models,
    body_limits_per_route,
    nul_characters_are_client_mistakes,
    model_references_follow_one_rule,
);

const CARD: &str = include_str!("../../../examples/acme-chat-8b.md");
const NC_CARD: &str = "---\nlicense: cc-by-nc-4.0\n---\n# NC Model\n\nA model.\n";

fn eval_body(content: &str, extra: Value) -> Value {
    let mut b = json!({ "document": { "format": "auto", "content": content } });
    if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    b
}

/// The API body with the parts that change per run replaced.
fn redacted(mut v: Value) -> Value {
    for key in [
        "id",
        "created_at",
        "evaluated_at",
        "input_digest",
        "engine_version",
    ] {
        if v.get(key).is_some() {
            v[key] = json!(format!("[{key}]"));
        }
    }
    if v.get("pack").is_some() {
        v["pack"]["digest"] = json!("[digest]");
    }
    v
}

async fn evaluation_is_recorded_and_fetched(s: &TestServer) {
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(
                CARD,
                json!({ "context": { "purpose": "commercial", "deployment": "saas" } }),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/decisions/{id}").as_str())
    );
    assert_eq!(body["verdict"], "conditional");
    assert_eq!(body["model"]["id"], "Acme Chat 8B");
    assert_eq!(body["profile"], Value::Null);
    // The same fields as the CLI's JSON output, after id/created_at/profile.
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "created_at",
            "trace_id",
            "profile",
            "model",
            "verdict",
            "summary",
            "findings",
            "obligations",
            "license",
            "lineage",
            "openness",
            "context",
            "pack",
            "engine_version",
            "input_digest",
            "evaluated_at"
        ]
    );
    let again = s.get(&format!("/v1/decisions/{id}")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), body);
    insta::assert_json_snapshot!("evaluation_acme_commercial_saas", redacted(body));

    // The stored row keeps the exact document and the pack digest.
    let row =
        s.db.store
            .get_decision("default", &id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.document, CARD.as_bytes());
    assert_eq!(row.format, "hf-card");
    assert!(row.pack_digest.starts_with("sha256:"));
    assert!(row.input_digest.starts_with("sha256:"));
}

async fn dry_run_records_nothing(s: &TestServer) {
    let r = s
        .post_json(
            "/v1/evaluations?dry_run=true",
            &eval_body(NC_CARD, json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["verdict"], "deny");
    assert!(body.get("id").is_none());
    assert!(r.header("location").is_none());
    let list = s.get("/v1/decisions").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

async fn idempotency_key_replays_or_refuses(s: &TestServer) {
    let body = eval_body(CARD, json!({}));
    let send = |b: Value, key: &'static str| {
        s.send(
            s.client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .header("Idempotency-Key", key)
                .body(b.to_string()),
        )
    };
    let first = send(body.clone(), "order-42").await;
    assert_eq!(first.status, 201);
    let retry = send(body.clone(), "order-42").await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], first.json()["id"]);
    // The same JSON written otherwise (members reordered, spaces, escapes) is the same
    // request: idempotency compares the canonical JSON (RFC 8785), not the bytes.
    let content = body["document"]["content"]
        .to_string()
        .replace('-', "\\u002d");
    let respelled =
        format!("{{ \"document\" : {{ \"content\": {content},\n \"format\": \"auto\" }} }}");
    let retry = s
        .send(
            s.client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .header("Idempotency-Key", "order-42")
                .body(respelled),
        )
        .await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], first.json()["id"]);
    let other = send(eval_body(NC_CARD, json!({})), "order-42").await;
    let p = other.problem(422);
    assert!(p["detail"].as_str().unwrap().contains("order-42"));
    let list = s.get("/v1/decisions").await.json();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "one record for two retries"
    );
}

async fn client_mistakes_are_problems(s: &TestServer) {
    // Wrong content type.
    let r = s
        .send(
            s.client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "text/plain")
                .body(eval_body(CARD, json!({})).to_string()),
        )
        .await;
    r.problem(415);
    // Not JSON: the line and column.
    let r = s
        .send(
            s.client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .body("{\"document\": {,}"),
        )
        .await;
    let p = r.problem(400);
    assert_eq!(p["line"], 1);
    // JSON of the wrong shape.
    s.post_json("/v1/evaluations", &json!({ "documnet": {} }))
        .await
        .problem(422);
    // Over the 1 MiB limit.
    let big = "x".repeat(1024 * 1024 + 10);
    s.post_json("/v1/evaluations", &eval_body(&big, json!({})))
        .await
        .problem(413);
    // A malformed card: the location is given.
    let p = s
        .post_json(
            "/v1/evaluations",
            &eval_body("---\nlicense: [unclosed\n---\n# X\n", json!({})),
        )
        .await
        .problem(422);
    assert_eq!(p["format"], "hf-card");
    assert!(p["location"]["line"].as_u64().is_some(), "{p}");
    // A document that does not name the model, without model_ref.
    let p = s
        .post_json(
            "/v1/evaluations",
            &eval_body("---\nlicense: mit\n---\nno heading\n", json!({})),
        )
        .await
        .problem(422);
    assert!(p["type"].as_str().unwrap().ends_with("model-ref-required"));
    // ... is fine with one.
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(
                "---\nlicense: mit\n---\nno heading\n",
                json!({ "model_ref": "org/x" }),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["model"]["id"], "org/x");
    // An unknown format lists the formats.
    let p = s
        .post_json(
            "/v1/evaluations",
            &json!({ "document": { "format": "pdf", "content": "x" } }),
        )
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("hf-card"));
    // A bad context value names the field.
    let p = s
        .post_json(
            "/v1/evaluations",
            &eval_body(CARD, json!({ "context": { "regions": ["Atlantis"] } })),
        )
        .await
        .problem(422);
    assert!(
        p["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("regions")),
        "{p}"
    );
    s.post_json(
        "/v1/evaluations",
        &eval_body(
            CARD,
            json!({ "context": { "purpose": "world-domination" } }),
        ),
    )
    .await
    .problem(422);
    // The index named is the one sent, whatever order the lists are kept in.
    for (regions, field) in [
        (json!(["XX", "DE"]), "regions[0]"),
        (json!(["de", "DE", "us", "Narnia"]), "regions[3]"),
    ] {
        let p = s
            .post_json(
                "/v1/evaluations",
                &eval_body(CARD, json!({ "context": { "regions": regions } })),
            )
            .await
            .problem(422);
        assert_eq!(p["field"], field, "{p}");
    }
    let p = s
        .post_json(
            "/v1/evaluations",
            &eval_body(
                CARD,
                json!({ "context": { "domains": ["pii-harm", "Not-A-Domain"] } }),
            ),
        )
        .await
        .problem(422);
    assert_eq!(p["field"], "domains[1]", "{p}");
    // A context is an object: serde would read a struct from an array by position.
    for context in [json!(["commercial", "saas"]), json!("commercial"), json!(7)] {
        let p = s
            .post_json(
                "/v1/evaluations",
                &eval_body(CARD, json!({ "context": context })),
            )
            .await
            .problem(422);
        assert!(p["detail"].as_str().unwrap().contains("map"), "{p}");
    }
    let p = s
        .post_json(
            "/v1/profiles",
            &json!({ "name": "positional", "context": ["research", "internal"] }),
        )
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("map"), "{p}");
    s.post_json(
        "/v1/evaluations",
        &eval_body(CARD, json!({ "profile": "nope" })),
    )
    .await
    .problem(422);
    // Routes, methods, parameters.
    s.get("/v1/nothing-here").await.problem(404);
    let r = s
        .send(s.client.delete(format!("{}/v1/evaluations", s.base)))
        .await;
    r.problem(405);
    assert_eq!(r.header("allow"), Some("POST"), "405 says what is allowed");
    let r = s
        .send(s.client.patch(format!("{}/v1/waivers/x", s.base)))
        .await;
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, DELETE"));
    s.get("/v1/decisions?limit=500").await.problem(400);
    s.get("/v1/decisions?limit=abc").await.problem(400);
    s.get("/v1/decisions?cursor=forged").await.problem(400);
    s.get("/v1/decisions?from=yesterday").await.problem(400);
    s.get("/v1/decisions?verdict=maybe").await.problem(400);
    s.get("/v1/decisions?colour=red").await.problem(400);
    s.get("/v1/decisions/not-a-uuid").await.problem(404);
    s.get("/v1/decisions/0190f000-0000-7000-8000-000000000000")
        .await
        .problem(404);
    s.get("/v1/models?status=happy").await.problem(400);
}

async fn decisions_list_filters_and_pages(s: &TestServer) {
    let mut ids = Vec::new();
    for (i, card) in [CARD, NC_CARD, CARD, NC_CARD, CARD].iter().enumerate() {
        let r = s
            .post_json(
                "/v1/evaluations",
                &eval_body(card, json!({ "model_ref": format!("org/m{}", i % 2) })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut url = "/v1/decisions?limit=2".to_string();
    loop {
        let page = s.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let page = page.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/decisions?limit=2&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let denied = s.get("/v1/decisions?verdict=deny").await.json();
    assert_eq!(denied["items"].as_array().unwrap().len(), 2);
    let m0 = s.get("/v1/decisions?model_ref=org/m0").await.json();
    assert_eq!(m0["items"].as_array().unwrap().len(), 3);
    let future = s
        .get("/v1/decisions?from=2100-01-01T00:00:00Z")
        .await
        .json();
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let past = s.get("/v1/decisions?until=2000-01-01").await.json();
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
}

async fn registry_versions_and_status_board(s: &TestServer) {
    async fn put_model(s: &TestServer, r: &str, card: &str) -> modelgate_tests::api::Resp {
        s.put_json(
            &format!("/v1/models/{r}"),
            &json!({ "document": { "content": card } }),
        )
        .await
    }
    let put = |r: &'static str, card: &'static str| put_model(s, r, card);
    let r = put("acme/chat-8b", CARD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["version"], 1);
    let same = put("acme/chat-8b", CARD).await;
    assert_eq!(
        (same.status, same.json()["version"].clone()),
        (200, json!(1))
    );
    assert_eq!(put("acme/nc", NC_CARD).await.status, 201);
    assert_eq!(put("acme/idle", CARD).await.status, 201);

    // Evaluate registered models by reference.
    for m in ["acme/chat-8b", "acme/nc"] {
        let r = s
            .post_json("/v1/evaluations", &json!({ "model_ref": m }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let board = s.get("/v1/models").await.json();
    let status: Vec<(String, String)> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["model_ref"].as_str().unwrap().into(),
                i["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("acme/chat-8b".to_string(), "conditional".to_string()),
            ("acme/idle".into(), "unevaluated".into()),
            ("acme/nc".into(), "rejected".into()),
        ]
    );
    // New metadata makes the decision stale.
    let v2 = put("acme/chat-8b", NC_CARD).await;
    assert_eq!((v2.status, v2.json()["version"].clone()), (201, json!(2)));
    let stale = s.get("/v1/models?status=stale").await.json();
    assert_eq!(stale["items"][0]["model_ref"], "acme/chat-8b");
    assert_eq!(stale["items"].as_array().unwrap().len(), 1);

    let m = s.get("/v1/models/acme/chat-8b").await;
    assert_eq!(m.status, 200, "{}", m.text);
    let m = m.json();
    assert_eq!(m["versions"].as_array().unwrap().len(), 2);
    assert_eq!(m["versions"][0]["record"]["id"], "acme/chat-8b");
    assert_eq!(m["status"][0]["status"], "stale");
    s.get("/v1/models/acme/unknown").await.problem(404);
    // Registering a malformed document is refused with the location.
    s.put_json(
        "/v1/models/acme/bad",
        &json!({ "document": { "content": "---\nlicense: [\n---\n" } }),
    )
    .await
    .problem(422);
    // Board pages.
    let p1 = s.get("/v1/models?limit=2").await.json();
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let c = p1["next_cursor"].as_str().expect("more");
    let p2 = s
        .get(&format!("/v1/models?limit=2&cursor={c}"))
        .await
        .json();
    assert_eq!(p2["items"][0]["model_ref"], "acme/nc");
    assert_eq!(p2["next_cursor"], Value::Null);

    // A document sent inline that is the registered latest version is linked to it...
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(CARD, json!({ "model_ref": "acme/idle" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let idle = s.get("/v1/models/acme/idle").await.json();
    assert_eq!(idle["status"][0]["status"], "conditional", "{idle}");
    assert_eq!(idle["status"][0]["decision"]["model_version"], 1);
    // ... and another document is not: the registered metadata was not what was decided.
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(NC_CARD, json!({ "model_ref": "acme/idle" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let idle = s.get("/v1/models/acme/idle").await.json();
    assert_eq!(idle["status"][0]["status"], "stale", "{idle}");
    assert_eq!(idle["status"][0]["decision"]["model_version"], Value::Null);
}

async fn profiles_create_update_and_evaluate(s: &TestServer) {
    let r = s
        .post_json("/v1/profiles", &json!({ "name": "eu-saas", "description": "EU SaaS", "context": { "deployment": "saas", "domicile": "DE", "regions": ["EU"] } }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some("/v1/profiles/eu-saas"));
    assert_eq!(r.json()["version"], 1);
    s.post_json("/v1/profiles", &json!({ "name": "eu-saas", "context": {} }))
        .await
        .problem(409);
    s.post_json(
        "/v1/profiles",
        &json!({ "name": "bad name!", "context": {} }),
    )
    .await
    .problem(422);
    s.post_json(
        "/v1/profiles",
        &json!({ "name": "x", "context": { "domains": ["juggling"] } }),
    )
    .await
    .problem(422);
    let up = s
        .put_json(
            "/v1/profiles/eu-saas",
            &json!({ "context": { "purpose": "research" } }),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.json()["version"], 2);
    assert_eq!(up.json()["context"]["purpose"], "research");
    let list = s.get("/v1/profiles").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    s.get("/v1/profiles/nope").await.problem(404);

    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(NC_CARD, json!({ "profile": "eu-saas" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = r.json();
    assert_eq!(d["profile"], "eu-saas");
    assert_eq!(d["context"]["purpose"], "research");
    let by_profile = s.get("/v1/decisions?profile=eu-saas").await.json();
    assert_eq!(by_profile["items"].as_array().unwrap().len(), 1);
}

async fn catalog_and_packs(s: &TestServer) {
    let l = s.get("/v1/licenses").await.json();
    let ids: Vec<&str> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(ids.len() >= 40);
    assert!(ids.contains(&"llama3.1") && ids.contains(&"apache-2.0"));
    let one = s.get("/v1/licenses/llama3.1").await.json();
    assert_eq!(one["id"], "llama3.1");
    assert!(one["clauses"].as_object().is_some_and(|c| !c.is_empty()));
    s.get("/v1/licenses/no-such-licence").await.problem(404);

    let packs = s.get("/v1/packs").await.json();
    let items = packs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["builtin"], true);
    assert_eq!(items[0]["active"], true);
    let digest = items[0]["digest"].as_str().unwrap();
    assert_eq!(packs["active"]["digest"], digest);
    let p = s.get(&format!("/v1/packs/{digest}")).await.json();
    assert_eq!(p["name"], "modelgate-default");
    assert!(p["rules"].as_u64().unwrap() >= 35);
    assert!(
        p["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "pack.yaml")
    );
    s.get("/v1/packs/sha256:0000").await.problem(404);
}

async fn operations_endpoints(s: &TestServer) {
    assert_eq!(s.get("/healthz").await.json()["status"], "ok");
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["pack"]["name"], "modelgate-default");
    s.post_json("/v1/evaluations", &eval_body(CARD, json!({})))
        .await;
    s.get("/v1/nothing").await;
    let m = s.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.text.contains(
            r#"modelgate_http_requests_total{method="POST",route="/v1/evaluations",status="201"} 1"#
        ),
        "{}",
        m.text
    );
    assert!(
        m.text.contains(r#"route="unmatched",status="404""#),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains(r#"modelgate_decisions_total{verdict="conditional"} 1"#),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("modelgate_evaluation_duration_seconds_count 1"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("modelgate_db_pool_connections"),
        "{}",
        m.text
    );
    let o = s.get("/openapi.yaml").await;
    assert_eq!(o.status, 200);
    assert!(o.text.starts_with("openapi: 3.1"));
}

/// Every route the server has is in `openapi.yaml`, with the same methods, and the other
/// way round.
#[test]
fn openapi_lists_exactly_the_routes() {
    let spec: Value =
        serde_norway::from_str(modelgate::http::OPENAPI).expect("openapi.yaml is YAML");
    assert_eq!(spec["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for m in ops.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&m.as_str()) {
                documented.push(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut served: Vec<String> = modelgate::http::route_list()
        .iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    served.sort();
    assert_eq!(documented, served);
}

async fn every_format_and_several_models(s: &TestServer) {
    let fixture = |name: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/formats")
                .join(name),
        )
        .unwrap()
    };
    for (name, format) in [
        ("cyclonedx-1.6-llama-finetune.json", "cyclonedx"),
        ("spdx3-ai-minimal-apache.json", "spdx3"),
        ("mof-acme-open.yml", "mof"),
    ] {
        let r = s
            .post_json("/v1/evaluations", &eval_body(&fixture(name), json!({})))
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.text);
        assert_eq!(r.json()["model"]["source_format"], format, "{name}");
        let forced = s
            .post_json(
                "/v1/evaluations?dry_run=true",
                &json!({ "document": { "format": format, "content": fixture(name) } }),
            )
            .await;
        assert_eq!(forced.status, 200, "{name}: {}", forced.text);
    }
    // A BOM with several models: model_ref picks one.
    let bom = fixture("cyclonedx-1.7-multi-model.json");
    let p = s
        .post_json("/v1/evaluations", &eval_body(&bom, json!({})))
        .await
        .problem(422);
    let models: Vec<String> = p["models"]
        .as_array()
        .expect("models listed")
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert!(models.len() > 1, "{p}");
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(&bom, json!({ "model_ref": models[1] })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["model"]["id"], models[1].as_str());
    // Content in no format modelgate reads.
    let p = s
        .post_json("/v1/evaluations", &eval_body("[1, 2, 3]", json!({})))
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("cyclonedx"), "{p}");
}

/// A JSON body of exactly `len` bytes: `{"document": {"content": "<card>xxx…"}}` (or, for
/// profiles, a description padded the same way).
fn padded(len: usize, make: impl Fn(&str) -> Value) -> String {
    let base = make("").to_string().len();
    assert!(len >= base, "{len} < {base}");
    let body = make(&"x".repeat(len - base)).to_string();
    assert_eq!(body.len(), len);
    body
}

async fn send_raw(s: &TestServer, method: reqwest::Method, path: &str, body: String) -> u16 {
    let r = s
        .send(
            s.client
                .request(method, format!("{}{path}", s.base))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
    if r.status >= 400 {
        r.problem(r.status);
    }
    r.status
}

/// The default limits hold at the byte: 1 MiB for evaluations and `PUT /v1/models/…`,
/// 64 KiB for profiles; one byte more is 413.
async fn body_limits_per_route(s: &TestServer) {
    use reqwest::Method;
    const MIB: usize = 1024 * 1024;
    const SMALL: usize = 64 * 1024;
    let card = |pad: &str| json!({ "document": { "content": format!("---\nlicense: mit\n---\n# Big\n\n{pad}\n") } });
    let eval = |pad: &str| {
        let mut b = card(pad);
        b["model_ref"] = json!("org/big");
        b
    };
    assert_eq!(
        send_raw(
            s,
            Method::POST,
            "/v1/evaluations?dry_run=true",
            padded(MIB, eval)
        )
        .await,
        200
    );
    assert_eq!(
        send_raw(s, Method::POST, "/v1/evaluations", padded(MIB + 1, eval)).await,
        413
    );
    assert_eq!(
        send_raw(s, Method::PUT, "/v1/models/org/big", padded(MIB, card)).await,
        201
    );
    assert_eq!(
        send_raw(
            s,
            Method::PUT,
            "/v1/models/org/bigger",
            padded(MIB + 1, card)
        )
        .await,
        413
    );
    s.get("/v1/models/org/bigger").await.problem(404);

    let profile = |name: &'static str| move |pad: &str| json!({ "name": name, "description": pad, "context": {} });
    assert_eq!(
        send_raw(
            s,
            Method::POST,
            "/v1/profiles",
            padded(SMALL, profile("p1"))
        )
        .await,
        201
    );
    assert_eq!(
        send_raw(
            s,
            Method::POST,
            "/v1/profiles",
            padded(SMALL + 1, profile("p2"))
        )
        .await,
        413
    );
    assert_eq!(
        send_raw(
            s,
            Method::PUT,
            "/v1/profiles/p3",
            padded(SMALL, profile("p3"))
        )
        .await,
        201
    );
    assert_eq!(
        send_raw(
            s,
            Method::PUT,
            "/v1/profiles/p4",
            padded(SMALL + 1, profile("p4"))
        )
        .await,
        413
    );
    let names: Vec<String> = s.get("/v1/profiles").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["p1", "p3"]);
}

/// U+0000 cannot be stored in PostgreSQL text; on both backends it is a 4xx wherever a
/// client can send it (it was a 500 on PostgreSQL).
async fn nul_characters_are_client_mistakes(s: &TestServer) {
    for path in [
        "/v1/decisions?model_ref=a%00b",
        "/v1/decisions?profile=%00",
        "/v1/models/a%00b",
        "/v1/profiles/%00",
        "/v1/packs/%00",
        "/v1/licenses/mit%00",
    ] {
        let r = s.get(path).await;
        r.problem(400);
    }
    let p = s
        .post_json(
            "/v1/evaluations",
            &eval_body(CARD, json!({ "model_ref": "a\u{0}b" })),
        )
        .await
        .problem(422);
    assert_eq!(p["pointer"], "/model_ref", "{p}");
    s.post_json(
        "/v1/evaluations",
        &eval_body(CARD, json!({ "profile": "\u{0}" })),
    )
    .await
    .problem(422);
    s.put_json(
        "/v1/profiles/p",
        &json!({ "description": "a\u{0}", "context": {} }),
    )
    .await
    .problem(422);
    s.put_json(
        "/v1/models/org/m",
        &json!({ "record": { "id": "org/m", "name": "x\u{0}" } }),
    )
    .await
    .problem(422);
    // A NUL inside a document (escaped in the document's own JSON) names the model.
    let native = json!({ "id": "org/n\u{0}ul" }).to_string();
    let p = s
        .post_json("/v1/evaluations", &eval_body(&native, json!({})))
        .await
        .problem(422);
    assert!(p["type"].as_str().unwrap().ends_with("invalid-text"), "{p}");
    // Nothing was stored.
    let list = s.get("/v1/decisions").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}

/// One rule for a model reference on every route: what an evaluation accepts the registry
/// accepts (`Acme Chat 8B`, the README's example), and a reference too long for the
/// database's index is a 422 everywhere, never a 500.
async fn model_references_follow_one_rule(s: &TestServer) {
    let doc = json!({"document": {"format": "hf-card", "content": CARD}});
    let r = s.put_json("/v1/models/Acme%20Chat%208B", &doc).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["model_ref"], "Acme Chat 8B");
    let r = s
        .post_json("/v1/evaluations", &json!({"model_ref": "Acme Chat 8B"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let long = "x".repeat(8 * 1024);
    let invalid = |p: Value| {
        assert!(
            p["type"].as_str().unwrap().ends_with("/invalid-model-ref"),
            "{p}"
        );
    };
    // The body's model_ref, the path, the name a document gives its model.
    invalid(
        s.post_json(
            "/v1/evaluations",
            &eval_body(CARD, json!({"model_ref": long})),
        )
        .await
        .problem(422),
    );
    invalid(
        s.put_json(&format!("/v1/models/{}", "y".repeat(513)), &doc)
            .await
            .problem(422),
    );
    // A name over the limit makes the document invalid (no record could carry it); with
    // a reference that names the model, the card is fine.
    let titled = format!("---\nlicense: mit\n---\n# {long}\n");
    let p = s
        .post_json("/v1/evaluations", &eval_body(&titled, json!({})))
        .await
        .problem(422);
    assert!(
        p["type"].as_str().unwrap().ends_with("/invalid-document")
            && p["detail"].as_str().unwrap().contains("at most 512"),
        "{p}"
    );
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(&titled, json!({"model_ref": "acme/titled"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for bad in [" padded", "two\nlines"] {
        invalid(
            s.post_json(
                "/v1/evaluations",
                &eval_body(CARD, json!({"model_ref": bad})),
            )
            .await
            .problem(422),
        );
    }
    // 512 characters of four bytes each still fit the index.
    let widest = "\u{1F600}".repeat(512);
    let r = s
        .post_json(
            "/v1/evaluations",
            &eval_body(CARD, json!({"model_ref": widest})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// A client that sends part of a body and stalls is answered 408 once the body's time is
/// up, and the connection is closed: it does not hold the connection for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_a_408() {
    use std::io::{Read, Write};
    let limits = modelgate::http::Limits {
        body_timeout: std::time::Duration::from_secs(1),
        ..modelgate::http::Limits::default()
    };
    let s = TestServer::start_with(modelgate_tests::db::TestDb::sqlite().await, limits).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let key = s.admin_key.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut c = std::net::TcpStream::connect(&addr).expect("connect");
        c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        write!(
            c,
            "POST /v1/evaluations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"document\""
        )
        .expect("write");
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    })
    .await
    .expect("client");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    s.stop().await;
}

/// A key's requests in flight are bounded: while one of its requests holds the only place
/// (here, a body that does not come), the next is 429; another key is not affected, and
/// the place is free again once the first is over (its client went away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_has_a_bounded_number_of_requests_in_flight() {
    use std::io::Write;
    let limits = modelgate::http::Limits {
        in_flight_per_key: 1,
        ..modelgate::http::Limits::default()
    };
    let s = TestServer::start_with(modelgate_tests::db::TestDb::sqlite().await, limits).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut stalled = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stalled,
        "POST /v1/evaluations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        s.admin_key
    )
    .expect("write");
    // The stalled request takes the place once the server has read its head.
    let mut busy = None;
    for _ in 0..500 {
        let r = s.get("/v1/decisions").await;
        if r.status == 429 {
            busy = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a second request of the key is refused while the first is in flight");
    let p = busy.problem(429);
    assert!(p["detail"].as_str().unwrap().contains("in flight"), "{p}");
    let other = s.key("default", modelgate::auth::Role::Viewer).await;
    let r = s
        .send(s.as_key(&other).get(format!("{}/v1/decisions", s.base)))
        .await;
    assert_eq!(r.status, 200, "another key is not affected");
    drop(stalled);
    let mut freed = false;
    for _ in 0..500 {
        if s.get("/v1/decisions").await.status == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        freed,
        "the place is free again once the stalled request is over"
    );
    s.stop().await;
}
