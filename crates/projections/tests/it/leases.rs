//! Two runners compete for the projections: each projection is held by one of them, every event is applied once,
//! and when a holder dies the other takes over.

use std::time::Duration;
use tally_projections::{ProjectionState, Projector};

use crate::workload::Workload;
use crate::{assert_equals_rebuild, caught_up, options, setup, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_apply_every_event_once_and_the_survivor_takes_over() {
    let (db, store) = setup().await;
    let a = Running::start(Projector::new(store.clone(), db.pool.clone(), options("runner-a", 25)));
    let b = Running::start(Projector::new(store.clone(), db.pool.clone(), options("runner-b", 25)));
    let mut workload = Workload::new(store.clone(), 99);
    workload.run(400).await;
    caught_up(&a.projector, workload.last_position).await;

    let statuses = a.projector.status().await.unwrap();
    for status in &statuses {
        assert_eq!(status.state, ProjectionState::Running, "{}", status.name);
        let holder = status.holder.as_deref().unwrap_or_default();
        assert!(holder == "runner-a" || holder == "runner-b", "{} held by {holder:?}", status.name);
        assert_eq!(status.lag_events, 0);
    }
    assert_equals_rebuild(&db, &a.projector).await;

    // The holder of the orders projection dies; the other runner takes everything over.
    let orders = statuses.iter().find(|s| s.name == "orders").unwrap();
    let (dead, survivor) = if orders.holder.as_deref() == Some("runner-a") { (a, b) } else { (b, a) };
    let survivor_name = survivor.projector.options().holder.clone();
    dead.kill().await;
    workload.run(200).await;
    caught_up(&survivor.projector, workload.last_position).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let statuses = survivor.projector.status().await.unwrap();
        if statuses.iter().all(|s| s.holder.as_deref() == Some(survivor_name.as_str())) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the survivor did not take over: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_equals_rebuild(&db, &survivor.projector).await;
    survivor.stop().await;
}
