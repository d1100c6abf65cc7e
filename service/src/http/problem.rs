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

// ---- the application's errors ---------------------------------------------------------------

impl From<crate::app::Corrupt> for Problem {
    fn from(e: crate::app::Corrupt) -> Problem {
        Problem::internal(e)
    }
}

impl From<crate::app::packs::PackError> for Problem {
    fn from(e: crate::app::packs::PackError) -> Problem {
        use crate::app::packs::PackError as E;
        match e {
            E::Store(e) => e.into(),
            E::NotRegistered(d) => Problem::not_found(format!("there is no pack {d}")),
            E::Bootstrap(b) => {
                Problem::unavailable(format!("no rule pack is active for this tenant: {b}"))
            }
            e @ (E::NoLongerLoads { .. } | E::ActiveMissing(_) | E::Corrupt(_)) => {
                Problem::internal(e)
            }
        }
    }
}

/// An invalid document: what the parser says, and where.
pub fn invalid_document(e: &modelgate_engine::IngestError) -> Problem {
    Problem::unprocessable(
        "invalid-document",
        format!("the document is not valid: {e}"),
    )
    .with("format", e.format.as_str())
    .with("location", &e.location)
    .with("expected", &e.expected)
}

impl From<crate::app::evaluate::EvaluateError> for Problem {
    fn from(e: crate::app::evaluate::EvaluateError) -> Problem {
        use crate::app::evaluate::EvaluateError as E;
        let invalid_body = |d: &str| Problem::unprocessable("invalid-body", d);
        match e {
            E::ContextAndProfile => invalid_body("give either `context` or `profile`, not both"),
            E::DocumentAndRecord => invalid_body("give either `document` or `record`, not both"),
            E::NothingToEvaluate => invalid_body(
                "the body needs `document`, `record`, or the `model_ref` of a registered model",
            ),
            E::NoDocument => {
                invalid_body("the body needs `document` ({\"format\", \"content\"}) or `record`")
            }
            E::UnknownProfile(name) => {
                Problem::unprocessable("unknown-profile", format!("there is no profile `{name}`"))
            }
            E::InvalidContext(e) => Problem::unprocessable(
                "invalid-context",
                format!("the use context is not valid: {e}"),
            )
            .with("field", &e.field),
            E::UnknownFormat(s) => {
                let mut names = vec!["auto"];
                names.extend_from_slice(modelgate_engine::Format::NAMES);
                Problem::unprocessable(
                    "unknown-format",
                    format!(
                        "`document.format` is `{s}`; modelgate reads: {}",
                        names.join(", ")
                    ),
                )
                .with("allowed", names)
            }
            E::UnknownModel(r) => Problem::unprocessable(
                "unknown-model",
                format!(
                    "`{r}` is not registered; send its `document` or register it with PUT /v1/models/{r}"
                ),
            ),
            E::Invalid(e) => invalid_document(&e),
            E::SeveralModels(ids) => Problem::unprocessable(
                "several-models",
                format!(
                    "the document describes {} models ({}); give `model_ref` naming the one to evaluate",
                    ids.len(),
                    ids.join(", ")
                ),
            )
            .with("models", ids),
            E::ModelRefRequired => Problem::unprocessable(
                "model-ref-required",
                "the document does not name the model; give `model_ref`",
            ),
            E::NulInModelRef => Problem::unprocessable(
                "invalid-text",
                "the model's name holds a NUL character (U+0000); give a `model_ref` without one",
            ),
            E::KeptChanging => Problem::unavailable(
                "the tenant's rule pack or waivers kept changing during the evaluation; retry",
            ),
            E::Pack(e) => e.into(),
            E::Store(e) => e.into(),
            E::Corrupt(e) => e.into(),
        }
    }
}

impl From<crate::app::replay::ReplayError> for Problem {
    fn from(e: crate::app::replay::ReplayError) -> Problem {
        use crate::app::replay::ReplayError as E;
        match e {
            E::PackUnavailable(_) => Problem::conflict("pack-unavailable", e.to_string()),
            E::NoLongerParses(_) | E::NoModel => Problem::conflict("replay-failed", e.to_string()),
            E::Pack(e) => e.into(),
            E::Store(e) => e.into(),
            E::Corrupt(e) => e.into(),
        }
    }
}

impl From<crate::app::packs::ActivateError> for Problem {
    fn from(e: crate::app::packs::ActivateError) -> Problem {
        use crate::app::packs::ActivateError as E;
        match e {
            E::Changed { ref current, .. } => {
                let etag = current.clone();
                Problem::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition-failed",
                    e.to_string(),
                )
                .header(header::ETAG, &etag)
            }
            E::Pack(e) => e.into(),
            E::Store(e) => e.into(),
            E::Corrupt(e) => e.into(),
        }
    }
}
