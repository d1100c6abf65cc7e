//! Helpers shared by the suites that run the real `modelgate` binary: free ports, a
//! server process that is killed when dropped, HTTP helpers, fresh PostgreSQL databases.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
pub const CARD: &str = include_str!("../../../examples/acme-chat-8b.md");
/// Every variable the binary reads for its configuration: cleared for each run so the
/// environment of the test runner cannot leak in.
pub const CONFIG_VARS: [&str; 7] = [
    "MODELGATE_AUDIT_KEY",
    "MODELGATE_BIND",
    "MODELGATE_DB_POOL",
    "MODELGATE_DATA_DIR",
    "MODELGATE_WORKERS",
    "MODELGATE_LOG_FORMAT",
    "DATABASE_URL",
];
pub const READY_WITHIN: Duration = Duration::from_secs(90);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// `modelgate ARGS` in `cwd` with only the configuration variables given.
pub fn modelgate(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd).args(args).stdin(Stdio::null());
    for v in CONFIG_VARS {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs a command that ends by itself (migrate, a refused serve), with a time limit.
pub fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = modelgate(cwd, args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn modelgate");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("modelgate {args:?} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `modelgate serve`; killed when dropped (if a test failed before stopping it).
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Server {
    /// Starts `modelgate serve ARGS` and waits until `/readyz` on `port` answers 200.
    pub fn start(cwd: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Server {
        let logdir = tempdir();
        let log = logdir.path().join("stderr.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut all = vec!["serve", "--workers", "2"];
        all.extend_from_slice(args);
        let out = std::fs::File::create(logdir.path().join("stdout.log")).expect("log file");
        let child = modelgate(cwd, &all, env)
            .stdout(out)
            .stderr(file)
            .spawn()
            .expect("spawn modelgate serve");
        let mut s = Server {
            child,
            log,
            _logdir: logdir,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = s.child.try_wait().expect("wait") {
                panic!(
                    "modelgate serve {args:?} exited ({status}) before it was ready:\n{}",
                    s.stderr()
                );
            }
            if get(port, "/readyz").is_some_and(|(code, _)| code == 200) {
                s.remember_key(cwd, port, args, env);
                return s;
            }
            if started.elapsed() > READY_WITHIN {
                panic!(
                    "modelgate serve {args:?} not ready on port {port} within {READY_WITHIN:?}:\n{}",
                    s.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_file_name("stdout.log")).unwrap_or_default()
    }

    /// The admin key: printed on the first start, else in `admin.key` of the data directory.
    fn remember_key(&self, cwd: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) {
        let printed = self
            .stdout()
            .lines()
            .find(|l| l.starts_with("mg_"))
            .map(str::to_string);
        let dir = args
            .iter()
            .position(|a| *a == "--data-dir")
            .and_then(|i| args.get(i + 1))
            .map(|d| cwd.join(d))
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| *k == "MODELGATE_DATA_DIR")
                    .map(|(_, v)| cwd.join(v))
            })
            .unwrap_or_else(|| cwd.join("modelgate-data"));
        let key = printed.or_else(|| {
            std::fs::read_to_string(dir.join("admin.key"))
                .ok()
                .map(|k| k.trim().to_string())
        });
        if let Some(k) = key {
            let mut keys = KEYS.lock().expect("keys");
            keys.retain(|(p, _)| *p != port);
            keys.push((port, k));
        }
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} failed");
    }

    /// Waits for the process to end (at most `limit`).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            if started.elapsed() > limit {
                panic!(
                    "modelgate serve did not exit within {limit:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then asserts a clean exit (0).
    pub fn stop(mut self) {
        self.signal("TERM");
        let st = self.wait(Duration::from_secs(40));
        assert_eq!(st.code(), Some(0), "exit after SIGTERM:\n{}", self.stderr());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The admin key of the server on each port.
static KEYS: std::sync::Mutex<Vec<(u16, String)>> = std::sync::Mutex::new(Vec::new());

/// The admin key of the server on `port` (empty when unknown).
pub fn key_for(port: u16) -> String {
    KEYS.lock()
        .expect("keys")
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, k)| k.clone())
        .unwrap_or_default()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// GET; `None` when nothing answers on the port.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(key_for(port))
        .send()
        .ok()?;
    let code = r.status().as_u16();
    Some((code, r.text().unwrap_or_default()))
}

pub fn get_json(port: u16, path: &str) -> Value {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer on port {port}"));
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {body}"))
}

pub fn evaluate(port: u16, content: &str) -> (u16, Value) {
    let r = client()
        .post(format!("http://127.0.0.1:{port}/v1/evaluations"))
        .bearer_auth(key_for(port))
        .header("content-type", "application/json")
        .body(json!({ "document": { "content": content } }).to_string())
        .send()
        .expect("POST /v1/evaluations");
    let code = r.status().as_u16();
    let body = r.text().expect("body");
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (code, v)
}

/// Nothing accepts connections on this port.
pub fn closed(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("address"),
        Duration::from_millis(500),
    )
    .is_err()
}

pub fn db_file(dir: &Path) -> bool {
    dir.join("modelgate.db").is_file()
}

// ---- PostgreSQL --------------------------------------------------------------------------

pub fn pg_admin_url() -> String {
    std::env::var("MODELGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh PostgreSQL database, dropped at the end of the test.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

pub fn pg_exec(sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&admin).await.map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {admin} ({e}); start it or set \
                 MODELGATE_TEST_DATABASE_URL"
            )
        })?;
        sqlx::query(sql)
            .execute(&mut c)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
        c.close().await.map_err(|e| e.to_string())
    })
}

impl PgDb {
    pub fn create() -> PgDb {
        let name = format!("mg_serve_{}", uuid::Uuid::now_v7().simple());
        if let Err(e) = pg_exec(&format!("CREATE DATABASE {name}")) {
            panic!("{e}");
        }
        let admin = pg_admin_url();
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b.to_string(), format!("?{q}")),
            None => (admin.clone(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}{query}");
        PgDb { name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = pg_exec(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
