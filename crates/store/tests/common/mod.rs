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

/// A store on a fresh, migrated database. It runs on the database's own pool, which keeps the database for as long
/// as the store lives (`tally_testkit`); the tests that hold their `TestDatabase` cover `PgEventStore::connect`.
pub async fn postgres_store() -> PgEventStore {
    let db = migrated_database().await;
    PgEventStore::with_pool(db.pool.clone(), PgStoreOptions::default()).await.expect("open the store")
}
