//! A local stand-in for the Hugging Face Hub API (127.0.0.1), serving the recorded-shape
//! answers of `tests/fixtures/hub/`: for `modelgate check hf:…` and the service's Hub
//! fetches. No test touches the network.
//!
//! A minimal HTTP/1.1 server standing in for the Hub: answers from a route table, counts
//! requests per path and keeps each request's `Authorization` header.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(status: u16, body: &str) -> Resp {
        Resp {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn text(body: &[u8]) -> Resp {
        Resp {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.to_vec(),
        }
    }
    /// An error answer the way the Hub gives it: `X-Error-Code`, `X-Error-Message`,
    /// and a JSON body with `error`.
    pub fn hub_error(status: u16, code: Option<&str>, message: &str) -> Resp {
        let mut r = Resp::json(status, &serde_json::json!({ "error": message }).to_string());
        if let Some(c) = code {
            r.headers.push(("X-Error-Code".into(), c.into()));
        }
        r.headers.push(("X-Error-Message".into(), message.into()));
        r
    }
    pub fn header(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
}

#[derive(Default)]
struct State {
    /// Path -> answers in turn; the last one repeats.
    routes: HashMap<String, VecDeque<Resp>>,
    /// Paths served only with `Authorization: Bearer <token>` (gated files).
    gated: HashSet<String>,
    token: Option<String>,
    repos: HashSet<String>,
    hits: Vec<(String, Option<String>)>,
}

pub struct Stub {
    pub endpoint: String,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Stub {
    pub fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Stub {
            endpoint: format!("http://{addr}"),
            addr,
            state,
            stop,
            handle: Some(handle),
        }
    }

    /// Answers for a path, in turn (the last one repeats).
    pub fn route(&self, path: &str, answers: Vec<Resp>) {
        let mut s = self.state.lock().unwrap();
        s.routes.insert(path.to_string(), answers.into());
    }

    pub fn require_token(&self, path: &str, token: &str) {
        let mut s = self.state.lock().unwrap();
        s.gated.insert(path.to_string());
        s.token = Some(token.to_string());
    }

    /// Registers a repository: its model info at `/api/models/<repo>`,
    /// `/revision/main` and `/revision/<sha>`, and its card if any.
    pub fn add_model(&self, info: &serde_json::Value, card: Option<&[u8]>) {
        let repo = info["id"].as_str().expect("id").to_string();
        let sha = info["sha"].as_str().expect("sha").to_string();
        let body = serde_json::to_string(info).unwrap();
        for p in [
            format!("/api/models/{repo}"),
            format!("/api/models/{repo}/revision/main"),
            format!("/api/models/{repo}/revision/{sha}"),
        ] {
            self.route(&p, vec![Resp::json(200, &body)]);
        }
        if let Some(c) = card {
            self.route(
                &format!("/{repo}/resolve/{sha}/README.md"),
                vec![Resp::text(c)],
            );
        }
        self.state.lock().unwrap().repos.insert(repo);
    }

    pub fn hits(&self, path: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.hits.iter().filter(|(p, _)| p == path).count()
    }

    pub fn total(&self) -> usize {
        self.state.lock().unwrap().hits.len()
    }

    /// The `Authorization` header of every request so far.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        let s = self.state.lock().unwrap();
        s.hits.iter().map(|(_, a)| a.clone()).collect()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut auth = None;
    let mut length = 0usize;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut sink = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut sink);
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let resp = {
        let mut s = state.lock().unwrap();
        s.hits.push((path.clone(), auth.clone()));
        answer(&mut s, &path, auth.as_deref())
    };
    write(conn, &resp);
}

fn answer(s: &mut State, path: &str, auth: Option<&str>) -> Resp {
    if s.gated.contains(path) {
        let ok = s
            .token
            .as_deref()
            .is_some_and(|t| auth == Some(&format!("Bearer {t}")));
        if !ok {
            let repo = path
                .trim_start_matches('/')
                .split("/resolve/")
                .next()
                .unwrap_or("");
            return Resp::hub_error(
                401,
                Some("GatedRepo"),
                &format!(
                    "Access to model {repo} is restricted. You must have access to it and be authenticated to access it. Please log in."
                ),
            );
        }
    }
    if let Some(q) = s.routes.get_mut(path) {
        let r = if q.len() > 1 {
            q.pop_front()
        } else {
            q.front().cloned()
        };
        if let Some(r) = r {
            return r;
        }
    }
    // Not routed: what the Hub says for an unknown repository, revision or file.
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let repo = rest.split("/revision/").next().unwrap_or(rest);
        if s.repos.contains(repo) {
            let rev = rest.split("/revision/").nth(1).unwrap_or("");
            return Resp::hub_error(
                404,
                Some("RevisionNotFound"),
                &format!("Invalid rev id: {rev}"),
            );
        }
        return Resp::hub_error(404, Some("RepoNotFound"), "Repository not found");
    }
    let repo = path
        .trim_start_matches('/')
        .split("/resolve/")
        .next()
        .unwrap_or("");
    if s.repos.contains(repo) {
        return Resp::hub_error(404, Some("EntryNotFound"), "Entry not found");
    }
    Resp::hub_error(404, Some("RepoNotFound"), "Repository not found")
}

fn write(mut conn: TcpStream, r: &Resp) {
    let reason = match r.status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&r.body);
    let _ = conn.flush();
}

use serde_json::Value;
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/hub/models")
}

pub fn info_of(repo: &str) -> Value {
    let p = fixtures().join(repo.replace('/', "--")).join("info.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

pub fn card_of(repo: &str) -> Option<Vec<u8>> {
    std::fs::read(fixtures().join(repo.replace('/', "--")).join("README.md")).ok()
}

pub fn sha_of(repo: &str) -> String {
    info_of(repo)["sha"].as_str().unwrap().to_string()
}

/// A stub serving every fixture repository.
pub fn hub() -> Stub {
    let s = Stub::start();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let dir = e.unwrap().path();
        let info: Value =
            serde_json::from_slice(&std::fs::read(dir.join("info.json")).unwrap()).unwrap();
        s.add_model(&info, std::fs::read(dir.join("README.md")).ok().as_deref());
    }
    s
}
