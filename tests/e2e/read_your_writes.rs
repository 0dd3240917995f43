//! Read-your-writes over real processes: a query given a command's `Tally-Position` (as `min_position=` or the
//! `Tally-Min-Position` header) sees that command's effect, and never answers from a read model that has not
//! applied it.
//!
//! Why: projections apply the log asynchronously, so a storefront that reads right after writing would otherwise
//! see the world before its own write. The test proves both halves: right after each command the position-bound
//! query shows its effect; and while the inventory projection is held back (the test locks a table it writes), a
//! plain query shows the stale stock, the position-bound query answers 503 `unavailable` with `Retry-After`
//! instead of stale data, and once the projection may go on, it shows the write.

use crate::harness::{authorized, get_json, post_expect, TallyProcess};
use serde_json::json;

const SKU: &str = "RYW-MUG";

#[tokio::test]
async fn a_query_at_a_commands_position_sees_the_commands_effect() {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve_on(&db.url);
    let client = reqwest::Client::new();

    let product = json!({"sku": SKU, "name": "Mug", "price": {"amount": 900, "currency": "EUR"}});
    let registered = post_expect(&format!("{base}/v1/products"), &product, 201).await;
    let position = registered.position.expect("a command answers with Tally-Position");
    let (status, body) = get_json(&format!("{base}/v1/products/{SKU}?min_position={position}")).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Mug")), "{body}");

    let receipt = json!({"quantity": 50});
    let received = post_expect(&format!("{base}/v1/inventory/{SKU}/receipts"), &receipt, 201).await;
    let position = received.position.expect("Tally-Position");
    let (status, body) = get_json(&format!("{base}/v1/inventory/{SKU}?min_position={position}")).await;
    assert_eq!((status, body["on_hand"].as_u64()), (200, Some(50)), "{body}");

    // Each order is visible, confirmed, and holding its stock, in the very next query.
    for placed in 1..=20_u64 {
        let order = json!({"customer_id": "cus-ryw", "lines": [{"sku": SKU, "quantity": 1}]});
        let reply = post_expect(&format!("{base}/v1/orders"), &order, 201).await;
        let (id, position) =
            (reply.body["order_id"].as_str().expect("order_id"), reply.position.expect("Tally-Position"));
        let (status, body) = get_json(&format!("{base}/v1/orders/{id}?min_position={position}")).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("confirmed")), "order {placed}: {body}");
        let url = format!("{base}/v1/inventory/{SKU}");
        let response = authorized(client.get(&url), &url)
            .header("Tally-Min-Position", position.to_string())
            .send()
            .await
            .expect("GET inventory");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["reserved"].as_u64(), Some(placed), "after order {placed}: {body}");
    }

    // Hold the inventory projection back: its next batch waits for this lock to write inventory_totals.
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("lock table inventory_totals in exclusive mode").execute(&mut *lock).await.expect("lock");
    let received = post_expect(&format!("{base}/v1/inventory/{SKU}/receipts"), &json!({"quantity": 7}), 201).await;
    let position = received.position.expect("Tally-Position");
    let (status, stale) = get_json(&format!("{base}/v1/inventory/{SKU}")).await;
    assert_eq!(
        (status, stale["on_hand"].as_u64()),
        (200, Some(50)),
        "the plain query reads the held-back model: {stale}"
    );
    let url = format!("{base}/v1/inventory/{SKU}?min_position={position}");
    let response = authorized(client.get(&url), &url).send().await.expect("GET inventory at the position");
    let (status, retry_after) = (response.status().as_u16(), response.headers().get("retry-after").cloned());
    let body: serde_json::Value = response.json().await.expect("problem json");
    assert_eq!((status, body["type"].as_str()), (503, Some("/problems/unavailable")), "{body}");
    assert!(retry_after.is_some(), "a 503 says when to retry");

    lock.rollback().await.expect("release the lock");
    let (status, body) = get_json(&format!("{base}/v1/inventory/{SKU}?min_position={position}")).await;
    assert_eq!((status, body["on_hand"].as_u64()), (200, Some(57)), "{body}");
    assert!(server.terminate().success());
}
