//! Logging and tracing: `tracing` to stderr, pretty for people on a terminal, JSON lines for machines; and, when
//! an OTLP endpoint is configured (`--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT`), every span exported to it
//! as OpenTelemetry traces over OTLP/HTTP (protobuf), with W3C `traceparent` propagation (the API makes a
//! request's span a child of the caller's trace; `tally_api`'s `layers`).

use crate::config::LogFormat;
use anyhow::{Context, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// What must outlive the program's work: the trace exporter, flushed by [`Telemetry::shutdown`].
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (the exporter's own timeout bounds the wait).
    pub fn shutdown(self) {
        if let Some(traces) = self.traces {
            if let Err(error) = traces.shutdown() {
                eprintln!("tally: exporting the last traces failed: {error}");
            }
        }
    }
}

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`); spans of that level and
/// above are exported when `otlp_endpoint` (the collector's base URL, e.g. `http://localhost:4318`) is given.
pub fn init(format: Option<LogFormat>, otlp_endpoint: Option<&str>) -> Result<Telemetry> {
    let format = format.unwrap_or(if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let traces = otlp_endpoint.map(tracer_provider).transpose()?;
    let otel = traces.as_ref().map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("tally")));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => registry.with(fmt).init(),
        LogFormat::Json => registry.with(fmt.json().flatten_event(true)).init(),
    }
    if traces.is_some() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { traces })
}

/// The OTLP/HTTP exporter of `endpoint` (traces go to `{endpoint}/v1/traces`, as the OTLP specification has
/// it for `OTEL_EXPORTER_OTLP_ENDPOINT`), batched on a thread of its own, and W3C trace-context propagation.
fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider> {
    let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()
        .context("the OTLP endpoint (--otlp-endpoint) is not a usable URL")?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder().with_service_name("tally").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}
