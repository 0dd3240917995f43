//! The expiry worker of `tally serve`: a confirmed order still unpaid when its reservation runs out
//! (`--reservation-ttl`) is expired by the server on its own, and its stock comes back; a paid order keeps its
//! stock.
//!
//! Why: nobody sends a command for an abandoned checkout. Without the worker its units would stay reserved for
//! ever and the SKU would look sold out while the shelf is full. The domain's rule (`ExpireOrder` is refused
//! before `reserved_until`) is tested on the decider; this proves the loop that applies it runs, finds the order
//! through the read model, and releases the stock through the inventory's own stream, with the reason recorded.

use crate::harness::{get_json, poll_until, post_expect, wait_until_caught_up, TallyProcess};
use serde_json::json;
use std::time::Duration;

const SKU: &str = "EXPIRY-CAP";
/// Short enough for a test, long enough to pay the other order well within it.
const RESERVATION_TTL: &str = "3s";
/// The reservation (3 s), then at most one sweep interval (5 s), plus the projections' lag: 30 s is ample.
const EXPIRY_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_unpaid_order_expires_by_itself_and_its_stock_comes_back() {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve(&["--database-url", &db.url, "--reservation-ttl", RESERVATION_TTL]);

    let product = json!({"sku": SKU, "name": "Cap", "price": {"amount": 900, "currency": "EUR"}});
    post_expect(&format!("{base}/v1/products"), &product, 201).await;
    post_expect(&format!("{base}/v1/inventory/{SKU}/receipts"), &json!({"quantity": 10}), 201).await;

    let abandoned = json!({"customer_id": "cus-leaves", "lines": [{"sku": SKU, "quantity": 3}]});
    let abandoned = post_expect(&format!("{base}/v1/orders"), &abandoned, 201).await;
    let abandoned_id = abandoned.body["order_id"].as_str().expect("order_id").to_owned();
    let paid = json!({"customer_id": "cus-pays", "lines": [{"sku": SKU, "quantity": 2}]});
    let paid = post_expect(&format!("{base}/v1/orders"), &paid, 201).await;
    let paid_id = paid.body["order_id"].as_str().expect("order_id").to_owned();
    let payment = json!({"amount": 1800, "currency": "EUR", "reference": "psp-1"});
    post_expect(&format!("{base}/v1/orders/{paid_id}/payments"), &payment, 201).await;

    let expired = poll_until("the unpaid order to expire", EXPIRY_TIMEOUT, || async {
        let (status, body) = get_json(&format!("{base}/v1/orders/{abandoned_id}")).await;
        if status == 200 && body["status"] == "expired" {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    assert!(expired["expired_at"].is_string(), "the expiry time is recorded: {expired}");

    wait_until_caught_up(&base, Duration::from_secs(30)).await;
    let (_, paid) = get_json(&format!("{base}/v1/orders/{paid_id}")).await;
    assert_eq!(paid["status"], "paid", "a paid order is never expired: {paid}");
    let (_, stock) = get_json(&format!("{base}/v1/inventory/{SKU}")).await;
    assert_eq!(
        (stock["on_hand"].as_i64(), stock["reserved"].as_i64(), stock["available"].as_i64()),
        (Some(10), Some(2), Some(8)),
        "only the paid order's units stay reserved: {stock}"
    );

    // The release is in the stock ledger, tied to the order, with its reason.
    let (_, ledger) = get_json(&format!("{base}/v1/inventory/{SKU}/ledger")).await;
    let items = ledger["items"].as_array().expect("ledger items");
    let releases: Vec<_> = items.iter().filter(|item| item["kind"] == "released").collect();
    assert_eq!(releases.len(), 1, "one release: {ledger}");
    assert_eq!(
        (releases[0]["order_id"].as_str(), releases[0]["reason"].as_str(), releases[0]["reserved_delta"].as_i64()),
        (Some(abandoned_id.as_str()), Some("expired"), Some(-3)),
        "{ledger}"
    );

    assert!(server.terminate().success(), "tally serve stops cleanly on SIGTERM");
}
