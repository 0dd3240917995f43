//! The standard middleware through the whole router on a real PostgreSQL: request ids on every answer, gzip for
//! large answers only, the time limit (and the routes outside it), the figures `/metrics` shows after a few
//! commands, and the trace a command's events name.

use super::{current_traceparent, RequestSpan, COMPRESS_FROM_BYTES};
use crate::test_support;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;
use tally_store::{ExpectedVersion, NewEvent};
use tower::ServiceExt;
use tower_http::trace::MakeSpan;

async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone().oneshot(request).await.unwrap()
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, uri: &str, body: Value) -> Response {
    let request = Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string()));
    send(app, request.unwrap()).await
}

async fn body(response: Response) -> Bytes {
    axum::body::to_bytes(response.into_body(), 1 << 26).await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().unwrap())
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("a gzip body");
    text
}

/// Appends `count` events of about 200 bytes of JSON each, directly to the store.
async fn append_events(state: &AppState, count: usize) {
    for n in 0..count {
        let event = NewEvent::new("Counted", json!({ "n": n, "note": "x".repeat(100) }));
        state.store.append(&format!("counter-{}", n % 5), ExpectedVersion::Any, vec![event]).await.unwrap();
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let (app, _) = test_support::app().await;

    // A query route: a new UUIDv7 when the client sends none, the client's own otherwise.
    let response = get(&app, "/v1/products", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = uuid::Uuid::parse_str(header(&response, "x-request-id").expect("an x-request-id")).expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    let response = get(&app, "/v1/products", &[("x-request-id", "query-1")]).await;
    assert_eq!(header(&response, "x-request-id"), Some("query-1"));

    // A path no route serves: the 404 problem echoes it too.
    let response = get(&app, "/v1/nothing-here", &[("x-request-id", "lost-1")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&response, "content-type"), Some("application/problem+json"));
    assert_eq!(header(&response, "x-request-id"), Some("lost-1"));
    let response = get(&app, "/v1/nothing-here", &[]).await;
    assert!(uuid::Uuid::parse_str(header(&response, "x-request-id").unwrap()).is_ok());

    // An id that cannot serve as one (here: too long) is replaced by a new one.
    let long = "r".repeat(201);
    let response = get(&app, "/healthz", &[("x-request-id", &long)]).await;
    assert!(uuid::Uuid::parse_str(header(&response, "x-request-id").unwrap()).is_ok());
}

#[tokio::test]
async fn large_answers_are_gzipped_when_asked_and_small_ones_are_not() {
    let state = test_support::state().await;
    let app = test_support::router(&state).await;
    append_events(&state, 60).await;

    // A list: gzip when asked, the same JSON once decompressed.
    let plain = get(&app, "/v1/events?limit=60", &[]).await;
    assert_eq!(header(&plain, "content-encoding"), None, "not asked for gzip");
    let plain: Value = serde_json::from_slice(&body(plain).await).unwrap();
    let zipped = get(&app, "/v1/events?limit=60", &[("accept-encoding", "gzip")]).await;
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(header(&zipped, "content-encoding"), Some("gzip"));
    assert_eq!(header(&zipped, "vary"), Some("accept-encoding"));
    let zipped_body = body(zipped).await;
    let text = gunzip(&zipped_body);
    assert!(text.len() > 3 * zipped_body.len(), "{} bytes of JSON in {} of gzip", text.len(), zipped_body.len());
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), plain);

    // The export (a stream of unknown length): gzip too, every line there.
    let export = get(&app, "/v1/export", &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&export, "content-encoding"), Some("gzip"));
    let lines = gunzip(&body(export).await);
    // The test's admin key was the first event.
    assert_eq!(lines.lines().count(), 61);

    // A small answer is sent as it is.
    let small = get(&app, "/healthz", &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&small, "content-encoding"), None);
    assert!(body(small).await.len() < usize::from(COMPRESS_FROM_BYTES));
}

/// The time limit of `state` set to zero: a route under it answers 503 unless its answer is ready at once, which
/// an answer that needs the database never is. Deterministic, where a short real limit would race the database.
async fn app_without_time(state: &mut AppState) -> Router {
    state.request_timeout = Duration::ZERO;
    test_support::router(state).await
}

#[tokio::test]
async fn a_request_past_the_time_limit_is_a_503_problem() {
    let mut state = test_support::state().await;
    let app = app_without_time(&mut state).await;
    let response = get(&app, "/v1/products", &[("x-request-id", "slow-1")]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "content-type"), Some("application/problem+json"));
    assert_eq!(header(&response, "retry-after"), Some("1"));
    assert_eq!(header(&response, "x-request-id"), Some("slow-1"));
    let problem: Value = serde_json::from_slice(&body(response).await).unwrap();
    assert_eq!(problem["type"], "/problems/unavailable");
    assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"), "{problem}");

    // The routes that read the whole log are outside the limit.
    assert_eq!(get(&app, "/v1/audit/verify", &[]).await.status(), StatusCode::OK);
    let export = get(&app, "/v1/export", &[]).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(body(export).await.iter().filter(|byte| **byte == b'\n').count(), 1, "the admin key's event");
}

#[tokio::test]
async fn the_live_tail_is_neither_compressed_nor_cut_by_the_time_limit() {
    let mut state = test_support::state().await;
    let app = app_without_time(&mut state).await;
    let headers = [("accept", "text/event-stream"), ("accept-encoding", "gzip")];
    let response = get(&app, "/v1/events/stream?after=1", &headers).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&response, "content-encoding"), None, "each event is sent as it comes");

    // An event appended well after the tail opened still arrives, uncompressed, on the same stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    append_events(&state, 1).await;
    let mut stream = response.into_body().into_data_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("the event in time");
        text.push_str(std::str::from_utf8(&chunk.expect("the tail goes on").unwrap()).unwrap());
    }
    assert!(text.starts_with("id: 2\n") || text.starts_with("id:2\n"), "{text}");
}

#[tokio::test]
async fn metrics_show_requests_per_route_and_command_outcomes() {
    let (app, _) = test_support::app().await;
    let sku = "MW-TEE";
    let product = json!({"sku": sku, "name": "Middleware tee", "price": {"amount": 1999, "currency": "EUR"}});
    assert_eq!(post(&app, "/v1/products", product).await.status(), StatusCode::CREATED);
    let receipt = json!({"quantity": 1, "reference": "PO-1"});
    assert_eq!(post(&app, &format!("/v1/inventory/{sku}/receipts"), receipt).await.status(), StatusCode::CREATED);
    let order = json!({"customer_id": "cus-1", "lines": [{"sku": sku, "quantity": 1}]});
    assert_eq!(post(&app, "/v1/orders", order.clone()).await.status(), StatusCode::CREATED);
    assert_eq!(post(&app, "/v1/orders", order).await.status(), StatusCode::CONFLICT, "the stock is gone");
    assert_eq!(get(&app, "/v1/orders/not-an-order/nothing", &[]).await.status(), StatusCode::NOT_FOUND);

    let response = get(&app, "/metrics", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(body(response).await.to_vec()).unwrap();
    // Counters are per process and tests run side by side: at least what this test did.
    let count = |name: &str, labels: &[&str]| crate::metrics::count(&text, name, labels);
    let orders = ["method=\"POST\"", "route=\"/v1/orders\""];
    assert!(count("tally_http_requests_total", &[orders[0], orders[1], "status=\"201\""]) >= 1, "{text}");
    assert!(count("tally_http_requests_total", &[orders[0], orders[1], "status=\"409\""]) >= 1, "{text}");
    let receipts = "route=\"/v1/inventory/{sku}/receipts\"";
    assert!(count("tally_http_requests_total", &[receipts, "status=\"201\""]) >= 1, "{text}");
    assert!(count("tally_http_requests_total", &["route=\"unmatched\"", "status=\"404\""]) >= 1, "{text}");
    assert!(count("tally_http_request_duration_seconds_count", &[orders[1]]) >= 2, "{text}");
    for (event_type, at_least) in [("OrderPlaced", 2), ("OrderConfirmed", 1), ("OrderRejected", 1)] {
        let label = format!("event_type=\"{event_type}\"");
        assert!(count("tally_events_appended_total", &[&label]) >= at_least, "{event_type}: {text}");
    }
    assert!(text.contains("# TYPE tally_event_store_group_commit_appends histogram"), "{text}");
    assert!(text.contains("tally_event_store_group_commit_appends_bucket{le=\"1\"}"), "{text}");
}

#[test]
fn the_events_of_a_request_name_its_trace() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, || {
        // A request with a `traceparent`: its span continues the caller's trace.
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let request = Request::get("/v1/orders")
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
            .body(())
            .unwrap();
        let span = RequestSpan.make_span(&request);
        let traceparent = span.in_scope(current_traceparent).expect("a trace");
        assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");

        // Without one: the trace Tally started, which the command's events then name.
        let span = RequestSpan.make_span(&Request::get("/v1/orders").body(()).unwrap());
        let traceparent = span.in_scope(current_traceparent).expect("a trace");
        assert_eq!(traceparent.len(), 55, "{traceparent}");
        assert!(!traceparent.contains(trace_id));
    });
    // Without OpenTelemetry export there is no trace to name: the command side makes a trace id of its own.
    assert_eq!(current_traceparent(), None);
}
