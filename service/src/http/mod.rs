//! The HTTP API (actix-web). Only this module knows status codes; `openapi.yaml` at the
//! repository root is the contract.

mod auditlog;
pub mod auth;
mod decisions;
mod evaluations;
mod keys;
mod licenses;
mod metrics;
mod models;
mod ops;
mod packs;
pub mod problem;
mod profiles;
mod request;
mod reviews;
mod routes;
mod trace;
mod ui;
mod waivers;

pub use metrics::Metrics;
pub use ops::OPENAPI;
pub use problem::Problem;
pub use routes::{route_list, route_permissions};
pub use trace::RootSpan;

use actix_web::{App, HttpServer, web};
use std::net::TcpListener;

/// Request body limits per route.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `POST /v1/evaluations` and `PUT /v1/models/…` (documents inside): 1 MiB.
    pub evaluation_body: usize,
    /// Everything else (profiles...): 64 KiB.
    pub small_body: usize,
    /// How long a request's body may take to arrive, from the end of its head: 30 s.
    /// A client that sends part of a body and stalls gets 408 instead of holding the
    /// connection.
    pub body_timeout: std::time::Duration,
    /// Requests one API key may have in flight at once (0: no bound): 256. One more is 429.
    pub in_flight_per_key: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            evaluation_body: 1024 * 1024,
            small_body: 64 * 1024,
            body_timeout: std::time::Duration::from_secs(30),
            in_flight_per_key: 256,
        }
    }
}

/// Shared state of the workers: the application (store, caches, audit log; its fields
/// read through as `st.store`...) and what only HTTP needs.
pub struct AppState {
    pub app: crate::app::App,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Keys recently read and the per-key rate limiter.
    pub access: auth::Access,
}

impl std::ops::Deref for AppState {
    type Target = crate::app::App;
    fn deref(&self) -> &crate::app::App {
        &self.app
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
                    Ok(crate::store::Change::Key(id)) => state.access.forget(&id).await,
                    Ok(crate::store::Change::Tenant(t)) => state.tenants.forget(&t).await,
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
        routes::routes(cfg);
        ui::routes(cfg);
    }
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
            .wrap(actix_web::middleware::from_fn(request::body_deadline))
            .wrap(actix_web::middleware::from_fn(metrics::observe))
            .wrap(tracing_actix_web::TracingLogger::<RootSpan>::new())
            .configure(configure(state.clone()))
            .default_service(web::to(routes::not_found))
    })
    .workers(workers.max(1))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(s)
}
