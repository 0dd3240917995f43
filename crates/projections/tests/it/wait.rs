//! `wait_for_position` returns once the position is applied (read-your-writes), not before; status reports
//! lag and state.

use serde_json::json;
use std::time::Duration;
use tally_projections::{ProjectionState, Projector, ReadModel};
use tally_store::{ExpectedVersion, NewEvent};

use crate::workload::Workload;
use crate::{options, setup, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_position_returns_once_the_position_is_applied() {
    let (db, store) = setup().await;
    let mut workload = Workload::new(store.clone(), 3);
    workload.run(100).await;
    let target = workload.last_position;
    let projector = Projector::new(store.clone(), db.pool.clone(), options("w", 50));

    // Nobody runs the projections yet: the wait times out, the status says idle and lagging.
    assert!(!projector.wait_for_position(&[], target, Duration::from_millis(300)).await.unwrap());
    for status in projector.status().await.unwrap() {
        assert_eq!(status.state, ProjectionState::Idle);
        assert_eq!((status.position, status.lag_events), (0, target));
        assert!(status.lag_seconds >= 0.0);
        assert_eq!(status.holder, None);
    }

    let running = Running::start(projector.clone());
    assert!(projector.wait_for_position(&[], target, Duration::from_secs(30)).await.unwrap());

    // Read-your-writes: once the wait returns, the new product is in the read model.
    let registered = NewEvent::new(
        "ProductRegistered",
        json!({"type": "ProductRegistered", "sku": "NEW-1", "name": "New", "price": {"amount": 500, "currency": "EUR"}}),
    );
    let position = store.append("product-NEW-1", ExpectedVersion::NoStream, vec![registered]).await.unwrap().position;
    assert!(projector.wait_for_position(&[ReadModel::Products], position, Duration::from_secs(10)).await.unwrap());
    let name: Option<String> =
        sqlx::query_scalar("select name from products where sku = 'NEW-1'").fetch_optional(&db.pool).await.unwrap();
    assert_eq!(name.as_deref(), Some("New"));

    assert!(projector.wait_for_position(&[], position, Duration::from_secs(10)).await.unwrap());
    for status in projector.status().await.unwrap() {
        assert_eq!(status.state, ProjectionState::Running, "{}", status.name);
        assert_eq!((status.position, status.lag_events, status.lag_seconds), (position, 0, 0.0));
        assert_eq!(status.holder.as_deref(), Some("w"));
    }
    running.stop().await;
}
