//! What every handler reads from a request: its tenant, a bounded body, JSON, pages.

use super::AppState;
use super::problem::{self, Problem, ProblemType};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

pub(super) type Data = web::Data<AppState>;
pub(super) type Reply = Result<HttpResponse, Problem>;

/// A body member that must be a JSON object (`#[serde(deserialize_with = "object")]`):
/// serde reads a struct from an array too, by position, which no client means.
pub(super) fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let map = serde_json::Map::<String, Value>::deserialize(d)?;
    T::deserialize(Value::Object(map)).map_err(serde::de::Error::custom)
}

/// [`object`] for a member that may be absent or `null`.
pub(super) fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<serde_json::Map<String, Value>>::deserialize(d)? {
        None => Ok(None),
        Some(map) => T::deserialize(Value::Object(map))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

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

/// A body that could not be read: 408 when it did not arrive in time, else 400.
pub(super) fn body_read_error(e: &actix_web::Error) -> Problem {
    match e.as_error::<actix_web::error::PayloadError>() {
        Some(actix_web::error::PayloadError::Io(io))
            if io.kind() == std::io::ErrorKind::TimedOut =>
        {
            problem::request_timeout()
        }
        _ => Problem::bad_request(format!("cannot read the request body: {e}")),
    }
}

/// Reads the whole body up to `limit` bytes (a longer one is 413 without reading it all).
pub(super) async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(body_read_error(&e)),
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

/// Gives every request's body a deadline ([`super::Limits::body_timeout`]): the body stream
/// ends with a timed-out I/O error when it is not all there by then, which the readers
/// answer with 408 ([`problem::request_timeout`]).
pub(super) async fn body_deadline<B: actix_web::body::MessageBody + 'static>(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    use actix_web::HttpMessage as _;
    use actix_web::error::PayloadError;
    use futures_util::StreamExt as _;
    type Chunks =
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<web::Bytes, PayloadError>>>>;
    let Some(timeout) = req.app_data::<Data>().map(|st| st.limits.body_timeout) else {
        return next.call(req).await;
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let payload = req.take_payload();
    let stream = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ))),
                None,
            )),
        }
    });
    // Fused: readers such as multipart poll again after the end.
    req.set_payload(actix_web::dev::Payload::from(
        Box::pin(stream.fuse()) as Chunks
    ));
    next.call(req).await
}
