//! `GET /metrics` in Prometheus' text format (version 0.0.4), through the `metrics` crate and its Prometheus
//! exporter. Two kinds of figures:
//!
//! - **Counted as they happen**, by whatever code sees them, into the process's recorder ([`prometheus`],
//!   installed once per process when the first router is built: a process is one scrape target):
//!   - `tally_http_requests_total{method,route,status}` and `tally_http_request_duration_seconds{method,route}`
//!     (until the response head), by [`record`]; `route` is the matched route (`/v1/orders/{id}`), `unmatched`
//!     for a path no route serves;
//!   - `tally_events_appended_total{event_type}`: what the command side recorded (`OrderPlaced`,
//!     `OrderConfirmed`, `OrderRejected`: orders placed, confirmed, rejected; and every other event);
//!     `tally_command_conflicts_total{aggregate}` (appends refused because another process moved the stream:
//!     each is decided again) and `tally_command_append_retries_total{aggregate}` (appends repeated after the
//!     store failed with an unknown outcome), in `tally_commands`;
//!   - `tally_event_store_group_commit_appends`: appends per group-commit transaction (PostgreSQL store);
//!   - `tally_projection_visible_lag_seconds{projection}`: from an event's append to the commit that made it
//!     visible in a read model, by this process's projectors (`tally_projections::visibility`);
//!   - `tally_relay_events_total`, `tally_relay_publish_failures_total` and `tally_relay_ack_seconds` (from a
//!     batch's first publish to each acknowledgement): the NATS relay of `tally serve --nats-url`
//!     (`src/nats_relay.rs`), and `tally_relay_lag_seconds` (from an event's append to its acknowledgement);
//!   - `tally_webhook_deliveries_total{webhook,result}`, `tally_webhook_delivery_seconds{webhook}`,
//!     `tally_webhook_lag_seconds{webhook}` (append to the receiver's 2xx) and `tally_webhook_failed_attempts{webhook}`:
//!     the webhook senders (`tally_webhooks::sender`).
//! - **Read when scraped**, from this router's state, into a recorder made for the scrape (so a figure that
//!   cannot be read, the database being down, is left out instead of shown stale): the log's head position;
//!   each projection's position, lag (events and seconds) and whether it stopped on a poison event; the other
//!   followers' (the order process, the NATS relay) position, lag, running and failed; the process's resident memory.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tally_projections::visibility::{LAG_BUCKETS, VISIBLE_LAG};
use tally_projections::ProjectionState;
use tally_webhooks::sender as webhooks;

const HTTP_REQUESTS: &str = "tally_http_requests_total";
const HTTP_DURATION: &str = "tally_http_request_duration_seconds";
const GROUP_COMMIT: &str = "tally_event_store_group_commit_appends";
/// From an event's append to its acknowledgement by JetStream (`src/nats_relay.rs` records it).
const RELAY_LAG: &str = "tally_relay_lag_seconds";
/// Upper bounds of the request duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Upper bounds of the group-commit size histogram, in appends (512 is the writer's default batch limit).
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// How often the recorder's histograms are drained into their buckets between scrapes (bounded memory).
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use. If another recorder was installed first (an embedding
/// program's), that one receives the counted figures and `/metrics` shows only those read when scraped.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            (HTTP_DURATION, &DURATION_BUCKETS[..]),
            (VISIBLE_LAG, &LAG_BUCKETS[..]),
            (GROUP_COMMIT, &BATCH_BUCKETS[..]),
            (webhooks::DELIVERY_SECONDS, &DURATION_BUCKETS[..]),
            (webhooks::LAG_SECONDS, &LAG_BUCKETS[..]),
            (RELAY_LAG, &LAG_BUCKETS[..]),
        ];
        let mut builder = PrometheusBuilder::new();
        for (name, bounds) in buckets {
            builder = builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), bounds).expect("buckets are given");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => describe(),
            Err(error) => tracing::warn!(%error, "another metrics recorder is installed; /metrics shows only the figures read when scraped"),
        }
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are drained only when scraped");
        }
        handle
    })
}

/// The `# HELP` of every figure counted as it happens (in this crate or another).
fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, matched route and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to the response head of an HTTP request.");
    describe_counter!("tally_events_appended_total", "Events recorded by this process's command side, by type.");
    describe_counter!(
        "tally_command_conflicts_total",
        "Appends refused because another process appended to the stream first; the batch is decided again."
    );
    describe_counter!(
        "tally_command_append_retries_total",
        "Appends repeated (same events, same expected version) after the store failed with an unknown outcome."
    );
    describe_histogram!(GROUP_COMMIT, Unit::Count, "Appends committed together in one transaction.");
    describe_histogram!(
        VISIBLE_LAG,
        Unit::Seconds,
        "Time from an event's append to the commit that made it visible in a read model."
    );
    describe_counter!("tally_relay_events_total", "Events published to NATS JetStream and acknowledged by it.");
    describe_counter!(
        "tally_relay_publish_failures_total",
        "Batches the NATS relay could not publish (NATS unreachable, an acknowledgement refused or timed out)."
    );
    describe_histogram!(
        "tally_relay_ack_seconds",
        Unit::Seconds,
        "Time from a relayed batch's first publish to each event's acknowledgement by JetStream."
    );
    describe_histogram!(RELAY_LAG, Unit::Seconds, "Time from an event's append to its acknowledgement by JetStream.");
    describe_counter!(
        webhooks::DELIVERIES,
        "Webhook delivery attempts by subscription and result: delivered (2xx), failed (retried), gone (410)."
    );
    describe_histogram!(
        webhooks::DELIVERY_SECONDS,
        Unit::Seconds,
        "Time of a webhook delivery attempt, by subscription."
    );
    describe_histogram!(
        webhooks::LAG_SECONDS,
        Unit::Seconds,
        "Time from an event's append to its delivery (the receiver's 2xx), by subscription."
    );
    describe_gauge!(
        webhooks::FAILED_ATTEMPTS,
        "Failed attempts in a row at the event a webhook subscription's sender is stuck on (0: not failing)."
    );
}

/// Middleware: counts every request by method, matched route and status, and its time to the response head.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        // Anything else is a 405 or a 404: one label, whatever a client invents.
        _ => "other",
    };
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.clone()).record(started.elapsed());
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// Prometheus metrics
///
/// HTTP requests by route, method and status, and their durations; events appended by type; version conflicts and
/// append retries; group-commit batch sizes; the log's head position, each projection's position, lag and failure,
/// append-to-visibility lag; resident memory. In Prometheus' text format 0.0.4. A part that cannot be read (the
/// database is down) is left out rather than failing the scrape. Needs a key (Prometheus:
/// `authorization: {type: Bearer, credentials: <key>}` in the scrape config).
#[utoipa::path(get, path = "/metrics", tag = "ops", operation_id = "metrics",
    responses((status = 200, description = "The metrics.", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let head = state.store.head_position().await.ok();
    let projections = state.projector.status().await.ok().unwrap_or_default();
    let followers = state.projector.other_followers().await.ok().unwrap_or_default();
    let scraped = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&scraped, || {
        if let Some(head) = head {
            describe_gauge!("tally_event_log_head_position", "Position of the last event in the log.");
            gauge!("tally_event_log_head_position").set(head as f64);
        }
        describe_gauge!("tally_projection_position", "Every event up to this position is applied.");
        describe_gauge!("tally_projection_lag_events", "Positions the projection has still to examine.");
        describe_gauge!("tally_projection_lag_seconds", "Age of the oldest event still to apply.");
        describe_gauge!("tally_projection_failed", "1 when the projection stopped on a poison event.");
        for s in &projections {
            let name = s.name.clone();
            gauge!("tally_projection_position", "projection" => name.clone()).set(s.position as f64);
            gauge!("tally_projection_lag_events", "projection" => name.clone()).set(s.lag_events as f64);
            gauge!("tally_projection_lag_seconds", "projection" => name.clone()).set(s.lag_seconds);
            let failed = f64::from(u8::from(s.state == ProjectionState::Failed));
            gauge!("tally_projection_failed", "projection" => name).set(failed);
        }
        describe_gauge!("tally_follower_position", "The checkpoint of a follower of the log other than a projection.");
        describe_gauge!("tally_follower_lag_events", "Positions after a follower's checkpoint (the head less it).");
        describe_gauge!(
            "tally_follower_running",
            "1 while some process holds the follower's lease and no failure stops it."
        );
        describe_gauge!("tally_follower_failed", "1 when the follower stopped on an event it cannot handle.");
        for f in &followers {
            let name = f.name.clone();
            gauge!("tally_follower_position", "follower" => name.clone()).set(f.position as f64);
            gauge!("tally_follower_lag_events", "follower" => name.clone()).set(f.lag_events as f64);
            let running = f64::from(u8::from(f.state == ProjectionState::Running));
            gauge!("tally_follower_running", "follower" => name.clone()).set(running);
            let failed = f64::from(u8::from(f.state == ProjectionState::Failed));
            gauge!("tally_follower_failed", "follower" => name).set(failed);
        }
        if let Some(bytes) = resident_bytes() {
            describe_gauge!("process_resident_memory_bytes", Unit::Bytes, "Resident memory of this process.");
            gauge!("process_resident_memory_bytes").set(bytes as f64);
        }
    });
    let mut body = prometheus().render();
    body.push_str(&scraped.handle().render());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// VmRSS from `/proc/self/status` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// In a scrape, the sum of the series of `name` whose labels include every one of `labels` (0 when none does).
#[cfg(test)]
pub(crate) fn count(text: &str, name: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::count;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn metrics_count_requests_and_show_the_projections() {
        let (app, _) = crate::test_support::app().await;
        let response = app.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        let response = app.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let healthz = count(&text, "tally_http_requests_total", &["route=\"/healthz\"", "status=\"200\""]);
        assert!(healthz >= 1, "the /healthz request was counted:\n{text}");
        assert!(text.contains("tally_event_log_head_position 1"), "the test's admin key: {text}");
        assert!(text.contains("tally_projection_position{projection=\"orders\"} 0"), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
    }
}
