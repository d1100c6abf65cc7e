//! RFC 9457 problem details: every error the API returns, including actix's own
//! extractor errors, is `application/problem+json` with a precise `detail`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem response (boxed: it travels in every `Result` of the handlers).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemBody>);

impl std::ops::Deref for Problem {
    type Target = ProblemBody;
    fn deref(&self) -> &ProblemBody {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemBody {
        &mut self.0
    }
}

/// The members of a problem (RFC 9457 §3).
#[derive(Debug, Clone, Serialize)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Extra members (RFC 9457 §3.2): the location of a parse error, the allowed values...
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Problem {
    /// `slug` names the problem type: `https://modelgate.dev/problems/<slug>`.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemBody {
            kind: format!("https://modelgate.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            extra: serde_json::Map::new(),
            headers: Vec::new(),
        }))
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Problem {
        if let Ok(v) = serde_json::to_value(value) {
            self.extra.insert(key.to_string(), v);
        }
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Problem {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    pub fn unprocessable(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    pub fn conflict(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, slug, detail)
    }
    /// A server-side failure. The detail is logged, not sent: it may name internals.
    pub fn internal(detail: impl fmt::Display) -> Problem {
        tracing_error(&detail);
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; it has been logged",
        )
    }
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }
}

fn tracing_error(detail: &dyn fmt::Display) {
    tracing::error!("internal error: {detail}");
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        r.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        for (k, v) in &self.headers {
            r.insert_header((k.clone(), v.clone()));
        }
        r.body(serde_json::to_string(&*self.0).unwrap_or_default())
    }
}

impl actix_web::Responder for Problem {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        use crate::store::StoreError as E;
        match e {
            E::IdempotencyConflict(k) => Problem::unprocessable(
                "idempotency-key-reused",
                format!(
                    "the Idempotency-Key `{k}` was already used with a different request body; \
                     use a new key for a new request"
                ),
            ),
            E::BadCursor => Problem::bad_request("`cursor` is not a cursor this server issued")
                .with("parameter", "cursor"),
            E::UnknownPack(d) => Problem::not_found(format!("rule pack {d} is not registered")),
            E::Db(sqlx::Error::PoolTimedOut) => {
                Problem::unavailable("the database is busy; retry shortly")
                    .header(header::RETRY_AFTER, "1")
            }
            // PostgreSQL refuses U+0000 in text (22021) and characters its encoding lacks
            // (22P05): text the client sent, e.g. a model name inside a document.
            E::Db(sqlx::Error::Database(d))
                if d.code().is_some_and(|c| c == "22021" || c == "22P05") =>
            {
                Problem::unprocessable(
                    "invalid-text",
                    "a text of the request (a model name, a profile description...) holds a \
                     character that cannot be stored, such as NUL (U+0000)",
                )
            }
            other => Problem::internal(other),
        }
    }
}

/// The JSON, query and path extractor errors as problems (all client mistakes: 4xx).
pub fn json_error(err: actix_web::error::JsonPayloadError) -> Problem {
    use actix_web::error::JsonPayloadError as J;
    match &err {
        J::OverflowKnownLength { length, limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!(
                "the request body is {length} bytes, over the limit of {limit} bytes for this route"
            ),
        ),
        J::Overflow { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is over the limit of {limit} bytes for this route"),
        ),
        J::ContentType => unsupported_media_type(),
        J::Deserialize(e) => body_problem(e),
        _ => Problem::bad_request(format!("cannot read the request body: {err}")),
    }
}

pub fn unsupported_media_type() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "the request body must be JSON: send `Content-Type: application/json`",
    )
}

/// A body that is not the JSON the route expects: syntax errors are 400 with the line and
/// column, a well-formed body of the wrong shape is 422.
pub fn body_problem(e: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let p = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::bad_request(format!("the request body is not valid JSON: {e}"))
        }
        Category::Data => Problem::unprocessable(
            "invalid-body",
            format!("the request body does not fit this route: {e}"),
        ),
    };
    p.with("line", e.line()).with("column", e.column())
}

pub fn query_error(err: actix_web::error::QueryPayloadError) -> Problem {
    Problem::bad_request(format!("invalid query string: {err}"))
}

pub fn path_error(err: actix_web::error::PathError) -> Problem {
    Problem::not_found(format!("invalid path parameter: {err}"))
}

pub fn payload_error(err: actix_web::error::PayloadError) -> Problem {
    use actix_web::error::PayloadError as P;
    match err {
        P::Overflow => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "the request body is over the limit for this route",
        ),
        other => Problem::bad_request(format!("cannot read the request body: {other}")),
    }
}
