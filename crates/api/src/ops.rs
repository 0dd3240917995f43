//! Operations endpoints: liveness (`/healthz`) and readiness (`/readyz`) for load balancers and orchestrators.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving HTTP. Says nothing about its dependencies, so a slow database never gets a
/// healthy process restarted.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do useful work: the database answers.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    sqlx::query("select 1")
        .execute(&state.pool)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "readiness check: database unreachable");
            Problem::new(ProblemKind::Unavailable, "the database is not reachable")
        })?;
    Ok(Json(json!({ "status": "ready", "database": "ok" })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get(app: Router, uri: &str) -> (StatusCode, String, Value) {
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn ready_when_the_database_answers() {
        let db = tally_testkit::fresh_database().await;
        let app = crate::router(AppState { pool: db.pool });
        let (status, _, body) = get(app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["database"], "ok");
    }

    #[tokio::test]
    async fn not_ready_when_the_database_is_gone_but_still_healthy() {
        let db = tally_testkit::fresh_database().await;
        db.pool.close().await;
        let app = crate::router(AppState { pool: db.pool });
        let (status, content_type, body) = get(app.clone(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["type"], "/problems/unavailable");
        let (status, _, _) = get(app, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
    }
}
