//! RFC 9457 problem details: every error the API returns, including actix's own
//! extractor errors, is `application/problem+json` with a precise `detail`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// Declares the closed catalogue of problem types: variant, slug, status.
macro_rules! problem_types {
    ($($variant:ident = $slug:literal, $status:ident;)*) => {
        /// Every problem type the API answers with: its slug names it
        /// (`https://modelgate.dev/problems/<slug>`) and fixes its status.
        /// `openapi.yaml` lists the same types (`Problem.type`); a test checks both ways.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ProblemType {
            $($variant),*
        }

        impl ProblemType {
            /// Every problem type.
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant),*];

            pub fn slug(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $slug),*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ProblemType::$variant => StatusCode::$status),*
                }
            }

            /// `https://modelgate.dev/problems/<slug>`.
            pub fn uri(self) -> String {
                format!("https://modelgate.dev/problems/{}", self.slug())
            }
        }
    };
}

problem_types! {
    AlreadyReviewed = "already-reviewed", CONFLICT;
    BadRequest = "bad-request", BAD_REQUEST;
    BeyondLog = "beyond-log", UNPROCESSABLE_ENTITY;
    BodyTooLarge = "body-too-large", PAYLOAD_TOO_LARGE;
    DecisionTampered = "decision-tampered", CONFLICT;
    Forbidden = "forbidden", FORBIDDEN;
    HubDenied = "hub-denied", UNPROCESSABLE_ENTITY;
    HubDisabled = "hub-disabled", UNPROCESSABLE_ENTITY;
    HubNotFound = "hub-not-found", UNPROCESSABLE_ENTITY;
    HubUnavailable = "hub-unavailable", BAD_GATEWAY;
    IdempotencyKeyReused = "idempotency-key-reused", UNPROCESSABLE_ENTITY;
    Internal = "internal", INTERNAL_SERVER_ERROR;
    InvalidBody = "invalid-body", UNPROCESSABLE_ENTITY;
    InvalidContext = "invalid-context", UNPROCESSABLE_ENTITY;
    InvalidDocument = "invalid-document", UNPROCESSABLE_ENTITY;
    InvalidKeyRequest = "invalid-key-request", UNPROCESSABLE_ENTITY;
    InvalidPack = "invalid-pack", UNPROCESSABLE_ENTITY;
    InvalidProfileName = "invalid-profile-name", UNPROCESSABLE_ENTITY;
    InvalidProofRequest = "invalid-proof-request", UNPROCESSABLE_ENTITY;
    InvalidRange = "invalid-range", UNPROCESSABLE_ENTITY;
    InvalidModelRef = "invalid-model-ref", UNPROCESSABLE_ENTITY;
    InvalidReview = "invalid-review", UNPROCESSABLE_ENTITY;
    InvalidText = "invalid-text", UNPROCESSABLE_ENTITY;
    InvalidWaiver = "invalid-waiver", UNPROCESSABLE_ENTITY;
    MethodNotAllowed = "method-not-allowed", METHOD_NOT_ALLOWED;
    ModelRefRequired = "model-ref-required", UNPROCESSABLE_ENTITY;
    NotFound = "not-found", NOT_FOUND;
    NotReviewable = "not-reviewable", UNPROCESSABLE_ENTITY;
    NotYetLogged = "not-yet-logged", CONFLICT;
    PackTestsFailed = "pack-tests-failed", UNPROCESSABLE_ENTITY;
    PackUnavailable = "pack-unavailable", CONFLICT;
    PreconditionFailed = "precondition-failed", PRECONDITION_FAILED;
    PreconditionRequired = "precondition-required", PRECONDITION_REQUIRED;
    ProfileExists = "profile-exists", CONFLICT;
    RateLimited = "rate-limited", TOO_MANY_REQUESTS;
    RequestTimeout = "request-timeout", REQUEST_TIMEOUT;
    ReplayFailed = "replay-failed", CONFLICT;
    SeparationOfDuties = "separation-of-duties", FORBIDDEN;
    SeveralModels = "several-models", UNPROCESSABLE_ENTITY;
    Unauthorized = "unauthorized", UNAUTHORIZED;
    Unavailable = "unavailable", SERVICE_UNAVAILABLE;
    UnknownDecision = "unknown-decision", UNPROCESSABLE_ENTITY;
    UnknownFormat = "unknown-format", UNPROCESSABLE_ENTITY;
    UnknownModel = "unknown-model", UNPROCESSABLE_ENTITY;
    UnknownProfile = "unknown-profile", UNPROCESSABLE_ENTITY;
    UnsupportedMediaType = "unsupported-media-type", UNSUPPORTED_MEDIA_TYPE;
}

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
    /// A problem of type `kind` (which fixes the status).
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Problem {
        let status = kind.status();
        Problem(Box::new(ProblemBody {
            kind: kind.uri(),
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
        Problem::new(ProblemType::BadRequest, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::NotFound, detail)
    }
    /// A server-side failure. The detail is logged, not sent: it may name internals.
    pub fn internal(detail: impl fmt::Display) -> Problem {
        tracing_error(&detail);
        Problem::new(
            ProblemType::Internal,
            "the server failed to handle the request; it has been logged",
        )
    }
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::Unavailable, detail)
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
        store_problem(&e)
    }
}

fn store_problem(e: &crate::store::StoreError) -> Problem {
    use crate::store::StoreError as E;
    match e.cause() {
        E::IdempotencyConflict(k) => Problem::new(
            ProblemType::IdempotencyKeyReused,
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
        E::Db(d) if connection_lost(d) => {
            tracing::warn!(error = %d, "the database connection failed during a request");
            Problem::unavailable("the database connection was lost; retry shortly")
                .header(header::RETRY_AFTER, "1")
        }
        // PostgreSQL refuses U+0000 in text (22021) and characters its encoding lacks
        // (22P05): text the client sent, e.g. a model name inside a document.
        E::Db(sqlx::Error::Database(d))
            if d.code().is_some_and(|c| c == "22021" || c == "22P05") =>
        {
            Problem::new(
                ProblemType::InvalidText,
                "a text of the request (a model name, a profile description...) holds a \
                     character that cannot be stored, such as NUL (U+0000)",
            )
        }
        other => Problem::internal(other),
    }
}

/// The database went away under the request (its connection broke, the server is shutting
/// down or restarting, it takes no more connections): the request may succeed if retried,
/// so 503 rather than 500.
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            // 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect now;
            // 53300: too many connections.
            c.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&c.as_ref())
        }),
        _ => false,
    }
}

/// The body did not arrive within the time a request is given ([`super::Limits`]).
pub fn request_timeout() -> Problem {
    Problem::new(
        ProblemType::RequestTimeout,
        "the request body did not arrive in time; send it whole, then wait for the answer",
    )
    .header(header::CONNECTION, "close")
}

/// The JSON, query and path extractor errors as problems (all client mistakes: 4xx).
pub fn json_error(err: actix_web::error::JsonPayloadError) -> Problem {
    use actix_web::error::JsonPayloadError as J;
    match &err {
        J::OverflowKnownLength { length, limit } => Problem::new(
            ProblemType::BodyTooLarge,
            format!(
                "the request body is {length} bytes, over the limit of {limit} bytes for this route"
            ),
        ),
        J::Overflow { limit } => Problem::new(
            ProblemType::BodyTooLarge,
            format!("the request body is over the limit of {limit} bytes for this route"),
        ),
        J::ContentType => unsupported_media_type(),
        J::Deserialize(e) => body_problem(e),
        _ => Problem::bad_request(format!("cannot read the request body: {err}")),
    }
}

pub fn unsupported_media_type() -> Problem {
    Problem::new(
        ProblemType::UnsupportedMediaType,
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
        Category::Data => Problem::new(
            ProblemType::InvalidBody,
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
        P::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => request_timeout(),
        P::Overflow => Problem::new(
            ProblemType::BodyTooLarge,
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
        match e.cause() {
            E::Store(e) => store_problem(e),
            E::NotRegistered(d) => Problem::not_found(format!("there is no pack {d}")),
            E::Bootstrap(b) => {
                Problem::unavailable(format!("no rule pack is active for this tenant: {b}"))
            }
            e @ (E::NoLongerLoads { .. } | E::ActiveMissing(_) | E::Corrupt(_) | E::Shared(_)) => {
                Problem::internal(e)
            }
        }
    }
}

/// An invalid document: what the parser says, and where.
pub fn invalid_document(e: &modelgate_engine::IngestError) -> Problem {
    Problem::new(
        ProblemType::InvalidDocument,
        format!("the document is not valid: {e}"),
    )
    .with("format", e.format.as_str())
    .with("location", &e.location)
    .with("expected", &e.expected)
}

impl From<crate::app::evaluate::EvaluateError> for Problem {
    fn from(e: crate::app::evaluate::EvaluateError) -> Problem {
        use crate::app::evaluate::EvaluateError as E;
        let invalid_body = |d: &str| Problem::new(ProblemType::InvalidBody, d);
        match e {
            E::ContextAndProfile => invalid_body("give either `context` or `profile`, not both"),
            E::SeveralInputs => invalid_body("give one of `document`, `record` and `hub`"),
            E::HubDisabled => Problem::new(
                ProblemType::HubDisabled,
                "this service does not fetch models from the Hugging Face Hub (it runs with \
                 --hf-endpoint off); send the model card as `document`",
            ),
            E::Hub(e) => hub_problem(e),
            E::NothingToEvaluate => invalid_body(
                "the body needs `document`, `record`, or the `model_ref` of a registered model",
            ),
            E::NoDocument => {
                invalid_body("the body needs `document` ({\"format\", \"content\"}) or `record`")
            }
            E::UnknownProfile(name) => {
                Problem::new(ProblemType::UnknownProfile, format!("there is no profile `{name}`"))
            }
            E::InvalidContext(e) => Problem::new(
                ProblemType::InvalidContext,
                format!("the use context is not valid: {e}"),
            )
            .with("field", &e.field),
            E::UnknownFormat(s) => {
                let mut names = vec!["auto"];
                names.extend_from_slice(modelgate_engine::Format::NAMES);
                Problem::new(
                    ProblemType::UnknownFormat,
                    format!(
                        "`document.format` is `{s}`; modelgate reads: {}",
                        names.join(", ")
                    ),
                )
                .with("allowed", names)
            }
            E::UnknownModel(r) => Problem::new(
                ProblemType::UnknownModel,
                format!(
                    "`{r}` is not registered; send its `document` or register it with PUT /v1/models/{r}"
                ),
            ),
            E::Invalid(e) => invalid_document(&e),
            E::SeveralModels(ids) => Problem::new(
                ProblemType::SeveralModels,
                format!(
                    "the document describes {} models ({}); give `model_ref` naming the one to evaluate",
                    ids.len(),
                    ids.join(", ")
                ),
            )
            .with("models", ids),
            E::ModelRefRequired => Problem::new(
                ProblemType::ModelRefRequired,
                "the document does not name the model; give `model_ref`",
            ),
            E::InvalidModelRef(why) => Problem::new(
                ProblemType::InvalidModelRef,
                format!("{why} (`model_ref`, or the name the document gives its model)"),
            ),
            E::NulInModelRef => Problem::new(
                ProblemType::InvalidText,
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

/// A failed Hub fetch: the reference, the model or the card is the caller's to fix (422),
/// an unreachable or misbehaving Hub is a bad gateway (502).
fn hub_problem(e: crate::hub::HubError) -> Problem {
    use crate::hub::HubError as H;
    match e {
        H::Usage(m) => Problem::new(ProblemType::InvalidBody, m).with("field", "hub"),
        H::NotFound(m) => Problem::new(ProblemType::HubNotFound, m),
        H::Denied(m) => Problem::new(ProblemType::HubDenied, m),
        H::Malformed(m) | H::TooLarge(m) => Problem::new(ProblemType::InvalidDocument, m),
        H::Unavailable(m) | H::Protocol(m) => Problem::new(ProblemType::HubUnavailable, m),
        H::Internal(m) => Problem::internal(m),
    }
}

impl From<crate::app::replay::ReplayError> for Problem {
    fn from(e: crate::app::replay::ReplayError) -> Problem {
        use crate::app::replay::ReplayError as E;
        match e {
            E::PackUnavailable(_) => Problem::new(ProblemType::PackUnavailable, e.to_string()),
            E::NoLongerParses(_) | E::NoModel | E::StoredFetch(_) => {
                Problem::new(ProblemType::ReplayFailed, e.to_string())
            }
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
                Problem::new(ProblemType::PreconditionFailed, e.to_string())
                    .header(header::ETAG, &etag)
            }
            E::Pack(e) => e.into(),
            E::Store(e) => e.into(),
            E::Corrupt(e) => e.into(),
        }
    }
}

impl From<crate::app::reviews::ReviewError> for Problem {
    fn from(e: crate::app::reviews::ReviewError) -> Problem {
        use crate::app::reviews::ReviewError as E;
        let detail = e.to_string();
        let kind = match e {
            E::Invalid(_) => ProblemType::InvalidReview,
            E::UnknownDecision(_) => ProblemType::UnknownDecision,
            E::NotReviewable { .. } => ProblemType::NotReviewable,
            E::OwnRequest => ProblemType::SeparationOfDuties,
            E::AlreadyReviewed(_) => ProblemType::AlreadyReviewed,
            E::Store(e) => return e.into(),
            E::Corrupt(e) => return e.into(),
        };
        Problem::new(kind, detail)
    }
}

impl From<crate::app::waivers::WaiverError> for Problem {
    fn from(e: crate::app::waivers::WaiverError) -> Problem {
        use crate::app::waivers::WaiverError as E;
        match e {
            E::Invalid(d) => Problem::new(ProblemType::InvalidWaiver, d),
            E::NotInForce(_) => Problem::not_found(e.to_string()),
            E::Pack(e) => e.into(),
            E::Store(e) => e.into(),
            E::Corrupt(e) => e.into(),
        }
    }
}

impl From<crate::app::evidence::EvidenceError> for Problem {
    fn from(e: crate::app::evidence::EvidenceError) -> Problem {
        use crate::app::evidence::EvidenceError as E;
        match e {
            E::NotYetLogged(_) => Problem::new(ProblemType::NotYetLogged, e.to_string())
                .header(header::RETRY_AFTER, "1"),
            E::Mismatch { index, .. } => {
                tracing::error!(error = %e, "a recorded decision no longer matches the audit log");
                Problem::new(ProblemType::DecisionTampered, e.to_string()).with("log_index", index)
            }
            E::Store(e) => e.into(),
            other => Problem::internal(other),
        }
    }
}

impl From<crate::app::packs::UploadError> for Problem {
    fn from(e: crate::app::packs::UploadError) -> Problem {
        use super::packs::{FailedCase, FileProblem};
        use crate::app::packs::{RegisterError, UploadError as E};
        let detail = e.to_string();
        match e {
            E::Archive(_) | E::NotText(_) => Problem::new(ProblemType::InvalidPack, detail),
            E::Invalid(e) => Problem::new(ProblemType::InvalidPack, detail).with(
                "problems",
                e.problems
                    .iter()
                    .map(|p| FileProblem {
                        file: &p.file,
                        message: &p.message,
                    })
                    .collect::<Vec<_>>(),
            ),
            E::TestsFailed(report) => Problem::new(ProblemType::PackTestsFailed, detail).with(
                "failures",
                report
                    .cases
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| FailedCase {
                        file: &c.file,
                        case: &c.name,
                        failures: &c.failures,
                    })
                    .collect::<Vec<_>>(),
            ),
            E::Register(RegisterError::Store(e)) => e.into(),
            other => Problem::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_lost_database_connection_is_503_with_retry_after() {
        let broken = || {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )
        };
        for e in [
            sqlx::Error::Io(broken()),
            sqlx::Error::PoolClosed,
            sqlx::Error::PoolTimedOut,
        ] {
            let p = Problem::from(StoreError::Db(e));
            assert_eq!(p.status, 503, "{p}");
            assert!(
                p.headers
                    .iter()
                    .any(|(k, v)| k == header::RETRY_AFTER && v == "1"),
                "{p}"
            );
            assert!(!p.detail.contains("reset by peer"), "no internals: {p}");
        }
        let other = Problem::from(StoreError::Db(sqlx::Error::RowNotFound));
        assert_eq!(other.status, 500);
    }
}
