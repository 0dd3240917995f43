//! The projections' integration tests, one binary: a fresh PostgreSQL database per test (the event store and the
//! read models in it), event histories from the domain's deciders (`workload`), and the helpers below.

mod bounds;
mod crash;
mod equivalence;
mod leases;
mod poison;
mod rebuild;
mod wait;
mod workload;

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tally_projections::{Projector, ProjectorOptions, ReadModel};
use tally_store::{EventStore, PgEventStore, PgStoreOptions};
use tally_testkit::TestDatabase;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A fresh database with the engine's schema, and the PostgreSQL event store on it.
pub async fn setup() -> (TestDatabase, Arc<dyn EventStore>) {
    let db = tally_testkit::fresh_database().await;
    tally_store::MIGRATOR.run(&db.pool).await.expect("migrate the test database");
    let options = PgStoreOptions { poll_interval: Duration::from_millis(100), ..PgStoreOptions::default() };
    let store = PgEventStore::with_pool(db.pool.clone(), options).await.expect("start the store");
    (db, Arc::new(store))
}

/// Short intervals, small batches (so a workload spans many batches).
pub fn options(holder: &str, batch_size: usize) -> ProjectorOptions {
    ProjectorOptions {
        batch_size,
        poll_interval: Duration::from_millis(200),
        pace: Duration::from_millis(5),
        lease_retry: Duration::from_millis(100),
        heartbeat_interval: Duration::from_millis(500),
        holder: holder.to_owned(),
        swap_lock_timeout: Duration::from_millis(200),
    }
}

/// A projector running in its own task, with the switch that stops it.
pub struct Running {
    pub projector: Projector,
    pub shutdown: watch::Sender<bool>,
    pub task: JoinHandle<()>,
}

impl Running {
    pub fn start(projector: Projector) -> Running {
        let (shutdown, signal) = watch::channel(false);
        let runner = projector.clone();
        let task = tokio::spawn(async move { runner.run(signal).await.expect("projector run") });
        Running { projector, shutdown, task }
    }

    /// Orderly: finish the batch in hand, release the leases.
    pub async fn stop(self) {
        self.shutdown.send(true).ok();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("stops in time").expect("no panic");
    }

    /// A crash: the task and its connections are dropped wherever they are.
    pub async fn kill(self) {
        self.task.abort();
        self.task.await.ok();
    }
}

/// Every row of every table of `model`, as JSON, in a stable order.
pub async fn snapshot(db: &TestDatabase, model: ReadModel) -> BTreeMap<String, Vec<Value>> {
    let mut tables = BTreeMap::new();
    for table in model.tables() {
        let sql = format!("select to_jsonb(t) from {table} t order by to_jsonb(t)::text");
        let rows: Vec<Value> = sqlx::query_scalar(&sql).fetch_all(&db.pool).await.expect("read a table");
        tables.insert((*table).to_owned(), rows);
    }
    tables
}

/// Every index of the read-model tables with its definition: a rebuild must bring back the same ones.
async fn indexes(db: &TestDatabase) -> Vec<(String, String)> {
    let tables: Vec<&str> = ReadModel::ALL.iter().flat_map(|model| model.tables().iter().copied()).collect();
    sqlx::query_as("select indexname::text, indexdef from pg_indexes where schemaname = current_schema() and tablename = any($1) order by 1")
        .bind(tables)
        .fetch_all(&db.pool)
        .await
        .expect("read the indexes")
}

/// Rebuilds every model together (as `tally rebuild` does) and asserts each equals, table by table and row by row,
/// what was there before, with the same indexes.
pub async fn assert_equals_rebuild(db: &TestDatabase, projector: &Projector) {
    let mut before = BTreeMap::new();
    for model in ReadModel::ALL {
        before.insert(model, snapshot(db, model).await);
    }
    let indexes_before = indexes(db).await;
    let reports: Vec<std::sync::atomic::AtomicUsize> = ReadModel::ALL.iter().map(|_| Default::default()).collect();
    let jobs = ReadModel::ALL.iter().zip(&reports).map(|(&model, reports)| {
        (model, move |_: &tally_projections::RebuildProgress| {
            reports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    });
    let results = projector.rebuild_together(jobs.collect()).await;
    for ((model, result), reports) in ReadModel::ALL.iter().zip(results).zip(&reports) {
        let done = result.unwrap_or_else(|error| panic!("rebuild {model}: {error:?}"));
        assert!(reports.load(std::sync::atomic::Ordering::Relaxed) >= 2, "progress is reported");
        assert!(done.position > 0);
        let after = snapshot(db, *model).await;
        for (table, rows) in &before[model] {
            assert_eq!(rows.len(), after[table].len(), "{table}: row count after a rebuild");
            for (live, rebuilt) in rows.iter().zip(&after[table]) {
                assert_eq!(live, rebuilt, "{table}: a live row differs from the rebuilt one");
            }
        }
    }
    assert_eq!(indexes(db).await, indexes_before, "a rebuild keeps every index");
}

/// Waits until every model has applied `position`.
pub async fn caught_up(projector: &Projector, position: u64) {
    let applied = projector.wait_for_position(&[], position, Duration::from_secs(60)).await.expect("wait");
    assert!(applied, "the projections did not reach position {position}");
}
