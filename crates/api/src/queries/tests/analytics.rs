//! Sales by day (totals, one SKU, per SKU) and top products, as JSON and as CSV.

use super::{as_field, csv_rows, shop, Shop};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Two products, three confirmed orders (one later cancelled) and one rejected, all today.
async fn trading_day() -> Shop {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.register("CAP-BLUE", "Blue cap", 1200).await;
    shop.receive("TEE-RED-M", "main", 100).await;
    shop.receive("CAP-BLUE", "main", 100).await;
    shop.place("cus-1", &[("TEE-RED-M", 2), ("CAP-BLUE", 1)]).await;
    shop.place("cus-2", &[("CAP-BLUE", 5)]).await;
    let (cancelled, _) = shop.place("cus-3", &[("TEE-RED-M", 1)]).await;
    shop.cancel(cancelled).await;
    shop.place("cus-4", &[("TEE-RED-M", 500)]).await;
    shop
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

#[tokio::test]
async fn sales_by_day_add_up_what_the_orders_did() {
    let shop = trading_day().await;
    let day = today();
    let totals = shop.fresh(&format!("/v1/analytics/sales?from={day}&to={day}")).await;
    assert_eq!(items(&totals).len(), 1, "{totals}");
    let row = &totals["items"][0];
    assert_eq!(row["day"], day);
    assert_eq!(row["currency"], "EUR");
    assert_eq!(row["orders"], 3);
    assert_eq!(row["cancelled_orders"], 1);
    assert_eq!(row["net_orders"], 2);
    assert_eq!(row["units_sold"], 9);
    assert_eq!(row["units_cancelled"], 1);
    assert_eq!(row["net_units"], 8);
    assert_eq!(row["revenue_amount"], 3 * 1999 + 6 * 1200);
    assert_eq!(row["net_revenue_amount"], 2 * 1999 + 6 * 1200);
    assert!(row.get("sku").is_none());

    let tee = shop.fresh("/v1/analytics/sales?sku=TEE-RED-M").await;
    assert_eq!(items(&tee).len(), 1);
    assert_eq!(tee["items"][0]["sku"], "TEE-RED-M");
    assert_eq!(tee["items"][0]["net_units"], 2);
    assert_eq!(tee["items"][0]["orders"], 2);

    let per_sku = shop.fresh("/v1/analytics/sales?group=sku").await;
    let skus: Vec<&str> = items(&per_sku).iter().map(|r| r["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["CAP-BLUE", "TEE-RED-M"]);

    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let none = shop.fresh(&format!("/v1/analytics/sales?to={yesterday}")).await;
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn top_products_rank_by_units_or_revenue() {
    let shop = trading_day().await;
    let by_units = shop.fresh("/v1/analytics/top-products").await;
    let ranking: Vec<(&str, i64)> =
        items(&by_units).iter().map(|r| (r["sku"].as_str().unwrap(), r["net_units"].as_i64().unwrap())).collect();
    assert_eq!(ranking, [("CAP-BLUE", 6), ("TEE-RED-M", 2)]);

    let by_revenue = shop.fresh("/v1/analytics/top-products?by=revenue&limit=1").await;
    assert_eq!(by_revenue["items"][0]["sku"], "CAP-BLUE");
    assert_eq!(by_revenue["items"][0]["net_revenue_amount"], 7200);
    let cursor = by_revenue["next_cursor"].as_str().expect("a second page");
    let rest = shop.fresh(&format!("/v1/analytics/top-products?by=revenue&limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["sku"], "TEE-RED-M");
    assert_eq!(rest["items"][0]["net_revenue_amount"], 2 * 1999);
    assert_eq!(rest["next_cursor"], json!(null));
}

#[tokio::test]
async fn analytics_export_as_csv_with_the_same_rows() {
    let shop = trading_day().await;
    for uri in ["/v1/analytics/sales", "/v1/analytics/sales?group=sku", "/v1/analytics/top-products"] {
        let json = shop.fresh(uri).await;
        let csv = shop.get_with(uri, &[("accept", "text/csv")]).await;
        assert_eq!(csv.status, StatusCode::OK, "{uri}");
        let rows = csv_rows(&csv.text());
        assert_eq!(rows.len(), items(&json).len(), "{uri}");
        for (row, item) in rows.iter().zip(items(&json)) {
            for (name, field) in row {
                assert_eq!(*field, as_field(item.get(name.as_str()).unwrap_or(&Value::Null)), "{uri} {name}");
            }
        }
    }
}

#[tokio::test]
async fn bad_analytics_queries_are_validation_problems() {
    let shop = shop().await;
    for (uri, status) in [
        ("/v1/analytics/sales?from=2026-02-01&to=2026-01-01", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/sales?from=feb", StatusCode::BAD_REQUEST),
        ("/v1/analytics/sales?group=week", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/sales?sku=", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/sales?sku=not%20a%20sku", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/sales?leaves=", StatusCode::BAD_REQUEST),
        ("/v1/analytics/top-products?by=margin", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer = shop.get(uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text());
        assert_eq!(answer.json()["type"], "/problems/validation", "{uri}");
    }
    // Unknown parameters are refused, but `min_position` (read by its own extractor) is one of each query's.
    let answer = shop.get("/v1/analytics/top-products?from=2026-01-01&to=2026-01-01&min_position=0").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}
