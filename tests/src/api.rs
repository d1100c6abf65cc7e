//! The real server on a free port, over a fresh database, for the API suites.

use crate::db::TestDb;
use modelgate::http::{self, Limits};
use modelgate::serve::{Application, Settings};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    /// Sends the admin key of the default tenant with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anon: reqwest::Client,
    pub admin_key: String,
    handle: actix_web::dev::ServerHandle,
    pub db: TestDb,
    /// The audit log of this server (its signing key lives in `key_dir`).
    pub log: modelgate::audit::Log,
    pub key_dir: tempfile::TempDir,
    sequencer: tokio::task::JoinHandle<()>,
    changes: Option<tokio::task::JoinHandle<()>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    /// Reads a response whole.
    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts an RFC 9457 problem with this status; returns its body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problem content type; body: {}",
            self.text
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(
            p["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://"))
        );
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
        p
    }
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, Limits::default()).await
    }

    pub async fn start_with(db: TestDb, limits: Limits) -> TestServer {
        TestServer::start_full(db, limits, 0).await
    }

    /// With a rate limit per key (0: none).
    pub async fn start_full(db: TestDb, limits: Limits, rate_limit: u32) -> TestServer {
        TestServer::start_opts(db, limits, rate_limit, None).await
    }

    /// Fetching `hf:` references from the Hub at `endpoint` (a local stub), without a
    /// cache and without retries.
    pub async fn start_with_hub(db: TestDb, endpoint: &str) -> TestServer {
        let mut hub = modelgate::hub::HubConfig::default();
        hub.client.endpoint = endpoint.to_string();
        hub.client.retries = 0;
        TestServer::start_opts(db, Limits::default(), 0, Some(hub)).await
    }

    async fn start_opts(
        db: TestDb,
        limits: Limits,
        rate_limit: u32,
        hub: Option<modelgate::hub::HubConfig>,
    ) -> TestServer {
        let key_dir = tempfile::tempdir().expect("key directory");
        let Application {
            state,
            sequencer,
            changes,
            ..
        } = Application::build(
            db.store.clone(),
            Settings {
                audit_key: &key_dir.path().join("audit-log.key"),
                accept_new_audit_key: false,
                limits,
                rate_limit,
                hub,
            },
        )
        .await
        .expect("the application builds");
        let log = state.log.clone();
        let (admin, _) = modelgate::auth::create_key(
            &db.store,
            modelgate::auth::DEFAULT_TENANT,
            modelgate::auth::Role::Admin,
            None,
            None,
            modelgate::time::now_micros(),
        )
        .await
        .expect("admin key");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = http::server(state, listener, 1).expect("server");
        let handle = server.handle();
        tokio::spawn(server);
        TestServer {
            base: format!("http://{addr}"),
            client: authed(&admin.key),
            anon: reqwest::Client::new(),
            admin_key: admin.key,
            handle,
            db,
            log,
            key_dir,
            sequencer,
            changes,
        }
    }

    /// A new key of `tenant` with `role`.
    pub async fn key(&self, tenant: &str, role: modelgate::auth::Role) -> String {
        modelgate::auth::create_key(
            &self.db.store,
            tenant,
            role,
            None,
            None,
            modelgate::time::now_micros(),
        )
        .await
        .expect("key")
        .0
        .key
    }

    /// A client that sends `key`.
    pub fn as_key(&self, key: &str) -> reqwest::Client {
        authed(key)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        Resp::read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .put(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.sequencer.abort();
        let _ = self.sequencer.await;
        if let Some(c) = self.changes {
            c.abort();
            let _ = c.await;
        }
        self.db.finish().await;
    }
}

/// Generates a test per backend for each `async fn name(s: &TestServer)`.
/// A concrete path for a route template of `openapi.yaml` (ids that exist nowhere).
pub fn concrete(path: &str) -> String {
    path.replace("/v1/keys/{id}", "/v1/keys/0123456789abcdef")
        .replace("{id}", "0190f000-0000-7000-8000-000000000000")
        .replace("{model_ref}", "acme/x")
        .replace("{name}", "p")
        .replace("{digest}", "sha256:0")
}

fn authed(key: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .expect("client")
}

#[macro_export]
macro_rules! api_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = $crate::api::TestServer::start($crate::db::TestDb::sqlite().await).await;
                    super::$name(&s).await;
                    s.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = $crate::api::TestServer::start($crate::db::TestDb::postgres().await).await;
                    super::$name(&s).await;
                    s.stop().await;
                }
            )*
        }
    };
}
