//! Operations endpoints: liveness (`/healthz`) and readiness (`/readyz`) for load balancers and orchestrators.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tally_projections::ProjectionState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up and serving HTTP. Says nothing about its dependencies, so a slow database never gets a
/// healthy process restarted.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do useful work: the database and the event store answer, and no projection has stopped on a
/// poison event.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    sqlx::query("select 1").execute(&state.pool).await.map_err(|error| {
        tracing::warn!(%error, "readiness check: database unreachable");
        Problem::new(ProblemKind::Unavailable, "the database is not reachable").with_retry_after(1)
    })?;
    let position = state.store.head_position().await.map_err(|error| {
        tracing::warn!(%error, "readiness check: event store unreachable");
        Problem::new(ProblemKind::Unavailable, "the event store is not reachable").with_retry_after(1)
    })?;
    let statuses = state.projector.status().await.map_err(|error| {
        tracing::warn!(%error, "readiness check: projection status unreadable");
        Problem::new(ProblemKind::Unavailable, "the projections' status is not readable").with_retry_after(1)
    })?;
    let failed: Vec<&str> =
        statuses.iter().filter(|s| s.state == ProjectionState::Failed).map(|s| s.name.as_str()).collect();
    if !failed.is_empty() {
        return Err(Problem::new(ProblemKind::Unavailable, format!("projections failed: {}", failed.join(", ")))
            .with_extension("failed_projections", json!(failed)));
    }
    Ok(Json(json!({
        "status": "ready",
        "database": "ok",
        "event_store": { "status": "ok", "position": position },
        "projections": "ok",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get(app: Router, uri: &str) -> (StatusCode, String, Value) {
        let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn ready_when_the_database_and_the_event_store_answer() {
        let (app, _) = crate::test_support::app().await;
        let (status, _, body) = get(app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["database"], "ok");
        assert_eq!(body["event_store"]["position"], 0);
    }

    #[tokio::test]
    async fn not_ready_when_the_database_is_gone_but_still_healthy() {
        let (app, pool) = crate::test_support::app().await;
        pool.close().await;
        let (status, content_type, body) = get(app.clone(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["type"], "/problems/unavailable");
        let (status, _, _) = get(app, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
    }
}
