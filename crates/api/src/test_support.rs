//! What the API's tests share: the whole router on a fresh, migrated database with the PostgreSQL event store.

use crate::AppState;
use axum::Router;
use sqlx::PgPool;
use std::sync::Arc;
use tally_commands::{CommandConfig, Commands};
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
    AppState { pool: db.pool, store, commands, projector }
}

/// The router on a fresh database, and the database's pool.
pub(crate) async fn app() -> (Router, PgPool) {
    let state = state().await;
    let pool = state.pool.clone();
    (crate::router(state), pool)
}

/// Runs the projector in the background until the returned sender is dropped or sent `true`.
pub(crate) fn start_projector(state: &AppState) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let projector = state.projector.clone();
    tokio::spawn(async move { projector.run(stopped).await });
    stop
}
