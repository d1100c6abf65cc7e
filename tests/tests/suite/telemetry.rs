//! Telemetry of `modelgate serve`: JSON and text logs, secrets kept out of them, and OTLP
//! export of the spans to a collector stub.
//!
//! Each test runs the server in a child process, because logging is process-global: the
//! child is this test executable itself, re-run on the ignored test `child_serve`, which
//! calls the CLI's `serve` exactly as `main` does (so it always runs the current code,
//! unlike a `target/debug/modelgate` that may be stale or absent). It is stopped with
//! SIGTERM, like a real deployment, and the tests read its stderr.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The CLI arguments of the child, JSON-encoded.
const CHILD_ARGS: &str = "MODELGATE_TELEMETRY_TEST_CHILD";

/// Not a test: the body of the child process (see the module documentation).
#[test]
#[ignore = "runs only as the server process started by the other tests of this file"]
fn child_serve() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("child arguments");
    let mut argv = vec!["modelgate".to_string()];
    argv.extend(args);
    let code = modelgate::cli::run(argv, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}

/// A running `modelgate serve` child.
struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    addr: String,
    _data: tempfile::TempDir,
}

/// Environment variables of the parent that must not reach the child.
fn scrubbed(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_")
            || k.starts_with("MODELGATE_")
            || k == "RUST_LOG"
            || k == "DATABASE_URL"
        {
            cmd.env_remove(k);
        }
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> (Child, Arc<Mutex<Vec<String>>>) {
    let exe = std::env::current_exe().expect("path of the test executable");
    let mut cmd = Command::new(exe);
    scrubbed(&mut cmd);
    cmd.args([
        "telemetry::child_serve",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(CHILD_ARGS, serde_json::to_string(args).unwrap())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the server process");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("piped stderr");
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    (child, lines)
}

fn wait_for<T>(what: &str, lines: &Mutex<Vec<String>>, f: impl Fn(&[String]) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f(&lines.lock().unwrap()) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; output so far:\n{}",
            lines.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Served {
    /// The first admin key (in admin.key of the data directory).
    fn admin_key(&self) -> String {
        std::fs::read_to_string(self._data.path().join("admin.key"))
            .expect("admin.key")
            .trim()
            .to_string()
    }

    /// Starts `modelgate serve` on a free port with a fresh data directory (unless `env`
    /// gives `DATABASE_URL`), and waits for its "listening" line.
    fn start(format: &str, env: &[(&str, &str)]) -> Served {
        let data = tempfile::tempdir().expect("temporary directory");
        let data_dir = data.path().display().to_string();
        let mut env: Vec<(&str, &str)> = env.to_vec();
        // Also with DATABASE_URL: the data directory then holds the keys.
        env.push(("MODELGATE_DATA_DIR", &data_dir));
        let (child, lines) = spawn(
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--log-format",
                format,
            ],
            &env,
        );
        let addr = wait_for("the listening line", &lines, |ls| {
            ls.iter().find_map(|l| {
                let rest = l.split("modelgate listening on http://").nth(1)?;
                Some(rest.split([' ', '"']).next()?.to_string())
            })
        });
        Served {
            child,
            lines,
            addr,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then waits for a graceful exit; returns every line it wrote on stderr.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(45);
        let exit = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the server") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the server did not stop within 45 s of SIGTERM; output:\n{}",
                    self.lines.lock().unwrap().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Let the reader thread drain the pipe.
        std::thread::sleep(Duration::from_millis(200));
        let lines = self.lines.lock().unwrap().clone();
        assert!(
            exit.success(),
            "server exited with {exit}:\n{}",
            lines.join("\n")
        );
        lines
    }
}

const CARD: &str = "---\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# Acme 7B\n## Intended uses\n## Limitations\n## Evaluation\n## Training data\n";

/// POST /v1/evaluations with an `Authorization` header (and more headers); returns the
/// decision id.
fn evaluate(s: &Served, token: &str, headers: &[(&str, &str)]) -> String {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .post(s.url("/v1/evaluations"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(
            json!({
                "document": {"format": "auto", "content": CARD},
                "model_ref": "hf:acme/acme-7b"
            })
            .to_string(),
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().expect("POST /v1/evaluations");
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_str(&resp.text().expect("body")).expect("JSON body");
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("decision id").to_string()
}

fn get(s: &Served, path: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(s.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .expect("GET")
        .status()
        .as_u16()
}

/// The access-log event of a request, by route and status.
fn request_event<'a>(events: &'a [Value], route: &str, status: u64) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["message"] == "request" && e["route"] == route && e["status"] == status)
}

/// The test PostgreSQL database URL with a password in it (added when the admin URL has
/// none: the test server trusts local connections, so any password is accepted), and
/// the password.
fn url_with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (userinfo, host) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    if let Some((_, pw)) = userinfo.split_once(':')
        && !pw.is_empty()
    {
        return (url.to_string(), pw.to_string());
    }
    let pw = format!("pw-{}", uuid::Uuid::now_v7().simple());
    (format!("{scheme}://{userinfo}:{pw}@{host}"), pw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn json_logs_carry_route_and_status_and_no_secrets() {
    let db = modelgate_tests::db::TestDb::postgres().await;
    let (url, password) = url_with_password(&db.url);
    let lines = tokio::task::spawn_blocking(move || {
        // debug: the level an operator turns on to troubleshoot; secrets stay out there too.
        let s = Served::start(
            "json",
            &[("DATABASE_URL", &url), ("MODELGATE_LOG", "debug")],
        );
        let token = s.admin_key();
        let id = evaluate(&s, &token, &[]);
        assert_eq!(get(&s, &format!("/v1/decisions/{id}"), &token), 200);
        assert_eq!(get(&s, "/v1/decisions", "get-token-also-secret"), 401);
        assert_eq!(get(&s, "/v1/no-such-route", &token), 404);
        (s.stop(), id, token)
    })
    .await
    .expect("server thread");
    let (lines, id, token) = lines;
    db.finish().await;

    let events: Vec<Value> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {l}"));
            assert!(v.is_object(), "a log line is not a JSON object: {l}");
            v
        })
        .collect();
    let all = lines.join("\n");
    assert!(
        !all.contains(&password),
        "the DATABASE_URL password is in the logs"
    );
    assert!(!all.contains(&token), "the bearer token is in the logs");
    assert!(
        !all.contains("get-token-also-secret"),
        "a bearer token is in the logs"
    );
    assert!(!all.to_ascii_lowercase().contains("authorization"), "{all}");

    let listening = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("modelgate listening on http://"))
        })
        .expect("listening event");
    assert!(listening["address"].as_str().is_some(), "{listening}");
    assert!(
        listening["database"]
            .as_str()
            .is_some_and(|d| d.starts_with("postgres at ")),
        "{listening}"
    );
    assert!(
        listening["pack"]
            .as_str()
            .is_some_and(|p| p.starts_with("sha256:")),
        "{listening}"
    );

    let eval = request_event(&events, "/v1/evaluations", 201).unwrap_or_else(|| {
        panic!("no request event for POST /v1/evaluations with status 201:\n{all}")
    });
    assert_eq!(eval["method"], "POST");
    assert_eq!(eval["level"], "INFO");
    assert!(
        eval["latency_ms"].as_f64().is_some_and(|l| l > 0.0),
        "{eval}"
    );
    assert_eq!(eval["span"]["http.route"], "/v1/evaluations");
    assert_eq!(eval["span"]["decision_id"], id.as_str());
    assert!(eval["span"]["request_id"].as_str().is_some(), "{eval}");
    let got = request_event(&events, "/v1/decisions/{id}", 200).expect("GET decision event");
    assert_eq!(got["path"], format!("/v1/decisions/{id}"));
    assert!(request_event(&events, "unmatched", 404).is_some(), "{all}");
    // debug lets the store spans' events through (sqlx's statement log): still JSON above.
    assert!(events.iter().any(|e| e["level"] == "DEBUG"), "{all}");
}

#[test]
fn text_logs_are_not_json() {
    let s = Served::start("text", &[]);
    evaluate(&s, &s.admin_key(), &[]);
    let lines = s.stop();
    let all = lines.join("\n");
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            serde_json::from_str::<Value>(l).is_err(),
            "a text log line parses as JSON: {l}"
        );
    }
    let listening = lines
        .iter()
        .find(|l| l.contains("modelgate listening on http://"))
        .expect("listening line");
    assert!(listening.contains(" INFO "), "{listening}");
    assert!(listening.contains("SQLite in "), "{listening}");
    assert!(
        lines.iter().any(|l| l.contains(" request ")
            && l.contains("route=\"/v1/evaluations\"")
            && l.contains("status=201")),
        "no text request line for the evaluation:\n{all}"
    );
    assert!(!all.contains("Bearer"), "{all}");
}

#[test]
fn a_failed_start_does_not_print_the_database_password() {
    // Nothing listens on port 1: the connection is refused and serve exits with an error.
    let (mut child, lines) = spawn(
        &["serve", "--bind", "127.0.0.1:0", "--log-format", "json"],
        &[(
            "DATABASE_URL",
            "postgres://modelgate:hunter2-not-logged@127.0.0.1:1/modelgate",
        )],
    );
    let status = child.wait().expect("wait for the server");
    std::thread::sleep(Duration::from_millis(200));
    let all = lines.lock().unwrap().join("\n");
    assert!(
        !status.success(),
        "serve started without a database:\n{all}"
    );
    assert!(all.contains("postgres at 127.0.0.1:1"), "{all}");
    assert!(
        !all.contains("hunter2"),
        "the password is in the output:\n{all}"
    );
}

// ---- OTLP ------------------------------------------------------------------------------

/// The requests a collector stub received: method, path, body.
type Received = Mutex<Vec<(String, String, Vec<u8>)>>;

/// A collector stub: accepts `POST /v1/traces` (HTTP/1.1, keep-alive) and keeps the bodies.
struct Collector {
    addr: String,
    requests: Arc<Received>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the collector stub");
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let sink = sink.clone();
                std::thread::spawn(move || serve_collector(conn, &sink));
            }
        });
        Collector { addr, requests }
    }

    /// Every span received, with its resource's attributes.
    fn spans(&self) -> Vec<(Vec<KeyValue>, Span)> {
        let mut out = Vec::new();
        for (method, path, body) in self.requests.lock().unwrap().iter() {
            assert_eq!(method, "POST");
            assert_eq!(path, "/v1/traces");
            let req = ExportTraceServiceRequest::decode(body.as_slice())
                .expect("an OTLP protobuf trace export");
            for rs in req.resource_spans {
                let attrs = rs.resource.map(|r| r.attributes).unwrap_or_default();
                for ss in rs.scope_spans {
                    for sp in ss.spans {
                        out.push((attrs.clone(), sp));
                    }
                }
            }
        }
        out
    }
}

fn serve_collector(mut conn: TcpStream, sink: &Received) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone the connection"));
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        let mut content_type = String::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "content-type" => content_type = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let ok = content_type == "application/x-protobuf";
        sink.lock().unwrap().push((
            method,
            format!("{path}{}", if ok { "" } else { "?bad-type" }),
            body,
        ));
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        );
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

#[test]
fn spans_are_exported_over_otlp_and_flushed_on_shutdown() {
    let collector = Collector::start();
    let endpoint = format!("http://{}", collector.addr);
    let s = Served::start("json", &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    // A caller's trace context (W3C traceparent) becomes the parent of the request span.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let key = s.admin_key();
    let id = evaluate(
        &s,
        &key,
        &[("traceparent", &format!("00-{trace_id}-{parent}-01"))],
    );
    // The decision records the trace it was made in.
    let stored: Value = reqwest::blocking::Client::new()
        .get(s.url(&format!("/v1/decisions/{id}")))
        .bearer_auth(&key)
        .send()
        .and_then(|r| r.text())
        .map(|t| serde_json::from_str(&t).expect("JSON decision"))
        .expect("GET the decision");
    assert_eq!(stored["trace_id"], trace_id, "{stored}");
    let started = Instant::now();
    let lines = s.stop();
    let all = lines.join("\n");
    // The batch processor exports every 5 s: spans that arrived this early came from the
    // flush at shutdown (the request was sent just before).
    let spans = collector.spans();
    assert!(
        !spans.is_empty(),
        "the collector received no spans (stopped after {:?}):\n{all}",
        started.elapsed()
    );
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    let find = |name: &str| {
        spans
            .iter()
            .find(|(_, s)| s.name == name)
            .unwrap_or_else(|| panic!("no span named {name}; got {names:?}"))
    };

    let (resource, http) = find("POST /v1/evaluations");
    assert_eq!(attr_str(resource, "service.name"), Some("modelgate"));
    assert!(attr_str(resource, "service.version").is_some());
    assert_eq!(hex::encode(&http.trace_id), trace_id);
    assert_eq!(hex::encode(&http.parent_span_id), parent);
    assert_eq!(
        attr_str(&http.attributes, "http.route"),
        Some("/v1/evaluations")
    );
    assert_eq!(attr_str(&http.attributes, "decision_id"), Some(id.as_str()));
    assert!(
        matches!(
            attr(&http.attributes, "http.status_code"),
            Some(any_value::Value::IntValue(201))
        ),
        "{:?}",
        http.attributes
    );
    assert!(attr(&http.attributes, "authorization").is_none());

    let (_, insert) = find("store.insert_decision");
    assert_eq!(insert.trace_id, http.trace_id);
    assert_eq!(insert.parent_span_id, http.span_id);
    assert_eq!(attr_str(&insert.attributes, "backend"), Some("sqlite"));
    assert_eq!(attr_str(&insert.attributes, "tenant"), Some("default"));
    assert_eq!(
        attr_str(&insert.attributes, "decision_id"),
        Some(id.as_str())
    );

    let (_, eval) = find("evaluation");
    assert_eq!(eval.parent_span_id, http.span_id);
    assert_eq!(attr_str(&eval.attributes, "verdict"), Some("allow"));
    assert!(
        attr_str(&eval.attributes, "pack").is_some_and(|p| p.starts_with("sha256:")),
        "{:?}",
        eval.attributes
    );
    let (_, parse) = find("document.parse");
    assert_eq!(parse.parent_span_id, eval.span_id);
    // Start-up store calls are exported too (outside any request).
    find("store.migrate");
    find("store.register_pack");

    // The request's log line names the trace, so logs and traces meet.
    let logged = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["message"] == "request" && e["route"] == "/v1/evaluations")
        .unwrap_or_else(|| panic!("no request event:\n{all}"));
    assert_eq!(logged["span"]["trace_id"], trace_id);
    assert!(all.contains("exporting traces over OTLP/HTTP"), "{all}");
}
