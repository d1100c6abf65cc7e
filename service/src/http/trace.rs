//! The span of every request (tracing-actix-web) and one log event when it ends.
//!
//! The span is tracing-actix-web's root span (OpenTelemetry semantic conventions:
//! `http.method`, `http.route`, `http.target`, `http.status_code`, `request_id`, `trace_id`,
//! `otel.name` "METHOD /route"...) plus `decision_id`, recorded by the evaluation handler so
//! that a decision and its trace can be found from each other. Request headers are never
//! recorded (`Authorization` included); only the user agent is.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use std::time::Instant;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The root span builder of the server.
pub struct RootSpan;

/// When the request started (kept in the request's extensions).
struct Started(Instant);

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        tracing_actix_web::root_span!(request, decision_id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        // Called inside the root span: the event below carries its fields too.
        let (req, status) = match outcome {
            Ok(res) => (Some(res.request()), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        let status_code = status.as_u16();
        match req {
            Some(req) => {
                let latency_ms = req
                    .extensions()
                    .get::<Started>()
                    .map_or(0.0, |s| s.0.elapsed().as_secs_f64() * 1000.0);
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_string());
                let method = req.method().as_str();
                let path = req.path();
                if status.is_server_error() {
                    tracing::warn!(
                        method,
                        route,
                        path,
                        status = status_code,
                        latency_ms,
                        "request failed"
                    );
                } else {
                    tracing::info!(
                        method,
                        route,
                        path,
                        status = status_code,
                        latency_ms,
                        "request"
                    );
                }
            }
            None => tracing::warn!(status = status_code, "request failed before a response"),
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Records the decision id on the request's root span (the current span of a handler).
pub fn record_decision_id(id: &str) {
    Span::current().record("decision_id", id);
}
