//! Tally's HTTP API: the axum router for commands, queries, audit and operations.
//!
//! `router(state)` builds the whole API and is kept separate from serving it, so tests drive it in-process with
//! `tower::ServiceExt::oneshot` and `main` serves it on a socket.
//!
//! # Layout
//! - `ops`: `/healthz` (the process answers) and `/readyz` (the database answers).
//! - `problem`: RFC 9457 `application/problem+json` errors, one stable `type` per kind.

mod ops;
mod problem;

pub use problem::{Problem, ProblemKind};

use axum::Router;
use sqlx::PgPool;

/// What every handler may use. Cheap to clone: each field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ops::routes())
        .merge(problem::routes())
        .with_state(state)
}
