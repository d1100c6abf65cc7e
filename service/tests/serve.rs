//! `modelgate serve`, `modelgate migrate` and `modelgate audit verify` as real processes:
//! start-up with no set-up, configuration precedence, PostgreSQL through `DATABASE_URL`,
//! exit codes, `--help`, and graceful shutdown on SIGTERM/SIGINT.
//!
//! These tests live in the `modelgate` package (not in `modelgate-tests`) because cargo
//! builds a package's binary before that package's integration tests and names it in
//! `CARGO_BIN_EXE_modelgate`: the binary under test is always the current one, without a
//! nested `cargo build` or a guess about the target directory.
//!
//! PostgreSQL is reached at `MODELGATE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test that needs it creates a fresh
//! database and drops it. A PostgreSQL that cannot be reached fails the test, never skips it.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

// ---- tests -------------------------------------------------------------------------------

/// Nothing but a port: the data directory, the schema, the built-in pack, the first admin
/// key (printed once, in admin.key with mode 0600, never in the log) and the audit log's
/// signing key appear; the database file is mode 0600 like the keys.
#[test]
fn starts_with_no_setup_in_an_empty_directory() {
    let cwd = tempdir();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let s = Server::start(cwd.path(), port, &[], &[("MODELGATE_BIND", &bind)]);
    assert!(
        db_file(&cwd.path().join("modelgate-data")),
        "./modelgate-data/modelgate.db was not created"
    );
    let ready = get_json(port, "/readyz");
    assert_eq!(ready["database"], "sqlite", "{ready}");
    assert_eq!(ready["pack"]["name"], "modelgate-default", "{ready}");
    let packs = get_json(port, "/v1/packs");
    assert_eq!(packs["items"][0]["builtin"], true, "{packs}");
    assert_eq!(
        packs["active"]["digest"], ready["pack"]["digest"],
        "{packs}"
    );
    let (code, d) = evaluate(port, CARD);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["verdict"], "conditional", "{d}");
    assert_eq!(d["pack"]["digest"], ready["pack"]["digest"]);
    let log = s.stderr();
    assert!(
        log.contains(&port.to_string()),
        "the log names the address: {log}"
    );
    let data = cwd.path().join("modelgate-data");
    let key = std::fs::read_to_string(data.join("admin.key")).expect("admin.key");
    let key = key.trim();
    assert!(key.starts_with("mg_") && key.len() == 63, "{key}");
    assert!(
        s.stdout().contains(key),
        "the key is printed once on stdout"
    );
    assert!(
        !log.contains(&key[20..]),
        "the key's secret is not in the log: {log}"
    );
    for f in ["admin.key", "audit-log.key", "modelgate.db"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(data.join(f)).expect(f).permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    // Without the key: 401.
    let r = client()
        .get(format!("http://127.0.0.1:{port}/v1/decisions"))
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 401);
    s.stop();
}

/// No flag, no variable: 127.0.0.1:8080. Skipped (with a message) when 8080 is taken.
#[test]
fn the_default_address_is_localhost_8080() {
    if TcpListener::bind("127.0.0.1:8080").is_err() {
        eprintln!("SKIP: 127.0.0.1:8080 is in use; the default address is not tested");
        return;
    }
    let cwd = tempdir();
    let s = Server::start(cwd.path(), 8080, &[], &[]);
    assert_eq!(get_json(8080, "/healthz")["status"], "ok");
    s.stop();
}

/// Flag > environment > config file > default, for the address and the data directory.
#[test]
fn flags_beat_environment_beat_config_file() {
    let cwd = tempdir();
    let root = cwd.path();
    let (flag_port, env_port, file_port) = (free_port(), free_port(), free_port());
    let (flag_dir, env_dir, file_dir) = (root.join("flag"), root.join("env"), root.join("file"));
    let config = root.join("modelgate.yaml");
    std::fs::write(
        &config,
        format!(
            "bind: 127.0.0.1:{file_port}\ndata_dir: {}\nworkers: 1\n",
            file_dir.display()
        ),
    )
    .expect("write config");
    let config = config.to_string_lossy().into_owned();
    let env_bind = format!("127.0.0.1:{env_port}");
    let env_dir_s = env_dir.to_string_lossy().into_owned();
    let env = [
        ("MODELGATE_BIND", env_bind.as_str()),
        ("MODELGATE_DATA_DIR", env_dir_s.as_str()),
    ];

    // Flags win over both.
    let flag_bind = format!("127.0.0.1:{flag_port}");
    let flag_dir_s = flag_dir.to_string_lossy().into_owned();
    let s = Server::start(
        root,
        flag_port,
        &[
            "--config",
            &config,
            "--bind",
            &flag_bind,
            "--data-dir",
            &flag_dir_s,
        ],
        &env,
    );
    assert!(closed(env_port) && closed(file_port));
    assert!(db_file(&flag_dir) && !db_file(&env_dir) && !db_file(&file_dir));
    s.stop();

    // The environment wins over the file.
    let s = Server::start(root, env_port, &["--config", &config], &env);
    assert!(closed(flag_port) && closed(file_port));
    assert!(db_file(&env_dir) && !db_file(&file_dir));
    s.stop();

    // The file wins over the defaults.
    let s = Server::start(root, file_port, &["--config", &config], &[]);
    assert!(db_file(&file_dir));
    assert!(!root.join("modelgate-data").exists());
    s.stop();
}

/// `DATABASE_URL` beats `MODELGATE_DATA_DIR` and the file; `--data-dir` beats `DATABASE_URL`.
#[test]
fn database_url_precedence() {
    let cwd = tempdir();
    let root = cwd.path();
    let url_db = root.join("by-url.db");
    let url = format!("sqlite:{}", url_db.display());
    let env_dir = root.join("env");
    let env_dir_s = env_dir.to_string_lossy().into_owned();
    let config = root.join("c.json");
    std::fs::write(
        &config,
        json!({ "database_url": format!("sqlite:{}", root.join("by-file.db").display()) })
            .to_string(),
    )
    .expect("write config");
    let config = config.to_string_lossy().into_owned();

    let out = run(
        root,
        &["migrate", "--config", &config],
        &[("DATABASE_URL", &url), ("MODELGATE_DATA_DIR", &env_dir_s)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(url_db.is_file(), "DATABASE_URL was not used");
    assert!(!db_file(&env_dir) && !root.join("by-file.db").exists());

    // The file's database_url when the environment names no database.
    let out = run(root, &["migrate", "--config", &config], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(root.join("by-file.db").is_file());

    let flag_dir = root.join("flag");
    let out = run(
        root,
        &["migrate", "--data-dir", &flag_dir.to_string_lossy()],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        db_file(&flag_dir),
        "--data-dir did not win over DATABASE_URL"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("schema at version"), "{stdout}");
}

/// A configuration the binary cannot use is a usage error (64) that names the culprit,
/// before anything is opened.
#[test]
fn bad_configuration_exits_64_naming_the_problem() {
    let cwd = tempdir();
    let root = cwd.path();
    std::fs::write(
        root.join("unknown.yaml"),
        "bind: 127.0.0.1:1\ncolour: red\n",
    )
    .expect("write");
    std::fs::write(root.join("broken.yaml"), "bind: [127.0.0.1\n").expect("write");
    std::fs::write(root.join("wrong-type.yaml"), "workers: many\n").expect("write");
    // (arguments, environment, what the message must name)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec!["serve", "--config", "unknown.yaml"],
            vec![],
            vec!["unknown.yaml", "colour"],
        ),
        (
            vec!["serve", "--config", "broken.yaml"],
            vec![],
            vec!["broken.yaml", "line"],
        ),
        (
            vec!["serve", "--config", "wrong-type.yaml"],
            vec![],
            vec!["wrong-type.yaml", "workers"],
        ),
        (
            vec!["serve", "--config", "missing.yaml"],
            vec![],
            vec!["missing.yaml"],
        ),
        (
            vec!["migrate", "--config", "unknown.yaml"],
            vec![],
            vec!["unknown.yaml", "colour"],
        ),
        (
            vec!["serve", "--bind", "localhost"],
            vec![],
            vec!["ADDR:PORT", "localhost"],
        ),
        (
            vec!["serve"],
            vec![("MODELGATE_BIND", "127.0.0.1:99999")],
            vec!["127.0.0.1:99999"],
        ),
        (
            vec!["serve"],
            vec![("MODELGATE_WORKERS", "lots")],
            vec!["MODELGATE_WORKERS", "lots"],
        ),
        (vec!["serve", "--log-format", "xml"], vec![], vec!["xml"]),
        (
            vec!["migrate"],
            vec![("DATABASE_URL", "mysql://app:hunter2@db.internal/app")],
            vec!["mysql", "db.internal"],
        ),
        (
            vec!["serve"],
            vec![(
                "DATABASE_URL",
                "postgres://app:hunter2@db.internal:notaport/app",
            )],
            vec!["not valid", "postgres"],
        ),
        (
            vec!["serve", "--no-such-flag"],
            vec![],
            vec!["--no-such-flag"],
        ),
    ];
    for (args, env, needles) in cases {
        let out = run(root, &args, &env);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?} {env:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?} {env:?}: `{n}` not in: {err}");
        }
        assert!(!err.contains("hunter2"), "the password is printed: {err}");
    }
    assert!(
        !root.join("modelgate-data").exists(),
        "a refused configuration created the data directory"
    );
}

/// An unreachable database is 69 (EX_UNAVAILABLE), quickly, and the password is never
/// printed.
#[test]
fn unreachable_database_exits_69_without_the_password() {
    let cwd = tempdir();
    let port = free_port();
    let url = format!("postgres://mguser:Sup3rS3cret@127.0.0.1:{port}/modelgate");
    for cmd in [vec!["migrate"], vec!["serve", "--bind", "127.0.0.1:0"]] {
        let started = Instant::now();
        let out = run(cwd.path(), &cmd, &[("DATABASE_URL", &url)]);
        let took = started.elapsed();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(69), "{cmd:?}: {err}");
        assert!(
            !err.contains("Sup3rS3cret"),
            "{cmd:?} prints the password: {err}"
        );
        assert!(!err.contains("mguser"), "{cmd:?} prints the user: {err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{cmd:?}: {err}");
        assert!(
            err.to_lowercase().contains("refused"),
            "{cmd:?} says why: {err}"
        );
        assert!(took < Duration::from_secs(30), "{cmd:?} took {took:?}");
    }
}

/// A port that is taken: 69, naming the address.
#[test]
fn a_taken_port_exits_69() {
    let cwd = tempdir();
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("address").to_string();
    let out = run(cwd.path(), &["serve", "--bind", &addr], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains(&addr), "{err}");
    // Nothing was created for a server that never ran: no admin key printed or written.
    let out_text = text(&out.stdout);
    assert!(!out_text.contains("mg_"), "no key printed: {out_text}");
    assert!(
        !cwd.path().join("modelgate-data/admin.key").exists(),
        "no admin.key for a server that could not listen"
    );
}

#[test]
fn migrate_then_serve_on_the_same_directory() {
    let cwd = tempdir();
    let dir = cwd.path().join("data");
    let dir_s = dir.to_string_lossy().into_owned();
    let first = run(cwd.path(), &["migrate", "--data-dir", &dir_s], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(db_file(&dir));
    let again = run(cwd.path(), &["migrate", "--data-dir", &dir_s], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        text(&first.stdout),
        text(&again.stdout),
        "migrate is idempotent"
    );
    assert!(text(&first.stdout).contains("schema at version"));
    let port = free_port();
    let s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}"), "--data-dir", &dir_s],
        &[],
    );
    let (code, d) = evaluate(port, CARD);
    assert_eq!(code, 201, "{d}");
    s.stop();
    // The decision is still there after a restart.
    let s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}"), "--data-dir", &dir_s],
        &[],
    );
    let id = d["id"].as_str().expect("id");
    let again = get_json(port, &format!("/v1/decisions/{id}"));
    assert_eq!(again["verdict"], d["verdict"]);
    s.stop();
}

/// `audit verify` on a directory that holds no modelgate database says so (exit 69) and
/// names the way out, rather than a bare SQL error.
#[test]
fn audit_verify_on_an_empty_directory_says_there_is_no_database() {
    let cwd = tempdir();
    let dir = cwd.path().join("data");
    let dir_s = dir.to_string_lossy().into_owned();
    // A signing key, as a server would have left it; no database.
    let key = run(cwd.path(), &["audit", "key", "--data-dir", &dir_s], &[]);
    assert_eq!(key.status.code(), Some(0), "{}", text(&key.stderr));
    let out = run(cwd.path(), &["audit", "verify", "--data-dir", &dir_s], &[]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("holds no modelgate database"), "{err}");
    assert!(err.contains("modelgate migrate"), "{err}");
}

#[test]
fn postgres_through_database_url() {
    let db = PgDb::create();
    let cwd = tempdir();
    let out = run(cwd.path(), &["migrate"], &[("DATABASE_URL", &db.url)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.starts_with("postgres at "), "{stdout}");
    assert!(stdout.contains("schema at version"), "{stdout}");
    let port = free_port();
    let s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[("DATABASE_URL", &db.url)],
    );
    assert_eq!(get_json(port, "/readyz")["database"], "postgres");
    // No SQLite database although a data directory exists: it holds the audit log's
    // signing key (its default place), mode 0600.
    assert!(
        !db_file(&cwd.path().join("modelgate-data")),
        "a SQLite database was created although DATABASE_URL is set"
    );
    let key = cwd.path().join("modelgate-data/audit-log.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key).expect("key file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the signing key must be private");
    let (code, d) = evaluate(port, CARD);
    assert_eq!(code, 201, "{d}");
    s.stop();
}

/// SIGTERM while a request body is still arriving: the request is answered, then the
/// process exits 0. SIGINT does the same for an idle server.
#[test]
fn sigterm_lets_the_in_flight_request_finish() {
    let cwd = tempdir();
    let port = free_port();
    let mut s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[],
    );
    // A large (about 400 KiB) but allowed evaluation body.
    let mut content = String::from(CARD);
    content.push_str("\n## Notes\n\n");
    while content.len() < 400 * 1024 {
        content.push_str("A line of notes that only makes the card longer.\n");
    }
    let body = json!({ "document": { "content": content } }).to_string();
    let body = body.as_bytes();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST /v1/evaluations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        key_for(port),
        body.len()
    );
    conn.write_all(head.as_bytes()).expect("write head");
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first).expect("write first half");
    conn.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        s.child.try_wait().expect("wait").is_none(),
        "the server exited with a request in flight:\n{}",
        s.stderr()
    );
    conn.write_all(rest).expect("write second half");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).expect("read the response");
    let status_line = resp.lines().next().unwrap_or_default();
    assert!(
        status_line.starts_with("HTTP/1.1 201"),
        "in-flight request: {status_line}\n{}",
        s.stderr()
    );
    assert!(resp.contains("\"verdict\""), "{resp}");
    let st = s.wait(Duration::from_secs(40));
    assert_eq!(st.code(), Some(0), "exit after SIGTERM:\n{}", s.stderr());
    eprintln!(
        "SIGTERM to exit with one in-flight request: {:?}",
        signalled.elapsed()
    );

    // SIGINT on an idle server.
    let mut s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[],
    );
    let signalled = Instant::now();
    s.signal("INT");
    let st = s.wait(Duration::from_secs(40));
    assert_eq!(st.code(), Some(0), "exit after SIGINT:\n{}", s.stderr());
    eprintln!("SIGINT to exit, idle: {:?}", signalled.elapsed());
}

/// `serve --help` lists every setting with its variable and default; `migrate --help` its
/// database settings.
#[test]
fn help_lists_every_setting() {
    let cwd = tempdir();
    let out = run(cwd.path(), &["serve", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "--bind",
        "MODELGATE_BIND",
        "127.0.0.1:8080",
        "--data-dir",
        "MODELGATE_DATA_DIR",
        "./modelgate-data",
        "DATABASE_URL",
        "--config",
        "--workers",
        "MODELGATE_WORKERS",
        "--db-pool",
        "MODELGATE_DB_POOL",
        "--log-format",
        "MODELGATE_LOG_FORMAT",
        "--audit-key",
        "MODELGATE_AUDIT_KEY",
        "SIGTERM",
    ] {
        assert!(
            help.contains(needle),
            "`{needle}` not in serve --help:\n{help}"
        );
    }
    let out = run(cwd.path(), &["migrate", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "--data-dir",
        "MODELGATE_DATA_DIR",
        "DATABASE_URL",
        "--config",
    ] {
        assert!(
            help.contains(needle),
            "`{needle}` not in migrate --help:\n{help}"
        );
    }
}

/// A TCP proxy in front of PostgreSQL that can freeze: then it forwards nothing and leaves
/// new connections unanswered, as a database host that stopped answering does.
struct Freezer {
    addr: String,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Freezer {
    fn start(target: String) -> Freezer {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address").to_string();
        let frozen = Arc::new(AtomicBool::new(false));
        let f = frozen.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if f.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    let f = f.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if f.load(Ordering::SeqCst) {
                                // Swallow it and keep both ends open: no answer, no error.
                                loop {
                                    std::thread::sleep(Duration::from_secs(3600));
                                }
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Freezer { addr, frozen }
    }

    fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// When the database stops answering, `/readyz` says so promptly (503 with Retry-After),
/// instead of waiting the pool's 5 s for a connection.
#[test]
fn readyz_answers_promptly_when_the_database_stops_answering() {
    let db = PgDb::create();
    let cwd = tempdir();
    let out = run(cwd.path(), &["migrate"], &[("DATABASE_URL", &db.url)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // postgres://user@host:port/name?query -> the same through the proxy.
    let (scheme_user, rest) = db.url.split_once('@').expect("a URL with a user");
    let (hostport, path) = rest.split_once('/').expect("a URL with a database");
    let proxy = Freezer::start(hostport.to_string());
    let url = format!("{scheme_user}@{}/{path}", proxy.addr);
    let port = free_port();
    let s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(get_json(port, "/readyz")["status"], "ready");
    proxy.freeze();
    let t = Instant::now();
    let r = client()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .expect("an answer");
    let took = t.elapsed();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = serde_json::from_str(&r.text().expect("body")).expect("problem");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("did not answer")),
        "{body}"
    );
    // A liveness bound, not a benchmark: before, the probe waited the pool's 5 s and more.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        get(port, "/healthz").map(|(c, _)| c),
        Some(200),
        "still alive"
    );
    drop(s);
}

/// A replica must sign with the key that signed the database's checkpoints: one without
/// the shared key file refuses to start (and makes no key), one with another key refuses
/// too, unless the rotation is deliberate (`--accept-new-audit-key`).
#[test]
fn replicas_must_share_the_audit_signing_key() {
    let db = PgDb::create();
    let first = tempdir();
    let port = free_port();
    let a = Server::start(
        first.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[("DATABASE_URL", &db.url)],
    );
    let (code, d) = evaluate(port, CARD);
    assert_eq!(code, 201, "{d}");
    let started = Instant::now();
    while get(port, "/v1/log/checkpoint").map(|(c, _)| c) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(20), "no checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    a.stop();
    let shared = first.path().join("modelgate-data/audit-log.key");
    // A second replica in another directory, without the key file.
    let second = tempdir();
    let port2 = free_port();
    let bind2 = format!("127.0.0.1:{port2}");
    let out = run(
        second.path(),
        &["serve", "--bind", &bind2],
        &[("DATABASE_URL", &db.url)],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("refusing to start"), "{err}");
    assert!(
        !second.path().join("modelgate-data/audit-log.key").exists(),
        "no key of its own was made"
    );
    // Another key (made by a server on a scratch SQLite database): refused.
    let scratch = tempdir();
    let p = free_port();
    let s = Server::start(
        scratch.path(),
        p,
        &["--bind", &format!("127.0.0.1:{p}")],
        &[],
    );
    s.stop();
    let other_key = scratch.path().join("modelgate-data/audit-log.key");
    let out = run(
        second.path(),
        &[
            "serve",
            "--bind",
            &bind2,
            "--audit-key",
            other_key.to_str().unwrap(),
        ],
        &[("DATABASE_URL", &db.url)],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("is not the key that signed"), "{err}");
    // The shared key: it starts and serves.
    let b = Server::start(
        second.path(),
        port2,
        &["--bind", &bind2, "--audit-key", shared.to_str().unwrap()],
        &[("DATABASE_URL", &db.url)],
    );
    assert_eq!(get_json(port2, "/readyz")["status"], "ready");
    b.stop();
    // A deliberate rotation starts with the other key.
    let c = Server::start(
        second.path(),
        port2,
        &[
            "--bind",
            &bind2,
            "--audit-key",
            other_key.to_str().unwrap(),
            "--accept-new-audit-key",
        ],
        &[("DATABASE_URL", &db.url)],
    );
    assert!(
        c.stderr().contains("rotating the audit signing key"),
        "{}",
        c.stderr()
    );
    c.stop();
}

/// On PostgreSQL the key files go to --key-dir, never to ./modelgate-data, and the
/// database stays PostgreSQL.
#[test]
fn key_dir_places_the_keys_without_choosing_sqlite() {
    let db = PgDb::create();
    let cwd = tempdir();
    let keys = tempdir();
    let port = free_port();
    let s = Server::start(
        cwd.path(),
        port,
        &["--bind", &format!("127.0.0.1:{port}")],
        &[
            ("DATABASE_URL", &db.url),
            ("MODELGATE_KEY_DIR", keys.path().to_str().unwrap()),
        ],
    );
    assert_eq!(get_json(port, "/readyz")["database"], "postgres");
    for f in ["audit-log.key", "admin.key"] {
        assert!(keys.path().join(f).exists(), "{f} in the key directory");
    }
    assert!(
        !cwd.path().join("modelgate-data").exists(),
        "nothing in ./modelgate-data"
    );
    s.stop();
}
