//! Products and inventory: shapes, filters, the ledger, CSV, and not-found problems.

use super::{as_field, csv_rows, shop};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn products_are_listed_in_sku_order_and_read_one_by_one() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.register("CAP-BLUE", "Blue cap", 1200).await;

    let one = shop.fresh("/v1/products/TEE-RED-M").await;
    assert_eq!(one["sku"], "TEE-RED-M");
    assert_eq!(one["name"], "Red tee, M");
    assert_eq!(one["price"], json!({"amount": 1999, "currency": "EUR"}));
    assert_eq!(one["status"], "active");
    assert_eq!(one["version"], 0);

    let list = shop.fresh("/v1/products").await;
    let skus: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["CAP-BLUE", "TEE-RED-M"]);
    assert_eq!(list["next_cursor"], json!(null));

    let active = shop.fresh("/v1/products?status=discontinued").await;
    assert_eq!(active["items"], json!([]));
}

#[tokio::test]
async fn unknown_products_and_stock_are_not_found_problems() {
    let shop = shop().await;
    for uri in ["/v1/products/NOPE", "/v1/inventory/NOPE", "/v1/inventory/NOPE/ledger"] {
        let answer = shop.get(uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer.content_type(), "application/problem+json", "{uri}");
        assert_eq!(answer.json()["type"], "/problems/not-found", "{uri}");
    }
    let answer = shop.get("/v1/products?status=gone").await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json()["type"], "/problems/validation");
}

#[tokio::test]
async fn a_skus_stock_has_the_receipt_shape_with_every_location() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.receive("TEE-RED-M", "main", 100).await;
    shop.receive("TEE-RED-M", "store-2", 5).await;
    let (_, _) = shop.place("cus-1", &[("TEE-RED-M", 2)]).await;

    let stock = shop.fresh("/v1/inventory/TEE-RED-M").await;
    assert_eq!(stock["sku"], "TEE-RED-M");
    assert_eq!(stock["on_hand"], 105);
    assert_eq!(stock["reserved"], 2);
    assert_eq!(stock["available"], 103);
    let locations = stock["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    assert_eq!(locations[1], json!({"location": "store-2", "on_hand": 5, "reserved": 0, "available": 5}));
    assert_eq!(locations[0]["location"], "main");
    assert_eq!(locations[0]["on_hand"].as_i64().unwrap() + 5, 105);
    assert_eq!(stock["version"], 2);
}

#[tokio::test]
async fn below_lists_only_low_stock() {
    let shop = shop().await;
    for (sku, units) in [("A-1", 3), ("B-2", 10), ("C-3", 4)] {
        shop.register(sku, sku, 100).await;
        shop.receive(sku, "main", units).await;
    }
    let low = shop.fresh("/v1/inventory?below=5").await;
    let skus: Vec<&str> = low["items"].as_array().unwrap().iter().map(|s| s["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["A-1", "C-3"]);
    let all = shop.fresh("/v1/inventory?limit=2").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let cursor = all["next_cursor"].as_str().expect("a second page");
    let rest = shop.fresh(&format!("/v1/inventory?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["sku"], "C-3");
    assert_eq!(rest["next_cursor"], json!(null));

    let answer = shop.get("/v1/inventory?below=-1").await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = shop.get("/v1/inventory?below=few").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["type"], "/problems/validation");
}

#[tokio::test]
async fn the_ledger_pages_through_a_skus_movements_and_exports_as_csv() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    for _ in 0..5 {
        shop.receive("TEE-RED-M", "main", 10).await;
    }
    let (order_id, _) = shop.place("cus-1", &[("TEE-RED-M", 3)]).await;

    let mut kinds = Vec::new();
    let mut uri = "/v1/inventory/TEE-RED-M/ledger?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = shop.fresh(&uri).await;
        pages += 1;
        kinds.extend(page["items"].as_array().unwrap().iter().map(|row| row["kind"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/inventory/TEE-RED-M/ledger?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(kinds, ["received", "received", "received", "received", "received", "reserved"]);

    let json = shop.fresh("/v1/inventory/TEE-RED-M/ledger").await;
    let last = &json["items"][5];
    assert_eq!(last["order_id"], order_id.to_string());
    assert_eq!(last["reserved_delta"], 3);
    assert_eq!(last["sku_available_after"], 47);

    let csv = shop.get_with("/v1/inventory/TEE-RED-M/ledger", &[("accept", "text/csv")]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let rows = csv_rows(&csv.text());
    let items = json["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    for (row, item) in rows.iter().zip(items) {
        for (name, field) in row {
            assert_eq!(*field, as_field(&item[name.as_str()]), "{name}");
        }
    }
}

#[tokio::test]
async fn csv_pages_carry_the_next_cursor_in_headers() {
    let shop = shop().await;
    shop.register("A-1", "Tee, \"classic\", red", 100).await;
    shop.register("B-2", "Cap", 200).await;
    shop.fresh("/v1/products").await;

    let first = shop.get_with("/v1/products?limit=1", &[("accept", "text/csv, */*;q=0.1")]).await;
    assert_eq!(first.status, StatusCode::OK);
    let rows = csv_rows(&first.text());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "Tee, \"classic\", red");
    assert_eq!(rows[0]["price_amount"], "100");
    let cursor = first.headers["tally-next-cursor"].to_str().unwrap().to_owned();
    let link = first.headers["link"].to_str().unwrap();
    assert_eq!(link, format!("</v1/products?limit=1&cursor={cursor}>; rel=\"next\""));

    let second = shop.get_with(&format!("/v1/products?limit=1&cursor={cursor}"), &[("accept", "text/csv")]).await;
    let rows = csv_rows(&second.text());
    assert_eq!(rows[0]["sku"], "B-2");
    assert!(second.headers.get("tally-next-cursor").is_none());
}

#[tokio::test]
async fn walks_over_products_and_the_ledger_are_stable_while_rows_arrive() {
    let shop = shop().await;
    let mut existing = std::collections::BTreeSet::new();
    for i in 0..9 {
        let sku = format!("SKU-{:02}", i * 2 + 1);
        shop.register(&sku, "odd", 100).await;
        shop.receive("SKU-01", "main", 1).await;
        existing.insert(sku);
    }

    let mut seen = Vec::new();
    let mut uri = "/v1/products?limit=2".to_owned();
    let mut added = 0;
    loop {
        let page = shop.fresh(&uri).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_owned()));
        // New products land both before and after the cursor.
        shop.register(&format!("SKU-{:02}", added * 2), "even", 100).await;
        shop.register(&format!("SKU-Z{added}"), "late", 100).await;
        added += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/products?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no product is repeated");
    assert!(existing.is_subset(&unique), "no existing product is missed");

    let existing_moves = shop.fresh("/v1/inventory/SKU-01/ledger?limit=500").await["items"].as_array().unwrap().len();
    let mut positions = Vec::new();
    let mut uri = "/v1/inventory/SKU-01/ledger?limit=4".to_owned();
    loop {
        let page = shop.fresh(&uri).await;
        positions.extend(page["items"].as_array().unwrap().iter().map(|row| row["position"].as_i64().unwrap()));
        shop.receive("SKU-01", "main", 1).await;
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/inventory/SKU-01/ledger?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "in log order, none repeated");
    assert!(positions.len() >= existing_moves);
}
