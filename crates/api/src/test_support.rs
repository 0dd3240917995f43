//! What the API's tests share: the whole router on a fresh, migrated database with the PostgreSQL event store,
//! and API keys issued the way `tally keys create` issues them.

use crate::auth::issue::issue_key;
use crate::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::Router;
use sqlx::PgPool;
use std::sync::Arc;
use tally_commands::{CommandConfig, CommandContext, Commands};
use tally_domain::Role;
use tally_projections::{Projector, ProjectorOptions};
use tally_store::{EventStore, PgEventStore, PgStoreOptions};

/// The state on a fresh database: a real PostgreSQL event store, the command side and a projector (not running:
/// a test that needs the read models runs it with [`start_projector`]).
pub(crate) async fn state() -> AppState {
    let db = tally_testkit::fresh_database().await;
    tally_store::MIGRATOR.run(&db.pool).await.expect("migrate the test database");
    let store: Arc<dyn EventStore> =
        Arc::new(PgEventStore::with_pool(db.pool.clone(), PgStoreOptions::default()).await.expect("open the store"));
    let commands = Commands::new(Arc::clone(&store), CommandConfig::default());
    let projector = Projector::new(Arc::clone(&store), db.pool.clone(), ProjectorOptions::default());
    AppState::new(db.pool, store, commands, projector)
}

/// The router on a fresh database, and the database's pool. Requests without `Authorization` are sent with an
/// `admin` key (see [`router`]).
pub(crate) async fn app() -> (Router, PgPool) {
    let state = state().await;
    let pool = state.pool.clone();
    (router(&state).await, pool)
}

/// A new key of `role`, issued through the command side as `tally keys create` does: its secret.
pub(crate) async fn key(state: &AppState, role: Role) -> String {
    let context = CommandContext::new("test");
    let issued = issue_key(&state.pool, &state.commands, &context, format!("test {role}"), role).await;
    issued.expect("issue a test key").secret
}

/// The router of `state`, sending requests that carry no `Authorization` with a new `admin` key: tests of
/// everything but access control call the API as an administrator would.
pub(crate) async fn router(state: &AppState) -> Router {
    let admin = HeaderValue::from_str(&format!("Bearer {}", key(state, Role::Admin).await)).expect("a header value");
    let with_key = move |mut request: Request| {
        let admin = admin.clone();
        async move {
            request.headers_mut().entry(header::AUTHORIZATION).or_insert(admin);
            request
        }
    };
    crate::router(state.clone()).layer(axum::middleware::map_request(with_key))
}

/// Runs the projector in the background until the returned sender is dropped or sent `true`.
pub(crate) fn start_projector(state: &AppState) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let projector = state.projector.clone();
    tokio::spawn(async move { projector.run(stopped).await });
    stop
}
