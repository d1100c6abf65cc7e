//! `check hf:<org>/<name>[@<revision>]` against a local stub of the Hugging Face Hub API
//! (127.0.0.1, recorded-shape answers from `tests/fixtures/hub/`), and the engine's
//! evaluation with fetched ancestors. No test touches the network.

use modelgate_engine::{ModelRecord, ParseOptions};
use modelgate_tests::{T0, pack};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use modelgate_tests::hubstub::{Resp, Stub, card_of, fixtures, hub, info_of, sha_of};

struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.out, self.err))
    }
}

/// Runs the CLI against the stub with `env` on top of: the stub's endpoint, the cache in
/// `cache` (none when `None`), 1 ms backoff.
fn run(stub_endpoint: &str, cache: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("MODELGATE_HF_ENDPOINT".into(), stub_endpoint.into());
    vars.insert("MODELGATE_HF_BACKOFF_MS".into(), "1".into());
    if let Some(c) = cache {
        vars.insert(
            "MODELGATE_CACHE_DIR".into(),
            c.to_string_lossy().into_owned(),
        );
    }
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let lookup = move |k: &str| vars.get(k).cloned();
    let mut argv = vec!["modelgate", "check"];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = modelgate::cli::run_with_env(argv, &lookup, &mut out, &mut err);
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn rule_ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// The command line against the stub.

#[test]
fn happy_path_records_the_exact_commit_and_the_repository_files() {
    let s = hub();
    let sha = sha_of("northwind/tiny-apache");
    // No revision: the default branch, resolved to its commit.
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let v = r.json();
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["model"]["id"], "northwind/tiny-apache");
    assert_eq!(v["model"]["revision"], sha.as_str());
    assert_eq!(v["model"]["source_format"], "hf-card");
    assert_eq!(v["license"]["declared"][0]["id"], "apache-2.0");
    assert!(v["input_digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(s.hits("/api/models/northwind/tiny-apache"), 1);
    assert_eq!(
        s.hits(&format!("/northwind/tiny-apache/resolve/{sha}/README.md")),
        1
    );
    assert_eq!(s.total(), 2);
    assert!(r.err.is_empty(), "{}", r.err);

    // The record: the documents of the repository are its files; gating from the API.
    let cfg = hub_config(&s.endpoint, None, &[]);
    let h = modelgate::hub::Hub::new(cfg).unwrap();
    let f = h
        .fetch(
            &modelgate::hub::HubRef::parse(&format!("hf:northwind/tiny-apache@{sha}")).unwrap(),
            &pack(),
        )
        .unwrap();
    assert_eq!(f.model.record.files, vec!["LICENSE", "README.md"]);
    assert_eq!(f.model.record.revision.as_deref(), Some(sha.as_str()));
    assert!(!f.model.record.gating.gated);
    assert_eq!(f.model.record.provenance["files"].format, "hf-api");
    assert!(f.ancestors.is_empty());
    // Text output says which commit was checked.
    let t = run(
        &s.endpoint,
        None,
        &[],
        &[&format!("hf:northwind/tiny-apache@{sha}")],
    );
    assert_eq!(t.code, 0, "{}", t.err);
    assert!(t.out.starts_with("Verdict: ALLOW"), "{}", t.out);
    assert!(t.out.contains("northwind/tiny-apache"), "{}", t.out);
}

fn hub_config(
    endpoint: &str,
    cache: Option<&Path>,
    env: &[(&str, &str)],
) -> modelgate::hub::HubConfig {
    let mut vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.insert("MODELGATE_HF_BACKOFF_MS".into(), "1".into());
    let lookup = move |k: &str| vars.get(k).cloned();
    modelgate::hub::config(
        &modelgate::hub::Settings {
            endpoint: Some(endpoint),
            cache_dir: cache,
            no_cache: cache.is_none(),
            max_card_bytes: 1 << 20,
        },
        &lookup,
    )
    .unwrap()
}

#[test]
fn lineage_goes_through_two_fetched_finetunes_to_the_catalog_base() {
    let s = hub();
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/support-chat-8b", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let v = r.json();
    let inherited: Vec<(String, String)> = v["license"]["inherited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap().to_string(),
                a["license"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        inherited,
        vec![
            (
                "northwind/dialog-sft-8b".to_string(),
                "llama3.1".to_string()
            ),
            (
                "northwind/instruct-mid-8b".to_string(),
                "llama3.1".to_string()
            ),
            (
                "meta-llama/Llama-3.1-8B".to_string(),
                "llama3.1".to_string()
            ),
        ]
    );
    assert_eq!(
        strings(&v["lineage"]["fetched"]),
        vec!["northwind/dialog-sft-8b", "northwind/instruct-mid-8b"]
    );
    assert_eq!(v["lineage"]["unresolved"], serde_json::json!([]));
    let ids = rule_ids(&v);
    assert!(!ids.iter().any(|i| i.starts_with("lineage-")), "{ids:?}");
    // Each repository fetched once; the catalog base is not fetched at all.
    for repo in [
        "northwind/support-chat-8b",
        "northwind/dialog-sft-8b",
        "northwind/instruct-mid-8b",
    ] {
        assert_eq!(s.hits(&format!("/api/models/{repo}")), 1, "{repo}");
    }
    assert_eq!(s.hits("/api/models/meta-llama/Llama-3.1-8B"), 0);
    assert_eq!(s.total(), 6);

    // The same card checked as a local file knows nothing of its base's terms.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("README.md");
    std::fs::write(&p, card_of("northwind/support-chat-8b").unwrap()).unwrap();
    let local = run(
        &s.endpoint,
        None,
        &[],
        &[
            p.to_str().unwrap(),
            "--model-ref",
            "hf:northwind/support-chat-8b",
            "--output",
            "json",
        ],
    );
    assert_eq!(local.code, 2, "{}", local.out);
    assert!(rule_ids(&local.json()).contains(&"lineage-unresolved-base".to_string()));
    assert_eq!(s.total(), 6, "a local file makes no request");
}

#[test]
fn a_cycle_between_two_repositories_is_reported_and_each_is_fetched_once() {
    let s = hub();
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:loopy/alpha", "--output", "json"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.out, r.err);
    let v = r.json();
    assert!(
        rule_ids(&v).contains(&"lineage-cycle".to_string()),
        "{:?}",
        rule_ids(&v)
    );
    assert_eq!(s.hits("/api/models/loopy/alpha"), 1);
    assert_eq!(s.hits("/api/models/loopy/beta"), 1);
    assert_eq!(s.total(), 4);
}

/// A chain `deep/m0 -> deep/m1 -> ... -> deep/m{n}` in the Hub's shape.
fn add_chain(s: &Stub, n: usize) {
    for i in 0..=n {
        let repo = format!("deep/m{i}");
        let sha = format!("{:040x}", 0xdee9_0000u64 + i as u64);
        let base = (i < n).then(|| format!("deep/m{}", i + 1));
        let mut card = "---\nlicense: apache-2.0\n".to_string();
        let mut card_data = serde_json::json!({ "license": "apache-2.0" });
        if let Some(b) = &base {
            card.push_str(&format!("base_model: {b}\n"));
            card_data["base_model"] = Value::String(b.clone());
        }
        card.push_str(&format!("---\n# Deep {i}\n"));
        let info = serde_json::json!({
            "_id": format!("{:024x}", i), "id": repo, "modelId": repo, "author": "deep",
            "sha": sha, "private": false, "gated": false, "disabled": false,
            "tags": ["license:apache-2.0"], "cardData": card_data,
            "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}],
        });
        s.add_model(&info, Some(card.as_bytes()));
    }
}

#[test]
fn the_lineage_is_followed_to_the_depth_limit_and_the_rest_is_unresolved() {
    let s = Stub::start();
    add_chain(&s, 12);
    let r = run(&s.endpoint, None, &[], &["hf:deep/m0", "--output", "json"]);
    assert_eq!(r.code, 2, "{}\n{}", r.out, r.err);
    let v = r.json();
    // Default depth 8: m1..m8 fetched, m9 named but not fetched.
    assert_eq!(strings(&v["lineage"]["fetched"]).len(), 8);
    assert_eq!(strings(&v["lineage"]["unresolved"]), vec!["deep/m9"]);
    assert!(rule_ids(&v).contains(&"lineage-unresolved-base".to_string()));
    assert!(
        r.err.contains("deeper than 8") && r.err.contains("deep/m9"),
        "{}",
        r.err
    );
    assert_eq!(s.hits("/api/models/deep/m8"), 1);
    assert_eq!(s.hits("/api/models/deep/m9"), 0);
    // The limit is configurable.
    let r = run(
        &s.endpoint,
        None,
        &[("MODELGATE_HF_MAX_DEPTH", "2")],
        &["hf:deep/m0", "--output", "json"],
    );
    assert_eq!(strings(&r.json()["lineage"]["unresolved"]), vec!["deep/m3"]);
}

#[test]
fn an_unknown_model_exits_66() {
    let s = hub();
    let r = run(&s.endpoint, None, &[], &["hf:nobody/nothing"]);
    assert_eq!(r.code, 66, "{}", r.err);
    assert!(
        r.err.contains("hf:nobody/nothing") && r.err.contains("not found"),
        "{}",
        r.err
    );
    assert!(r.out.is_empty());
    // The real Hub answers 401 RepoNotFound to an anonymous caller (the repository may be
    // private): still not found, with a hint about tokens.
    s.route(
        "/api/models/nobody/private",
        vec![Resp::hub_error(
            401,
            Some("RepoNotFound"),
            "Repository not found",
        )],
    );
    let r = run(&s.endpoint, None, &[], &["hf:nobody/private"]);
    assert_eq!(r.code, 66, "{}", r.err);
    assert!(r.err.contains("HF_TOKEN"), "{}", r.err);
    assert_eq!(
        s.hits("/api/models/nobody/private"),
        1,
        "a 4xx is not retried"
    );
}

#[test]
fn an_unknown_revision_exits_66() {
    let s = hub();
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache@no-such-branch"],
    );
    assert_eq!(r.code, 66, "{}", r.err);
    assert!(r.err.contains("revision `no-such-branch`"), "{}", r.err);
    assert!(
        r.err.contains("Invalid rev id"),
        "the Hub's message is quoted: {}",
        r.err
    );
    assert_eq!(
        s.hits("/api/models/northwind/tiny-apache/revision/no-such-branch"),
        1
    );
    // A revision with a slash is one path segment.
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache@refs/pr/1"],
    );
    assert_eq!(r.code, 66, "{}", r.err);
    assert_eq!(
        s.hits("/api/models/northwind/tiny-apache/revision/refs%2Fpr%2F1"),
        1
    );
}

const TOKEN: &str = "hf_TestToken0123456789abcdefXYZ";

#[test]
fn a_gated_card_exits_77_with_the_way_to_get_access_and_never_shows_the_token() {
    let s = hub();
    let sha = sha_of("gatedco/secret-7b");
    let readme = format!("/gatedco/secret-7b/resolve/{sha}/README.md");
    s.require_token(&readme, TOKEN);

    let r = run(&s.endpoint, None, &[], &["hf:gatedco/secret-7b"]);
    assert_eq!(r.code, 77, "{}\n{}", r.out, r.err);
    assert!(r.err.contains("gated"), "{}", r.err);
    assert!(r.err.contains("HF_TOKEN"), "{}", r.err);
    assert!(
        r.err.contains(&format!("{}/gatedco/secret-7b", s.endpoint)),
        "model page: {}",
        r.err
    );

    // A token without access: still 77, and the token is in no output.
    let wrong = "hf_WrongToken999";
    let r = run(
        &s.endpoint,
        None,
        &[("HF_TOKEN", wrong)],
        &["hf:gatedco/secret-7b"],
    );
    assert_eq!(r.code, 77, "{}", r.err);
    assert!(r.err.contains("no access"), "{}", r.err);
    assert!(!r.err.contains(wrong) && !r.out.contains(wrong));

    // With access: fetched and evaluated; the gating comes from the API.
    for output in ["json", "text", "sarif"] {
        let r = run(
            &s.endpoint,
            None,
            &[("HF_TOKEN", TOKEN)],
            &["hf:gatedco/secret-7b", "--output", output],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
        assert!(!r.out.contains(TOKEN) && !r.err.contains(TOKEN), "{output}");
    }
    let auths = s.authorizations();
    assert!(
        auths.contains(&Some(format!("Bearer {TOKEN}"))),
        "{auths:?}"
    );
}

#[test]
fn the_token_is_sent_as_a_bearer_header_and_never_printed() {
    let s = hub();
    let r = run(
        &s.endpoint,
        None,
        &[("HF_TOKEN", TOKEN)],
        &["hf:northwind/support-chat-8b", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let auths = s.authorizations();
    assert_eq!(auths.len(), 6);
    assert!(
        auths
            .iter()
            .all(|a| a.as_deref() == Some(&*format!("Bearer {TOKEN}"))),
        "{auths:?}"
    );
    assert!(!r.out.contains(TOKEN) && !r.err.contains(TOKEN));
    // No token: no header.
    let s2 = hub();
    run(&s2.endpoint, None, &[], &["hf:northwind/tiny-apache"]);
    assert!(s2.authorizations().iter().all(Option::is_none));
    // An error that quotes the token back is printed without it.
    let s3 = hub();
    s3.route(
        "/api/models/northwind/tiny-apache",
        vec![Resp::hub_error(
            503,
            None,
            &format!("bad credentials {TOKEN}"),
        )],
    );
    let r = run(
        &s3.endpoint,
        None,
        &[("HF_TOKEN", TOKEN), ("MODELGATE_HF_RETRIES", "0")],
        &["hf:northwind/tiny-apache"],
    );
    assert_eq!(r.code, 69, "{}", r.err);
    assert!(!r.err.contains(TOKEN), "{}", r.err);
    assert!(r.err.contains("<redacted>"), "{}", r.err);
}

#[test]
fn a_server_error_is_retried_and_then_succeeds() {
    let s = hub();
    let info =
        std::fs::read_to_string(fixtures().join("northwind--tiny-apache/info.json")).unwrap();
    s.route(
        "/api/models/northwind/tiny-apache",
        vec![
            Resp::hub_error(500, None, "Internal Error"),
            Resp::json(200, &info),
        ],
    );
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.json()["model"]["revision"],
        sha_of("northwind/tiny-apache").as_str()
    );
    assert_eq!(s.hits("/api/models/northwind/tiny-apache"), 2);
}

#[test]
fn retry_after_is_honoured() {
    let s = hub();
    let info =
        std::fs::read_to_string(fixtures().join("northwind--tiny-apache/info.json")).unwrap();
    s.route(
        "/api/models/northwind/tiny-apache",
        vec![
            Resp::hub_error(429, None, "Too many requests").header("Retry-After", "1"),
            Resp::json(200, &info),
        ],
    );
    let t = Instant::now();
    let r = run(&s.endpoint, None, &[], &["hf:northwind/tiny-apache"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(s.hits("/api/models/northwind/tiny-apache"), 2);
    // A Retry-After beyond what is worth waiting: unavailable at once.
    s.route(
        "/api/models/northwind/tiny-apache",
        vec![Resp::hub_error(429, None, "slow down").header("Retry-After", "3600")],
    );
    let t = Instant::now();
    let r = run(&s.endpoint, None, &[], &["hf:northwind/tiny-apache"]);
    assert_eq!(r.code, 69, "{}", r.err);
    assert!(r.err.contains("3600"), "{}", r.err);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_persistent_server_error_exits_69_after_the_retries() {
    let s = hub();
    s.route(
        "/api/models/northwind/tiny-apache",
        vec![Resp::hub_error(503, None, "Service Unavailable")],
    );
    let r = run(
        &s.endpoint,
        None,
        &[("MODELGATE_HF_RETRIES", "2")],
        &["hf:northwind/tiny-apache"],
    );
    assert_eq!(r.code, 69, "{}", r.err);
    assert!(
        r.err.contains("3 attempt(s)") && r.err.contains("503"),
        "{}",
        r.err
    );
    assert_eq!(s.hits("/api/models/northwind/tiny-apache"), 3);
}

#[test]
fn an_unreachable_hub_exits_69() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    let r = run(
        &endpoint,
        None,
        &[("MODELGATE_HF_RETRIES", "2")],
        &["hf:northwind/tiny-apache"],
    );
    assert_eq!(r.code, 69, "{}", r.err);
    assert!(r.err.contains("3 attempt(s)"), "{}", r.err);
    assert!(r.err.to_lowercase().contains("connect"), "{}", r.err);
    assert!(t.elapsed() < Duration::from_secs(10));
    // Flag overrides the environment.
    let s = hub();
    let r = run(
        &endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--hf-endpoint", &s.endpoint],
    );
    assert_eq!(r.code, 0, "{}", r.err);
}

#[test]
fn a_commit_checked_twice_is_read_from_the_cache() {
    let s = hub();
    let cache = tempfile::tempdir().unwrap();
    let sha = sha_of("northwind/support-chat-8b");
    let pinned = format!("hf:northwind/support-chat-8b@{sha}");
    let first = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--output", "json"],
    );
    assert_eq!(first.code, 0, "{}", first.err);
    let n = s.total();
    assert_eq!(n, 6);
    // Same commit: no request at all, same decision and digest.
    let second = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--output", "json"],
    );
    assert_eq!(second.code, 0, "{}", second.err);
    assert_eq!(
        s.total(),
        n,
        "the second check of a commit makes no request"
    );
    let (a, b) = (first.json(), second.json());
    assert_eq!(a["input_digest"], b["input_digest"]);
    assert_eq!(a["license"], b["license"]);
    assert_eq!(a["lineage"], b["lineage"]);
    // The default branch: only the model info is asked again (for the sha).
    let branch = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &["hf:northwind/support-chat-8b", "--output", "json"],
    );
    assert_eq!(branch.code, 0, "{}", branch.err);
    assert_eq!(s.total(), n + 1);
    assert_eq!(s.hits("/api/models/northwind/support-chat-8b"), 1);
    assert_eq!(
        s.hits(&format!(
            "/api/models/northwind/support-chat-8b/revision/{sha}"
        )),
        1
    );
    assert_eq!(branch.json()["input_digest"], a["input_digest"]);
    // --no-cache fetches everything again.
    let fresh = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--no-cache"],
    );
    assert_eq!(fresh.code, 0, "{}", fresh.err);
    assert_eq!(s.total(), n + 1 + 6);
    // --cache-dir overrides MODELGATE_CACHE_DIR: an empty cache fetches again.
    let other = tempfile::tempdir().unwrap();
    let before = s.total();
    run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--cache-dir", other.path().to_str().unwrap()],
    );
    assert_eq!(s.total(), before + 6);
}

#[test]
fn a_corrupt_cache_entry_is_ignored_and_fetched_again() {
    let s = hub();
    let cache = tempfile::tempdir().unwrap();
    let sha = sha_of("northwind/tiny-apache");
    let pinned = format!("hf:northwind/tiny-apache@{sha}");
    let first = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--output", "json"],
    );
    assert_eq!(first.code, 0, "{}", first.err);
    let entry = modelgate::hub::cache::Cache::new(cache.path()).path(
        "northwind/tiny-apache",
        &sha,
        "README.md",
    );
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x20; // one flipped bit in the card
    std::fs::write(&entry, &bytes).unwrap();
    let info = modelgate::hub::cache::Cache::new(cache.path()).path(
        "northwind/tiny-apache",
        &sha,
        "info.json",
    );
    std::fs::write(&info, b"modelgate-cache 1 sha256:00 2\n{}").unwrap();
    let second = run(
        &s.endpoint,
        Some(cache.path()),
        &[],
        &[&pinned, "--output", "json"],
    );
    assert_eq!(second.code, 0, "{}", second.err);
    assert_eq!(first.json()["input_digest"], second.json()["input_digest"]);
    assert_eq!(
        s.hits(&format!("/api/models/northwind/tiny-apache/revision/{sha}")),
        2
    );
    assert_eq!(
        s.hits(&format!("/northwind/tiny-apache/resolve/{sha}/README.md")),
        2
    );
    // Repaired: a third check is served from the cache.
    let before = s.total();
    run(&s.endpoint, Some(cache.path()), &[], &[&pinned]);
    assert_eq!(s.total(), before);
}

#[test]
fn errors_are_not_cached() {
    let s = hub();
    let cache = tempfile::tempdir().unwrap();
    let sha = sha_of("gatedco/secret-7b");
    s.require_token(
        &format!("/gatedco/secret-7b/resolve/{sha}/README.md"),
        TOKEN,
    );
    let pinned = format!("hf:gatedco/secret-7b@{sha}");
    assert_eq!(
        run(&s.endpoint, Some(cache.path()), &[], &[&pinned]).code,
        77
    );
    assert_eq!(
        run(&s.endpoint, Some(cache.path()), &[], &[&pinned]).code,
        77
    );
    assert_eq!(
        s.hits(&format!("/gatedco/secret-7b/resolve/{sha}/README.md")),
        2
    );
    // Fetched with access and cached, the gated card is still not served from the cache
    // to a caller without a token.
    let ok = run(
        &s.endpoint,
        Some(cache.path()),
        &[("HF_TOKEN", TOKEN)],
        &[&pinned],
    );
    assert_eq!(ok.code, 0, "{}", ok.err);
    assert_eq!(
        run(&s.endpoint, Some(cache.path()), &[], &[&pinned]).code,
        77
    );
    let before = s.total();
    assert_eq!(
        run(
            &s.endpoint,
            Some(cache.path()),
            &[("HF_TOKEN", TOKEN)],
            &[&pinned]
        )
        .code,
        0
    );
    assert_eq!(s.total(), before, "with the token, the cached card is used");
}

#[test]
fn a_repository_without_a_card_is_evaluated_from_the_api() {
    let s = hub();
    let sha = sha_of("bare/no-card");
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:bare/no-card", "--output", "json"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.out, r.err);
    let v = r.json();
    assert_eq!(v["model"]["id"], "bare/no-card");
    assert_eq!(v["model"]["revision"], sha.as_str());
    assert!(
        rule_ids(&v).contains(&"license-missing".to_string()),
        "{:?}",
        rule_ids(&v)
    );
    // The file list says there is no README: it is not asked for.
    assert_eq!(s.total(), 1);
    // A README listed but missing (404 EntryNotFound) is the same.
    let mut info = info_of("bare/no-card");
    info["id"] = Value::String("bare/listed-card".into());
    info["siblings"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"rfilename": "README.md"}));
    s.add_model(&info, None);
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:bare/listed-card", "--output", "json"],
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(rule_ids(&r.json()).contains(&"license-missing".to_string()));
}

#[test]
fn usage_errors_exit_64_and_malformed_cards_65() {
    let s = hub();
    for bad in [
        "hf:justaname",
        "hf:acme/",
        "hf:acme/m@",
        "hf:a/b/c",
        "hf:acme/m x",
    ] {
        let r = run(&s.endpoint, None, &[], &[bad]);
        assert_eq!(r.code, 64, "{bad}: {}", r.err);
        assert!(r.err.contains("hf:<org>/<name>"), "{}", r.err);
    }
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--model-ref", "hf:x/y"],
    );
    assert_eq!(r.code, 64);
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--hf-endpoint", "ftp://x"],
    );
    assert_eq!(r.code, 64, "{}", r.err);
    let r = run(
        &s.endpoint,
        None,
        &[("MODELGATE_HF_RETRIES", "many")],
        &["hf:northwind/tiny-apache"],
    );
    assert_eq!(r.code, 64, "{}", r.err);
    assert_eq!(s.total(), 0, "nothing fetched on a usage error");
    // A card over --max-bytes, and a malformed card.
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--max-bytes", "100"],
    );
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("100 bytes"), "{}", r.err);
    let sha = sha_of("northwind/tiny-apache");
    s.route(
        &format!("/northwind/tiny-apache/resolve/{sha}/README.md"),
        vec![Resp::text(b"---\nlicense: [unclosed\n---\n# x\n")],
    );
    let r = run(&s.endpoint, None, &[], &["hf:northwind/tiny-apache"]);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(
        r.err.contains("README.md") && r.err.contains(&sha),
        "{}",
        r.err
    );
    // An answer that is not model info.
    s.route(
        "/api/models/northwind/tiny-apache",
        vec![Resp::json(200, "<html>")],
    );
    let r = run(&s.endpoint, None, &[], &["hf:northwind/tiny-apache"]);
    assert_eq!(r.code, 76, "{}", r.err);
}

#[test]
fn a_gated_base_model_is_read_from_its_card_data() {
    let s = hub();
    // A fine-tune of the gated repository: its card is gated, its card data is not.
    let info = serde_json::json!({
        "id": "acme/on-gated", "sha": "ab".repeat(20), "gated": false,
        "siblings": [{"rfilename": "README.md"}],
    });
    s.add_model(
        &info,
        Some(b"---\nlicense: apache-2.0\nbase_model: gatedco/secret-7b\n---\n# On gated\n"),
    );
    let sha = sha_of("gatedco/secret-7b");
    s.require_token(
        &format!("/gatedco/secret-7b/resolve/{sha}/README.md"),
        TOKEN,
    );
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:acme/on-gated", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let v = r.json();
    assert_eq!(v["license"]["inherited"][0]["model"], "gatedco/secret-7b");
    assert_eq!(v["license"]["inherited"][0]["license"], "apache-2.0");
    assert!(r.err.contains("card data"), "{}", r.err);
}

// ---------------------------------------------------------------------------------------
// The engine: evaluation with fetched ancestor records.

fn card_record(id: &str, card: &str) -> ModelRecord {
    pack()
        .parse(
            card.as_bytes(),
            None,
            &ParseOptions::with_model_ref(format!("hf:{id}")),
        )
        .unwrap()
}

fn effective_ids(d: &modelgate_engine::Decision) -> Vec<String> {
    d.license.effective.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn engine_an_unknown_finetune_of_an_unknown_finetune_inherits_the_catalog_base() {
    let p = pack();
    let ctx = modelgate_engine::UseContext::default();
    let me = card_record("acme/top", "---\nbase_model: acme/mid\n---\n# Top\n");
    let mid = card_record("acme/mid", "---\nbase_model: acme/low\n---\n# Mid\n");
    let low = card_record(
        "acme/low",
        "---\nbase_model: meta-llama/Llama-3.1-8B\n---\n# Low\n",
    );
    // Without the fetched records the chain stops at acme/mid.
    let alone = modelgate_tests::evaluate(&p, &me, &[], &ctx, T0, "d");
    assert!(!effective_ids(&alone).contains(&"llama3.1".to_string()));
    assert_eq!(alone.lineage.unresolved, vec!["acme/mid"]);
    // With them, the terms of the catalog base are inherited through both.
    let d = modelgate_tests::evaluate(&p, &me, &[mid.clone(), low.clone()], &ctx, T0, "d");
    let e = d
        .license
        .effective
        .iter()
        .find(|e| e.id == "llama3.1")
        .expect("llama3.1 terms apply");
    assert_eq!(e.origin, "inherited");
    assert_eq!(e.via, "meta-llama/Llama-3.1-8B");
    let inherited: Vec<&str> = d
        .license
        .inherited
        .iter()
        .map(|i| i.model.as_str())
        .collect();
    assert_eq!(
        inherited,
        vec!["acme/mid", "acme/low", "meta-llama/Llama-3.1-8B"]
    );
    // The two fetched fine-tunes declare no licence: their own terms are unknown.
    assert_eq!(d.lineage.unresolved, vec!["acme/mid", "acme/low"]);
    assert_eq!(d.lineage.fetched, vec!["acme/mid", "acme/low"]);
    // Declared licences of fetched records resolve like declared licences.
    let mid_l = card_record(
        "acme/mid",
        "---\nlicense: Llama3.1\nbase_model: acme/low\n---\n",
    );
    let low_l = card_record(
        "acme/low",
        "---\nlicense: other\nlicense_name: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n",
    );
    let me_apache = card_record(
        "acme/top",
        "---\nlicense: apache-2.0\nbase_model: acme/mid\n---\n# Top\n",
    );
    let d = modelgate_tests::evaluate(&p, &me_apache, &[low_l, mid_l], &ctx, T0, "d");
    assert!(
        d.lineage.unresolved.is_empty(),
        "{:?}",
        d.lineage.unresolved
    );
    let lic: Vec<Option<&str>> = d
        .license
        .inherited
        .iter()
        .map(|i| i.license.as_deref())
        .collect();
    assert_eq!(
        lic,
        vec![Some("llama3.1"), Some("llama3.1"), Some("llama3.1")]
    );
    // An Apache-2.0 card on a Llama fine-tune is flagged.
    let ids: Vec<&str> = d.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(
        ids.contains(&"lineage-more-permissive-than-base"),
        "{ids:?}"
    );
    // A catalog entry wins over a fetched record of the same id.
    let fake_llama = card_record("meta-llama/Llama-3.1-8B", "---\nlicense: mit\n---\n");
    let low = card_record(
        "acme/low",
        "---\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n",
    );
    let d = modelgate_tests::evaluate(&p, &mid, &[low, fake_llama], &ctx, T0, "d");
    assert_eq!(
        d.license.inherited.last().unwrap().license.as_deref(),
        Some("llama3.1")
    );
    assert_eq!(d.lineage.fetched, vec!["acme/low"]);
}

#[test]
fn engine_cycles_are_reported_diamonds_are_not() {
    let p = pack();
    let ctx = modelgate_engine::UseContext::default();
    // top -> a -> b -> a: a cycle that does not pass through the model itself.
    let top = card_record(
        "acme/top",
        "---\nlicense: apache-2.0\nbase_model: acme/a\n---\n",
    );
    let a = card_record(
        "acme/a",
        "---\nlicense: apache-2.0\nbase_model: acme/b\n---\n",
    );
    let b = card_record(
        "acme/b",
        "---\nlicense: apache-2.0\nbase_model: acme/a\n---\n",
    );
    let d = modelgate_tests::evaluate(&p, &top, &[a.clone(), b.clone()], &ctx, T0, "d");
    let ids: Vec<&str> = d.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(ids.contains(&"lineage-cycle"), "{ids:?}");
    assert_eq!(d.verdict, modelgate_engine::Verdict::Review);
    // top -> a, top -> b, a -> c, b -> c: a diamond, not a cycle.
    let top = card_record(
        "acme/top",
        "---\nlicense: apache-2.0\nbase_model: [acme/a, acme/b]\n---\n",
    );
    let a = card_record(
        "acme/a",
        "---\nlicense: apache-2.0\nbase_model: acme/c\n---\n",
    );
    let b = card_record(
        "acme/b",
        "---\nlicense: apache-2.0\nbase_model: acme/c\n---\n",
    );
    let c = card_record("acme/c", "---\nlicense: apache-2.0\n---\n");
    let d = modelgate_tests::evaluate(&p, &top, &[a, b, c], &ctx, T0, "d");
    let ids: Vec<&str> = d.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(!ids.contains(&"lineage-cycle"), "{ids:?}");
    let inherited: Vec<&str> = d
        .license
        .inherited
        .iter()
        .map(|i| i.model.as_str())
        .collect();
    assert_eq!(inherited, vec!["acme/a", "acme/b", "acme/c"]);
}

#[test]
fn engine_a_chain_deeper_than_the_limit_is_cut_and_unresolved() {
    let p = pack();
    let ctx = modelgate_engine::UseContext::default();
    let n = modelgate_engine::lineage::MAX_DEPTH + 4;
    let recs: Vec<ModelRecord> = (0..=n)
        .map(|i| {
            let base = if i < n {
                format!("base_model: acme/m{}\n", i + 1)
            } else {
                String::new()
            };
            card_record(
                &format!("acme/m{i}"),
                &format!("---\nlicense: apache-2.0\n{base}---\n"),
            )
        })
        .collect();
    let lin = modelgate_engine::lineage::resolve_with(
        &recs[0],
        &p.models,
        &recs[1..]
            .iter()
            .map(|r| modelgate_engine::lineage::FetchedAncestor {
                record: r,
                license: Some("apache-2.0".into()),
            })
            .collect::<Vec<_>>(),
    );
    assert!(lin.depth_exceeded);
    assert!(!lin.cycle);
    assert_eq!(lin.ancestors.len(), modelgate_engine::lineage::MAX_DEPTH);
    let cut = format!("acme/m{}", modelgate_engine::lineage::MAX_DEPTH + 1);
    assert_eq!(lin.unresolved, vec![cut.clone()]);
    let d = modelgate_tests::evaluate(&p, &recs[0], &recs[1..], &ctx, T0, "d");
    assert_eq!(d.verdict, modelgate_engine::Verdict::Review);
    assert_eq!(d.lineage.unresolved, vec![cut]);
}

#[test]
fn engine_the_licence_of_a_fetched_record_resolves_like_a_declared_one() {
    let p = pack();
    let amb = &p.manifest.ambiguous_license_ids;
    let id = |card: &str| {
        modelgate_engine::lineage::declared_license_id(
            &card_record("acme/x", card),
            &p.catalog,
            amb,
        )
    };
    assert_eq!(
        id("---\nlicense: apache-2.0\n---\n").as_deref(),
        Some("apache-2.0")
    );
    assert_eq!(
        id("---\nlicense: other\nlicense_name: llama3.1\n---\n").as_deref(),
        Some("llama3.1")
    );
    // A choice: the least restrictive alternative; together: the most restrictive term.
    assert_eq!(
        id("---\nlicense: MIT OR CC-BY-NC-4.0\n---\n").as_deref(),
        Some("mit")
    );
    assert_eq!(
        id("---\nlicense: MIT AND CC-BY-NC-4.0\n---\n").as_deref(),
        Some("cc-by-nc-4.0")
    );
    assert_eq!(
        id("---\nlicense: [mit, cc-by-nc-4.0]\n---\n").as_deref(),
        Some("cc-by-nc-4.0")
    );
    // Unknown or missing: no terms.
    assert_eq!(
        id("---\nlicense: other\nlicense_name: acme-private\n---\n"),
        None
    );
    assert_eq!(id("---\ntags: [x]\n---\n"), None);
}

#[test]
fn a_redirected_card_is_followed() {
    // The Hub answers `resolve` for small files with a redirect into its resolve cache.
    let s = hub();
    let sha = sha_of("northwind/tiny-apache");
    let cached = format!("/api/resolve-cache/models/northwind/tiny-apache/{sha}/README.md");
    let mut redirect = Resp::text(b"");
    redirect.status = 307;
    s.route(
        &format!("/northwind/tiny-apache/resolve/{sha}/README.md"),
        vec![redirect.header("Location", &cached)],
    );
    s.route(
        &cached,
        vec![Resp::text(&card_of("northwind/tiny-apache").unwrap())],
    );
    let r = run(
        &s.endpoint,
        None,
        &[],
        &["hf:northwind/tiny-apache", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.json()["license"]["declared"][0]["id"], "apache-2.0");
    assert_eq!(s.hits(&cached), 1);
}
