//! Telemetry: `tracing` logs on stderr (text or one JSON object per line) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, export of
//! the spans to an OpenTelemetry collector over OTLP/HTTP (protobuf).
//!
//! * [`Settings::from_env`] reads the configuration (the log format comes from
//!   `serve`'s resolved configuration; everything else from the environment).
//! * [`subscriber`] builds a subscriber writing to any writer, without installing it: tests
//!   use it with `tracing::subscriber::with_default`.
//! * [`init`] installs it as the process's global subscriber (and bridges the `log` crate,
//!   which actix uses) and returns a [`Guard`] that flushes and shuts down the exporter when
//!   dropped, so a graceful shutdown exports the last spans.
//!
//! Secrets: no layer records request headers, and `DATABASE_URL` is only ever logged
//! through [`crate::serve::Database::describe`], which drops the credentials.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The service name of the spans unless `OTEL_SERVICE_NAME` says otherwise.
pub const SERVICE_NAME: &str = "modelgate";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines: time, level, target, message, fields.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`, the event's
    /// fields at the top level, and the current span (`span`).
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format must be text or json, got `{other}`")),
        }
    }
}

/// Where and how spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otlp {
    /// The full traces URL (`…/v1/traces`).
    pub endpoint: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Other resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, `service.version`).
    pub resource: Vec<(String, String)>,
    /// Timeout of one export request (`OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds; 10 s).
    pub timeout: Duration,
}

/// The resolved telemetry configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub format: LogFormat,
    /// `EnvFilter` directives: `MODELGATE_LOG`, else `RUST_LOG`, else `info`.
    pub filter: String,
    /// `None`: no export.
    pub otlp: Option<Otlp>,
}

impl Settings {
    /// Reads the settings; `env` reads an environment variable. Errors name the variable.
    pub fn from_env(
        log_format: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, String> {
        let format = LogFormat::parse(log_format)?;
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (var, filter) = match (get("MODELGATE_LOG"), get("RUST_LOG")) {
            (Some(f), _) => ("MODELGATE_LOG", f),
            (None, Some(f)) => ("RUST_LOG", f),
            (None, None) => ("the default filter", "info".to_string()),
        };
        EnvFilter::try_new(&filter)
            .map_err(|e| format!("{var} is not a valid log filter (`{filter}`): {e}"))?;
        Ok(Settings {
            format,
            filter,
            otlp: otlp_from_env(&get)?,
        })
    }
}

fn otlp_from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Otlp>, String> {
    if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none")
    {
        return Ok(None);
    }
    let (var, endpoint) = match (
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        // The per-signal URL is used as is; the base URL gets the signal's path.
        (Some(url), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
        (None, Some(base)) => (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}/v1/traces", base.trim_end_matches('/')),
        ),
        (None, None) => return Ok(None),
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(format!(
            "{var} must be an http:// or https:// URL, got `{endpoint}`"
        ));
    }
    for pvar in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(p) = get(pvar) {
            if p != "http/protobuf" {
                return Err(format!(
                    "{pvar} is `{p}`, but modelgate exports traces over http/protobuf only \
                     (OTLP/HTTP, port 4318 on a standard collector)"
                ));
            }
            break;
        }
    }
    let timeout = match get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", v))
        .or_else(|| get("OTEL_EXPORTER_OTLP_TIMEOUT").map(|v| ("OTEL_EXPORTER_OTLP_TIMEOUT", v)))
    {
        None => Duration::from_secs(10),
        Some((tvar, v)) => Duration::from_millis(
            v.parse()
                .map_err(|_| format!("{tvar} must be a number of milliseconds, got `{v}`"))?,
        ),
    };
    // OTEL_RESOURCE_ATTRIBUTES: `key=value,key=value` (values percent-encoded by the spec;
    // plain values are taken as they are). OTEL_SERVICE_NAME wins over service.name there.
    let mut resource: Vec<(String, String)> = get("OTEL_RESOURCE_ATTRIBUTES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            (!k.is_empty()).then(|| (k.to_string(), percent_decode(v)))
        })
        .collect();
    let service_name = get("OTEL_SERVICE_NAME")
        .or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| SERVICE_NAME.to_string());
    resource.retain(|(k, _)| k != "service.name");
    if !resource.iter().any(|(k, _)| k == "service.version") {
        resource.push((
            "service.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ));
    }
    Ok(Some(Otlp {
        endpoint,
        service_name,
        resource,
        timeout,
    }))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Keeps the exporter alive; flushes the last spans and shuts the exporter down when
/// dropped (or on [`Guard::shutdown`]).
#[derive(Debug, Default)]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Guard {
    /// True when spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (idempotent).
    pub fn shutdown(&mut self) -> Result<(), String> {
        match self.provider.take() {
            None => Ok(()),
            Some(p) => p
                .shutdown()
                .map_err(|e| format!("flushing the OTLP span exporter failed: {e}")),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            // The subscriber may be gone by now; stderr is the last resort.
            eprintln!("modelgate: {e}");
        }
    }
}

type Base = Layered<EnvFilter, Registry>;
type BoxedLayer = Box<dyn Layer<Base> + Send + Sync>;

/// Builds the subscriber (filter, log lines to `writer`, OTLP layer when configured)
/// without installing it.
pub fn subscriber<W>(
    settings: &Settings,
    writer: W,
) -> Result<(Box<dyn Subscriber + Send + Sync>, Guard), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.filter)
        .map_err(|e| format!("invalid log filter `{}`: {e}", settings.filter))?;
    let mut layers: Vec<BoxedLayer> = Vec::new();
    layers.push(match settings.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
    });
    let mut guard = Guard::default();
    if let Some(otlp) = &settings.otlp {
        let provider = tracer_provider(otlp)?;
        let tracer = provider.tracer("modelgate");
        // The exporter's own HTTP client must not feed spans back into the exporter.
        let own = tracing_subscriber::filter::filter_fn(|m| {
            let t = m.target();
            !["hyper", "h2", "reqwest", "opentelemetry", "tower"]
                .iter()
                .any(|p| t.starts_with(p))
        });
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(own)
                .boxed(),
        );
        guard.provider = Some(provider);
    }
    let s = Registry::default().with(filter).with(layers);
    Ok((Box::new(s), guard))
}

/// Installs the subscriber for the whole process (logs on stderr) and bridges `log`
/// records. When a global subscriber is already installed (several servers in one test
/// process), events go to that one and the returned guard exports nothing.
///
/// Call it outside any async runtime: the OTLP exporter's blocking HTTP client refuses to
/// be built or dropped inside one.
pub fn init(log_format: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Guard, String> {
    let settings = Settings::from_env(log_format, env)?;
    let (subscriber, mut guard) = subscriber(&settings, std::io::stderr)?;
    if guard.exporting() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    if subscriber.try_init().is_err() {
        let _ = guard.shutdown();
        return Ok(Guard::default());
    }
    if let Some(o) = &settings.otlp {
        tracing::info!(
            endpoint = %o.endpoint,
            service_name = %o.service_name,
            "exporting traces over OTLP/HTTP to {}",
            o.endpoint
        );
    }
    Ok(guard)
}

fn tracer_provider(o: &Otlp) -> Result<SdkTracerProvider, String> {
    let client = BlockingClient::new(o.timeout)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(o.endpoint.clone())
        .with_timeout(o.timeout)
        .build()
        .map_err(|e| format!("cannot set up the OTLP exporter to {}: {e}", o.endpoint))?;
    let resource = Resource::builder_empty()
        .with_service_name(o.service_name.clone())
        .with_attributes(
            o.resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The exporter's HTTP client: the workspace's reqwest blocking client. The batch span
/// processor runs exports on its own thread, so blocking there is fine.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    fn new(timeout: Duration) -> Result<BlockingClient, String> {
        // Built on a plain thread: reqwest's blocking client panics when built inside an
        // async runtime.
        std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .build()
        })
        .join()
        .map_err(|_| "building the OTLP HTTP client panicked".to_string())?
        .map(BlockingClient)
        .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for BlockingClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let (parts, body) = request.into_parts();
        let resp = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body.to_vec())
            .send()?
            .error_for_status()?;
        let mut out = opentelemetry_http::Response::builder().status(resp.status());
        if let Some(h) = out.headers_mut() {
            *h = resp.headers().clone();
        }
        Ok(out.body(resp.bytes()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env("text", &|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_info_and_no_export() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.filter, "info");
        assert_eq!(s.otlp, None);
        assert_eq!(s.format, LogFormat::Text);
    }

    #[test]
    fn modelgate_log_wins_over_rust_log_and_bad_filters_are_named() {
        let s = settings(&[("MODELGATE_LOG", "debug"), ("RUST_LOG", "warn")]).unwrap();
        assert_eq!(s.filter, "debug");
        assert_eq!(settings(&[("RUST_LOG", "warn")]).unwrap().filter, "warn");
        let e = settings(&[("MODELGATE_LOG", "modelgate=loud")]).unwrap_err();
        assert!(e.contains("MODELGATE_LOG"), "{e}");
        assert!(LogFormat::parse("yaml").unwrap_err().contains("yaml"));
    }

    #[test]
    fn endpoint_resolution() {
        let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]).unwrap();
        let o = s.otlp.unwrap();
        assert_eq!(o.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(o.service_name, "modelgate");
        assert!(o.resource.contains(&(
            "service.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string()
        )));
        let o = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/traces"),
            ("OTEL_SERVICE_NAME", "gate-eu"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,service.name=x,team=a%2Cb",
            ),
        ])
        .unwrap()
        .otlp
        .unwrap();
        assert_eq!(o.endpoint, "http://b:9999/traces");
        assert_eq!(o.service_name, "gate-eu");
        assert!(
            o.resource
                .contains(&("deployment.environment".into(), "prod".into()))
        );
        assert!(o.resource.contains(&("team".into(), "a,b".into())));
        assert!(!o.resource.iter().any(|(k, _)| k == "service.name"));
    }

    #[test]
    fn export_can_be_disabled_and_bad_settings_are_refused() {
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")];
        assert!(settings(&on).unwrap().otlp.is_some());
        let off = [on[0], ("OTEL_SDK_DISABLED", "true")];
        assert_eq!(settings(&off).unwrap().otlp, None);
        let grpc = [on[0], ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        assert!(settings(&grpc).unwrap_err().contains("http/protobuf"));
        let bad = [("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318")];
        assert!(
            settings(&bad)
                .unwrap_err()
                .contains("OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        let t = [on[0], ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")];
        assert!(settings(&t).unwrap_err().contains("milliseconds"));
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_event_and_span_fields() {
        let buf = Buf::default();
        let mut s = settings(&[]).unwrap();
        s.format = LogFormat::Json;
        let (sub, _g) = subscriber(&s, buf.clone()).unwrap();
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("store.get_pack", tenant = "t1");
            span.in_scope(|| tracing::info!(status = 201, "done"));
            tracing::debug!("filtered out at info");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["message"], "done");
        assert_eq!(lines[0]["status"], 201);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["span"]["name"], "store.get_pack");
        assert_eq!(lines[0]["span"]["tenant"], "t1");
    }
}
