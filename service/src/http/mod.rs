//! The HTTP API (actix-web). Only this module knows status codes; `openapi.yaml` at the
//! repository root is the contract.

mod api;
mod auditlog;
pub mod auth;
mod keys;
mod metrics;
mod packs;
pub mod problem;
mod reviews;
pub mod tenant_state;
mod waivers;

mod trace;

pub use crate::time::{parse_rfc3339_micros, rfc3339_micros};
pub use api::{OPENAPI, route_list, route_permissions};
pub use metrics::Metrics;
pub use problem::Problem;
pub use trace::RootSpan;

use crate::packdir;
use crate::store::{NewPack, Store, StoreError};
use actix_web::{App, HttpServer, web};
use modelgate_engine::{Pack, PackFile};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, RwLock};

/// The tenant every row belongs to until API keys name one (the access issue).
pub const DEFAULT_TENANT: &str = "default";

/// Request body limits per route.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `POST /v1/evaluations` and `PUT /v1/models/…` (documents inside): 1 MiB.
    pub evaluation_body: usize,
    /// Everything else (profiles...): 64 KiB.
    pub small_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            evaluation_body: 1024 * 1024,
            small_body: 64 * 1024,
        }
    }
}

/// Shared state of the workers.
pub struct AppState {
    pub store: Store,
    pub packs: PackCache,
    pub metrics: Metrics,
    pub limits: Limits,
    /// The audit log: its signer, and the sequencer's wake-up.
    pub log: crate::audit::Log,
    /// Keys recently read and the per-key rate limiter.
    pub access: auth::Access,
    /// Each tenant's active pack and waivers, for evaluations (`tenant_state`).
    pub tenants: tenant_state::TenantStates,
}

/// Compiled packs, loaded from the store on first use. A pack is visible to a tenant only
/// once that tenant has it registered (the cache is keyed by tenant and digest); a pack
/// compiled for one tenant is shared with the others that register the same digest.
#[derive(Default)]
pub struct PackCache {
    loaded: RwLock<HashMap<(String, String), Arc<Pack>>>,
}

impl PackCache {
    /// Records a pack the tenant has registered.
    pub fn insert(&self, tenant: &str, pack: Arc<Pack>) {
        if let Ok(mut m) = self.loaded.write() {
            m.insert((tenant.to_string(), pack.digest.clone()), pack);
        }
    }

    /// The compiled pack with this digest, if the tenant has it registered, loading it from
    /// the store when needed.
    pub async fn get(
        &self,
        store: &Store,
        tenant: &str,
        digest: &str,
    ) -> Result<Option<Arc<Pack>>, Problem> {
        let key = (tenant.to_string(), digest.to_string());
        if let Some(p) = self.loaded.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(p));
        }
        let Some(row) = store.get_pack(tenant, digest).await? else {
            return Ok(None);
        };
        // Compiled already for another tenant: share it.
        let shared = self.loaded.read().ok().and_then(|m| {
            m.iter()
                .find(|((_, d), _)| d == digest)
                .map(|(_, p)| p.clone())
        });
        if let Some(p) = shared {
            self.insert(tenant, p.clone());
            return Ok(Some(p));
        }
        let files: Vec<PackFile> = row
            .files
            .into_iter()
            .map(|f| PackFile {
                path: f.path,
                bytes: f.content.into_bytes(),
            })
            .collect();
        let pack = Pack::load(&files).map_err(|e| {
            Problem::internal(format!(
                "stored pack {digest} no longer loads: {} problem(s)",
                e.problems.len()
            ))
        })?;
        let pack = Arc::new(pack);
        self.insert(tenant, pack.clone());
        Ok(Some(pack))
    }
}

/// On PostgreSQL, drops cached keys and tenant states when any process changes them
/// (migration 0010's notifications), so a key revoked or a waiver granted through another
/// replica takes effect here at once rather than after the caches' time limits. `None` on
/// SQLite. If it cannot listen, the time limits still bound staleness; it retries.
pub fn spawn_change_listener(
    state: actix_web::web::Data<AppState>,
) -> Option<tokio::task::JoinHandle<()>> {
    if state.store.backend() != crate::store::Backend::Postgres {
        return None;
    }
    Some(tokio::spawn(async move {
        let forget_all = || {
            state.access.forget_all();
            state.tenants.forget_all();
        };
        loop {
            let mut listener = match state.store.listen_changes().await {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for changes; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Whatever happened before listening is unknown.
            forget_all();
            loop {
                match listener.next().await {
                    Ok(crate::store::Change::Key(id)) => state.access.forget(&id),
                    Ok(crate::store::Change::Tenant(t)) => state.tenants.forget(&t),
                    Ok(crate::store::Change::Unknown) => forget_all(),
                    Err(e) => {
                        tracing::warn!(error = %e, "change notifications lost; listening again");
                        forget_all();
                        break;
                    }
                }
            }
        }
    }))
}

/// Registers the built-in pack for `tenant` and activates it when no pack is active or
/// when the active one is an older built-in pack (an upgrade of the binary).
pub async fn bootstrap(
    store: &Store,
    cache: &PackCache,
    tenant: &str,
    now: i64,
) -> Result<Arc<Pack>, BootstrapError> {
    let files = packdir::builtin_files();
    let pack = Pack::load(&files).map_err(|e| BootstrapError::Pack(e.problems.len()))?;
    let stored = packdir::stored_files(&files).map_err(BootstrapError::NotText)?;
    store
        .register_pack(
            tenant,
            &NewPack {
                digest: pack.digest.clone(),
                name: pack.manifest.name.clone(),
                version: pack.manifest.version.clone(),
                files: stored,
                builtin: true,
            },
            now,
            Some(&crate::audit::pack_registered(
                tenant,
                now,
                &pack.digest,
                &pack.manifest.name,
                &pack.manifest.version,
                true,
            )?),
        )
        .await?;
    let activate = match store.active_pack(tenant).await? {
        None => true,
        Some(a) if a.digest == pack.digest => false,
        Some(a) => store
            .get_pack(tenant, &a.digest)
            .await?
            .is_some_and(|p| p.summary.builtin),
    };
    if activate {
        let event = crate::audit::pack_activated(tenant, now, &pack.digest)?;
        store
            .activate_pack(tenant, &pack.digest, now, Some(&event))
            .await?;
    }
    let pack = Arc::new(pack);
    cache.insert(tenant, pack.clone());
    Ok(pack)
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("the built-in rule pack does not load ({0} problem(s)); run `modelgate pack lint`")]
    Pack(usize),
    #[error("the built-in rule pack file {0} is not UTF-8 text")]
    NotText(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log entry: {0}")]
    Audit(#[from] modelgate_audit::AuditError),
}

/// Adds every route, the extractor error handlers and the 404 fallback.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let small = state.limits.small_body;
        cfg.app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(small)
                    .error_handler(|e, _| problem::json_error(e).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| problem::query_error(e).into()),
            )
            .app_data(
                web::PathConfig::default().error_handler(|e, _| problem::path_error(e).into()),
            )
            .app_data(web::PayloadConfig::default().limit(small));
        api::routes(cfg);
    }
}

/// Current time in Unix microseconds.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Builds the server on a bound listener; the caller awaits it. actix stops gracefully on
/// SIGTERM/SIGINT: the listener closes and in-flight requests finish (up to 30 s).
/// Every request runs in a `tracing` span ([`RootSpan`]) and ends with one log event.
pub fn server(
    state: web::Data<AppState>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let s = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(metrics::observe))
            .wrap(tracing_actix_web::TracingLogger::<RootSpan>::new())
            .configure(configure(state.clone()))
            .default_service(web::to(api::not_found))
    })
    .workers(workers.max(1))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(s)
}
