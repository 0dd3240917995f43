//! A poison event stops only its projection, visibly (status: failed, its position, the error), and is never
//! skipped: not across a restart (which is seen to run: it applies what comes after) nor by a retry.

use serde_json::json;
use std::time::Duration;
use tally_projections::{ProjectionError, ProjectionState, Projector, ReadModel};
use tally_store::{ExpectedVersion, NewEvent};

use crate::workload::Workload;
use crate::{options, setup, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_stops_only_its_projection_and_shows_in_the_status() {
    let (db, store) = setup().await;
    let mut workload = Workload::new(store.clone(), 5);
    workload.run(150).await;
    let registered_before = workload.generator.products.len() as i64;
    // A product registration without a price does not decode.
    let broken = NewEvent::new("ProductRegistered", json!({"type": "ProductRegistered", "sku": "BROKEN", "name": "x"}));
    let poison = store.append("product-BROKEN", ExpectedVersion::NoStream, vec![broken]).await.unwrap().position;
    workload.run(150).await;
    let head = workload.last_position;

    // One batch holds the whole log: the events before the poison in it still apply.
    let projector = Projector::new(store.clone(), db.pool.clone(), options("p", 10_000));
    let running = Running::start(projector.clone());
    let others = [ReadModel::Inventory, ReadModel::Orders, ReadModel::Sales];
    assert!(projector.wait_for_position(&others, head, Duration::from_secs(60)).await.unwrap());
    let failed = projector.wait_for_position(&[ReadModel::Products], head, Duration::from_secs(30)).await;
    assert!(
        matches!(&failed, Err(ProjectionError::Failed { name, position, .. }) if name == "products" && *position == poison),
        "{failed:?}"
    );

    let check = |statuses: Vec<tally_projections::ProjectionStatus>, head: u64| {
        for status in statuses {
            if status.name == "products" {
                assert_eq!(status.state, ProjectionState::Failed);
                let failure = status.failure.expect("the failure is recorded");
                assert_eq!(failure.position, poison);
                assert!(failure.error.contains("does not decode"), "{}", failure.error);
                assert!(status.position < poison, "nothing at or after the poison is applied");
            } else {
                assert_eq!(status.state, ProjectionState::Running, "{}", status.name);
                assert_eq!(status.position, head, "{}", status.name);
            }
        }
    };
    check(projector.status().await.unwrap(), head);
    let products: i64 = sqlx::query_scalar("select count(*) from products").fetch_one(&db.pool).await.unwrap();
    assert_eq!(products, registered_before, "every product registered before the poison is there");
    let failed_at = |statuses: &[tally_projections::ProjectionStatus]| {
        let products = statuses.iter().find(|status| status.name == "products").expect("the products status");
        products.failure.as_ref().and_then(|failure| failure.failed_at).expect("when it failed")
    };
    let first_failure = failed_at(&projector.status().await.unwrap());

    // A restart does not skip it. The restarted runner (another holder) does run: it takes the other projections
    // over and applies what is appended after the restart, and leaves products stopped where they were.
    running.stop().await;
    let restarted = Projector::new(store.clone(), db.pool.clone(), options("p-restarted", 10_000));
    let running = Running::start(restarted.clone());
    workload.run(100).await;
    let head = workload.last_position;
    assert!(restarted.wait_for_position(&others, head, Duration::from_secs(60)).await.unwrap());
    let statuses = restarted.status().await.unwrap();
    for status in statuses.iter().filter(|status| status.name != "products") {
        assert_eq!(status.holder.as_deref(), Some("p-restarted"), "{} is held by the restarted runner", status.name);
    }
    check(statuses, head);

    // Neither does a retry: the restarted runner takes products up from its checkpoint and stops at the same event
    // again, recording the failure anew.
    restarted.retry(ReadModel::Products).await.unwrap();
    let failed = restarted.wait_for_position(&[ReadModel::Products], head, Duration::from_secs(30)).await;
    assert!(matches!(&failed, Err(ProjectionError::Failed { position, .. }) if *position == poison), "{failed:?}");
    let statuses = restarted.status().await.unwrap();
    assert!(failed_at(&statuses) > first_failure, "the failure was recorded again after the retry");
    let holder: Option<String> =
        sqlx::query_scalar("select holder from projections where name = 'products'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(holder.as_deref(), Some("p-restarted"), "the restarted runner took products up");
    check(statuses, head);
    running.stop().await;
}
