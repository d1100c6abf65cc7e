//! Access (issue 6): API keys, roles and tenants through the real server, on SQLite and
//! PostgreSQL — every route × every role, cross-tenant isolation on every route with an
//! id, expired and revoked keys, key events in the audit log, and the `keys` commands.

use modelgate::auth::{Permission, Role};
use modelgate_tests::api::TestServer;
use modelgate_tests::api_on_both_backends;
use serde_json::{Value, json};

const CARD: &str = "---\nlicense: apache-2.0\n---\n# Demo model\n";

use modelgate_tests::api::concrete;

/// Every route answers every role as the role matrix says: 403 exactly when the role
/// lacks the route's permission, never 401 with a valid key.
async fn role_matrix(s: &TestServer) {
    let mut checked = 0;
    for role in Role::ALL {
        let client = s.as_key(&s.key("default", role).await);
        for (m, path, perm) in modelgate::http::route_permissions() {
            let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
            let mut req = client.request(method, format!("{}{}", s.base, concrete(path)));
            if m != "GET" && m != "DELETE" {
                req = req.header("content-type", "application/json").body("{}");
            }
            let r = s.send(req).await;
            let allowed = perm.is_none_or(|p| role.allows(p));
            if allowed {
                assert!(
                    r.status != 401 && r.status != 403,
                    "{role:?} {m} {path}: {} {}",
                    r.status,
                    r.text
                );
            } else {
                assert_eq!(r.status, 403, "{role:?} {m} {path}: {}", r.text);
                let p = r.problem(403);
                assert!(p["detail"].as_str().unwrap().contains(role.as_str()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 28, "{checked}");
    // The permissions themselves: the one table the service reads.
    let perms: Vec<_> = modelgate::http::route_permissions();
    let find = |m: &str, p: &str| perms.iter().find(|r| r.0 == m && r.1 == p).unwrap().2;
    assert_eq!(find("POST", "/v1/evaluations"), Some(Permission::Evaluate));
    assert_eq!(find("POST", "/v1/keys"), Some(Permission::Admin));
    assert_eq!(
        find("POST", "/v1/decisions/{id}/replay"),
        Some(Permission::Audit)
    );
    assert_eq!(find("GET", "/healthz"), None);
}

fn eval(model: &str) -> Value {
    json!({
        "document": {"format": "hf-card", "content": CARD},
        "model_ref": model,
        "context": {"purpose": "research"},
    })
}

/// A recorded evaluation of `model` with `client`'s key; it must be `201`.
async fn evaluate_as(
    s: &TestServer,
    client: &reqwest::Client,
    model: &str,
) -> modelgate_tests::api::Resp {
    let r = s
        .send(
            client
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .body(eval(model).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r
}

/// Tenant B sees nothing of tenant A: by id it is 404, lists are empty, and B's own rows
/// are B's.
async fn tenants_are_isolated(s: &TestServer) {
    // Tenant A = the default tenant (the server's admin key).
    let r = s.post_json("/v1/evaluations", &eval("org/a-model")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a_decision = r.json()["id"].as_str().unwrap().to_string();
    assert!(
        s.put_json(
            "/v1/models/org/a-model",
            &json!({"document": {"format": "hf-card", "content": CARD}})
        )
        .await
        .status
            < 300
    );
    assert_eq!(
        s.post_json("/v1/profiles", &json!({"name": "a-profile", "context": {}}))
            .await
            .status,
        201
    );
    let a_key_id = s.get("/v1/keys").await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let b = s.as_key(&s.key("tenant-b", Role::Admin).await);
    let get = |path: String| {
        let b = b.clone();
        async move { s.send(b.get(format!("{}{path}", s.base))).await }
    };
    for path in [
        format!("/v1/decisions/{a_decision}"),
        format!("/v1/decisions/{a_decision}/evidence"),
        "/v1/models/org/a-model".to_string(),
        "/v1/profiles/a-profile".to_string(),
    ] {
        get(path.clone()).await.problem(404);
    }
    let r = s
        .send(b.post(format!("{}/v1/decisions/{a_decision}/replay", s.base)))
        .await;
    r.problem(404);
    let r = s
        .send(b.delete(format!("{}/v1/keys/{a_key_id}", s.base)))
        .await;
    r.problem(404);
    assert_eq!(get("/v1/decisions".into()).await.json()["items"], json!([]));
    assert_eq!(get("/v1/models".into()).await.json()["items"], json!([]));
    assert_eq!(get("/v1/profiles".into()).await.json()["items"], json!([]));
    let keys = get("/v1/keys".into()).await.json();
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["tenant"] == "tenant-b"),
        "{keys}"
    );

    // B's own evaluation: its tenant gets the built-in pack on first use, and the decision
    // records who asked.
    let r = evaluate_as(s, &b, "org/b-model").await;
    let b_decision = r.json()["id"].as_str().unwrap().to_string();
    s.get(&format!("/v1/decisions/{b_decision}"))
        .await
        .problem(404);
    let r = get(format!("/v1/decisions/{b_decision}/evidence")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let leaf = r.json()["entry"]["leaf"].as_str().unwrap().to_string();
    let (_, entry) = modelgate_audit::entry::parse_leaf(leaf.as_bytes()).unwrap();
    assert_eq!(entry["tenant"], "tenant-b");
    assert!(
        entry["requested_by"]
            .as_str()
            .is_some_and(|k| k.len() == 16)
    );
    // Log entries of another tenant show no leaf.
    let all = s.get("/v1/log/entries?start=0").await.json();
    let theirs: Vec<&Value> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["leaf"].is_null())
        .collect();
    assert!(!theirs.is_empty(), "B's entries are hidden from A: {all}");
    // A's own entries show their leaf, which gives the entry's leaf hash.
    let mine: Vec<&Value> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["leaf"].is_null())
        .collect();
    assert!(!mine.is_empty(), "{all}");
    for e in mine {
        let leaf = e["leaf"].as_str().unwrap().as_bytes();
        assert_eq!(
            hex::encode(modelgate_audit::entry::leaf_hash(leaf).0),
            e["leaf_hash"].as_str().unwrap(),
            "{e}"
        );
        let (_, entry) = modelgate_audit::entry::parse_leaf(leaf).unwrap();
        assert_eq!(entry["tenant"], "default", "{e}");
    }
}

/// Expired, revoked, malformed and unknown keys are 401; revocation through the API takes
/// effect at once; admins of another tenant cannot mint keys for the default tenant.
async fn bad_keys_are_refused(s: &TestServer) {
    let viewer = s.key("default", Role::Viewer).await;
    let id = &viewer[3..19];
    let c = s.as_key(&viewer);
    assert_eq!(
        s.send(c.get(format!("{}/v1/decisions", s.base)))
            .await
            .status,
        200
    );
    let r = s
        .send(s.client.delete(format!("{}/v1/keys/{id}", s.base)))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.send(c.get(format!("{}/v1/decisions", s.base))).await;
    let p = r.problem(401);
    assert!(p["detail"].as_str().unwrap().contains("revoked"));
    // The default tenant's admins create keys for any tenant, and revoke them too.
    let theirs = s.key("globex", Role::Viewer).await;
    let r = s
        .send(
            s.client
                .delete(format!("{}/v1/keys/{}", s.base, &theirs[3..19])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .send(s.as_key(&theirs).get(format!("{}/v1/decisions", s.base)))
        .await;
    assert!(
        r.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    let now = modelgate::time::now_micros();
    let soon = modelgate::auth::create_key(
        &s.db.store,
        "default",
        Role::Viewer,
        Some(now + 1000),
        None,
        now,
    )
    .await
    .unwrap()
    .0
    .key;
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let r = s
        .send(s.as_key(&soon).get(format!("{}/v1/decisions", s.base)))
        .await;
    assert!(
        r.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let mut forged = s.admin_key.clone();
    forged.pop();
    forged.push(if s.admin_key.ends_with('A') { 'B' } else { 'A' });
    for bad in [forged.as_str(), "mg_nonsense", "Basic abc"] {
        let r = s
            .send(s.anon.get(format!("{}/v1/decisions", s.base)).header(
                "authorization",
                if bad.starts_with("Basic") {
                    bad.to_string()
                } else {
                    format!("Bearer {bad}")
                },
            ))
            .await;
        let p = r.problem(401);
        assert!(
            !p["detail"].as_str().unwrap().contains(&s.admin_key[20..]),
            "no secret in errors"
        );
    }

    let other_admin = s.as_key(&s.key("tenant-c", Role::Admin).await);
    let r = s
        .send(
            other_admin
                .post(format!("{}/v1/keys", s.base))
                .header("content-type", "application/json")
                .body(json!({"tenant": "default", "role": "admin"}).to_string()),
        )
        .await;
    r.problem(403);

    // Key events are in the log (the sequencer may need a moment).
    let mut kinds = Vec::new();
    for _ in 0..100 {
        kinds.clear();
        let mut start = 0;
        loop {
            let page = s
                .get(&format!("/v1/log/entries?start={start}"))
                .await
                .json();
            let items = page["entries"].as_array().unwrap().clone();
            if items.is_empty() {
                break;
            }
            start += items.len();
            kinds.extend(
                items
                    .iter()
                    .map(|e| e["kind"].as_str().unwrap().to_string()),
            );
        }
        if kinds.iter().any(|k| k == "key_revoked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(kinds.iter().any(|k| k == "key_created"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "key_revoked"), "{kinds:?}");
}

/// `modelgate keys create | list | revoke` against the server's database.
async fn keys_commands(s: &TestServer) {
    let url = s.db.url.clone();
    let run = move |args: Vec<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let env = move |k: &str| (k == "DATABASE_URL").then(|| url.clone());
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let mut argv = vec!["modelgate"];
            argv.extend(args);
            let code = modelgate::cli::run_with_env(argv, &env, &mut out, &mut err);
            (
                code,
                String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err),
            )
        })
    };
    let (code, out) = run(vec![
        "keys",
        "create",
        "--tenant",
        "cli-t",
        "--role",
        "evaluator",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    let key = out.lines().last().unwrap().to_string();
    assert!(modelgate::auth::key_id(&key).is_some(), "{out}");
    let r = s
        .send(
            s.as_key(&key)
                .post(format!("{}/v1/evaluations", s.base))
                .header("content-type", "application/json")
                .body(eval("org/cli").to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (code, out) = run(vec!["keys", "list"]).await.unwrap();
    assert_eq!(code, 0);
    let id = key[3..19].to_string();
    assert!(
        out.contains(&id) && out.contains("cli-t\tevaluator"),
        "{out}"
    );
    assert!(!out.contains(&key[20..]), "list never shows a secret");
    let (code, out) = run(vec!["keys", "create", "--role", "root"]).await.unwrap();
    assert_eq!(code, 64, "{out}");
    let id_static: &'static str = Box::leak(id.clone().into_boxed_str());
    let (code, out) = run(vec!["keys", "revoke", id_static, "--tenant", "cli-t"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let (code, _) = run(vec!["keys", "revoke", id_static, "--tenant", "cli-t"])
        .await
        .unwrap();
    assert_eq!(code, 1);
}

api_on_both_backends!(
    role_matrix,
    tenants_are_isolated,
    bad_keys_are_refused,
    keys_commands
);

async fn count(c: &mut sqlx::PgConnection, sql: &str) -> Result<i64, String> {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(c)
        .await
        .map_err(|e| e.to_string())
}

/// PostgreSQL row-level security: a session of the application role sees no row until it
/// declares a tenant, and then sees and writes only that tenant's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_security_on_postgres() {
    use sqlx::Connection;
    let s = TestServer::start(modelgate_tests::db::TestDb::postgres().await).await;
    let b = s.as_key(&s.key("tenant-b", Role::Evaluator).await);
    assert_eq!(
        s.post_json("/v1/evaluations", &eval("org/a")).await.status,
        201
    );
    evaluate_as(&s, &b, "org/b").await;

    let url = s.db.url.clone();
    let role = format!("mg_rls_{}", uuid::Uuid::now_v7().simple());
    owner_sql(
        &url,
        &format!("CREATE ROLE {role} LOGIN IN ROLE modelgate_app"),
    )
    .await
    .unwrap();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    let app_url = format!("{scheme}://{role}@{host}");
    let result = async {
        let mut c = sqlx::PgConnection::connect(&app_url)
            .await
            .map_err(|e| e.to_string())?;
        let all = count(&mut c, "SELECT COUNT(*) FROM decisions").await?;
        if all != 0 {
            return Err(format!(
                "without a declared tenant: {all} decisions, want none"
            ));
        }
        sqlx::raw_sql("SET modelgate.tenant = 'tenant-b'")
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        let mine = count(&mut c, "SELECT COUNT(*) FROM decisions").await?;
        let others = count(
            &mut c,
            "SELECT COUNT(*) FROM decisions WHERE tenant = 'default'",
        )
        .await?;
        let keys = count(
            &mut c,
            "SELECT COUNT(*) FROM api_keys WHERE tenant <> 'tenant-b'",
        )
        .await?;
        if (mine, others, keys) != (1, 0, 0) {
            return Err(format!(
                "as tenant-b: {mine} decisions, {others} of default, {keys} other keys"
            ));
        }
        let insert = sqlx::raw_sql(
            "INSERT INTO profiles (tenant, name, context, version, created_at, updated_at) \
             VALUES ('default', 'sneaky', '{}', 1, 0, 0)",
        )
        .execute(&mut c)
        .await;
        match insert {
            Err(e) if e.to_string().contains("row-level security") => Ok(()),
            other => Err(format!("a write into another tenant: {other:?}")),
        }
    }
    .await;
    let _ = owner_sql(&url, &format!("DROP ROLE {role}")).await;
    result.expect("row-level security");
    s.stop().await;
}

/// The service's own queries are held by row-level security too: a probe policy added to
/// `decisions` (restrictive, so it filters nothing) records the role and the declared
/// tenant of every session it is checked for, and for each written row its tenant.
/// Owners and superusers bypass policies, so the probe records nothing unless the service
/// really ran as `modelgate_app`; requests of two tenants interleave, so pooled
/// connections pass from one tenant to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_queries_under_row_level_security_on_postgres() {
    let s = TestServer::start(modelgate_tests::db::TestDb::postgres().await).await;
    let b = s.as_key(&s.key("tenant-b", Role::Evaluator).await);
    owner_sql(
        &s.db.url,
        "CREATE TABLE rls_probe (op TEXT, role TEXT, declared TEXT, row_tenant TEXT);
         CREATE FUNCTION rls_probe(op TEXT, r TEXT, t TEXT, row_tenant TEXT) RETURNS boolean
             LANGUAGE plpgsql SECURITY DEFINER AS $$
             BEGIN INSERT INTO rls_probe VALUES (op, r, t, row_tenant); RETURN true; END $$;
         CREATE POLICY probe ON decisions AS RESTRICTIVE
             USING (rls_probe('read', current_user::text,
                              current_setting('modelgate.tenant', true), NULL))
             WITH CHECK (rls_probe('write', current_user::text,
                                   current_setting('modelgate.tenant', true), tenant));",
    )
    .await
    .unwrap();
    let id = evaluate_as(&s, &b, "org/b").await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    evaluate_as(&s, &s.client, "org/a").await;
    let r = s.send(b.get(format!("{}/v1/decisions/{id}", s.base))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.get("/v1/decisions").await.status, 200);
    evaluate_as(&s, &b, "org/b2").await;
    let r = s.send(b.get(format!("{}/v1/decisions", s.base))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let probes: Vec<(String, String, Option<String>, Option<String>)> = {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
        sqlx::query_as("SELECT op, role, declared, row_tenant FROM rls_probe")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    let writes: Vec<_> = probes.iter().filter(|p| p.0 == "write").collect();
    assert_eq!(writes.len(), 3, "{probes:?}");
    for p in &probes {
        assert_eq!(
            p.1, "modelgate_app",
            "a service session under row-level security"
        );
    }
    for p in &writes {
        assert_eq!(p.2, p.3, "a decision written under its own tenant: {p:?}");
    }
    let declared: std::collections::BTreeSet<_> = probes
        .iter()
        .filter(|p| p.0 == "read")
        .map(|p| p.2.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        declared,
        ["default".to_string(), "tenant-b".to_string()].into(),
        "{probes:?}"
    );
    s.stop().await;
}

/// A production-like PostgreSQL: the database belongs to a role that is not a superuser,
/// which migrates it and runs the service; its tenant-scoped work switches to
/// `modelgate_app`, whose membership migration 0011 granted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_is_no_superuser_runs_the_service_on_postgres() {
    let s = TestServer::start(modelgate_tests::db::TestDb::postgres_as_owner().await).await;
    assert_eq!(
        s.post_json("/v1/evaluations", &eval("org/a")).await.status,
        201
    );
    let b = s.as_key(&s.key("tenant-b", Role::Approver).await);
    evaluate_as(&s, &b, "org/b").await;
    let r = s.send(b.get(format!("{}/v1/decisions", s.base))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().len();
    assert_eq!(items, 1, "{}", r.text);
    s.db.store.check_tenant_scope().await.expect("tenant scope");
    s.stop().await;
}

/// Runs SQL as the database owner (the test's connection user).
async fn owner_sql(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sql).execute(&mut c).await.map(|_| ())
}

/// Several processes starting at once on a database without keys: exactly one admin key is
/// created, and only its process writes `admin.key`.
mod first_start {
    use modelgate::store::Store;
    use modelgate_tests::on_both_backends;

    async fn concurrent_first_starts_create_one_admin_key(s: &Store) {
        let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
        let starts: Vec<_> = dirs
            .iter()
            .map(|d| {
                let (s, dir) = (s.clone(), d.path().to_path_buf());
                tokio::spawn(async move { modelgate::serve::first_admin_key(&s, &dir).await })
            })
            .collect();
        for t in starts {
            t.await.unwrap().unwrap();
        }
        assert_eq!(s.count_keys().await.unwrap(), 1);
        let written: Vec<_> = dirs
            .iter()
            .filter(|d| d.path().join("admin.key").exists())
            .collect();
        assert_eq!(written.len(), 1, "one admin.key");
        // A later start finds the key and creates none.
        let later = tempfile::tempdir().unwrap();
        modelgate::serve::first_admin_key(s, later.path())
            .await
            .unwrap();
        assert_eq!(s.count_keys().await.unwrap(), 1);
        assert!(!later.path().join("admin.key").exists());
    }

    on_both_backends!(concurrent_first_starts_create_one_admin_key);
}

/// On PostgreSQL a key revoked through another process (here: straight through the store,
/// so this server's own cache is not dropped) stops working here within milliseconds, by
/// notification, not after the 5 s the server may otherwise trust a key it read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_elsewhere_stops_at_once_on_postgres() {
    let s = TestServer::start(modelgate_tests::db::TestDb::postgres().await).await;
    let key = s.key("default", Role::Viewer).await;
    let viewer = s.as_key(&key);
    // Read once: the server now holds the key in memory.
    assert_eq!(
        s.send(viewer.get(format!("{}/v1/packs", s.base)))
            .await
            .status,
        200
    );
    let id = key.split('_').nth(1).expect("key id").to_string();
    let revoked_at = std::time::Instant::now();
    assert!(
        modelgate::auth::revoke_key(
            &s.db.store,
            "default",
            &id,
            None,
            modelgate::time::now_micros()
        )
        .await
        .unwrap()
    );
    loop {
        let status = s
            .send(viewer.get(format!("{}/v1/packs", s.base)))
            .await
            .status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(2),
            "the revoked key still works after 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.stop().await;
}
