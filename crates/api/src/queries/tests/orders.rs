//! Orders: the GET shape after a lifecycle, the list's filters, a pagination walk while orders keep arriving,
//! CSV, and bad requests.

use super::{as_field, csv_rows, shop, Shop};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn stocked_shop() -> Shop {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.register("CAP-BLUE", "Blue cap", 1200).await;
    shop.receive("TEE-RED-M", "main", 1000).await;
    shop.receive("CAP-BLUE", "main", 1000).await;
    shop
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_order_reads_back_as_the_commands_left_it() {
    let shop = stocked_shop().await;
    let (order_id, _) = shop.place("cus-42", &[("TEE-RED-M", 2), ("CAP-BLUE", 1)]).await;
    shop.pay(order_id, 2 * 1999 + 1200).await;
    let position = shop.ship(order_id).await;

    let answer = shop.get(&format!("/v1/orders/{order_id}?min_position={position}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let order = answer.json();
    assert_eq!(order["order_id"], order_id.to_string());
    assert_eq!(order["status"], "shipped");
    assert_eq!(order["customer_id"], "cus-42");
    assert_eq!(order["lines"][0]["sku"], "TEE-RED-M");
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["lines"][0]["unit_price"], json!({"amount": 1999, "currency": "EUR"}));
    assert_eq!(order["lines"][0]["shipped"], 2);
    assert_eq!(order["lines"][1]["sku"], "CAP-BLUE");
    assert_eq!(order["total"], json!({"amount": 5198, "currency": "EUR"}));
    assert_eq!(order["paid"], json!({"amount": 5198, "currency": "EUR"}));
    assert_eq!(order["refunded"], json!({"amount": 0, "currency": "EUR"}));
    for field in ["placed_at", "confirmed_at", "paid_at", "shipped_at", "updated_at", "reserved_until"] {
        assert!(order[field].is_string(), "{field}: {order}");
    }
    assert_eq!(order["cancelled_at"], json!(null));
    assert!(order["version"].as_i64().unwrap() >= 3);
}

#[tokio::test]
async fn the_list_filters_by_status_customer_and_placement_time() {
    let shop = stocked_shop().await;
    let (first, _) = shop.place("cus-1", &[("TEE-RED-M", 1)]).await;
    let (second, _) = shop.place("cus-2", &[("CAP-BLUE", 1)]).await;
    let (third, _) = shop.place("cus-1", &[("CAP-BLUE", 2)]).await;
    shop.cancel(second).await;
    let (rejected, _) = shop.place("cus-3", &[("TEE-RED-M", 5000)]).await;

    let all = shop.fresh("/v1/orders").await;
    assert_eq!(ids(&all), [first, second, third, rejected].map(|id| id.to_string()));
    assert_eq!(
        all["items"][2]["lines"],
        json!([{"sku": "CAP-BLUE", "quantity": 2,
        "unit_price": {"amount": 1200, "currency": "EUR"}, "shipped": 0, "returned": 0}])
    );

    let cancelled = shop.fresh("/v1/orders?status=cancelled").await;
    assert_eq!(ids(&cancelled), [second.to_string()]);
    let rejected_page = shop.fresh("/v1/orders?status=rejected").await;
    assert_eq!(rejected_page["items"][0]["shortages"][0]["sku"], "TEE-RED-M");
    let by_customer = shop.fresh("/v1/orders?customer_id=cus-1").await;
    assert_eq!(ids(&by_customer), [first.to_string(), third.to_string()]);
    let confirmed_for_1 = shop.fresh("/v1/orders?customer_id=cus-1&status=confirmed").await;
    assert_eq!(ids(&confirmed_for_1).len(), 2);

    let placed_at = |id: &str| -> String {
        let order = all["items"].as_array().unwrap().iter().find(|o| o["order_id"] == id).unwrap();
        order["placed_at"].as_str().unwrap().to_owned()
    };
    let after = placed_at(&first.to_string());
    let before = placed_at(&rejected.to_string());
    let window = shop.fresh(&format!("/v1/orders?placed_after={after}&placed_before={before}")).await;
    assert_eq!(ids(&window), [second.to_string(), third.to_string()]);
}

#[tokio::test]
async fn a_walk_over_all_pages_sees_every_existing_order_once_while_new_ones_arrive() {
    let shop = stocked_shop().await;
    let mut existing = BTreeSet::new();
    for i in 0..13 {
        let (id, _) = shop.place(&format!("cus-{}", i % 3), &[("TEE-RED-M", 1)]).await;
        existing.insert(id.to_string());
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/orders?limit=4".to_owned();
    loop {
        let page = shop.fresh(&uri).await;
        seen.extend(ids(&page));
        // Orders keep arriving between page fetches.
        shop.place("cus-new", &[("CAP-BLUE", 1)]).await;
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/orders?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no order is repeated");
    assert!(existing.is_subset(&unique), "no existing order is missed");
}

#[tokio::test]
async fn the_orders_csv_is_the_json_list_flattened() {
    let shop = stocked_shop().await;
    let (paid, _) = shop.place("cus-1, \"VIP\"", &[("TEE-RED-M", 2)]).await;
    shop.pay(paid, 3998).await;
    shop.place("cus-2", &[("CAP-BLUE", 1)]).await;

    let json = shop.fresh("/v1/orders").await;
    let csv = shop.get_with("/v1/orders", &[("accept", "text/csv")]).await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows = csv_rows(&csv.text());
    let items = json["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    for (row, item) in rows.iter().zip(items) {
        assert_eq!(row["order_id"], as_field(&item["order_id"]));
        assert_eq!(row["status"], as_field(&item["status"]));
        assert_eq!(row["customer_id"], as_field(&item["customer_id"]));
        assert_eq!(row["total_amount"], as_field(&item["total"]["amount"]));
        assert_eq!(row["paid_amount"], as_field(&item["paid"]["amount"]));
        assert_eq!(row["currency"], as_field(&item["total"]["currency"]));
        assert_eq!(row["placed_at"], as_field(&item["placed_at"]));
        assert_eq!(row["paid_at"], as_field(&item["paid_at"]));
        assert_eq!(row["version"], as_field(&item["version"]));
    }
    assert_eq!(rows[0]["customer_id"], "cus-1, \"VIP\"");
}

#[tokio::test]
async fn bad_order_queries_are_problems() {
    let shop = shop().await;
    let cases = [
        ("/v1/orders/not-a-uuid", StatusCode::BAD_REQUEST, "/problems/validation"),
        ("/v1/orders/0193a9b0-0000-7000-8000-000000000000", StatusCode::NOT_FOUND, "/problems/not-found"),
        ("/v1/orders?status=lost", StatusCode::UNPROCESSABLE_ENTITY, "/problems/validation"),
        ("/v1/orders?placed_after=yesterday", StatusCode::BAD_REQUEST, "/problems/validation"),
        (
            "/v1/orders?placed_after=2026-01-02T00:00:00Z&placed_before=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/validation",
        ),
        ("/v1/orders?limit=0", StatusCode::UNPROCESSABLE_ENTITY, "/problems/validation"),
        ("/v1/orders?limit=501", StatusCode::UNPROCESSABLE_ENTITY, "/problems/validation"),
        ("/v1/orders?cursor=garbage", StatusCode::UNPROCESSABLE_ENTITY, "/problems/validation"),
        ("/v1/orders?customer_id=", StatusCode::UNPROCESSABLE_ENTITY, "/problems/validation"),
        ("/v1/orders?stauts=paid", StatusCode::BAD_REQUEST, "/problems/validation"),
        (
            "/v1/orders/0193a9b0-0000-7000-8000-000000000000?as_of=2026-01-01T00:00:00Z&at_version=0",
            StatusCode::BAD_REQUEST,
            "/problems/validation",
        ),
        ("/v1/orders/0193a9b0-0000-7000-8000-000000000000?version=1", StatusCode::BAD_REQUEST, "/problems/validation"),
    ];
    for (uri, status, kind) in cases {
        let answer = shop.get(uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text());
        assert_eq!(answer.content_type(), "application/problem+json", "{uri}");
        assert_eq!(answer.json()["type"], kind, "{uri}");
    }
    // A cursor from another list is refused, not misread.
    shop.register("A-1", "a", 1).await;
    shop.register("B-2", "b", 1).await;
    let products = shop.fresh("/v1/products?limit=1").await;
    let cursor = products["next_cursor"].as_str().unwrap();
    let answer = shop.get(&format!("/v1/orders?cursor={cursor}")).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json()["field"], "cursor");
}
