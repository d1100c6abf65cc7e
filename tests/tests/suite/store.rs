//! The store conformance suite: every test runs on SQLite and on PostgreSQL (a fresh
//! database per test). A PostgreSQL that cannot be reached fails the PostgreSQL half.

use modelgate::store::*;
use modelgate_tests::on_both_backends;

on_both_backends!(
    migrations_are_idempotent_and_named_alike,
    packs_are_immutable_and_activation_is_ordered,
    profiles_are_versioned,
    model_versions_dedupe_identical_documents,
    decisions_keep_the_exact_input,
    idempotency_keys_replay_or_conflict,
    decision_listing_filters_and_pages,
    status_board_reports_each_status,
    tenants_never_see_each_other,
    decisions_are_written_only_under_the_current_generation,
    the_board_filters_by_licence_profile_and_name,
    sessions_open_expire_and_end,
);

const T: &str = "acme";
const OTHER: &str = "globex";

fn pack(digest: &str) -> NewPack {
    NewPack {
        digest: digest.into(),
        name: "p".into(),
        version: "1.0.0".into(),
        files: vec![StoredFile {
            path: "pack.yaml".into(),
            content: format!("name: p # {digest}\n"),
        }],
        builtin: false,
    }
}

fn id(n: u32) -> String {
    // Time-ordered like the UUIDv7 ids the service makes.
    format!("0190f000-0000-7000-8000-{n:012}")
}

struct D {
    id: String,
    tenant: &'static str,
    model: String,
    model_version: Option<i64>,
    profile: Option<&'static str>,
    verdict: &'static str,
    pack: &'static str,
    at: i64,
    key: Option<&'static str>,
    request: Option<&'static str>,
    trace: Option<&'static str>,
    document: Vec<u8>,
    generation: Option<i64>,
    link: Option<&'static str>,
}

impl D {
    fn new(n: u32, model: &str, verdict: &'static str) -> D {
        D {
            id: id(n),
            tenant: T,
            model: model.into(),
            model_version: Some(1),
            profile: None,
            verdict,
            pack: "sha256:active",
            at: i64::from(n) * 1_000_000,
            key: None,
            request: None,
            trace: None,
            document: format!("document {n}").into_bytes(),
            generation: None,
            link: None,
        }
    }
    async fn insert(&self, s: &Store) -> Result<Inserted> {
        s.insert_decision(&NewDecision {
            link_digest: self.link,
            generation: self.generation,
            id: &self.id,
            tenant: self.tenant,
            model_ref: &self.model,
            model_version: self.model_version,
            profile: self.profile,
            verdict: self.verdict,
            format: "hf-card",
            document: &self.document,
            record_json: r#"{"id":"m"}"#,
            context_json: r#"{"purpose":"commercial"}"#,
            decision_json: &format!(r#"{{"verdict":"{}"}}"#, self.verdict),
            pack_digest: self.pack,
            engine_version: "0.1.0",
            input_digest: "sha256:input",
            created_at: self.at,
            requested_by: Some("key_1"),
            idempotency_key: self.key,
            request_digest: self.request,
            trace_id: self.trace,
            leaf_hash: Some([7; 32]),
        })
        .await
    }
}

fn new_row(r: Result<Inserted>) -> DecisionRow {
    match r {
        Ok(Inserted::New(row)) => row,
        other => panic!("expected a new decision, got {other:?}"),
    }
}

async fn migrations_are_idempotent_and_named_alike(s: &Store) {
    s.migrate().await.expect("second migration run is a no-op");
    let names = s.migrations();
    assert!(!names.is_empty());
    assert_eq!(names[0], (1, "init".to_string()));
    assert_eq!(names[1], (2, "decision trace id".to_string()));
    s.ping().await.expect("ping");
}

async fn packs_are_immutable_and_activation_is_ordered(s: &Store) {
    assert!(
        s.register_pack(T, &pack("sha256:a"), 10, None)
            .await
            .unwrap()
    );
    assert!(
        !s.register_pack(T, &pack("sha256:a"), 20, None)
            .await
            .unwrap()
    );
    assert!(
        s.register_pack(T, &pack("sha256:b"), 30, None)
            .await
            .unwrap()
    );
    let got = s.get_pack(T, "sha256:a").await.unwrap().expect("pack a");
    assert_eq!(
        got.summary.registered_at, 10,
        "the first registration stands"
    );
    assert_eq!(got.files, pack("sha256:a").files);
    let list = s.list_packs(T).await.unwrap();
    assert_eq!(
        list.iter().map(|p| p.digest.as_str()).collect::<Vec<_>>(),
        ["sha256:b", "sha256:a"]
    );
    assert!(s.active_pack(T).await.unwrap().is_none());
    match s.activate_pack(T, "sha256:nope", 40, None).await {
        Err(StoreError::UnknownPack(d)) => assert_eq!(d, "sha256:nope"),
        other => panic!("expected UnknownPack, got {other:?}"),
    }
    let a1 = s.activate_pack(T, "sha256:a", 50, None).await.unwrap();
    let a2 = s.activate_pack(T, "sha256:b", 60, None).await.unwrap();
    assert_eq!((a1.seq, a2.seq), (1, 2));
    assert_eq!(s.active_pack(T).await.unwrap(), Some(a2.clone()));
    // An activation that must follow one that is no longer current writes nothing.
    for stale in [None, Some(1)] {
        let lost = s.activate_pack_after(T, "sha256:a", 70, None, stale).await;
        assert!(matches!(lost, Ok(None)), "{lost:?}");
    }
    assert_eq!(s.active_pack(T).await.unwrap(), Some(a2));
    let a3 = s
        .activate_pack_after(T, "sha256:a", 80, None, Some(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a3.seq, a3.digest.as_str()), (3, "sha256:a"));
    assert!(matches!(
        s.activate_pack_after(T, "sha256:nope", 90, None, Some(3))
            .await,
        Err(StoreError::UnknownPack(_))
    ));
}

async fn profiles_are_versioned(s: &Store) {
    let p1 = s
        .put_profile(
            T,
            "eu-saas",
            Some("EU SaaS"),
            r#"{"deployment":"saas"}"#,
            100,
        )
        .await
        .unwrap();
    assert_eq!((p1.version, p1.created_at, p1.updated_at), (1, 100, 100));
    let p2 = s
        .put_profile(T, "eu-saas", None, r#"{"deployment":"on-prem"}"#, 200)
        .await
        .unwrap();
    assert_eq!((p2.version, p2.created_at, p2.updated_at), (2, 100, 200));
    assert_eq!(p2.context, r#"{"deployment":"on-prem"}"#);
    assert_eq!(p2.description, None);
    s.put_profile(T, "a-research", None, "{}", 300)
        .await
        .unwrap();
    let names: Vec<String> = s
        .list_profiles(T)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["a-research", "eu-saas"]);
    assert!(s.get_profile(T, "missing").await.unwrap().is_none());
}

fn mv<'a>(model: &'a str, doc: &'a [u8], digest: &'a str) -> NewModelVersion<'a> {
    NewModelVersion {
        model_ref: model,
        format: "hf-card",
        document: doc,
        record_json: r#"{"id":"x"}"#,
        document_digest: digest,
        license: Some("apache-2.0"),
    }
}

async fn model_versions_dedupe_identical_documents(s: &Store) {
    let (v1, new1) = s
        .put_model_version(T, &mv("org/m", b"one", "d1"), 1)
        .await
        .unwrap();
    let (again, new2) = s
        .put_model_version(T, &mv("org/m", b"one", "d1"), 2)
        .await
        .unwrap();
    let (v2, new3) = s
        .put_model_version(T, &mv("org/m", b"two", "d2"), 3)
        .await
        .unwrap();
    assert!(new1 && !new2 && new3);
    assert_eq!((v1.version, again.version, v2.version), (1, 1, 2));
    let all = s.model_versions(T, "org/m").await.unwrap();
    assert_eq!(all.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(all[1].document, b"two");
    assert_eq!(s.latest_model_version(T, "org/m").await.unwrap(), Some(v2));
    assert!(s.model_versions(T, "org/none").await.unwrap().is_empty());
    // A decision inserted with its document's digest is linked to the latest version when
    // that version is its document (only the latest counts; per tenant and model).
    for (n, tenant, model, given, digest, linked) in [
        (901, T, "org/m", None, "d2", Some(2)),
        (902, T, "org/m", None, "d1", None),
        (903, T, "org/none", None, "d2", None),
        (904, OTHER, "org/m", None, "d2", None),
        (905, T, "org/m", Some(7), "d2", Some(7)),
    ] {
        let mut d = D::new(n, model, "allow");
        d.tenant = tenant;
        d.model_version = given;
        d.link = Some(digest);
        let row = new_row(d.insert(s).await);
        assert_eq!(row.model_version, linked, "decision {n}");
        let stored = s.get_decision(tenant, &d.id).await.unwrap().unwrap();
        assert_eq!(stored.model_version, linked, "stored decision {n}");
    }
}

async fn decisions_keep_the_exact_input(s: &Store) {
    let mut d = D::new(1, "org/m", "deny");
    // Not UTF-8 and with a NUL: stored and returned byte for byte.
    d.document = vec![0xff, 0x00, b'-', b'-', b'-', 0xfe];
    d.profile = Some("eu-saas");
    d.trace = Some("4bf92f3577b34da6a3ce929d0e0e4736");
    let row = new_row(d.insert(s).await);
    let got = s.get_decision(T, &d.id).await.unwrap().expect("stored");
    assert_eq!(got, row);
    assert_eq!(got.document, d.document);
    assert_eq!(got.profile.as_deref(), Some("eu-saas"));
    assert_eq!(
        got.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(got.decision, r#"{"verdict":"deny"}"#);
    assert_eq!(got.record, r#"{"id":"m"}"#);
    assert_eq!(got.context, r#"{"purpose":"commercial"}"#);
    assert_eq!(
        (
            got.pack_digest.as_str(),
            got.engine_version.as_str(),
            got.input_digest.as_str()
        ),
        ("sha256:active", "0.1.0", "sha256:input")
    );
    assert!(s.get_decision(T, &id(999)).await.unwrap().is_none());
    // Without a profile the row says so.
    let d2 = D::new(2, "org/m", "allow");
    let r2 = new_row(d2.insert(s).await);
    assert_eq!((r2.profile, r2.trace_id), (None, None));
}

async fn idempotency_keys_replay_or_conflict(s: &Store) {
    let mut first = D::new(1, "org/m", "allow");
    first.key = Some("k-1");
    first.request = Some("body-a");
    let row = new_row(first.insert(s).await);
    // A retry (new id, same key and request) gets the first decision back.
    let mut retry = D::new(2, "org/m", "allow");
    retry.key = Some("k-1");
    retry.request = Some("body-a");
    assert_eq!(retry.insert(s).await.unwrap(), Inserted::Replayed(row));
    assert!(s.get_decision(T, &retry.id).await.unwrap().is_none());
    // Same key, another request: refused.
    let mut other = D::new(3, "org/m", "deny");
    other.key = Some("k-1");
    other.request = Some("body-b");
    match other.insert(s).await {
        Err(StoreError::IdempotencyConflict(k)) => assert_eq!(k, "k-1"),
        r => panic!("expected a conflict, got {r:?}"),
    }
    // The same key in another tenant is another key.
    let mut elsewhere = D::new(4, "org/m", "allow");
    elsewhere.tenant = OTHER;
    elsewhere.key = Some("k-1");
    elsewhere.request = Some("body-b");
    new_row(elsewhere.insert(s).await);
    // No key: every request is recorded.
    new_row(D::new(5, "org/m", "allow").insert(s).await);
    new_row(D::new(6, "org/m", "allow").insert(s).await);
    let all = s
        .list_decisions(T, &DecisionFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
}

async fn decision_listing_filters_and_pages(s: &Store) {
    for n in 1..=25 {
        let model = if n % 2 == 0 { "org/even" } else { "org/odd" };
        let verdict = if n % 5 == 0 { "deny" } else { "allow" };
        new_row(D::new(n, model, verdict).insert(s).await);
    }
    // Pages of 10, newest first, no overlap, nothing lost.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .list_decisions(T, &DecisionFilter::default(), after.as_deref(), 10)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|d| d.id.clone());
        seen.extend(page.into_iter().map(|d| d.id));
    }
    let expected: Vec<String> = (1..=25).rev().map(id).collect();
    assert_eq!(seen, expected);

    let by_model = DecisionFilter {
        model_ref: Some("org/even".into()),
        ..Default::default()
    };
    let rows = s.list_decisions(T, &by_model, None, 100).await.unwrap();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|d| d.model_ref == "org/even"));

    let denied = DecisionFilter {
        verdict: Some("deny".into()),
        ..Default::default()
    };
    let rows = s.list_decisions(T, &denied, None, 100).await.unwrap();
    assert_eq!(
        rows.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        [25, 20, 15, 10, 5].map(id)
    );

    // Time range: [from, until).
    let window = DecisionFilter {
        from: Some(10_000_000),
        until: Some(13_000_000),
        ..Default::default()
    };
    let rows = s.list_decisions(T, &window, None, 100).await.unwrap();
    assert_eq!(
        rows.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        [12, 11, 10].map(id)
    );
}

async fn status_board_reports_each_status(s: &Store) {
    for m in [
        "a/approved",
        "b/review",
        "c/deny",
        "d/old-pack",
        "e/never",
        "f/new-meta",
        "g/cond",
    ] {
        s.put_model_version(T, &mv(m, b"v1", "v1"), 1)
            .await
            .unwrap();
    }
    s.put_model_version(T, &mv("f/new-meta", b"v2", "v2"), 2)
        .await
        .unwrap();
    new_row(D::new(1, "a/approved", "deny").insert(s).await); // superseded by n=2
    new_row(D::new(2, "a/approved", "allow").insert(s).await);
    new_row(D::new(3, "b/review", "review").insert(s).await);
    new_row(D::new(4, "c/deny", "deny").insert(s).await);
    let mut old = D::new(5, "d/old-pack", "allow");
    old.pack = "sha256:previous";
    new_row(old.insert(s).await);
    new_row(D::new(6, "f/new-meta", "allow").insert(s).await); // made on version 1
    new_row(D::new(7, "g/cond", "conditional").insert(s).await);
    let mut profiled = D::new(8, "g/cond", "deny");
    profiled.profile = Some("eu");
    new_row(profiled.insert(s).await);
    // A decision on an unregistered model is not on the board.
    new_row(D::new(9, "z/adhoc", "allow").insert(s).await);

    let board = s
        .status_board(T, "sha256:active", &BoardFilter::default(), None, 100)
        .await
        .unwrap();
    let got: Vec<(&str, &str, ModelStatus)> = board
        .iter()
        .map(|r| (r.model_ref.as_str(), r.profile.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("a/approved", "", ModelStatus::Approved),
            ("b/review", "", ModelStatus::PendingReview),
            ("c/deny", "", ModelStatus::Rejected),
            ("d/old-pack", "", ModelStatus::Stale),
            ("e/never", "", ModelStatus::Unevaluated),
            ("f/new-meta", "", ModelStatus::Stale),
            ("g/cond", "", ModelStatus::Conditional),
            ("g/cond", "eu", ModelStatus::Rejected),
        ]
    );
    assert_eq!(board[0].decision_id.as_deref(), Some(id(2).as_str()));
    assert_eq!(board[5].latest_version, 2);
    assert_eq!(board[5].model_version, Some(1));

    let stale = s
        .status_board(
            T,
            "sha256:active",
            &BoardFilter {
                status: Some(ModelStatus::Stale),
                ..BoardFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        stale
            .iter()
            .map(|r| r.model_ref.as_str())
            .collect::<Vec<_>>(),
        ["d/old-pack", "f/new-meta"]
    );
    // Pages of 3 by (model, profile), also through a model with two profiles.
    let mut seen = Vec::new();
    let mut after: Option<BoardCursor> = None;
    loop {
        let page = s
            .status_board(
                T,
                "sha256:active",
                &BoardFilter::default(),
                after.as_ref(),
                3,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(BoardCursor {
            model_ref: last.model_ref.clone(),
            profile: last.profile.clone(),
        });
        seen.extend(page.into_iter().map(|r| (r.model_ref, r.profile)));
    }
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[7], ("g/cond".to_string(), "eu".to_string()));
}

async fn tenants_never_see_each_other(s: &Store) {
    s.register_pack(T, &pack("sha256:a"), 1, None)
        .await
        .unwrap();
    s.put_profile(T, "p", None, "{}", 1).await.unwrap();
    s.put_model_version(T, &mv("org/m", b"x", "x"), 1)
        .await
        .unwrap();
    let d = D::new(1, "org/m", "allow");
    new_row(d.insert(s).await);

    assert!(s.get_pack(OTHER, "sha256:a").await.unwrap().is_none());
    assert!(s.list_packs(OTHER).await.unwrap().is_empty());
    assert!(matches!(
        s.activate_pack(OTHER, "sha256:a", 2, None).await,
        Err(StoreError::UnknownPack(_))
    ));
    assert!(s.get_profile(OTHER, "p").await.unwrap().is_none());
    assert!(s.list_profiles(OTHER).await.unwrap().is_empty());
    assert!(s.model_versions(OTHER, "org/m").await.unwrap().is_empty());
    assert!(s.get_decision(OTHER, &d.id).await.unwrap().is_none());
    assert!(
        s.list_decisions(OTHER, &DecisionFilter::default(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.status_board(OTHER, "sha256:a", &BoardFilter::default(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The same ids in the other tenant are separate rows.
    s.put_profile(OTHER, "p", None, r#"{"x":1}"#, 5)
        .await
        .unwrap();
    assert_eq!(s.get_profile(T, "p").await.unwrap().unwrap().context, "{}");
}

#[test]
fn cursors_round_trip_and_reject_forgeries() {
    let c = BoardCursor {
        model_ref: "org/m".into(),
        profile: "eu".into(),
    };
    let s = encode_cursor(&c);
    assert_eq!(decode_cursor::<BoardCursor>(&s).unwrap(), c);
    for bad in ["", "c1", "c1zz", "x17b7d", &s[1..], "c17b"] {
        assert!(
            matches!(
                decode_cursor::<BoardCursor>(bad),
                Err(StoreError::BadCursor)
            ),
            "{bad} accepted"
        );
    }
}

async fn decisions_are_written_only_under_the_current_generation(s: &Store) {
    assert_eq!(s.tenant_generation(T).await.unwrap(), 0);
    s.register_pack(T, &pack("sha256:a"), 10, None)
        .await
        .unwrap();
    s.activate_pack(T, "sha256:a", 20, None).await.unwrap();
    let g = s.tenant_generation(T).await.unwrap();
    assert!(g > 0, "an activation moves the generation");
    assert_eq!(s.tenant_generation(OTHER).await.unwrap(), 0, "per tenant");

    // Evaluated under the state before the activation: not written.
    let mut stale = D::new(1, "m", "allow");
    stale.generation = Some(g - 1);
    assert_eq!(stale.insert(s).await.unwrap(), Inserted::Stale);
    assert_eq!(s.get_decision(T, &stale.id).await.unwrap(), None);
    // Under the current one: written.
    let mut current = D::new(2, "m", "allow");
    current.generation = Some(g);
    new_row(current.insert(s).await);
    // Another tenant's generation is its own (0 here).
    let mut other = D::new(3, "m", "allow");
    other.tenant = OTHER;
    other.generation = Some(0);
    new_row(other.insert(s).await);
    // An idempotent retry under a stale generation returns the first decision.
    let mut first = D::new(4, "m", "allow");
    first.key = Some("k-1");
    first.request = Some("sha256:r");
    first.generation = Some(g);
    let row = new_row(first.insert(s).await);
    let mut retry = D::new(5, "m", "allow");
    retry.key = Some("k-1");
    retry.request = Some("sha256:r");
    retry.generation = Some(g - 1);
    assert_eq!(retry.insert(s).await.unwrap(), Inserted::Replayed(row));
    // A key not seen before under a stale generation: not written.
    let mut fresh_key = D::new(6, "m", "allow");
    fresh_key.key = Some("k-2");
    fresh_key.generation = Some(g - 1);
    assert_eq!(fresh_key.insert(s).await.unwrap(), Inserted::Stale);
}

async fn the_board_filters_by_licence_profile_and_name(s: &Store) {
    for (m, lic) in [
        ("acme/Alpha", Some("Apache-2.0")),
        ("acme/beta_1", Some("MIT")),
        ("other/gamma", None),
        ("acme/beta%1", Some("Apache-2.0")),
    ] {
        let mut v = mv(m, b"v1", "v1");
        v.license = lic;
        s.put_model_version(T, &v, 1).await.unwrap();
    }
    let mut profiled = D::new(1, "acme/Alpha", "allow");
    profiled.profile = Some("eu");
    new_row(profiled.insert(s).await);
    new_row(D::new(2, "acme/beta_1", "deny").insert(s).await);
    let names = |f: BoardFilter| async move {
        s.status_board(T, "sha256:active", &f, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                format!(
                    "{}|{}|{}",
                    r.model_ref,
                    r.profile,
                    r.license.unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
    };
    let f = |license: Option<&str>, profile: Option<&str>, search: Option<&str>| BoardFilter {
        license: license.map(str::to_string),
        profile: profile.map(str::to_string),
        search: search.map(str::to_string),
        ..BoardFilter::default()
    };
    assert_eq!(
        names(f(Some("apache-2.0"), None, None)).await,
        ["acme/Alpha|eu|Apache-2.0", "acme/beta%1||Apache-2.0"],
        "licence, any case"
    );
    assert_eq!(
        names(f(None, Some("eu"), None)).await,
        ["acme/Alpha|eu|Apache-2.0"]
    );
    assert_eq!(
        names(f(None, Some(""), None)).await,
        [
            "acme/beta%1||Apache-2.0",
            "acme/beta_1||MIT",
            "other/gamma||"
        ],
        "the ad-hoc (and never evaluated) rows"
    );
    assert_eq!(
        names(f(None, None, Some("ALPHA"))).await,
        ["acme/Alpha|eu|Apache-2.0"]
    );
    assert_eq!(
        names(f(None, None, Some("a%1"))).await,
        ["acme/beta%1||Apache-2.0"],
        "% is literal"
    );
    assert_eq!(
        names(f(None, None, Some("a_1"))).await,
        ["acme/beta_1||MIT"],
        "_ is literal"
    );
    assert_eq!(names(f(None, None, Some("gam"))).await, ["other/gamma||"]);
    assert!(
        names(f(Some("mit"), None, Some("alpha"))).await.is_empty(),
        "filters combine"
    );
    // Pages of any size walk every row once, a model's profiles split across pages too.
    let mut more = D::new(3, "acme/Alpha", "review");
    more.profile = Some("us");
    new_row(more.insert(s).await);
    let all = names(BoardFilter::default()).await;
    assert_eq!(all.len(), 5, "{all:?}");
    for size in 1..=3u32 {
        let mut seen = Vec::new();
        let mut after: Option<BoardCursor> = None;
        loop {
            let page = s
                .status_board(
                    T,
                    "sha256:active",
                    &BoardFilter::default(),
                    after.as_ref(),
                    size + 1,
                )
                .await
                .unwrap();
            let last = page.len() <= size as usize;
            for r in page.iter().take(size as usize) {
                seen.push(format!(
                    "{}|{}|{}",
                    r.model_ref,
                    r.profile,
                    r.license.clone().unwrap_or_default()
                ));
            }
            if last {
                break;
            }
            let r = &page[size as usize - 1];
            after = Some(BoardCursor {
                model_ref: r.model_ref.clone(),
                profile: r.profile.clone(),
            });
        }
        assert_eq!(seen, all, "pages of {size}");
    }
}

async fn sessions_open_expire_and_end(s: &Store) {
    let row = |hash: &str, tenant: &str, expires: i64| SessionRow {
        id_hash: hash.into(),
        tenant: tenant.into(),
        key_id: "0123456789abcdef".into(),
        csrf: "token".into(),
        created_at: 10,
        expires_at: expires,
    };
    s.insert_session(&row("h1", T, 100)).await.unwrap();
    s.insert_session(&row("h2", OTHER, 100)).await.unwrap();
    assert_eq!(s.session("h1", 50).await.unwrap(), Some(row("h1", T, 100)));
    assert_eq!(s.session("h1", 100).await.unwrap(), None, "expired");
    assert_eq!(s.session("nope", 50).await.unwrap(), None);
    assert!(
        !s.delete_session(OTHER, "h1").await.unwrap(),
        "only its tenant ends it"
    );
    assert!(s.delete_session(T, "h1").await.unwrap());
    assert_eq!(s.session("h1", 50).await.unwrap(), None);
    // Opening a session drops the expired ones.
    let mut later = row("h3", T, 1_000);
    later.created_at = 200;
    s.insert_session(&later).await.unwrap();
    assert_eq!(
        s.session("h2", 0).await.unwrap(),
        None,
        "h2 expired at 100 and was dropped"
    );
}
