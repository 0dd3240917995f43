//! `GET /metrics`: what an operator graphs and alerts on, in Prometheus' text format (version 0.0.4).
//!
//! - HTTP requests by method and status class, and their durations as a histogram: counted by a middleware in
//!   process-wide atomics (one process is one scrape target, as with any Prometheus client's default registry).
//! - The event log's head position, and for each projection its position, lag (events and seconds) and whether it
//!   has stopped on a poison event, read when scraped.
//! - For each projection, the time from an event's append to its visibility in the read model, as a histogram
//!   (`tally_projection_visible_lag_seconds`, counted by the projectors of this process).
//! - The process's resident memory.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tally_projections::visibility::{visible_lag, LAG_BUCKETS};
use tally_projections::{ProjectionState, ReadModel};

const METHODS: [&str; 3] = ["GET", "POST", "other"];
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Process-wide HTTP counters: requests per (method, status class), and one duration histogram.
struct HttpMetrics {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    /// Cumulative counts per bucket (a request counts in every bucket at or above its duration).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

static HTTP: HttpMetrics = HttpMetrics {
    requests: [const { [const { AtomicU64::new(0) }; CLASSES.len()] }; METHODS.len()],
    buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
    count: AtomicU64::new(0),
    sum_micros: AtomicU64::new(0),
};

/// Middleware: counts every request and its duration (until the response head is ready).
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let method = match *request.method() {
        Method::GET => 0,
        Method::POST => 1,
        _ => 2,
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let class = match response.status().as_u16() {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    };
    HTTP.requests[method][class].fetch_add(1, Ordering::Relaxed);
    for (bound, bucket) in BUCKETS.iter().zip(&HTTP.buckets) {
        if seconds <= *bound {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }
    HTTP.count.fetch_add(1, Ordering::Relaxed);
    HTTP.sum_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    response
}

/// `GET /metrics`. A part that cannot be read (the database is down) is left out rather than failing the scrape.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    write_http(&mut out);
    if let Ok(head) = state.store.head_position().await {
        gauge(&mut out, "tally_event_log_head_position", "Position of the last event in the log.");
        let _ = writeln!(out, "tally_event_log_head_position {head}");
    }
    if let Ok(statuses) = state.projector.status().await {
        gauge(&mut out, "tally_projection_position", "Every event up to this position is applied.");
        for s in &statuses {
            let _ = writeln!(out, "tally_projection_position{{projection=\"{}\"}} {}", s.name, s.position);
        }
        gauge(&mut out, "tally_projection_lag_events", "Positions the projection has still to examine.");
        for s in &statuses {
            let _ = writeln!(out, "tally_projection_lag_events{{projection=\"{}\"}} {}", s.name, s.lag_events);
        }
        gauge(&mut out, "tally_projection_lag_seconds", "Age of the oldest event still to apply.");
        for s in &statuses {
            let _ = writeln!(out, "tally_projection_lag_seconds{{projection=\"{}\"}} {}", s.name, s.lag_seconds);
        }
        gauge(&mut out, "tally_projection_failed", "1 when the projection stopped on a poison event.");
        for s in &statuses {
            let failed = u8::from(s.state == ProjectionState::Failed);
            let _ = writeln!(out, "tally_projection_failed{{projection=\"{}\"}} {failed}", s.name);
        }
    }
    if let Ok(followers) = state.projector.other_followers().await {
        gauge(&mut out, "tally_follower_position", "The checkpoint of a follower of the log other than a projection.");
        for f in &followers {
            let _ = writeln!(out, "tally_follower_position{{follower=\"{}\"}} {}", f.name, f.position);
        }
        gauge(
            &mut out,
            "tally_follower_running",
            "1 while some process holds the follower's lease and no failure stops it.",
        );
        for f in &followers {
            let running = u8::from(f.state == ProjectionState::Running);
            let _ = writeln!(out, "tally_follower_running{{follower=\"{}\"}} {running}", f.name);
        }
        gauge(&mut out, "tally_follower_failed", "1 when the follower stopped on an event it cannot handle.");
        for f in &followers {
            let failed = u8::from(f.state == ProjectionState::Failed);
            let _ = writeln!(out, "tally_follower_failed{{follower=\"{}\"}} {failed}", f.name);
        }
    }
    write_visible_lag(&mut out);
    if let Some(bytes) = resident_bytes() {
        gauge(&mut out, "process_resident_memory_bytes", "Resident memory of this process.");
        let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn write_http(out: &mut String) {
    let _ = writeln!(out, "# HELP tally_http_requests_total HTTP requests answered, by method and status class.");
    let _ = writeln!(out, "# TYPE tally_http_requests_total counter");
    for (m, method) in METHODS.iter().enumerate() {
        for (c, class) in CLASSES.iter().enumerate() {
            let count = HTTP.requests[m][c].load(Ordering::Relaxed);
            let _ = writeln!(out, "tally_http_requests_total{{method=\"{method}\",status=\"{class}\"}} {count}");
        }
    }
    let _ = writeln!(out, "# HELP tally_http_request_duration_seconds Time to answer an HTTP request.");
    let _ = writeln!(out, "# TYPE tally_http_request_duration_seconds histogram");
    for (bound, bucket) in BUCKETS.iter().zip(&HTTP.buckets) {
        let count = bucket.load(Ordering::Relaxed);
        let _ = writeln!(out, "tally_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}");
    }
    let count = HTTP.count.load(Ordering::Relaxed);
    let sum = HTTP.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "tally_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "tally_http_request_duration_seconds_sum {sum}");
    let _ = writeln!(out, "tally_http_request_duration_seconds_count {count}");
}

fn write_visible_lag(out: &mut String) {
    let name = "tally_projection_visible_lag_seconds";
    let _ =
        writeln!(out, "# HELP {name} Time from an event's append to the commit that made it visible in a read model.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for model in ReadModel::ALL {
        let (projection, lag) = (model.name(), visible_lag(model));
        for (bound, count) in LAG_BUCKETS.iter().zip(lag.cumulative) {
            let _ = writeln!(out, "{name}_bucket{{projection=\"{projection}\",le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{projection=\"{projection}\",le=\"+Inf\"}} {}", lag.count);
        let _ = writeln!(out, "{name}_sum{{projection=\"{projection}\"}} {}", lag.sum_seconds);
        let _ = writeln!(out, "{name}_count{{projection=\"{projection}\"}} {}", lag.count);
    }
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// VmRSS from `/proc/self/status` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
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
        let get_2xx = text
            .lines()
            .find(|line| line.starts_with("tally_http_requests_total{method=\"GET\",status=\"2xx\"}"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|count| count.parse::<u64>().ok())
            .expect("a GET 2xx counter");
        assert!(get_2xx >= 1, "the /healthz request was counted:\n{text}");
        assert!(text.contains("tally_event_log_head_position 1"), "the test's admin key: {text}");
        assert!(text.contains("tally_projection_position{projection=\"orders\"} 0"), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
    }
}
