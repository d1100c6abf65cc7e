//! Use profiles: `/v1/profiles`, `/v1/profiles/{name}`.

use super::AppState;
use super::problem::{Problem, ProblemType};
use super::request::{Data, Items, JsonBody, Reply, tenant};
use crate::time::{Rfc3339, now_micros};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::context::UseContext;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileIn {
    name: Option<String>,
    description: Option<String>,
    #[serde(deserialize_with = "super::request::object")]
    context: UseContext,
}

fn check_profile_name(n: &str) -> Result<(), Problem> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemType::InvalidProfileName,
            format!(
                "profile name `{n}`: use 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
            ),
        ))
    }
}

/// A stored profile as the API shows it.
#[derive(Serialize)]
struct ProfileOut<'a> {
    name: &'a str,
    description: &'a Option<String>,
    context: Box<RawValue>,
    version: i64,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

fn profile_body(p: &crate::store::Profile) -> Result<ProfileOut<'_>, Problem> {
    Ok(ProfileOut {
        name: &p.name,
        description: &p.description,
        context: RawValue::from_string(p.context.clone()).map_err(Problem::internal)?,
        version: p.version,
        created_at: Rfc3339(p.created_at),
        updated_at: Rfc3339(p.updated_at),
    })
}

async fn save_profile(
    st: &AppState,
    tenant: &str,
    name: &str,
    body: ProfileIn,
) -> Result<crate::store::Profile, Problem> {
    check_profile_name(name)?;
    let pack = crate::app::packs::active_pack(st, tenant).await?;
    let mut ctx = body.context;
    ctx.prepare(pack.use_categories()).map_err(|e| {
        Problem::new(
            ProblemType::InvalidContext,
            format!("the use context is not valid: {e}"),
        )
        .with("field", &e.field)
    })?;
    let json = serde_json::to_string(&ctx).map_err(Problem::internal)?;
    Ok(st
        .store
        .put_profile(
            tenant,
            name,
            body.description.as_deref(),
            &json,
            now_micros(),
        )
        .await?)
}

pub(super) async fn create_profile(req: HttpRequest, st: Data, body: JsonBody<ProfileIn>) -> Reply {
    let tenant = &tenant(&req)?;
    let body: ProfileIn = body.value;
    let Some(name) = body.name.clone() else {
        return Err(Problem::new(
            ProblemType::InvalidBody,
            "a new profile needs a `name`",
        ));
    };
    check_profile_name(&name)?;
    if st.store.get_profile(tenant, &name).await?.is_some() {
        return Err(Problem::new(
            ProblemType::ProfileExists,
            format!("profile `{name}` exists; update it with PUT /v1/profiles/{name}"),
        ));
    }
    let p = save_profile(&st, tenant, &name, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/profiles/{name}")))
        .json(profile_body(&p)?))
}

pub(super) async fn put_profile(
    req: HttpRequest,
    st: Data,
    path: web::Path<String>,
    body: JsonBody<ProfileIn>,
) -> Reply {
    let tenant = &tenant(&req)?;
    let name = path.into_inner();
    let body: ProfileIn = body.value;
    if let Some(n) = &body.name
        && *n != name
    {
        return Err(Problem::new(
            ProblemType::InvalidBody,
            format!("the body names profile `{n}` but the path names `{name}`"),
        ));
    }
    let p = save_profile(&st, tenant, &name, body).await?;
    let body = profile_body(&p)?;
    Ok(if p.version == 1 {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/profiles/{name}")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

pub(super) async fn get_profile(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let name = path.into_inner();
    let p = st
        .store
        .get_profile(&tenant(&req)?, &name)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no profile `{name}`")))?;
    Ok(HttpResponse::Ok().json(profile_body(&p)?))
}

pub(super) async fn list_profiles(req: HttpRequest, st: Data) -> Reply {
    let profiles = st.store.list_profiles(&tenant(&req)?).await?;
    let items = profiles
        .iter()
        .map(profile_body)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Items { items }))
}
