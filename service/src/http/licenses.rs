//! The licence catalog of the tenant's active pack: `/v1/licenses`, `/v1/licenses/{id}`.

use super::problem::Problem;
use super::request::{Data, Reply, tenant};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub(super) async fn list_licenses(req: HttpRequest, st: Data) -> Reply {
    let pack = crate::app::packs::active_pack(&st, &tenant(&req)?).await?;
    let items: Vec<Value> = pack
        .catalog
        .entries()
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "spdx": l.spdx,
                "category": l.category,
                "commercial": l.commercial,
                "verified": l.verified,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "pack": pack.digest, "items": items })))
}

pub(super) async fn get_license(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let pack = crate::app::packs::active_pack(&st, &tenant(&req)?).await?;
    let l = pack.catalog.get(&id).ok_or_else(|| {
        Problem::not_found(format!(
            "licence `{id}` is not in the catalog of the active pack"
        ))
    })?;
    Ok(HttpResponse::Ok().json(l))
}
