//! Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.yaml`.

use super::problem::Problem;
use super::request::{Data, Reply};
use crate::auth::DEFAULT_TENANT;
use actix_web::HttpResponse;
use serde_json::json;

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(st: Data) -> Reply {
    st.store
        .ping()
        .await
        .map_err(|_| Problem::unavailable("the database is not reachable"))?;
    // Public: no key, so the default tenant's pack (the one `serve` bootstraps).
    let pack = crate::app::packs::active_pack(&st, DEFAULT_TENANT).await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": st.store.backend().as_str(),
        "pack": { "name": pack.manifest.name, "version": pack.manifest.version, "digest": pack.digest },
    })))
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
