//! `POST /v1/evaluations`: the HTTP face of [`crate::app::evaluate`].

use super::problem::Problem;
use super::request::{Data, JsonBody, Reply, tenant};
use crate::app::evaluate::{Document, Input, Outcome, Request, evaluate, sha256};
use crate::store::DecisionRow;
use crate::time::rfc3339_micros;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use modelgate_engine::context::UseContext;
use serde::Deserialize;
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
        },
        context: body.context,
        profile: body.profile,
        model_ref: body.model_ref,
        dry_run: q.dry_run,
        requested_by: super::auth::principal(&req).map(|p| p.key_id),
        idempotency_key: idempotency_key(&req)?,
        request_digest: sha256(&raw),
        trace_id: current_trace_id(),
    };
    let out = evaluate(&st, tenant, &request).await?;
    st.metrics.evaluation.observe(out.evaluation.as_secs_f64());
    match out.value {
        Outcome::Evaluated { decision, profile } => {
            let json = serde_json::to_string(&decision).map_err(Problem::internal)?;
            Ok(HttpResponse::Ok().json(decision_body(None, profile.as_deref(), &json)?))
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

/// The decision as the API shows it: `id`, `created_at`, `profile`, then the fields of
/// the CLI's JSON output.
pub(super) fn decision_body(
    recorded: Option<&DecisionRow>,
    profile: Option<&str>,
    decision_json: &str,
) -> Result<Value, Problem> {
    let inner: Map<String, Value> = serde_json::from_str(decision_json)
        .map_err(|e| Problem::internal(format!("stored decision is not JSON: {e}")))?;
    let mut out = Map::new();
    if let Some(d) = recorded {
        out.insert("id".into(), d.id.clone().into());
        out.insert("created_at".into(), rfc3339_micros(d.created_at).into());
        out.insert(
            "trace_id".into(),
            d.trace_id.clone().map_or(Value::Null, Value::from),
        );
    }
    out.insert("profile".into(), profile.map_or(Value::Null, Value::from));
    out.extend(inner);
    Ok(Value::Object(out))
}

pub(super) fn row_body(d: &DecisionRow) -> Result<Value, Problem> {
    decision_body(Some(d), d.profile.as_deref(), &d.decision)
}

/// The OpenTelemetry trace id of the current request, when traces are exported.
fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
