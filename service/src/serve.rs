//! `modelgate serve` and `modelgate migrate`: configuration and start-up.
//!
//! Precedence: flags > environment (`MODELGATE_*`, `DATABASE_URL`) > config file
//! (`--config FILE`, YAML or JSON) > defaults.

use crate::app::App;
use crate::app::packs::{PackCache, bootstrap};
use crate::auth::DEFAULT_TENANT;
use crate::http::{self, AppState, Limits, Metrics};
use crate::store::{PoolConfig, Store};
use clap::Args;
use modelgate_engine::Pack;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

// Each setting's flag and environment variable are declared here once (clap reads both:
// flag > variable); `--help` shows them, and a test checks the README's tables against
// these declarations. Then come the config file and the defaults.

#[derive(Args, Debug, Default, Clone)]
pub struct DbArgs {
    /// Data directory of the embedded SQLite database (and of the key files) [default:
    /// ./modelgate-data]. The flag beats DATABASE_URL; the variable does not.
    #[arg(long, value_name = "DIR", env = "MODELGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database connections kept in the pool (on PostgreSQL, in each of its two pools), 1 to
    /// 1000 [default: 10].
    #[arg(long, value_name = "N", env = "MODELGATE_DB_POOL",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool: Option<u32>,
    /// Audit log signing key file, created (mode 0600) on first start [default:
    /// audit-log.key in the key directory].
    #[arg(long, value_name = "FILE", env = "MODELGATE_AUDIT_KEY")]
    pub audit_key: Option<PathBuf>,
    /// Directory of the key files (audit-log.key, the first admin.key), whatever the
    /// database [default: the data directory]. Unlike --data-dir, it never selects SQLite.
    #[arg(long, value_name = "DIR", env = "MODELGATE_KEY_DIR")]
    pub key_dir: Option<PathBuf>,
    /// Configuration file (YAML or JSON) with the keys bind, data_dir, database_url, db_pool,
    /// workers, log_format, audit_key, key_dir, rate_limit, accept_new_audit_key; unknown
    /// keys are refused. Flags and environment
    /// variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `--data-dir` was given on the command line (not by `MODELGATE_DATA_DIR`): it then
    /// names the database even when `DATABASE_URL` is set. Set by the CLI after parsing.
    #[arg(skip)]
    pub data_dir_flag: bool,
}

#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT", env = "MODELGATE_BIND")]
    pub bind: Option<String>,
    /// HTTP worker threads, 1 to 1024 [default: number of CPUs].
    #[arg(long, value_name = "N", env = "MODELGATE_WORKERS",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// Log format [default: text].
    #[arg(long, value_name = "FORMAT", env = "MODELGATE_LOG_FORMAT",
          value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Requests per second allowed per API key (bursts of twice that), 0 for no limit
    /// [default: 1000].
    #[arg(long, value_name = "N", env = "MODELGATE_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Start although the audit signing key is not the one that signed the database's
    /// latest checkpoint: a deliberate key rotation (once, on one replica; the next
    /// checkpoint is signed with the new key). Without it such a start is refused.
    #[arg(long, env = "MODELGATE_ACCEPT_NEW_AUDIT_KEY")]
    pub accept_new_audit_key: bool,
    /// Hugging Face Hub endpoint for `hf:` references sent to the service, or `off` to
    /// fetch nothing [default: https://huggingface.co]. HF_TOKEN is sent to it (gated
    /// models); fetched commits are cached in MODELGATE_CACHE_DIR.
    #[arg(long, value_name = "URL|off", env = "MODELGATE_HF_ENDPOINT")]
    pub hf_endpoint: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The optional configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub db_pool: Option<u32>,
    pub workers: Option<usize>,
    pub log_format: Option<String>,
    pub audit_key: Option<PathBuf>,
    pub key_dir: Option<PathBuf>,
    pub rate_limit: Option<u32>,
    pub accept_new_audit_key: Option<bool>,
}

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    DataDir(PathBuf),
    /// A URL (`postgres://…`, `sqlite:…`). Never printed: it may hold a password.
    Url(String),
}

impl Database {
    /// For logs: the data directory, or the URL's scheme and host without credentials.
    pub fn describe(&self) -> String {
        match self {
            Database::DataDir(d) => format!("SQLite in {}", d.display()),
            Database::Url(u) if u.starts_with("sqlite:") => {
                let path = u.trim_start_matches("sqlite:").trim_start_matches("//");
                format!("SQLite at {}", path.split('?').next().unwrap_or(path))
            }
            Database::Url(u) => match u.split_once("://") {
                Some((scheme, rest)) => {
                    // After the last `@`: a password may hold `/` or `?`, a host never `@`.
                    let host = rest.rsplit('@').next().unwrap_or(rest);
                    let host = host.split(['/', '?', '#']).next().unwrap_or(host);
                    format!("{scheme} at {host}")
                }
                None => "a database URL".to_string(),
            },
        }
    }

    /// Refuses a URL this binary cannot open, before any connection (a usage error).
    pub fn check(&self) -> Result<(), String> {
        let Database::Url(u) = self else {
            return Ok(());
        };
        let scheme = u.split(':').next().unwrap_or_default();
        let parsed = match scheme {
            "postgres" | "postgresql" => sqlx::postgres::PgConnectOptions::from_str(u).map(|_| ()),
            "sqlite" => sqlx::sqlite::SqliteConnectOptions::from_str(u).map(|_| ()),
            other => {
                return Err(format!(
                    "the database URL ({}) has the scheme `{other}`; modelgate opens postgres://, \
                     postgresql:// and sqlite: URLs",
                    self.describe()
                ));
            }
        };
        parsed.map_err(|e| format!("the database URL ({}) is not valid: {e}", self.describe()))
    }

    pub async fn open(&self, cfg: &PoolConfig) -> Result<Store, crate::store::StoreError> {
        match self {
            Database::DataDir(d) => Store::open_sqlite_dir(d, cfg).await,
            Database::Url(u) => Store::open_url(u, cfg).await,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: String,
    pub database: Database,
    pub pool: PoolConfig,
    pub workers: usize,
    pub log_format: String,
    pub audit_key: PathBuf,
    /// Where the first admin key is written (`admin.key`).
    pub key_dir: PathBuf,
    /// Whether the key directory was chosen (flag, variable, file) or is the default.
    pub key_dir_chosen: bool,
    pub rate_limit: u32,
    pub accept_new_audit_key: bool,
    /// Hub access for `hf:` references (`None`: `--hf-endpoint off`).
    pub hub: Option<crate::hub::HubConfig>,
}

/// An environment variable; set but empty counts as unset.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// `ADDR:PORT` (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`); port 0 picks a free port.
fn check_bind(bind: &str) -> Result<(), String> {
    let port = bind
        .rsplit_once(':')
        .map(|(host, port)| (host, port.parse::<u16>()));
    match port {
        Some((host, Ok(_))) if !host.is_empty() => Ok(()),
        _ => Err(format!(
            "the address to listen on must be ADDR:PORT (like 127.0.0.1:8080), got `{bind}`"
        )),
    }
}

/// The database pool: `--db-pool` / `MODELGATE_DB_POOL` > file `db_pool` > 10.
fn pool_config(a: &DbArgs, file: &FileConfig) -> Result<PoolConfig, String> {
    let default = PoolConfig::default();
    let n = a
        .db_pool
        .or(file.db_pool)
        .unwrap_or(default.max_connections);
    if !(1..=1000).contains(&n) {
        return Err(format!(
            "the database pool size (db_pool) must be 1 to 1000, got {n}"
        ));
    }
    Ok(PoolConfig {
        max_connections: n,
        ..default
    })
}

/// Resolves the configuration; `env` reads an environment variable.
pub fn resolve(a: &ServeArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<ServeConfig, String> {
    resolve_with(a, env, &read_file(a.db.config.as_ref())?)
}

/// [`resolve`] with the configuration file's content already read ([`parse_config`]).
pub fn resolve_with(
    a: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> Result<ServeConfig, String> {
    let bind = a
        .bind
        .clone()
        .or(file.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    check_bind(&bind)?;
    let workers = match a.workers.map(usize::from).or(file.workers) {
        Some(n) if !(1..=1024).contains(&n) => {
            return Err(format!(
                "the number of workers (workers) must be 1 to 1024, got {n}"
            ));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let pool = pool_config(&a.db, file)?;
    let log_format = a
        .log_format
        .clone()
        .or(file.log_format.clone())
        .unwrap_or_else(|| "text".to_string());
    if !["text", "json"].contains(&log_format.as_str()) {
        return Err(format!(
            "log format must be text or json, got `{log_format}`"
        ));
    }
    let database = database(&a.db, env, file);
    database.check()?;
    let hub = match a.hf_endpoint.as_deref().map(str::trim) {
        Some("off") => None,
        endpoint => Some(
            crate::hub::config(
                &crate::hub::Settings {
                    endpoint: endpoint.filter(|e| !e.is_empty()),
                    cache_dir: None,
                    no_cache: false,
                    max_card_bytes: 10 * 1024 * 1024,
                },
                env,
            )
            .map_err(|e| format!("the Hub settings: {e}"))?,
        ),
    };
    Ok(ServeConfig {
        bind,
        database,
        pool,
        workers,
        log_format,
        audit_key: audit_key(&a.db, file),
        key_dir: key_dir(&a.db, file),
        key_dir_chosen: a.db.key_dir.is_some()
            || file.key_dir.is_some()
            || a.db.data_dir.is_some()
            || file.data_dir.is_some(),
        rate_limit: a.rate_limit.or(file.rate_limit).unwrap_or(1000),
        accept_new_audit_key: a.accept_new_audit_key || file.accept_new_audit_key.unwrap_or(false),
        hub,
    })
}

fn read_file(path: Option<&PathBuf>) -> Result<FileConfig, String> {
    match path {
        None => Ok(FileConfig::default()),
        Some(p) => {
            let bytes = std::fs::read(p)
                .map_err(|e| format!("cannot read config file {}: {e}", p.display()))?;
            parse_config(&bytes).map_err(|e| format!("config file {}: {e}", p.display()))
        }
    }
}

/// A configuration file's content (YAML or JSON); unknown keys are refused.
pub fn parse_config(bytes: &[u8]) -> Result<FileConfig, String> {
    serde_norway::from_slice(bytes).map_err(|e| e.to_string())
}

/// `--data-dir` > `DATABASE_URL` > `MODELGATE_DATA_DIR` > file > `./modelgate-data`.
pub fn database(a: &DbArgs, env: &dyn Fn(&str) -> Option<String>, file: &FileConfig) -> Database {
    match (&a.data_dir, var(env, "DATABASE_URL")) {
        (Some(d), _) if a.data_dir_flag => Database::DataDir(d.clone()),
        (_, Some(u)) => Database::Url(u),
        (Some(d), None) => Database::DataDir(d.clone()),
        (None, None) => match &file.database_url {
            Some(u) => Database::Url(u.clone()),
            None => Database::DataDir(
                file.data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("modelgate-data")),
            ),
        },
    }
}

/// The audit signing key file: `--audit-key` / `MODELGATE_AUDIT_KEY` > file `audit_key` >
/// `audit-log.key` in the key directory (also when the database is a URL).
pub fn audit_key(a: &DbArgs, file: &FileConfig) -> PathBuf {
    a.audit_key
        .clone()
        .or_else(|| file.audit_key.clone())
        .unwrap_or_else(|| key_dir(a, file).join("audit-log.key"))
}

/// The directory of the key files: `--key-dir` / `MODELGATE_KEY_DIR` > file `key_dir` >
/// the data directory.
pub fn key_dir(a: &DbArgs, file: &FileConfig) -> PathBuf {
    a.key_dir
        .clone()
        .or_else(|| file.key_dir.clone())
        .unwrap_or_else(|| data_dir(a, file))
}

/// The data directory (also with a database URL: it holds the keys): `--data-dir` /
/// `MODELGATE_DATA_DIR` > file `data_dir` > `./modelgate-data`.
pub fn data_dir(a: &DbArgs, file: &FileConfig) -> PathBuf {
    a.data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("modelgate-data"))
}

/// The database and audit key of commands that share serve's configuration.
pub fn database_and_key(
    a: &DbArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Database, PathBuf), String> {
    let file = read_file(a.config.as_ref())?;
    let db = database(a, env, &file);
    db.check()?;
    Ok((db, audit_key(a, &file)))
}

/// The database of `migrate` (and other commands that share serve's configuration).
pub fn database_of(a: &DbArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Database, String> {
    let file = read_file(a.config.as_ref())?;
    let db = database(a, env, &file);
    db.check()?;
    Ok(db)
}

/// On a database without keys: creates an admin key for the default tenant, writes it to
/// `admin.key` (mode 0600) in the data directory and prints it once on stdout (never to
/// the logs).
pub async fn first_admin_key(store: &Store, data_dir: &std::path::Path) -> Result<(), String> {
    if store.count_keys().await.map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let path = data_dir.join("admin.key");
    let Some((key, row)) = crate::auth::create_first_admin_key(store, crate::time::now_micros())
        .await
        .map_err(|e| e.to_string())?
    else {
        // Another process starting on the same database created it first.
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(format!("{}\n", key.key).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "modelgate: created the first admin key {} for the default tenant (shown once; also in {}):\n{}",
        row.id,
        path.display(),
        key.key
    );
    tracing::warn!(key_id = %row.id, path = %path.display(), "created the first admin key; it is in admin.key");
    Ok(())
}

/// What [`Application::build`] needs besides the store.
pub struct Settings<'a> {
    /// The audit log's signing key file (created when missing).
    pub audit_key: &'a Path,
    /// Start although the key did not sign the latest checkpoint (a rotation).
    pub accept_new_audit_key: bool,
    pub limits: Limits,
    /// Requests per second per API key (0: no limit).
    pub rate_limit: u32,
    /// Hub access for `hf:` references (`None`: none).
    pub hub: Option<crate::hub::HubConfig>,
}

/// Everything the server runs on, built by [`Application::build`] for `serve` and for the
/// test harness alike.
pub struct Application {
    pub state: actix_web::web::Data<AppState>,
    /// The built-in pack, active for the default tenant.
    pub pack: Arc<Pack>,
    /// The audit log's sequencer and checkpointer.
    pub sequencer: tokio::task::JoinHandle<()>,
    /// The change listener (PostgreSQL only).
    pub changes: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// On a migrated store: the start-up checks (the service's queries are tenant-scoped),
    /// the audit log's signing key, the built-in pack for the default tenant, the shared
    /// state, the sequencer and the change listener.
    pub async fn build(store: Store, s: Settings<'_>) -> Result<Application, String> {
        store
            .check_tenant_scope()
            .await
            .map_err(|e| e.to_string())?;
        let signer = signing_key(&store, s.audit_key, s.accept_new_audit_key).await?;
        let log = crate::audit::Log::new(signer);
        let packs = PackCache::default();
        let pack = bootstrap(&store, &packs, DEFAULT_TENANT, crate::time::now_micros())
            .await
            .map_err(|e| e.to_string())?;
        let hub = match s.hub {
            None => None,
            Some(cfg) => Some(
                crate::app::hub::HubAccess::start(cfg)
                    .await
                    .map_err(|e| format!("the Hub client: {e}"))?,
            ),
        };
        let sequencer = log.spawn(store.clone());
        let state = actix_web::web::Data::new(AppState {
            app: App {
                store,
                packs,
                tenants: Default::default(),
                log,
                hub,
            },
            metrics: Metrics::new().map_err(|e| e.to_string())?,
            limits: s.limits,
            access: http::auth::Access::new(s.rate_limit),
        });
        let changes = http::spawn_change_listener(state.clone());
        Ok(Application {
            state,
            pack,
            sequencer,
            changes,
        })
    }
}

/// The audit log's signing key: read from `path`, or made there when the log has no
/// checkpoint yet. Every replica must sign with the key that signed the latest checkpoint:
/// a start with another key (or none, which would make one) is refused, since its
/// checkpoints would fail `audit verify` for ever; `accept_new` lets a deliberate rotation
/// through.
pub async fn signing_key(
    store: &Store,
    path: &Path,
    accept_new: bool,
) -> Result<modelgate_audit::checkpoint::CheckpointSigner, String> {
    let latest = store
        .latest_checkpoint()
        .await
        .map_err(|e| format!("cannot read the audit log's latest checkpoint: {e}"))?;
    let give_it = "give every replica the same key file (--audit-key, MODELGATE_AUDIT_KEY or \
                   --key-dir; deploy/README.md), or pass --accept-new-audit-key to rotate the key \
                   on purpose";
    if let Some(cp) = &latest
        && !path.exists()
        && !accept_new
    {
        return Err(format!(
            "the audit signing key {} does not exist, and this database's audit log is signed \
             with the key {}: refusing to start with a new key; {give_it}",
            path.display(),
            cp.verifier_key
        ));
    }
    let signer = crate::audit::load_or_create_key(path).map_err(|e| e.to_string())?;
    if let Some(cp) = &latest
        && cp.verifier_key != signer.verifier_key()
    {
        if !accept_new {
            return Err(format!(
                "the audit signing key {} ({}) is not the key that signed this database's \
                 latest checkpoint ({}): refusing to start; {give_it}",
                path.display(),
                signer.verifier_key(),
                cp.verifier_key
            ));
        }
        tracing::warn!(
            previous = %cp.verifier_key,
            new = %signer.verifier_key(),
            "rotating the audit signing key: the next checkpoint is signed with the new key; \
             `audit verify --key <previous verifier key>` trusts the previous one"
        );
    }
    Ok(signer)
}

/// Opens and migrates the database, registers the built-in pack, serves until SIGTERM/SIGINT.
/// Logs go through `tracing` (install a subscriber first: [`crate::telemetry::init`]).
pub async fn serve(cfg: ServeConfig) -> Result<(), String> {
    let store = cfg.database.open(&cfg.pool).await.map_err(|e| {
        format!(
            "cannot open the database ({}): {e}",
            cfg.database.describe()
        )
    })?;
    store.migrate().await.map_err(|e| e.to_string())?;
    // Listen before anything is created for this server (the first admin key above all):
    // a taken address stops the start with nothing printed or written.
    let listener = std::net::TcpListener::bind(&cfg.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.bind))?;
    let Application {
        state,
        pack,
        sequencer,
        changes,
    } = Application::build(
        store.clone(),
        Settings {
            audit_key: &cfg.audit_key,
            accept_new_audit_key: cfg.accept_new_audit_key,
            limits: Limits::default(),
            rate_limit: cfg.rate_limit,
            hub: cfg.hub.clone(),
        },
    )
    .await?;
    if matches!(cfg.database, Database::Url(_)) && !cfg.key_dir_chosen {
        tracing::warn!(
            key_dir = %cfg.key_dir.display(),
            "the key files (audit-log.key, admin.key) are kept in {} under the working \
             directory, the default; set --key-dir (MODELGATE_KEY_DIR) to place them",
            cfg.key_dir.display()
        );
    }
    tracing::info!(audit_key = %cfg.audit_key.display(), "audit log signing key");
    first_admin_key(&store, &cfg.key_dir).await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let database = cfg.database.describe();
    tracing::info!(
        address = %addr,
        database = %database,
        pack = %pack.digest,
        pack_name = %pack.manifest.name,
        pack_version = %pack.manifest.version,
        workers = cfg.workers,
        "modelgate listening on http://{addr} ({database}; pack {} {} {})",
        pack.manifest.name,
        pack.manifest.version,
        pack.digest
    );
    let server = http::server(state, listener, cfg.workers).map_err(|e| e.to_string())?;
    server.await.map_err(|e| e.to_string())?;
    sequencer.abort();
    if let Some(c) = changes {
        c.abort();
    }
    store.close().await;
    tracing::info!("modelgate stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `modelgate serve <args>` with environment `vars`, resolved.
    fn serve_config(args: &[&str], vars: &[(&str, &str)]) -> Result<ServeConfig, String> {
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let argv = ["modelgate", "serve"].iter().chain(args);
        let cli = crate::cli::parse_with_env(argv, &env).map_err(|e| e.to_string())?;
        let crate::cli::Command::Serve(a) = cli.command else {
            unreachable!("parsed as serve")
        };
        resolve(&a, &env)
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, "db_pool: 7\nworkers: 3\nbind: 127.0.0.1:9000\n").unwrap();
        let f = file.to_str().unwrap();
        let pool = |args: &[&str], vars: &[(&str, &str)]| {
            serve_config(args, vars).map(|c| c.pool.max_connections)
        };
        let env = [("MODELGATE_DB_POOL", "5")];
        assert_eq!(pool(&["--db-pool", "3", "--config", f], &env), Ok(3));
        assert_eq!(pool(&["--config", f], &env), Ok(5));
        assert_eq!(pool(&["--config", f], &[("MODELGATE_DB_POOL", " ")]), Ok(7));
        assert_eq!(pool(&["--config", f], &[]), Ok(7));
        assert_eq!(pool(&[], &[]), Ok(10));
        let c = serve_config(&["--config", f], &[("MODELGATE_BIND", "0.0.0.0:1")]).unwrap();
        assert_eq!((c.bind.as_str(), c.workers), ("0.0.0.0:1", 3));
        // Out of range or not a number, by flag, variable or file: refused, naming it.
        for (args, vars, names) in [
            (&["--db-pool", "0"][..], &[][..], "--db-pool"),
            (&[][..], &[("MODELGATE_DB_POOL", "many")][..], "--db-pool"),
            (&[][..], &[("MODELGATE_DB_POOL", "5000")][..], "--db-pool"),
            (&["--workers", "0"][..], &[][..], "--workers"),
            (&[][..], &[("MODELGATE_WORKERS", "0")][..], "--workers"),
            (
                &[][..],
                &[("MODELGATE_LOG_FORMAT", "xml")][..],
                "--log-format",
            ),
            (
                &[][..],
                &[("MODELGATE_RATE_LIMIT", "-1")][..],
                "--rate-limit",
            ),
        ] {
            let e = serve_config(args, vars).unwrap_err();
            assert!(e.contains(names), "{args:?} {vars:?}: {e}");
        }
        std::fs::write(&file, "workers: 0\n").unwrap();
        let e = serve_config(&["--config", f], &[]).unwrap_err();
        assert!(e.contains("workers"), "{e}");
    }

    #[test]
    fn the_data_dir_flag_beats_database_url_and_its_variable_does_not() {
        let url = ("DATABASE_URL", "postgres://u:pw@db/app");
        let db = |args: &[&str], vars: &[(&str, &str)]| serve_config(args, vars).unwrap().database;
        assert_eq!(
            db(&["--data-dir", "/d"], &[url]),
            Database::DataDir("/d".into())
        );
        assert_eq!(
            db(&[], &[url, ("MODELGATE_DATA_DIR", "/d")]),
            Database::Url(url.1.into())
        );
        assert_eq!(
            db(&[], &[("MODELGATE_DATA_DIR", "/d")]),
            Database::DataDir("/d".into())
        );
        // The keys stay in the data directory whatever the database.
        let c = serve_config(&[], &[url, ("MODELGATE_DATA_DIR", "/d")]).unwrap();
        assert_eq!(c.audit_key, PathBuf::from("/d/audit-log.key"));
    }

    #[test]
    fn describe_never_shows_credentials() {
        for (url, want) in [
            ("postgres://u:pw@db:5432/app", "postgres at db:5432"),
            ("postgres://u:p/w?x@db/app", "postgres at db"),
            ("postgres://u:p@ss@db/app?sslmode=require", "postgres at db"),
            ("postgresql://db?password=pw", "postgresql at db"),
            ("sqlite:/var/lib/mg.db?mode=rwc", "SQLite at /var/lib/mg.db"),
            ("u:pw@db", "a database URL"),
        ] {
            let d = Database::Url(url.to_string()).describe();
            assert_eq!(d, want, "{url}");
            assert!(!d.contains("pw") && !d.contains("ss@"), "{url}: {d}");
        }
    }

    #[test]
    fn bind_must_be_addr_port() {
        for ok in ["127.0.0.1:8080", "[::1]:0", "localhost:1"] {
            assert!(check_bind(ok).is_ok(), "{ok}");
        }
        for bad in ["8080", ":8080", "127.0.0.1", "127.0.0.1:65536", "h:x", ""] {
            assert!(check_bind(bad).is_err(), "{bad}");
        }
    }
}
