//! What every handler reads from a request: its tenant, a bounded body, JSON, pages.

use super::AppState;
use super::problem::{self, Problem, ProblemType};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

pub(super) type Data = web::Data<AppState>;
pub(super) type Reply = Result<HttpResponse, Problem>;

const MAX_LIMIT: u32 = 200;
const DEFAULT_LIMIT: u32 = 50;

/// The request's tenant: its key's. Fails closed: without a principal (a route that
/// needs none) it is 401, never the default tenant.
pub(super) fn tenant(req: &HttpRequest) -> Result<String, Problem> {
    super::auth::principal(req)
        .map(|p| p.tenant)
        .ok_or_else(super::auth::no_principal)
}

/// A JSON request body decoded into `T`, and its bytes as sent. The route's size class:
/// `DOCUMENT` routes (evaluations, model versions: documents inside) take
/// `Limits::evaluation_body`, the others `Limits::small_body`. Fails closed: a wrong content
/// type, an oversized body, a NUL character or the wrong shape is a problem, never a
/// default value.
pub(super) struct JsonBody<T, const DOCUMENT: bool = false> {
    pub value: T,
    pub raw: web::Bytes,
}

impl<T: for<'de> Deserialize<'de> + 'static, const DOCUMENT: bool> actix_web::FromRequest
    for JsonBody<T, DOCUMENT>
{
    type Error = Problem;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let payload = <web::Payload as actix_web::FromRequest>::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| Problem::bad_request(format!("cannot read the request body: {e}")))?;
            let limits = req
                .app_data::<Data>()
                .map(|st| st.limits.clone())
                .unwrap_or_default();
            let limit = if DOCUMENT {
                limits.evaluation_body
            } else {
                limits.small_body
            };
            let raw = read_body(payload, limit).await?;
            let value = json_body(&req, &raw, limit)?;
            Ok(JsonBody { value, raw })
        })
    }
}

/// Reads a JSON body: the content type must be JSON and the body within `limit`.
pub(super) fn json_body<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    body: &[u8],
    limit: usize,
) -> Result<T, Problem> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(essence == "application/json" || essence.ends_with("+json")) {
        return Err(problem::unsupported_media_type());
    }
    if body.len() > limit {
        return Err(Problem::new(
            ProblemType::BodyTooLarge,
            format!(
                "the request body is {} bytes, over the limit of {limit} bytes for this route",
                body.len()
            ),
        ));
    }
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(at) = nul_string(&v, String::new())
    {
        return Err(nul_problem(&at));
    }
    serde_json::from_slice(body).map_err(|e| problem::body_problem(&e))
}

/// The JSON pointer of the first string (or key) holding U+0000.
fn nul_string(v: &Value, at: String) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_string(x, format!("{at}/{i}"))),
        Value::Object(o) => o.iter().find_map(|(k, x)| {
            let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_string(x, here)
            }
        }),
        _ => None,
    }
}

fn nul_problem(at: &str) -> Problem {
    Problem::new(
        ProblemType::InvalidText,
        format!(
            "the request body holds a NUL character (U+0000) at `{at}`; modelgate does not store it"
        ),
    )
    .with("pointer", at)
}

/// Reads the whole body up to `limit` bytes (a longer one is 413 without reading it all).
pub(super) async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(Problem::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
        Err(_) => Err(Problem::new(
            ProblemType::BodyTooLarge,
            format!("the request body is over the limit of {limit} bytes for this route"),
        )),
    }
}

pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "`limit` must be between 1 and {MAX_LIMIT}, got {n}"
        ))
        .with("parameter", "limit")),
    }
}

/// Keeps `limit` rows; the cursor of the last one when there is more.
pub(super) fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(cursor) } else { None };
    (rows, next)
}

/// A list answer: `{"items": [...]}`.
#[derive(serde::Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A page of a list: `{"items": [...], "next_cursor": ...}`.
#[derive(serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
