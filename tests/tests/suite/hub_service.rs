//! The service fetching `hf:` references from the Hub (a local stub, `modelgate_tests::hubstub`):
//! `POST /v1/evaluations` and `PUT /v1/models/{ref}` with `hub`, the web check page with an
//! `hf:` reference; the stored fetch replays without the Hub. On SQLite and PostgreSQL.

use modelgate_tests::api::{Resp, TestServer};
use modelgate_tests::db::TestDb;
use modelgate_tests::hubstub::{Stub, hub, sha_of};
use modelgate_tests::ui::{Session, decision_of};
use serde_json::{Value, json};

/// Each scenario on both backends, with its own stub Hub and server.
macro_rules! hub_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let stub = modelgate_tests::hubstub::hub();
                    let s = TestServer::start_with_hub(TestDb::sqlite().await, &stub.endpoint).await;
                    super::$name(&s, &stub).await;
                    s.stop().await;
                }
            )*
            use super::{TestDb, TestServer};
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let stub = modelgate_tests::hubstub::hub();
                    let s = TestServer::start_with_hub(TestDb::postgres().await, &stub.endpoint).await;
                    super::$name(&s, &stub).await;
                    s.stop().await;
                }
            )*
            use super::{TestDb, TestServer};
        }
    };
}

hub_on_both_backends!(
    a_hub_model_is_fetched_recorded_and_replayed_without_the_hub,
    a_hub_model_is_registered_and_evaluated_as_registered,
    hub_failures_are_problems_that_say_what_failed,
    the_check_page_fetches_an_hf_reference,
);

const CHAT: &str = "hf:northwind/support-chat-8b";

fn inherited(d: &Value) -> Vec<(String, String)> {
    d["license"]["inherited"]
        .as_array()
        .unwrap_or_else(|| panic!("no inherited licences: {d}"))
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap_or("").to_string(),
                a["license"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn a_hub_model_is_fetched_recorded_and_replayed_without_the_hub(s: &TestServer, hub: &Stub) {
    let r = s
        .post_json("/v1/evaluations", &json!({ "hub": CHAT }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = r.json();
    let id = d["id"].as_str().expect("decision id").to_string();
    // Recorded under the Hub's name, at the exact commit, with the lineage fetched through
    // two fine-tunes to the catalog's Llama 3.1 base (as `modelgate check hf:` does).
    assert_eq!(d["model"]["id"], "northwind/support-chat-8b", "{d}");
    assert_eq!(
        d["model"]["revision"],
        sha_of("northwind/support-chat-8b").as_str()
    );
    assert_eq!(
        inherited(&d),
        vec![
            ("northwind/dialog-sft-8b".into(), "llama3.1".into()),
            ("northwind/instruct-mid-8b".into(), "llama3.1".into()),
            ("meta-llama/Llama-3.1-8B".into(), "llama3.1".into()),
        ]
    );
    assert_eq!(
        d["lineage"]["fetched"],
        json!(["northwind/dialog-sft-8b", "northwind/instruct-mid-8b"])
    );
    let list = s
        .get("/v1/decisions?model_ref=northwind/support-chat-8b")
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(&id), "{}", list.text);

    // A dry run answers the same verdict and findings; nothing more is recorded.
    let dry = s
        .post_json("/v1/evaluations?dry_run=true", &json!({ "hub": CHAT }))
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.json()["verdict"], d["verdict"]);
    assert_eq!(dry.json()["findings"], d["findings"]);
    // The two fetches are timed on their own, not as evaluation time.
    let m = s.get("/metrics").await;
    assert!(
        m.text
            .contains("modelgate_hub_fetch_duration_seconds_count 2"),
        "{}",
        m.text
    );

    // The replay builds the records from the stored fetch: identical, and the Hub is not
    // asked again.
    let asked = hub.total();
    let r = s
        .post_json(&format!("/v1/decisions/{id}/replay"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["identical"], true, "{}", r.text);
    assert_eq!(hub.total(), asked, "a replay does not ask the Hub");

    // Its evidence bundle (entry, inclusion proof, signed checkpoint) is served like any.
    let e = s.get(&format!("/v1/decisions/{id}/evidence")).await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert!(e.text.contains(&id), "{}", e.text);
}

async fn a_hub_model_is_registered_and_evaluated_as_registered(s: &TestServer, hub: &Stub) {
    let r = s
        .put_json("/v1/models/northwind/support-chat", &json!({ "hub": CHAT }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["format"], "hf-hub");
    // The same commit again: no new version.
    let again = s
        .put_json("/v1/models/northwind/support-chat", &json!({ "hub": CHAT }))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["new_version"], false);

    // Evaluating the registered model: its fetched ancestors come from the stored fetch,
    // without asking the Hub.
    let asked = hub.total();
    let r = s
        .post_json(
            "/v1/evaluations",
            &json!({ "model_ref": "northwind/support-chat" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(hub.total(), asked);
    let d = r.json();
    assert_eq!(inherited(&d).len(), 3, "{d}");
    assert_eq!(d["lineage"]["unresolved"], json!([]), "{d}");
    let model = s.get("/v1/models/northwind/support-chat").await;
    assert_eq!(model.status, 200, "{}", model.text);
    assert!(model.text.contains("hf-hub"), "{}", model.text);
}

async fn hub_failures_are_problems_that_say_what_failed(s: &TestServer, hub: &Stub) {
    // The service has no token for this gated card.
    let sha = sha_of("gatedco/secret-7b");
    hub.require_token(
        &format!("/gatedco/secret-7b/resolve/{sha}/README.md"),
        "hf_ServiceHasNoToken",
    );
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({ "hub": "hf:nobody/nothing" }),
            422,
            "hub-not-found",
            "nobody/nothing",
        ),
        (
            json!({ "hub": "hf:noslash" }),
            422,
            "invalid-body",
            "organisation",
        ),
        (
            json!({ "hub": "hf:gatedco/secret-7b" }),
            422,
            "hub-denied",
            "gatedco/secret-7b",
        ),
        (
            json!({ "hub": CHAT, "document": { "content": "---\nlicense: mit\n---\n" } }),
            422,
            "invalid-body",
            "one of",
        ),
    ];
    for (body, status, kind, says) in cases {
        let r = s.post_json("/v1/evaluations", &body).await;
        let p = r.problem(status);
        assert_eq!(
            p["type"],
            format!("https://modelgate.dev/problems/{kind}"),
            "{body}: {}",
            r.text
        );
        assert!(
            p["detail"].as_str().unwrap().contains(says),
            "{body}: {}",
            r.text
        );
    }
    // The Hub failing: a bad gateway, nothing recorded.
    hub.route(
        "/api/models/northwind/tiny-apache",
        vec![modelgate_tests::hubstub::Resp::hub_error(
            503,
            None,
            "Service Unavailable",
        )],
    );
    let r = s
        .post_json(
            "/v1/evaluations",
            &json!({ "hub": "hf:northwind/tiny-apache" }),
        )
        .await;
    let p = r.problem(502);
    assert_eq!(p["type"], "https://modelgate.dev/problems/hub-unavailable");
    let none = s.get("/v1/decisions?model_ref=northwind/tiny-apache").await;
    assert_eq!(none.json()["items"], json!([]), "{}", none.text);
}

async fn the_check_page_fetches_an_hf_reference(s: &TestServer, _hub: &Stub) {
    let who = Session::sign_in(&s.base, &s.admin_key).await;
    let fields = |register: bool| {
        let mut f = vec![
            ("content", ""),
            ("model_ref", CHAT),
            ("format", "auto"),
            ("basis", "profile"),
            ("profile", ""),
            ("mode", "record"),
        ];
        if register {
            f.push(("register", "on"));
        }
        f
    };
    let r = who.post("/ui/check", &fields(false)).await;
    let id = decision_of(&r);
    let page = who.get(&format!("/ui/decisions/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("northwind/support-chat-8b"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("meta-llama/Llama-3.1-8B"),
        "the lineage is shown"
    );

    // Registered from the Hub: the board lists it under org/name.
    let r = who.post("/ui/check", &fields(true)).await;
    decision_of(&r);
    let board = who.get("/ui/models?q=support-chat").await;
    assert!(
        board.text.contains("northwind/support-chat-8b"),
        "{}",
        board.text
    );

    // A dry run of an unknown repository: the Hub's answer in place, 422.
    let mut f = fields(false);
    for (k, v) in f.iter_mut() {
        match *k {
            "model_ref" => *v = "hf:nobody/nothing",
            "mode" => *v = "dry-run",
            _ => {}
        }
    }
    let r = who.post("/ui/check", &f).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("nobody/nothing"), "{}", r.text);
}

/// A service started with `--hf-endpoint off` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_hub_access_says_so() {
    let s = TestServer::start(TestDb::sqlite().await).await;
    let r: Resp = s
        .post_json("/v1/evaluations", &json!({ "hub": CHAT }))
        .await;
    let p = r.problem(422);
    assert_eq!(p["type"], "https://modelgate.dev/problems/hub-disabled");
    assert!(p["detail"].as_str().unwrap().contains("document"));
    s.stop().await;
    drop(hub());
}
