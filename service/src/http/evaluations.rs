//! `POST /v1/evaluations`: the HTTP face of [`crate::app::evaluate`].

use super::problem::{self, Problem};
use super::request::{Data, JsonBody, Reply, tenant};
use crate::app::evaluate::{Document, Input, Outcome, Request, evaluate};
use crate::store::DecisionRow;
use crate::time::Rfc3339;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::context::UseContext;
use modelgate_engine::{Decision, Digest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DocumentIn {
    #[serde(default = "auto")]
    pub format: String,
    pub content: String,
}

fn auto() -> String {
    "auto".into()
}

impl From<DocumentIn> for Document {
    fn from(d: DocumentIn) -> Document {
        Document {
            format: d.format,
            content: d.content,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluationIn {
    document: Option<DocumentIn>,
    record: Option<Value>,
    /// `hf:<org>/<name>[@<revision>]`: fetched from the Hugging Face Hub.
    hub: Option<String>,
    #[serde(default, deserialize_with = "super::request::optional_object")]
    context: Option<UseContext>,
    profile: Option<String>,
    model_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluationQuery {
    #[serde(default)]
    dry_run: bool,
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, Problem> {
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .map(|k| Some(k.to_string()))
            .ok_or_else(|| {
                Problem::bad_request(
                    "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
                )
            }),
    }
}

pub(super) async fn create(
    req: HttpRequest,
    st: Data,
    q: web::Query<EvaluationQuery>,
    body: JsonBody<EvaluationIn, true>,
) -> Reply {
    let tenant = &tenant(&req)?;
    let JsonBody { value: body, raw } = body;
    let request = Request {
        input: Input {
            document: body.document.map(Document::from),
            record: body.record,
            hub: body.hub,
        },
        context: body.context,
        profile: body.profile,
        model_ref: body.model_ref,
        dry_run: q.dry_run,
        requested_by: super::auth::principal(&req).map(|p| p.key_id),
        idempotency_key: idempotency_key(&req)?,
        request_digest: canonical_digest(&raw)?,
        trace_id: current_trace_id(),
    };
    let out = evaluate(&st, tenant, &request).await?;
    st.metrics.evaluation.observe(out.evaluation.as_secs_f64());
    if let Some(f) = out.hub_fetch {
        st.metrics.hub_fetch.observe(f.as_secs_f64());
    }
    match out.value {
        Outcome::Evaluated { decision, profile } => {
            Ok(HttpResponse::Ok().json(live_body(profile.as_deref(), &decision)))
        }
        Outcome::Recorded { row, replayed } => {
            super::trace::record_decision_id(&row.id);
            if !replayed {
                st.metrics
                    .decisions
                    .with_label_values(&[row.verdict.as_str()])
                    .inc();
            }
            let mut resp = HttpResponse::Created();
            resp.insert_header((header::LOCATION, format!("/v1/decisions/{}", row.id)));
            if replayed {
                resp.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(resp.json(row_body(&row)?))
        }
    }
}

/// The decision as the API shows it: `id`, `created_at`, `trace_id` (when recorded),
/// `profile`, then the fields of the CLI's JSON output.
#[derive(Serialize)]
pub(super) struct DecisionOut<'a, D: Serialize> {
    #[serde(flatten)]
    recorded: Option<RecordedOut<'a>>,
    profile: Option<&'a str>,
    #[serde(flatten)]
    decision: D,
}

#[derive(Serialize)]
struct RecordedOut<'a> {
    id: &'a str,
    created_at: Rfc3339,
    trace_id: Option<&'a str>,
}

/// A decision made now and not recorded.
fn live_body<'a>(profile: Option<&'a str>, d: &'a Decision) -> DecisionOut<'a, &'a Decision> {
    DecisionOut {
        recorded: None,
        profile,
        decision: d,
    }
}

pub(super) fn row_body(d: &DecisionRow) -> Result<DecisionOut<'_, Map<String, Value>>, Problem> {
    let decision: Map<String, Value> = serde_json::from_str(&d.decision)
        .map_err(|e| Problem::internal(format!("stored decision is not JSON: {e}")))?;
    // The verdict filters and the board read the column; the body shows the content. They
    // can only differ when the database was changed behind the service: say so rather than
    // answer one thing to a filter and another to a read.
    let shown = decision.get("verdict").and_then(Value::as_str);
    if shown != Some(d.verdict.as_str()) {
        tracing::error!(decision_id = %d.id, "a decision's verdict column and content differ");
        return Err(Problem::new(
            super::problem::ProblemType::DecisionTampered,
            format!(
                "decision {} is recorded with the verdict `{}` but its content says `{}`: the \
                 database was changed behind the service; run `modelgate audit verify`",
                d.id,
                d.verdict,
                shown.unwrap_or("none")
            ),
        )
        .with("decision_id", &d.id));
    }
    Ok(DecisionOut {
        recorded: Some(RecordedOut {
            id: &d.id,
            created_at: Rfc3339(d.created_at),
            trace_id: d.trace_id.as_deref(),
        }),
        profile: d.profile.as_deref(),
        decision,
    })
}

/// The OpenTelemetry trace id of the current request, when traces are exported.
fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The digest of the body as canonical JSON (RFC 8785): a retry that writes the same JSON
/// otherwise (member order, spaces, escapes) is the same request for idempotency.
fn canonical_digest(raw: &[u8]) -> Result<String, Problem> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| problem::body_problem(&e))?;
    let canonical = serde_jcs::to_vec(&value).map_err(Problem::internal)?;
    Ok(Digest::of(&canonical).to_string())
}
