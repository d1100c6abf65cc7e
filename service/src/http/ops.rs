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

pub(super) async fn readyz(st: Data) -> Reply {
    st.store
        .ping()
        .await
        .map_err(|_| Problem::unavailable("the database is not reachable"))?;
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
