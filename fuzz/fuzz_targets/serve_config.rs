//! The configuration file of `modelgate serve` / `migrate` (`--config FILE`, YAML or JSON:
//! `serve::parse_config`) and the configuration resolved from it (`serve::resolve_with`,
//! with no flags and no environment, then with flags and a `DATABASE_URL` that override
//! it).
//!
//! Invariants: no panic; parsing and resolving are deterministic; a resolved configuration
//! holds only what the service accepts (workers 1 to 1024, a pool of 1 to 1000
//! connections, log format text or json, an `ADDR:PORT` to listen on) and takes each
//! setting from the file unless a flag or the environment gives it; the password of the
//! file's database URL appears in no error and not in the database's description (which
//! is logged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::serve::{
    Database, DbArgs, FileConfig, ServeArgs, ServeConfig, parse_config, resolve_with,
};
use std::path::PathBuf;

const FLAG_URL: &str = "postgres://flag@db.example:5432/modelgate";

/// A password no other part of an input holds: it replaces the password of the file's
/// database URL, so that finding it in a message means the message leaked it.
const SECRET: &str = "Qx7-not-a-real-password";

/// Where the password of a `postgres://user:password@host/…` URL is (`sqlite:` URLs have
/// none).
fn password_at(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme = ["postgres://", "postgresql://"]
        .into_iter()
        .find(|s| url.starts_with(s))?;
    let rest = &url[scheme.len()..];
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = &authority[..authority.rfind('@')?];
    let colon = userinfo.find(':')?;
    let start = scheme.len() + colon + 1;
    Some(start..scheme.len() + userinfo.len())
}

fn checked(r: &Result<ServeConfig, String>, secret: Option<&str>) {
    match r {
        Ok(c) => {
            assert!((1..=1024).contains(&c.workers), "workers {}", c.workers);
            assert!(
                (1..=1000).contains(&c.pool.max_connections),
                "pool {}",
                c.pool.max_connections
            );
            assert!(["text", "json"].contains(&c.log_format.as_str()));
            let (host, port) = c.bind.rsplit_once(':').expect("ADDR:PORT");
            assert!(
                !host.is_empty() && port.parse::<u16>().is_ok(),
                "{}",
                c.bind
            );
            if let Some(pw) = secret {
                let shown = c.database.describe();
                assert!(!shown.contains(pw), "the password is in `{shown}`");
            }
        }
        Err(e) => {
            assert!(!e.is_empty(), "an error without a message");
            if let Some(pw) = secret {
                assert!(!e.contains(pw), "the password is in the error `{e}`");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut file: FileConfig = match parse_config(data) {
        Ok(f) => f,
        Err(e) => {
            assert_eq!(
                parse_config(data).err(),
                Some(e.clone()),
                "parsing is not deterministic"
            );
            assert!(!e.is_empty(), "an error without a message");
            return;
        }
    };
    let mut secret = None;
    if let Some(u) = &mut file.database_url
        && let Some(at) = password_at(u)
        && !modelgate_fuzz::text(data).contains(SECRET)
    {
        u.replace_range(at, SECRET);
        secret = Some(SECRET);
    }
    let none = |_: &str| None;

    // The file alone.
    let plain = resolve_with(&ServeArgs::default(), &none, &file);
    assert_eq!(
        format!("{plain:?}"),
        format!("{:?}", resolve_with(&ServeArgs::default(), &none, &file)),
        "resolving is not deterministic"
    );
    checked(&plain, secret);
    if let Ok(c) = &plain {
        let db = match &file.database_url {
            Some(u) => Database::Url(u.clone()),
            None => Database::DataDir(
                file.data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("modelgate-data")),
            ),
        };
        assert_eq!(c.database, db, "the database is not the file's");
        assert_eq!(
            c.bind,
            file.bind.clone().unwrap_or_else(|| "127.0.0.1:8080".into())
        );
        if let Some(w) = file.workers {
            assert_eq!(c.workers, w, "workers not from the file");
        }
        assert_eq!(c.pool.max_connections, file.db_pool.unwrap_or(10));
        assert_eq!(c.rate_limit, file.rate_limit.unwrap_or(1000));
        let key = file.audit_key.clone().unwrap_or_else(|| {
            file.key_dir
                .clone()
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from("modelgate-data"))
                .join("audit-log.key")
        });
        assert_eq!(c.audit_key, key, "the audit key file");
    }

    // Flags and DATABASE_URL beat the file.
    let flags = ServeArgs {
        bind: Some("127.0.0.1:9".into()),
        workers: Some(3),
        log_format: Some("json".into()),
        rate_limit: Some(7),
        hf_endpoint: Some("off".into()),
        db: DbArgs {
            db_pool: Some(4),
            ..DbArgs::default()
        },
        ..ServeArgs::default()
    };
    let env = |k: &str| (k == "DATABASE_URL").then(|| FLAG_URL.to_string());
    let over = resolve_with(&flags, &env, &file);
    checked(&over, secret);
    if let Ok(c) = &over {
        assert_eq!(
            (
                c.bind.as_str(),
                c.workers,
                c.log_format.as_str(),
                c.rate_limit
            ),
            ("127.0.0.1:9", 3, "json", 7)
        );
        assert_eq!(c.pool.max_connections, 4);
        assert_eq!(c.database, Database::Url(FLAG_URL.into()));
        assert!(c.hub.is_none(), "--hf-endpoint off");
    }
    // The flags replace every setting of the file that could be refused but the data and
    // key paths: with them, a file that parses resolves.
    if let Err(e) = &over {
        panic!("flags and DATABASE_URL given, the file still refused: {e}");
    }
});
