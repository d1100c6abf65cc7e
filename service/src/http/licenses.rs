//! The licence catalog of the tenant's active pack: `/v1/licenses`, `/v1/licenses/{id}`.

use super::problem::Problem;
use super::request::{Data, Reply, tenant};
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::license::catalog::{Category, Commercial};
use serde::Serialize;

/// A catalog entry in the list: what it is, not its terms.
#[derive(Serialize)]
struct LicenseSummary<'a> {
    id: &'a str,
    name: &'a str,
    spdx: Option<&'a str>,
    category: Category,
    commercial: Commercial,
    verified: bool,
}

#[derive(Serialize)]
struct LicenseList<'a> {
    pack: &'a str,
    items: Vec<LicenseSummary<'a>>,
}

pub(super) async fn list_licenses(req: HttpRequest, st: Data) -> Reply {
    let pack = crate::app::packs::active_pack(&st, &tenant(&req)?).await?;
    let items = pack
        .catalog
        .entries()
        .iter()
        .map(|l| LicenseSummary {
            id: &l.id,
            name: &l.name,
            spdx: l.spdx.as_deref(),
            category: l.category,
            commercial: l.commercial,
            verified: l.verified,
        })
        .collect();
    Ok(HttpResponse::Ok().json(LicenseList {
        pack: pack.digest.as_str(),
        items,
    }))
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
