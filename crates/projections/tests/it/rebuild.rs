//! A rebuild while events keep arriving and the live projector keeps applying them: the swap lands in the middle
//! of the stream, the live projector continues on the new tables from the swapped-in position, and the result
//! still equals a rebuild from scratch. Progress is reported in order. And a swap blocked by long queries waits
//! them out, or gives up cleanly with the live tables untouched.

use std::time::Duration;
use tally_projections::{ProjectionError, Projector, ReadModel, RebuildPhase};

use crate::workload::Workload;
use crate::{assert_equals_rebuild, caught_up, options, setup, snapshot, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_during_writes_swaps_in_without_losing_or_repeating_events() {
    let (db, store) = setup().await;
    let projector = Projector::new(store.clone(), db.pool.clone(), options("live", 20));
    let running = Running::start(projector.clone());
    let mut workload = Workload::new(store.clone(), 2024);
    workload.run(300).await;

    let writer = tokio::spawn(async move {
        workload.run(400).await;
        workload
    });
    for model in ReadModel::ALL {
        let mut reports = Vec::new();
        let done = projector.rebuild(model, |progress| reports.push(progress.clone())).await.expect("rebuild");
        assert_eq!(done.phase, RebuildPhase::Done);
        let phases: Vec<RebuildPhase> = reports.iter().map(|r| r.phase).collect();
        let swapping = phases.iter().position(|p| *p == RebuildPhase::Swapping).expect("a swapping report");
        assert!(phases[..swapping].iter().all(|p| *p == RebuildPhase::Replaying), "{phases:?}");
        assert_eq!(phases.last(), Some(&RebuildPhase::Done));
        assert!(reports.windows(2).all(|w| w[0].events_applied <= w[1].events_applied), "progress never goes back");
        assert!(reports.windows(2).all(|w| w[0].position <= w[1].position));
    }
    let workload = writer.await.expect("the workload ran");
    caught_up(&projector, workload.last_position).await;
    assert_equals_rebuild(&db, &projector).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_waits_out_long_queries_or_gives_up_leaving_the_live_tables() {
    let (db, store) = setup().await;
    let projector = Projector::new(store.clone(), db.pool.clone(), options("live", 50));
    let running = Running::start(projector.clone());
    let mut workload = Workload::new(store.clone(), 8);
    workload.run(100).await;
    caught_up(&projector, workload.last_position).await;
    let before = snapshot(&db, ReadModel::Products).await;

    // An analyst's transaction reads `products` through every attempt: the swap gives up, the live table stays.
    let mut analyst = db.pool.begin().await.unwrap();
    sqlx::query("select count(*) from products").execute(&mut *analyst).await.unwrap();
    let failed = projector.rebuild(ReadModel::Products, |_| {}).await;
    assert!(matches!(failed, Err(ProjectionError::SwapTimedOut { attempts: 5, .. })), "{failed:?}");
    analyst.commit().await.unwrap();
    let leftovers: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname like 'tally_rebuild_%' or nspname like 'tally_retired_%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(leftovers, 0, "a failed rebuild cleans up its schema");
    assert_eq!(snapshot(&db, ReadModel::Products).await, before);

    // A query that ends during the retries: the swap waits it out.
    let mut analyst = db.pool.begin().await.unwrap();
    sqlx::query("select count(*) from products").execute(&mut *analyst).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        analyst.commit().await.unwrap();
    });
    projector.rebuild(ReadModel::Products, |_| {}).await.expect("the swap waits the query out");
    release.await.unwrap();
    assert_eq!(snapshot(&db, ReadModel::Products).await, before);

    // The live projector goes on, on the swapped-in table.
    workload.run(100).await;
    caught_up(&projector, workload.last_position).await;
    assert_equals_rebuild(&db, &projector).await;
    running.stop().await;
}
