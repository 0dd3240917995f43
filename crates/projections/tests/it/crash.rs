//! A projector killed mid-batch (its connection terminated while a batch transaction is open, or its whole task
//! dropped) and restarted loses nothing and applies nothing twice.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tally_projections::Projector;

use crate::workload::Workload;
use crate::{assert_equals_rebuild, caught_up, options, setup, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_batch_resumes_without_loss_or_duplicates() {
    let (db, store) = setup().await;
    let mut workload = Workload::new(store.clone(), 7);
    workload.run(800).await;
    let target = workload.last_position;
    let projector = Projector::new(store.clone(), db.pool.clone(), options("crashy", 10));

    // The killer terminates projector connections caught between statements of a batch transaction.
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU32::new(0));
    let killer = {
        let (pool, stop, kills) = (db.pool.clone(), Arc::clone(&stop), Arc::clone(&kills));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) && kills.load(Ordering::Relaxed) < 12 {
                let killed: Vec<bool> = sqlx::query_scalar(
                    "select pg_terminate_backend(pid) from pg_stat_activity
                      where datname = current_database() and state = 'idle in transaction'
                        and application_name like 'tally-projector %'",
                )
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                let killed = killed.into_iter().filter(|k| *k).count() as u32;
                if killed > 0 {
                    kills.fetch_add(killed, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };

    // Crashes of the whole runner too: its tasks and connections dropped wherever they are.
    for _ in 0..3 {
        let running = Running::start(projector.clone());
        tokio::time::sleep(Duration::from_millis(250)).await;
        running.kill().await;
    }
    let running = Running::start(projector.clone());
    caught_up(&projector, target).await;
    stop.store(true, Ordering::Relaxed);
    killer.await.unwrap();
    assert!(kills.load(Ordering::Relaxed) >= 3, "too few batch transactions were killed to prove anything");

    assert_equals_rebuild(&db, &projector).await;
    running.stop().await;
}
