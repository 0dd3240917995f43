//! The standard middleware every request passes, from `tower-http` where it has it ([`crate::router`] stacks
//! them; docs/decisions.md, 2026-12-04, "Standard middleware and metrics"):
//!
//! - **Request id.** A request without a usable `X-Request-Id` (absent, empty, longer than 200 bytes, not visible
//!   ASCII) gets a new UUIDv7 ([`drop_unusable_request_id`], then tower-http's `SetRequestId` with
//!   [`NewRequestId`]), and every answer echoes the id (`PropagateRequestId`): 404s, timeouts and replays of an
//!   idempotent request included (the id is this request's, not the first one's). A UUID id becomes the
//!   correlation id of the events a command appends.
//! - **A span per request** ([`trace`]): `http_request` with the method, the matched route (not the path: ids in
//!   paths would make every request its own name), the request id and, once answered, the status. Logs written
//!   while the request runs (and while a streamed body is sent) carry them. No header is recorded, so the
//!   `Authorization` key never reaches a log. With OpenTelemetry export on (`--otlp-endpoint`), a `traceparent`
//!   header makes the span a child of the caller's trace, and [`current_traceparent`] gives the events of a
//!   request that came without one the trace Tally started for it.
//! - **Compression** ([`compression`]): gzip at its fastest level, for answers of at least
//!   [`COMPRESS_FROM_BYTES`] (lists, CSV, the export) when the client sends `Accept-Encoding: gzip`. Never the
//!   live tail (`text/event-stream`): a compressor holds bytes back until its buffer fills, and the tail must send
//!   each event as it comes.
//! - **A time limit** ([`time_limit`]): a request whose answer has not begun after the configured time (default
//!   [`DEFAULT_REQUEST_TIMEOUT`]) is answered 503 `unavailable` with `Retry-After`. It bounds the time to the
//!   response head; a body that has started streaming is never cut. The audit routes that read the whole log
//!   (the live tail, the export, verification, digests) are routed outside it.

#[cfg(test)]
mod tests;

use crate::problem::{Problem, ProblemKind};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use std::time::Duration;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tower_http::CompressionLevel;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The longest `X-Request-Id` kept, in bytes.
const MAX_REQUEST_ID_BYTES: usize = 200;
/// Answers smaller than this are sent as they are: gzip would save a few bytes for the CPU it costs.
pub const COMPRESS_FROM_BYTES: u16 = 1024;
/// How long a request may take to begin its answer, unless configured otherwise (`--request-timeout`). Above
/// the longest wait a request makes on purpose (read-your-writes: 5 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Removes an `X-Request-Id` that cannot serve as one, so the request gets a new id (`map_request`).
pub(crate) async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = |id: &HeaderValue| !id.is_empty() && id.len() <= MAX_REQUEST_ID_BYTES && id.to_str().is_ok();
    if request.headers().get(&X_REQUEST_ID).is_some_and(|id| !usable(id)) {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// New request ids: UUIDv7, so they sort by time and serve as the correlation id of a command's events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).ok()?;
        Some(RequestId::new(id))
    }
}

/// tower-http's `TraceLayer` with Tally's span and no log line of its own but a debug one per answer (failures
/// are logged where their cause is known, in `error`).
pub(crate) fn trace() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), Answered, (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(Answered)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Makes the `http_request` span of a request (see the module doc).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
        let request_id = request.headers().get(&X_REQUEST_ID).and_then(|id| id.to_str().ok());
        let span = tracing::info_span!(
            "http_request",
            http.method = %request.method(),
            http.route = route,
            request.id = request_id,
            http.status = tracing::field::Empty
        );
        if request.headers().contains_key(&TRACEPARENT) {
            let headers = Headers(request.headers());
            let parent = opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&headers));
            span.set_parent(parent);
        }
        span
    }
}

/// Records the status on the request's span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered;

impl<B> OnResponse<B> for Answered {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        span.record("http.status", response.status().as_u16());
        tracing::debug!(duration_ms = latency.as_secs_f64() * 1e3, "answered");
    }
}

/// A request's headers as OpenTelemetry's propagators read them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The W3C `traceparent` of the current span, when OpenTelemetry export is on (`None` otherwise).
pub(crate) fn current_traceparent() -> Option<String> {
    let context = Span::current().context();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid().then(|| format!("00-{}-{}-{:02x}", ids.trace_id(), ids.span_id(), ids.trace_flags().to_u8()))
}

/// gzip for answers of at least [`COMPRESS_FROM_BYTES`] (or of unknown length: a stream), never for the live tail.
pub(crate) fn compression() -> CompressionLayer<impl Predicate + Send + Sync + 'static> {
    let compressible = SizeAbove::new(COMPRESS_FROM_BYTES).and(NotForContentType::SSE).and(NotForContentType::IMAGES);
    CompressionLayer::new().quality(CompressionLevel::Fastest).compress_when(compressible)
}

/// Middleware: answers 503 `unavailable` when the answer has not begun within the time limit (`State`). The
/// request's handler is dropped, but a command it queued may still be applied (a keyed attempt runs on in its
/// own task and records its outcome): a retry with the same `Idempotency-Key` gets that outcome.
pub(crate) async fn time_limit(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis(), "request timed out");
            let detail = format!(
                "no answer within {} ms; a command may still be applied: repeat it with the same Idempotency-Key \
                 to get its outcome",
                limit.as_millis()
            );
            Problem::new(ProblemKind::Unavailable, detail).with_retry_after(1).into_response()
        }
    }
}
