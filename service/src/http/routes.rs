//! The route table: every path of `openapi.yaml`, its permission and its handler. It only
//! references handlers; registration, the contract test and the access check all read it.

use super::problem::{Problem, ProblemType};
use super::{auditlog, decisions, evaluations, keys, licenses, models, ops, packs, profiles};
use super::{reviews, waivers};
use crate::auth::Permission;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};

/// (path in `openapi.yaml`, actix pattern, (method, permission, handler) per method).
/// A permission of `None`: the route needs no credentials.
type RouteRow = (
    &'static str,
    &'static str,
    Vec<(&'static str, Option<Permission>, actix_web::Route)>,
);

/// `"path" [= "actix pattern"]: METHOD Permission handler, ...;` (`Public`: no credentials).
macro_rules! table {
    ($($path:literal $(= $pattern:literal)? : $($method:ident $perm:ident $handler:path),+;)*) => {
        vec![$((
            $path,
            table!(@pattern $path $(, $pattern)?),
            vec![$((stringify!($method), table!(@perm $perm), table!(@route $method).to($handler))),+],
        )),*]
    };
    (@pattern $path:literal) => { $path };
    (@pattern $path:literal, $pattern:literal) => { $pattern };
    (@perm Public) => { None };
    (@perm $p:ident) => { Some(Permission::$p) };
    (@route GET) => { web::get() };
    (@route POST) => { web::post() };
    (@route PUT) => { web::put() };
    (@route DELETE) => { web::delete() };
}

/// Every route.
fn table() -> Vec<RouteRow> {
    table! {
        "/v1/evaluations": POST Evaluate evaluations::create;
        "/v1/decisions": GET Read decisions::list_decisions;
        "/v1/decisions/{id}": GET Read decisions::get_decision;
        "/v1/decisions/{id}/evidence": GET Audit auditlog::evidence;
        "/v1/decisions/{id}/replay": POST Audit auditlog::replay;
        "/v1/log/checkpoint": GET Read auditlog::checkpoint;
        "/v1/log/keys": GET Read auditlog::keys;
        "/v1/log/proof/inclusion": GET Read auditlog::inclusion;
        "/v1/log/proof/consistency": GET Read auditlog::consistency;
        "/v1/log/entries": GET Audit auditlog::entries;
        "/v1/reviews": POST Review reviews::create_review;
        "/v1/waivers": GET Read waivers::list_waivers, POST Review waivers::create_waiver;
        "/v1/waivers/{id}": GET Read waivers::get_waiver, DELETE Review waivers::revoke_waiver;
        "/v1/keys": GET Admin keys::list_keys, POST Admin keys::create_key;
        "/v1/keys/{id}": DELETE Admin keys::revoke_key;
        "/v1/models": GET Read models::list_models;
        "/v1/models/{model_ref}" = "/v1/models/{model_ref:.+}":
            PUT Evaluate models::put_model, GET Read models::get_model;
        "/v1/profiles": GET Read profiles::list_profiles, POST Admin profiles::create_profile;
        "/v1/profiles/{name}": GET Read profiles::get_profile, PUT Admin profiles::put_profile;
        "/v1/licenses": GET Read licenses::list_licenses;
        "/v1/licenses/{id}": GET Read licenses::get_license;
        "/v1/packs": GET Read packs::list_packs, POST Admin packs::upload;
        "/v1/packs/{digest}/impact": POST Admin packs::impact;
        "/v1/packs/{digest}/activate": POST Admin packs::activate;
        "/v1/packs/{digest}": GET Read packs::get_pack;
        "/healthz": GET Public ops::healthz;
        "/readyz": GET Public ops::readyz;
        "/metrics": GET Public ops::metrics;
        "/openapi.yaml": GET Public ops::openapi;
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (_, pattern, methods) in table() {
        let mut r = web::resource(pattern);
        for (_, _, route) in methods {
            r = r.route(route);
        }
        cfg.service(
            r.default_service(web::to(method_not_allowed))
                .wrap(actix_web::middleware::from_fn(super::auth::authenticate))
                .wrap(actix_web::middleware::from_fn(reject_nul)),
        );
    }
}

/// (method, path as in `openapi.yaml`) of every route served.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table()
        .into_iter()
        .flat_map(|(path, _, methods)| methods.into_iter().map(move |(m, _, _)| (m, path)))
        .collect()
}

/// What a route needs: `Some(None)` for a public route, `Some(Some(p))` for one that needs
/// permission `p`, `None` for a (pattern, method) that is not a route.
pub fn permission(pattern: &str, method: &str) -> Option<Option<Permission>> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    type Map = HashMap<(&'static str, &'static str), Option<Permission>>;
    static MAP: OnceLock<Map> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        table()
            .into_iter()
            .flat_map(|(_, pattern, methods)| {
                methods.into_iter().map(move |(m, p, _)| ((pattern, m), p))
            })
            .collect()
    });
    map.get(&(pattern, method)).copied()
}

/// (method, path as in `openapi.yaml`, permission) of every route.
pub fn route_permissions() -> Vec<(&'static str, &'static str, Option<Permission>)> {
    table()
        .into_iter()
        .flat_map(|(path, _, methods)| methods.into_iter().map(move |(m, p, _)| (m, path, p)))
        .collect()
}

/// A path or query string with an encoded NUL (`%00`) is refused: no identifier, name or
/// filter holds one, and PostgreSQL cannot store it in text.
async fn reject_nul<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"))
    {
        let p = Problem::bad_request(
            "the path or query string contains an encoded NUL character (%00)",
        );
        return Ok(req.into_response(p.error_response()).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

pub async fn not_found(req: HttpRequest) -> Problem {
    Problem::not_found(format!("there is no route {} {}", req.method(), req.path()))
}

/// 405 with `Allow`: the methods the route serves.
async fn method_not_allowed(req: HttpRequest) -> Problem {
    let pattern = req.match_pattern().unwrap_or_default();
    let allowed = allowed_methods(&pattern).join(", ");
    Problem::new(
        ProblemType::MethodNotAllowed,
        format!(
            "{} is not allowed on {}; it allows {allowed}",
            req.method(),
            req.path()
        ),
    )
    .header(actix_web::http::header::ALLOW, &allowed)
}

/// The methods served at an actix pattern, in the table's order.
fn allowed_methods(pattern: &str) -> Vec<&'static str> {
    table()
        .into_iter()
        .filter(|(_, p, _)| *p == pattern)
        .flat_map(|(_, _, methods)| methods.into_iter().map(|(m, _, _)| m))
        .collect()
}
