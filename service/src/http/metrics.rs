//! Prometheus metrics: requests and latency by route and status, decisions by verdict,
//! evaluation latency, database pool use.

use super::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Instant;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub decisions: IntCounterVec,
    pub evaluation: Histogram,
    pub hub_fetch: Histogram,
    pool: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "modelgate_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "modelgate_http_request_duration_seconds",
                "HTTP request latency by route and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method", "status"],
        )?;
        let decisions = IntCounterVec::new(
            Opts::new("modelgate_decisions_total", "Recorded decisions by verdict"),
            &["verdict"],
        )?;
        let evaluation = Histogram::with_opts(
            HistogramOpts::new(
                "modelgate_evaluation_duration_seconds",
                "Parse and evaluation time of one document",
            )
            .buckets(vec![
                0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
            ]),
        )?;
        let hub_fetch = Histogram::with_opts(
            HistogramOpts::new(
                "modelgate_hub_fetch_duration_seconds",
                "Time to fetch an hf: reference from the Hugging Face Hub (or its cache) \
                 and build its records, for evaluations",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0,
            ]),
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "modelgate_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        let collectors: [Box<dyn prometheus::core::Collector>; 6] = [
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(decisions.clone()),
            Box::new(evaluation.clone()),
            Box::new(hub_fetch.clone()),
            Box::new(pool.clone()),
        ];
        for c in collectors {
            registry.register(c)?;
        }
        Ok(Metrics {
            registry,
            requests,
            latency,
            decisions,
            evaluation,
            hub_fetch,
            pool,
        })
    }

    /// The text exposition, with the pool gauges read now.
    pub fn render(&self, pool: crate::store::PoolStats) -> String {
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool.size.saturating_sub(pool.idle)));
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Counts and times every request by its route pattern (`unmatched` for a 404).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        let status = res.status().as_u16().to_string();
        let labels = [route.as_str(), method.as_str(), status.as_str()];
        state.metrics.requests.with_label_values(&labels).inc();
        state
            .metrics
            .latency
            .with_label_values(&labels)
            .observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}
