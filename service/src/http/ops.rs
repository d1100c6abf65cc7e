//! Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.yaml`.

use super::problem::Problem;
use super::request::{Data, Reply};
use crate::auth::DEFAULT_TENANT;
use actix_web::HttpResponse;
use serde::Serialize;

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

#[derive(Serialize)]
struct Ready<'a> {
    status: &'static str,
    database: &'static str,
    pack: PackOut<'a>,
}

#[derive(Serialize)]
struct PackOut<'a> {
    name: &'a str,
    version: &'a str,
    digest: &'a str,
}

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// How long `/readyz` waits for the database: a load balancer's probe needs an answer, not
/// the pool's 5 s wait for a connection.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(900);

pub(super) async fn readyz(st: Data) -> Reply {
    let not_ready =
        |why: &str| Problem::unavailable(why).header(actix_web::http::header::RETRY_AFTER, "1");
    match tokio::time::timeout(READY_WITHIN, st.store.ping()).await {
        Err(_) => return Err(not_ready("the database did not answer within 0.9 s")),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database is not reachable");
            return Err(not_ready("the database is not reachable"));
        }
        Ok(Ok(())) => {}
    }
    // Public: no key, so the default tenant's pack (the one `serve` bootstraps).
    let pack = crate::app::packs::active_pack(&st, DEFAULT_TENANT).await?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        database: st.store.backend().as_str(),
        pack: PackOut {
            name: &pack.manifest.name,
            version: &pack.manifest.version,
            digest: pack.digest.as_str(),
        },
    }))
}

pub(super) async fn metrics(st: Data) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(st.metrics.render(st.store.pool_stats()))
}

/// The contract, served as written.
pub const OPENAPI: &str = include_str!("../../../openapi.yaml");

pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
