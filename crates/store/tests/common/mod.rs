//! Shared by the PostgreSQL test binaries: a fresh, migrated database per test and a store on it.

#![allow(dead_code)]

use tally_store::{PgEventStore, PgStoreOptions};
use tally_testkit::TestDatabase;

/// A fresh database with the engine's schema.
pub async fn migrated_database() -> TestDatabase {
    let db = tally_testkit::fresh_database().await;
    tally_store::MIGRATOR.run(&db.pool).await.expect("migrate the test database");
    db
}

/// A store on a fresh, migrated database, through the production constructor.
pub async fn postgres_store() -> PgEventStore {
    let db = migrated_database().await;
    PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect the store")
}
