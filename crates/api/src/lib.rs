//! Tally's HTTP API: the axum router for commands, queries, audit and operations.
//!
//! `router(state)` builds the whole API and is kept separate from serving it, so tests drive it in-process with
//! `tower::ServiceExt::oneshot` and `main` serves it on a socket.
//!
//! # Layout
//! - [`auth`]: API keys, roles and the guard on every route: who may do what, and the actor events record.
//! - [`console`]: the browser console at `/`: static pages compiled in, drawn from the same JSON API.
//! - `commands`: the `/v1` command endpoints (POST), over `tally_commands::Commands`, and `/v1/keys`.
//! - `queries`: the `/v1` query endpoints (GET) over the read models, and `/v1/projections`.
//! - `audit`: streams, the global log, its live tail (SSE), order history, point-in-time state, hash-chain
//!   verification, digests and export, read from the event store (the work is `tally_audit`'s, which the CLI
//!   uses too).
//! - `resources`: one type per resource (product, stock, order, money): what a command answers and what its GET
//!   answers, built from the aggregate or from the read model.
//! - `error`: `CommandError` -> problem+json (status and `type` per error kind; internal causes logged, never sent).
//! - `idempotency`: the `Idempotency-Key` contract of every POST, and `purge_expired_idempotency_keys`.
//! - [`limits`]: rate limits per API key: the policy of each role, the in-memory limiter (per node), and the
//!   `RateLimit-Policy` / `RateLimit` / `Retry-After` headers of its decisions.
//! - `extract`: `ApiJson`, `ApiQuery`, `ApiPath`: axum's extractors with problem+json rejections.
//! - `layers`: the standard middleware of every route (tower-http): `X-Request-Id`, a trace span per request
//!   (and the OpenTelemetry parent from `traceparent`), gzip for large answers, and the request timeout (503).
//! - `metrics`: `/metrics` (the `metrics` crate's Prometheus exporter, one recorder per process), and the
//!   middleware that counts HTTP requests by route, method and status.
//! - `ops`: `/healthz` (the process answers), `/readyz` (the database and the event store answer promptly) and
//!   `/openapi.json`.
//! - `openapi`: the OpenAPI 3.1 document of the whole API, assembled from the handlers' `#[utoipa::path]`
//!   declarations and the router's table of who may call what.
//! - `problem`: RFC 9457 `application/problem+json` errors, one stable `type` per kind.
//! - `storable`: text PostgreSQL cannot store (NUL, invalid UTF-8) refused at the edge: a layer over every path
//!   and query string (400), and the check every JSON body passes (422).

mod audit;
pub mod auth;
mod commands;
pub mod console;
mod error;
mod extract;
pub mod idempotency;
mod layers;
pub mod limits;
mod metrics;
mod openapi;
mod ops;
mod problem;
mod queries;
mod resources;
mod storable;
#[cfg(test)]
mod test_support;

pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use layers::DEFAULT_REQUEST_TIMEOUT;
pub use problem::{Problem, ProblemKind};

use auth::{Access, ApiRoutes, Endpoint, Guard, KeyRegistry};
use axum::{Extension, Router};
use limits::{RateLimiter, RoleLimits};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tally_commands::Commands;
use tally_projections::Projector;
use tally_store::EventStore;
use tally_webhooks::{EgressPolicy, Subscriptions};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_axum::routes;

/// What every handler may use. Cheap to clone: each field is a handle.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL database of the read models (and of the events, unless they live elsewhere).
    pub pool: PgPool,
    /// The event store, whichever adapter serves it.
    pub store: Arc<dyn EventStore>,
    /// The command side: every POST goes through it.
    pub commands: Commands,
    /// The read models' projector: status, and waiting for a position (read-your-writes).
    pub projector: Projector,
    /// Every API key, kept current from the log (run [`KeyRegistry::follow`] beside the server).
    pub keys: KeyRegistry,
    /// The requests each key may send, per role, and what each has spent (in this process).
    pub limits: RoleLimits,
    pub limiter: RateLimiter,
    /// How long a request may take to begin its answer before it is answered 503 (the whole-log audit routes
    /// excepted: see `layers`).
    pub request_timeout: Duration,
    /// Every webhook subscription, read from the log (the supervisor in `tally serve` keeps it current too).
    pub webhooks: Subscriptions,
    /// Where webhooks may be delivered (`--webhook-allow-private`).
    pub egress: EgressPolicy,
}

impl AppState {
    /// The state of one node: `keys` is a new registry over `store` and `pool`.
    pub fn new(pool: PgPool, store: Arc<dyn EventStore>, commands: Commands, projector: Projector) -> Self {
        let keys = KeyRegistry::new(Arc::clone(&store), pool.clone());
        let webhooks = Subscriptions::new(Arc::clone(&store));
        AppState {
            pool,
            store,
            commands,
            projector,
            keys,
            limits: RoleLimits::default(),
            limiter: RateLimiter::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            webhooks,
            egress: EgressPolicy::default(),
        }
    }
}

/// The whole HTTP API. Building the first router of a process installs its metrics recorder.
pub fn router(state: AppState) -> Router {
    metrics::prometheus();
    let (routes, endpoints, generated) = routes(&state).into_parts();
    let document = ops::OpenApiDocument::new(&openapi::document(generated, &endpoints));
    // Each `layer` wraps the ones before it: a request passes them from the last to the first.
    routes
        .layer(Extension(document))
        .merge(console::routes())
        .fallback(problem::no_such_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(axum::middleware::from_fn(storable::refuse_unstorable_uri))
        .layer(layers::compression())
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(layers::trace())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(layers::NewRequestId))
        .layer(axum::middleware::map_request(layers::drop_unusable_request_id))
        .with_state(state)
}

/// Every route of the API, with the access each needs: the router's own table.
pub fn endpoints(state: &AppState) -> Vec<Endpoint> {
    routes(state).into_parts().1
}

/// The OpenAPI document `/openapi.json` serves: every route, its parameters, bodies and answers, and who may call it.
pub fn openapi_document(state: &AppState) -> serde_json::Value {
    let (_, endpoints, generated) = routes(state).into_parts();
    openapi::document(generated, &endpoints)
}

fn routes(state: &AppState) -> ApiRoutes {
    let guard = Guard::new(state.keys.clone(), state.limiter.clone(), state.limits);
    let section = || ApiRoutes::new(guard.clone(), state.pool.clone());
    let time_limit = axum::middleware::from_fn_with_state(state.request_timeout, layers::time_limit);
    section()
        .merge(commands::routes(section()))
        .merge(queries::routes(section()))
        .merge(audit::routes(section()))
        .merge(ops::routes(section()))
        .route(Access::Public, routes!(problem::describe))
        .route(Access::Session, routes!(auth::me::me))
        .route(Access::Metrics, routes!(metrics::metrics))
        .map_router(|timed| timed.layer(time_limit))
        .merge(audit::whole_log_routes(section()))
}
