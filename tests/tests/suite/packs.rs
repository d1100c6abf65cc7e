//! The rule pack lifecycle (issue 6) through the real server, on SQLite and PostgreSQL:
//! upload (tar.gz, validated, its tests run), impact analysis on a registry, activation
//! with If-Match (428, 412, then success) that re-evaluates the registry.

use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use serde_json::{Value, json};

use modelgate_tests::packs::{candidate, pack_tgz, tgz};

async fn upload(s: &TestServer, body: Vec<u8>, ct: &str) -> modelgate_tests::api::Resp {
    s.send(
        s.client
            .post(format!("{}/v1/packs", s.base))
            .header("content-type", ct)
            .body(body),
    )
    .await
}

async fn lifecycle(s: &TestServer) {
    // A registry: a non-commercial model and an Apache one, and one profile.
    for (m, lic) in [("acme/nc", "cc-by-nc-4.0"), ("acme/ok", "apache-2.0")] {
        let doc = json!({"document": {"format": "hf-card", "content": format!("---\nlicense: {lic}\n---\n# {m}\n")}});
        assert!(s.put_json(&format!("/v1/models/{m}"), &doc).await.status < 300);
    }
    assert_eq!(
        s.post_json(
            "/v1/profiles",
            &json!({"name": "saas", "context": {"purpose": "commercial", "deployment": "saas"}})
        )
        .await
        .status,
        201
    );

    // Upload: the candidate is accepted (201), again is idempotent (200).
    let r = upload(s, candidate(), "application/gzip").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let up = r.json();
    let digest = up["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(up["version"], "9.9.9-candidate");
    assert_eq!(upload(s, candidate(), "application/gzip").await.status, 200);

    // Refused: failing tests (listed), an invalid pack (problems listed), not gzip, a
    // path outside the pack, a wrong content type.
    let failing = pack_tgz(|path, text| {
        if path == "policies/license.yaml" {
            Some(text.replacen(
                "effect: deny\n    severity: critical\n    applies_if: context.commercial",
                "effect: review\n    severity: critical\n    applies_if: context.commercial",
                1,
            ))
        } else {
            Some(text)
        }
    });
    let p = upload(s, failing, "application/gzip").await.problem(422);
    assert!(
        p["type"].as_str().unwrap().ends_with("pack-tests-failed"),
        "{p}"
    );
    assert!(!p["failures"].as_array().unwrap().is_empty(), "{p}");
    let broken = pack_tgz(|path, text| {
        if path == "pack.yaml" {
            Some(format!("{text}\n: : not yaml ["))
        } else {
            Some(text)
        }
    });
    let p = upload(s, broken, "application/gzip").await.problem(422);
    assert!(!p["problems"].as_array().unwrap().is_empty(), "{p}");
    upload(s, b"not a gzip at all".to_vec(), "application/gzip")
        .await
        .problem(422);
    let p = upload(s, tgz(&[("x", "x")]), "application/gzip")
        .await
        .problem(422);
    assert!(p["detail"].as_str().unwrap().contains("pack.yaml"), "{p}");
    upload(s, candidate(), "application/json")
        .await
        .problem(415);

    // Another tenant does not see the uploaded pack.
    let other = s.as_key(&s.key("tenant-p", modelgate::auth::Role::Admin).await);
    let r = s
        .send(other.get(format!("{}/v1/packs/{digest}", s.base)))
        .await;
    r.problem(404);
    let r = s
        .send(other.post(format!("{}/v1/packs/{digest}/impact", s.base)))
        .await;
    r.problem(404);

    // Impact: the NC model under the commercial profile goes deny -> review.
    let r = s
        .post_json(&format!("/v1/packs/{digest}/impact"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let imp = r.json();
    assert_eq!(imp["evaluated"], 2, "{imp}");
    let changes = imp["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{imp}");
    assert_eq!(changes[0]["model_ref"], "acme/nc");
    assert_eq!(changes[0]["profile"], "saas");
    assert_eq!(
        changes[0]["verdict"],
        json!({"before": "deny", "after": "review"})
    );
    s.post_json("/v1/packs/sha256:nope/impact", &json!({}))
        .await
        .problem(404);

    // Activation: If-Match required (428), must be current (412), then it activates and
    // re-evaluates the registry (2 models x 1 profile).
    let url = format!("{}/v1/packs/{digest}/activate", s.base);
    s.send(s.client.post(&url)).await.problem(428);
    s.send(s.client.post(&url).header("if-match", "\"activation-999\""))
        .await
        .problem(412);
    let packs = s.get("/v1/packs").await;
    let etag = packs.header("etag").unwrap().to_string();
    assert_eq!(packs.json()["etag"], etag.as_str());
    let r = s.send(s.client.post(&url).header("if-match", &etag)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = r.json();
    assert_eq!(a["reevaluated"], 2, "{a}");
    assert_ne!(a["etag"], etag.as_str());
    // The old ETag no longer matches.
    s.send(s.client.post(&url).header("if-match", &etag))
        .await
        .problem(412);
    let packs = s.get("/v1/packs").await.json();
    assert_eq!(packs["active"]["digest"], digest.as_str());
    // The board: the NC model is now pending review under the new pack, not stale.
    let board = s.get("/v1/models").await.json();
    let nc: Vec<&Value> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["model_ref"] == "acme/nc")
        .collect();
    assert_eq!(nc[0]["status"], "pending_review", "{board}");
    assert_eq!(nc[0]["decision"]["pack_digest"], digest.as_str());
    // A new evaluation uses the new pack.
    let r = s
        .post_json(
            "/v1/evaluations",
            &json!({"model_ref": "acme/nc", "profile": "saas"}),
        )
        .await;
    assert_eq!(r.json()["pack"]["digest"], digest.as_str(), "{}", r.text);
}

/// A new tenant's first requests arrive together: the built-in pack is activated once
/// (one activation, so one `pack_activated` log entry), and every request is answered.
async fn a_new_tenants_first_burst_activates_once(s: &TestServer) {
    let key = s.key("burst", modelgate::auth::Role::Admin).await;
    let client = s.as_key(&key);
    let card = "---\nlicense: apache-2.0\n---\n# A model\n";
    let requests: Vec<_> = (0..12)
        .map(|i| {
            let body = json!({
                "document": {"format": "hf-card", "content": card},
                "model_ref": format!("acme/m{i}"),
                "context": {"purpose": "research"},
            });
            let post = client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .body(body.to_string());
            tokio::spawn(async move {
                let r = post.send().await.expect("send");
                (r.status().as_u16(), r.text().await.unwrap_or_default())
            })
        })
        .collect();
    for r in requests {
        let (status, text) = r.await.unwrap();
        assert_eq!(status, 201, "{text}");
    }
    let active = s.db.store.active_pack("burst").await.unwrap().unwrap();
    assert_eq!(
        active.seq, 1,
        "the built-in pack was activated {} times",
        active.seq
    );
}

api_on_both_backends!(lifecycle, a_new_tenants_first_burst_activates_once);

/// Replicas starting together (each its own pack cache) on one database: one activation.
mod replicas {
    use modelgate::app::packs::{PackCache, bootstrap};
    use modelgate::store::Store;
    use modelgate_tests::on_both_backends;

    async fn concurrent_bootstraps_activate_once(s: &Store) {
        let starts: Vec<_> = (0..6)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move {
                    bootstrap(
                        &s,
                        &PackCache::default(),
                        "fresh",
                        modelgate::time::now_micros(),
                    )
                    .await
                    .map(|p| p.digest.clone())
                })
            })
            .collect();
        let mut digests = Vec::new();
        for t in starts {
            digests.push(t.await.unwrap().unwrap());
        }
        digests.dedup();
        assert_eq!(digests.len(), 1);
        let active = s.active_pack("fresh").await.unwrap().unwrap();
        assert_eq!((active.seq, &active.digest), (1, &digests[0].to_string()));
    }

    on_both_backends!(concurrent_bootstraps_activate_once);
}
