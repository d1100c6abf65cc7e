//! The web dashboard through the real server over HTTP, on SQLite and PostgreSQL: sessions,
//! CSRF, security headers, roles, tenants, and each page doing what the API does. Real
//! Chromium runs the same flows in `browser.rs`.

use modelgate::auth::Role;
use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use modelgate_tests::ui::{Session, client, decision_of, set_cookie, sign_in_answer};

api_on_both_backends!(
    pages_need_a_session,
    sign_in_sets_a_strict_cookie_and_sign_out_ends_it,
    a_wrong_key_is_refused_in_place,
    forms_without_the_token_are_refused,
    pages_carry_a_strict_content_security_policy,
    a_check_records_and_shows_the_verdict_first,
    the_requester_cannot_approve_and_an_approver_can,
    a_viewer_gets_no_review_buttons,
    another_tenants_decision_is_not_found,
    the_board_filters_searches_and_exports,
    waivers_are_granted_and_revoked,
    a_revoked_key_ends_its_sessions,
    a_refused_document_is_shown_in_place,
    packs_and_audit_pages,
    packs_are_uploaded_analysed_and_activated,
    a_file_is_checked_like_pasted_text,
);

const ODD: &str = "---\nlicense: other\n---\n# Odd model\n";
const APACHE: &str = "---\nlicense: apache-2.0\n---\n# A model\n";

/// Registers `model` with `card` and records an evaluation as `who`: the decision id.
async fn check(who: &Session, model: &str, card: &str) -> String {
    let r = who
        .post(
            "/ui/check",
            &[
                ("content", card),
                ("model_ref", model),
                ("format", "auto"),
                ("basis", "profile"),
                ("profile", ""),
                ("mode", "record"),
                ("register", "on"),
            ],
        )
        .await;
    decision_of(&r)
}

async fn pages_need_a_session(s: &TestServer) {
    let c = client();
    for (path, next) in [
        ("/", "/"),
        ("/ui/reviews", "/ui/reviews"),
        ("/ui/models?q=a", "/ui/models?q=a"),
    ] {
        let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        let to = r.headers()["location"].to_str().unwrap().to_string();
        let want = format!(
            "/ui/signin?next={}",
            next.replace('?', "%3F").replace('=', "%3D")
        );
        assert_eq!(to, want, "{path}");
    }
    // An API key is not a session.
    let r = s
        .client
        .get(format!("{}/ui/reviews", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "reqwest followed the redirect to the sign-in page"
    );
    assert!(r.url().path().starts_with("/ui/signin"));
}

async fn sign_in_sets_a_strict_cookie_and_sign_out_ends_it(s: &TestServer) {
    let r = sign_in_answer(&s.base, &s.admin_key).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/"));
    let set = set_cookie(&r, "mg_session").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: not Secure: {set}");
    assert!(
        !set.contains(&s.admin_key),
        "the cookie never holds the key"
    );
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    assert!(me.get("/").await.text.contains("Approved models"));
    let r = me.post("/ui/signout", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/ui/signin"));
    assert_eq!(me.get("/").await.status, 303, "the session ended");
}

async fn a_wrong_key_is_refused_in_place(s: &TestServer) {
    for key in [
        "not a key",
        "mg_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = sign_in_answer(&s.base, key).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.text.contains("That key was not accepted"), "{}", r.text);
        assert!(r.text.contains("<form"), "the form is shown again");
        assert!(set_cookie(&r, "mg_session").is_none());
    }
}

async fn forms_without_the_token_are_refused(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    for (path, fields) in [
        ("/ui/waivers", vec![("model_ref", "a/b"), ("rule_id", "x")]),
        ("/ui/signout", vec![]),
        ("/ui/check", vec![("content", ODD), ("model_ref", "a/b")]),
        (
            "/ui/reviews",
            vec![
                ("decision_id", "x"),
                ("outcome", "approve"),
                ("justification", "j"),
            ],
        ),
    ] {
        let r = me.post_raw(path, &fields).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert!(r.text.contains("form token"), "{path}: {}", r.text);
        let mut wrong = fields.clone();
        wrong.push(("csrf", "forged"));
        assert_eq!(me.post_raw(path, &wrong).await.status, 403, "{path}");
    }
    assert_eq!(me.get("/").await.status, 200, "still signed in");
    // The sign-in form without its cookie's token.
    let r = client()
        .post(format!("{}/ui/signin", s.base))
        .form(&[("key", s.admin_key.as_str()), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn pages_carry_a_strict_content_security_policy(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    for path in [
        "/",
        "/ui/check",
        "/ui/reviews",
        "/ui/waivers",
        "/ui/packs",
        "/ui/audit",
        "/ui/nowhere",
    ] {
        let r = me.get(path).await;
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert!(
            !r.text.contains("<script>") && !r.text.contains(" style="),
            "{path}: inline code"
        );
        assert!(
            !r.text.contains("http://") || path == "/ui/audit",
            "{path}: no external assets"
        );
    }
    let css = me.get("/ui/static/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(me.get("/ui/nowhere").await.status, 404);
}

async fn a_check_records_and_shows_the_verdict_first(s: &TestServer) {
    let evaluator = s.key("default", Role::Evaluator).await;
    let me = Session::sign_in(&s.base, &evaluator).await;
    let id = check(&me, "acme/odd", ODD).await;
    let page = me.get(&format!("/ui/decisions/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let verdict = page.text.find("Verdict: review").expect("the verdict");
    let findings = page.text.find("Findings").expect("findings");
    assert!(verdict < findings, "the verdict comes first");
    assert!(page.text.contains("Needs review"), "in plain words");
    assert!(page.text.contains("Licence chain") && page.text.contains("Openness"));
    // The API shows the same decision.
    let api = s.get(&format!("/v1/decisions/{id}")).await.json();
    assert_eq!(api["verdict"], "review");
    let row =
        s.db.store
            .get_decision("default", &id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        row.requested_by.as_deref(),
        Some(&evaluator[3..19]),
        "recorded as its key"
    );
    // The board shows it, pending review.
    let board = me.get("/").await.text;
    assert!(
        board.contains("acme/odd") && board.contains("Pending review"),
        "{board}"
    );
    // A dry run records nothing.
    let before = s.get("/v1/decisions").await.json()["items"]
        .as_array()
        .unwrap()
        .len();
    let r = me
        .post(
            "/ui/check",
            &[
                ("content", APACHE),
                ("model_ref", "acme/dry"),
                ("mode", "dry-run"),
                ("basis", "profile"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("A dry run: nothing was recorded") && r.text.contains("Verdict: "));
    let after = s.get("/v1/decisions").await.json()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    // A described use context.
    let r = me
        .post(
            "/ui/check",
            &[
                ("content", APACHE),
                ("model_ref", "acme/ctx"),
                ("mode", "record"),
                ("basis", "context"),
                ("purpose", "research"),
                ("deployment", "internal"),
                ("monthly_active_users", "1,000"),
                ("annual_revenue_usd", ""),
                ("regions", "eu, us"),
                ("modification", "none"),
            ],
        )
        .await;
    let id = decision_of(&r);
    let ctx = s.get(&format!("/v1/decisions/{id}")).await.json()["context"].clone();
    assert_eq!(ctx["purpose"], "research");
    assert_eq!(ctx["monthly_active_users"], 1000);
    assert_eq!(ctx["regions"], serde_json::json!(["EU", "US"]));
}

async fn the_requester_cannot_approve_and_an_approver_can(s: &TestServer) {
    let approver = s.key("default", Role::Approver).await;
    let requester = Session::sign_in(&s.base, &approver).await;
    let id = check(&requester, "acme/odd", ODD).await;
    let queue = requester.get("/ui/reviews").await.text;
    assert!(queue.contains(&id), "{queue}");
    assert!(queue.contains("another approver must review it"), "{queue}");
    let r = requester
        .post(
            "/ui/reviews",
            &[
                ("decision_id", &id),
                ("outcome", "approve"),
                ("justification", "mine"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "separation of duties");
    assert!(r.text.contains("cannot review it"), "{}", r.text);
    let other = s.key("default", Role::Approver).await;
    let me = Session::sign_in(&s.base, &other).await;
    let queue = me.get("/ui/reviews").await.text;
    assert!(
        queue.contains("value=\"approve\""),
        "an approve button: {queue}"
    );
    let r = me
        .post(
            "/ui/reviews",
            &[
                ("decision_id", &id),
                ("outcome", "approve"),
                ("justification", "fine for the pilot"),
                ("conditions", "internal only\n"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("approved"), "{}", r.text);
    assert!(
        !r.text.contains(&format!("value=\"{id}\"")),
        "gone from the queue"
    );
    let board = me.get("/").await.text;
    assert!(
        board.contains("Conditional"),
        "approved with conditions: {board}"
    );
    let page = me.get(&format!("/ui/decisions/{id}")).await.text;
    assert!(page.contains("fine for the pilot") && page.contains("internal only"));
}

async fn a_viewer_gets_no_review_buttons(s: &TestServer) {
    let evaluator = Session::sign_in(&s.base, &s.key("default", Role::Evaluator).await).await;
    let id = check(&evaluator, "acme/odd", ODD).await;
    let viewer = Session::sign_in(&s.base, &s.key("default", Role::Viewer).await).await;
    let queue = viewer.get("/ui/reviews").await.text;
    assert!(queue.contains(&id), "a viewer sees the queue");
    assert!(
        !queue.contains("Approve") && !queue.contains("Reject"),
        "{queue}"
    );
    assert!(
        !viewer.get("/").await.text.contains("href=\"/ui/check\""),
        "no check link"
    );
    let r = viewer
        .post(
            "/ui/reviews",
            &[
                ("decision_id", &id),
                ("outcome", "approve"),
                ("justification", "j"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(viewer.get("/ui/check").await.status, 403);
    let waivers = viewer.get("/ui/waivers").await.text;
    assert!(!waivers.contains("Grant the waiver"));
}

async fn another_tenants_decision_is_not_found(s: &TestServer) {
    let admin = Session::sign_in(&s.base, &s.admin_key).await;
    let id = check(&admin, "acme/odd", ODD).await;
    let other = Session::sign_in(&s.base, &s.key("other", Role::Admin).await).await;
    let r = other.get(&format!("/ui/decisions/{id}")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(
        r.text.contains(&format!("there is no decision {id}")),
        "{}",
        r.text
    );
    assert_eq!(other.get("/ui/decisions/not-a-uuid").await.status, 404);
    assert_eq!(other.get("/ui/models/acme/odd").await.status, 404);
    assert!(!other.get("/").await.text.contains("acme/odd"));
    let r = other
        .post(
            "/ui/reviews",
            &[
                ("decision_id", &id),
                ("outcome", "approve"),
                ("justification", "j"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("there is no decision"));
}

async fn the_board_filters_searches_and_exports(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    for (model, card) in [
        ("acme/alpha", APACHE),
        ("acme/beta", ODD),
        ("other/Gamma", APACHE),
        ("=cmd/x", APACHE),
    ] {
        let r = s
            .put_json(
                &format!("/v1/models/{model}"),
                &serde_json::json!({"document": {"format": "hf-card", "content": card}}),
            )
            .await;
        assert!(r.status < 300, "{}", r.text);
    }
    check(&me, "acme/beta", ODD).await;
    let all = me.get("/").await.text;
    for m in ["acme/alpha", "acme/beta", "other/Gamma"] {
        assert!(all.contains(m), "{m}");
    }
    let apache = me.get("/ui/models?license=apache-2.0").await.text;
    assert!(
        apache.contains("acme/alpha") && !apache.contains("acme/beta"),
        "{apache}"
    );
    let search = me.get("/ui/models?q=gam").await.text;
    assert!(
        search.contains("other/Gamma") && !search.contains("acme/alpha"),
        "any case"
    );
    let pending = me.get("/ui/models?status=pending_review").await.text;
    assert!(pending.contains("acme/beta") && !pending.contains("acme/alpha"));
    let wild = me.get("/ui/models?q=%25").await.text;
    assert!(
        !wild.contains("acme/alpha"),
        "% is a character, not a wildcard"
    );
    let bad = me.get("/ui/models?status=nonsense").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("there is no status"));
    let csv = me.get("/ui/models.csv?license=apache-2.0").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "model_ref,status,license,profile,latest_version,verdict,decided_at,decision_id,waivers_expiring"
    );
    assert_eq!(lines.len(), 4, "{}", csv.text);
    assert!(
        lines.iter().any(|l| l.starts_with("'=cmd/x,")),
        "no formula: {}",
        csv.text
    );
}

async fn waivers_are_granted_and_revoked(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.key("default", Role::Approver).await).await;
    let page = me.get("/ui/waivers").await.text;
    assert!(page.contains("Grant the waiver"));
    let expires =
        modelgate::time::rfc3339_micros(modelgate::time::now_micros() + 30 * 86_400_000_000)[..10]
            .to_string();
    let too_late =
        modelgate::time::rfc3339_micros(modelgate::time::now_micros() + 400 * 86_400_000_000)[..10]
            .to_string();
    let fields = |exp: &str| {
        vec![
            ("model_ref", "acme/odd".to_string()),
            ("rule_id", "license-non-commercial".to_string()),
            ("profile", String::new()),
            ("reason", "legal_opinion_on_file".to_string()),
            ("justification", "counsel read the terms".to_string()),
            ("ticket", "LEG-1".to_string()),
            ("expires_at", exp.to_string()),
        ]
    };
    let refused = fields(&too_late);
    let refused: Vec<(&str, &str)> = refused.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = me.post("/ui/waivers", &refused).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("counsel read the terms"),
        "the form keeps what was typed"
    );
    let ok = fields(&expires);
    let ok: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = me.post("/ui/waivers", &ok).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let api = s.get("/v1/waivers").await.json();
    let w = &api["items"][0];
    assert_eq!(w["state"], "active");
    let id = w["id"].as_str().unwrap().to_string();
    let page = me.get("/ui/waivers").await.text;
    assert!(page.contains(&format!("/ui/waivers/{id}/revoke")));
    let r = me.post(&format!("/ui/waivers/{id}/revoke"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        s.get(&format!("/v1/waivers/{id}")).await.json()["state"],
        "revoked"
    );
    let r = me.post(&format!("/ui/waivers/{id}/revoke"), &[]).await;
    assert_eq!(r.status, 404, "revoked already");
}

async fn a_revoked_key_ends_its_sessions(s: &TestServer) {
    let key = s.key("default", Role::Viewer).await;
    let me = Session::sign_in(&s.base, &key).await;
    let id = &key[3..19];
    let r = s
        .send(s.client.delete(format!("{}/v1/keys/{id}", s.base)))
        .await;
    assert!(r.status < 300, "{}", r.text);
    let r = me.get("/").await;
    assert_eq!(r.status, 303, "signed out once the key is revoked");
}

async fn a_refused_document_is_shown_in_place(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    let r = me
        .post(
            "/ui/check",
            &[
                ("content", "{\"not\": \"a model\"}"),
                ("model_ref", "acme/x"),
                ("format", "native"),
                ("mode", "record"),
                ("basis", "profile"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("role=\"alert\""),
        "shown in place: {}",
        r.text
    );
    assert!(r.text.contains("the document is not valid"), "{}", r.text);
    assert!(r.text.contains("acme/x"), "the form keeps its values");
    let r = me
        .post(
            "/ui/check",
            &[("content", ""), ("model_ref", ""), ("mode", "record")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}

async fn packs_and_audit_pages(s: &TestServer) {
    let admin = Session::sign_in(&s.base, &s.admin_key).await;
    check(&admin, "acme/odd", ODD).await;
    let packs = admin.get("/ui/packs").await.text;
    assert!(
        packs.contains("built in") && packs.contains("active"),
        "{packs}"
    );
    let audit = admin.get("/ui/audit?verify=1").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(audit.text.contains("The log verifies"), "{}", audit.text);
    let viewer = Session::sign_in(&s.base, &s.key("default", Role::Viewer).await).await;
    assert!(!viewer.get("/ui/audit").await.text.contains("Verify now"));
    assert_eq!(viewer.get("/ui/audit?verify=1").await.status, 403);
    assert!(!viewer.get("/ui/packs").await.text.contains("Activate"));
}

async fn packs_are_uploaded_analysed_and_activated(s: &TestServer) {
    let admin = Session::sign_in(&s.base, &s.admin_key).await;
    let r = s
        .put_json(
            "/v1/models/acme/nc",
            &serde_json::json!({"document": {"format": "hf-card",
                "content": "---\nlicense: cc-by-nc-4.0\n---\n# NC model\n"}}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    check(
        &admin,
        "acme/nc",
        "---\nlicense: cc-by-nc-4.0\n---\n# NC model\n",
    )
    .await;
    let broken = admin
        .post_multipart("/ui/packs", &[("file", Some("pack.tar.gz"), b"not gzip")])
        .await;
    assert_eq!(broken.status, 422, "{}", broken.text);
    assert!(broken.text.contains("role=\"alert\""), "{}", broken.text);
    let candidate = modelgate_tests::packs::candidate();
    let r = admin
        .post_multipart(
            "/ui/packs",
            &[("file", Some("candidate.tar.gz"), &candidate)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("9.9.9-candidate") && r.text.contains("registered"),
        "{}",
        r.text
    );
    let packs = s.get("/v1/packs").await.json();
    let digest = packs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["version"] == "9.9.9-candidate")
        .expect("the candidate is registered")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.post(&format!("/ui/packs/{digest}/impact"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("acme/nc") && r.text.contains("deny → review"),
        "{}",
        r.text
    );
    let page = admin.get("/ui/packs").await.text;
    let field = "name=\"etag\" value=\"";
    let etag_at = page.find(field).expect("an activation form") + field.len();
    let etag = page[etag_at..etag_at + page[etag_at..].find('"').unwrap()].replace("&#34;", "\"");
    let r = admin
        .post(&format!("/ui/packs/{digest}/activate"), &[("etag", &etag)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("is active"), "{}", r.text);
    assert_eq!(
        s.get("/v1/packs").await.json()["active"]["digest"],
        digest.as_str()
    );
    // The page's activation is no longer the current one.
    let r = admin
        .post(&format!("/ui/packs/{digest}/activate"), &[("etag", &etag)])
        .await;
    assert!(
        r.text.contains("role=\"alert\""),
        "a stale page is refused: {}",
        r.text
    );
    let viewer = Session::sign_in(&s.base, &s.key("default", Role::Viewer).await).await;
    let r = viewer
        .post_multipart("/ui/packs", &[("file", Some("c.tar.gz"), &candidate)])
        .await;
    assert_eq!(r.status, 403);
}

async fn a_file_is_checked_like_pasted_text(s: &TestServer) {
    let me = Session::sign_in(&s.base, &s.admin_key).await;
    let r = me
        .post_multipart(
            "/ui/check",
            &[
                ("content", None, b""),
                ("file", Some("README.md"), ODD.as_bytes()),
                ("model_ref", None, b"acme/from-file"),
                ("format", None, b"auto"),
                ("basis", None, b"profile"),
                ("mode", None, b"record"),
            ],
        )
        .await;
    let id = decision_of(&r);
    let d =
        s.db.store
            .get_decision("default", &id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.model_ref, "acme/from-file");
    assert_eq!(d.verdict, "review");
    assert_eq!(d.document, ODD.as_bytes(), "the file as sent");
    // Pasted text is sent with CRLF line breaks by browsers: it is the text as pasted.
    let crlf = ODD.replace('\n', "\r\n");
    let r = me
        .post(
            "/ui/check",
            &[
                ("content", crlf.as_str()),
                ("model_ref", "acme/pasted"),
                ("mode", "record"),
            ],
        )
        .await;
    let pasted = decision_of(&r);
    let d =
        s.db.store
            .get_decision("default", &pasted)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.document, ODD.as_bytes(), "line breaks as pasted");
    let r = me
        .post_multipart(
            "/ui/check",
            &[
                ("file", Some("x.bin"), &[0xff, 0xfe, 0x00]),
                ("model_ref", None, b"a/b"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("not UTF-8 text"), "{}", r.text);
}
