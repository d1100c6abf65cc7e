//! `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}` (admins).

use super::AppState;
use super::auth::principal;
use super::problem::{Problem, ProblemType};
use super::request::{Items, JsonBody, Reply, tenant};
use crate::auth::DEFAULT_TENANT;
use crate::auth::{KeyCreateError, Role};
use crate::store::KeyRow;
use crate::time::{Rfc3339, now_micros, parse_rfc3339_micros};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

type Data = web::Data<AppState>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyIn {
    tenant: Option<String>,
    role: String,
    expires_at: Option<String>,
}

/// An API key as the API shows it (never the secret).
#[derive(Serialize)]
struct KeyOut<'a> {
    id: &'a str,
    tenant: &'a str,
    role: &'a str,
    created_at: Rfc3339,
    expires_at: Option<Rfc3339>,
    revoked_at: Option<Rfc3339>,
    created_by: Option<&'a str>,
}

/// `POST /v1/keys`'s answer: the key and, this once, its secret.
#[derive(Serialize)]
struct NewKeyOut<'a> {
    #[serde(flatten)]
    key: KeyOut<'a>,
    #[serde(rename = "key")]
    secret: &'a str,
}

fn key_body(k: &KeyRow) -> KeyOut<'_> {
    KeyOut {
        id: &k.id,
        tenant: &k.tenant,
        role: &k.role,
        created_at: Rfc3339(k.created_at),
        expires_at: k.expires_at.map(Rfc3339),
        revoked_at: k.revoked_at.map(Rfc3339),
        created_by: k.created_by.as_deref(),
    }
}

fn create_problem(e: KeyCreateError) -> Problem {
    match e {
        KeyCreateError::Tenant(_) | KeyCreateError::Expiry => {
            Problem::new(ProblemType::InvalidKeyRequest, e.to_string())
        }
        KeyCreateError::Store(s) => s.into(),
        KeyCreateError::Audit(a) => Problem::internal(a),
    }
}

pub async fn create_key(req: HttpRequest, st: Data, body: JsonBody<KeyIn>) -> Reply {
    let body: KeyIn = body.value;
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    let tenant = body.tenant.unwrap_or_else(|| me.tenant.clone());
    // Admins of the default tenant run the deployment: they may create keys for any
    // tenant. Other admins only for their own.
    if tenant != me.tenant && me.tenant != DEFAULT_TENANT {
        return Err(Problem::new(
            ProblemType::Forbidden,
            "only admins of the default tenant create keys for other tenants",
        ));
    }
    let role = Role::parse(&body.role).ok_or_else(|| {
        Problem::new(
            ProblemType::InvalidKeyRequest,
            format!(
                "`role` must be one of viewer, evaluator, approver, auditor, admin; got `{}`",
                body.role
            ),
        )
    })?;
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(t) => Some(parse_rfc3339_micros(t).ok_or_else(|| {
            Problem::new(
                ProblemType::InvalidKeyRequest,
                format!("`expires_at` must be an RFC 3339 time, got `{t}`"),
            )
        })?),
    };
    let (key, row) = crate::auth::create_key(
        &st.store,
        &tenant,
        role,
        expires_at,
        Some(&me.key_id),
        now_micros(),
    )
    .await
    .map_err(create_problem)?;
    st.log.wake();
    let body = NewKeyOut {
        key: key_body(&row),
        secret: &key.key,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/keys/{}", row.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

pub async fn list_keys(req: HttpRequest, st: Data) -> Reply {
    let keys = st.store.list_keys(&tenant(&req)?).await?;
    Ok(HttpResponse::Ok().json(Items {
        items: keys.iter().map(key_body).collect(),
    }))
}

pub async fn revoke_key(req: HttpRequest, st: Data, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let me = principal(&req).ok_or_else(super::auth::no_principal)?;
    // Admins of the default tenant manage every tenant's keys (they create them too);
    // other admins their own tenant's.
    let tenant = if me.tenant == crate::auth::DEFAULT_TENANT {
        st.store
            .key_by_id(&id)
            .await?
            .map_or_else(|| me.tenant.clone(), |k| k.tenant)
    } else {
        me.tenant.clone()
    };
    let done = crate::auth::revoke_key(&st.store, &tenant, &id, Some(&me.key_id), now_micros())
        .await
        .map_err(create_problem)?;
    st.access.forget(&id).await;
    if !done {
        return Err(Problem::not_found(format!(
            "there is no active key {id} in this tenant"
        )));
    }
    st.log.wake();
    Ok(HttpResponse::NoContent().finish())
}
