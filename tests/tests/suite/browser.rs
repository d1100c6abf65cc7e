//! The dashboard in real headless Chromium, on SQLite and PostgreSQL: this test starts the
//! server and its data, then runs `tests/browser/dashboard.mjs` (Playwright driving the
//! system Chromium, axe-core checking every page) and fails when it does. Screenshots go
//! to `target/ui-screenshots/<backend>/`.
//!
//! Needs Node.js and Chromium (`apt-get install -y chromium`; `.ci/run` installs it);
//! `tests/browser/node_modules` is installed with `npm ci` when missing.

use modelgate::auth::Role;
use modelgate_tests::api::TestServer;
use modelgate_tests::db::TestDb;
use modelgate_tests::ui::{Session, decision_of};
use std::path::{Path, PathBuf};
use std::process::Command;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn chromium() -> String {
    std::env::var("MODELGATE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// `npm ci` once (the lock file pins playwright-core and axe-core).
fn node_modules() {
    static ONCE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = browser_dir();
    if *done
        || dir.join("node_modules/playwright-core").is_dir()
            && dir.join("node_modules/axe-core").is_dir()
    {
        *done = true;
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("npm runs (install Node.js and npm)");
    assert!(
        out.status.success(),
        "npm ci in tests/browser failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    *done = true;
}

async fn dashboard(db: TestDb, backend: &str) {
    assert!(
        Path::new(&chromium()).exists(),
        "Chromium is not at {} (apt-get install -y chromium, or set MODELGATE_CHROMIUM)",
        chromium()
    );
    tokio::task::spawn_blocking(node_modules)
        .await
        .expect("npm ci");
    let s = TestServer::start(db).await;
    let evaluator = s.key("default", Role::Evaluator).await;
    let approver = s.key("default", Role::Approver).await;
    let viewer = s.key("default", Role::Viewer).await;
    // Another tenant's decision.
    let other = Session::sign_in(&s.base, &s.key("other", Role::Admin).await).await;
    let r = other
        .post(
            "/ui/check",
            &[
                ("content", "---\nlicense: apache-2.0\n---\n# Theirs\n"),
                ("model_ref", "globex/theirs"),
                ("mode", "record"),
            ],
        )
        .await;
    let other_decision = decision_of(&r);
    // A few models on the board besides the one the browser checks.
    for (model, licence) in [
        ("acme/alpha", "apache-2.0"),
        ("acme/beta", "mit"),
        ("meta/llama-like", "llama3"),
    ] {
        let doc = serde_json::json!({"document": {"format": "hf-card",
            "content": format!("---\nlicense: {licence}\n---\n# {model}\n")}});
        let r = s.put_json(&format!("/v1/models/{model}"), &doc).await;
        assert!(r.status < 300, "{}", r.text);
        let r = s
            .post_json("/v1/evaluations", &serde_json::json!({"model_ref": model}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let keys = serde_json::json!({
        "admin": s.admin_key, "evaluator": evaluator, "approver": approver, "viewer": viewer,
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/ui-screenshots")
        .join(backend);
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("dashboard.mjs")
            .current_dir(browser_dir())
            .env("BASE_URL", base)
            .env("KEYS", keys.to_string())
            .env("OTHER_DECISION", other_decision)
            .env("SHOTS", &shots)
            .env("CHROMIUM", chromium())
            .output()
            .expect("node runs")
    })
    .await
    .expect("the browser test ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all browser checks passed"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_on_sqlite() {
    dashboard(TestDb::sqlite().await, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_on_postgres() {
    dashboard(TestDb::postgres().await, "postgres").await;
}
