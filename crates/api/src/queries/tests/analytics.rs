//! Sales by day (totals, one SKU, per SKU), top products and lost demand, as JSON and as CSV.

use super::{as_field, csv_rows, shop, Shop};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Two products, three confirmed orders (one later cancelled) and one rejected (500 TEE-RED-M, 98 available),
/// all today.
pub(super) async fn trading_day() -> Shop {
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

pub(super) fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

pub(super) fn items(page: &Value) -> &Vec<Value> {
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
    for uri in [
        "/v1/analytics/sales",
        "/v1/analytics/sales?group=sku",
        "/v1/analytics/top-products",
        "/v1/analytics/lost-demand",
        "/v1/analytics/order-statuses",
        "/v1/analytics/orders-per-hour",
    ] {
        let json = shop.fresh(uri).await;
        assert!(!items(&json).is_empty(), "{uri}: {json}");
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
        ("/v1/analytics/lost-demand?from=2026-02-01&to=2026-01-01", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/lost-demand?sku=not%20a%20sku", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/lost-demand?limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/lost-demand?from=-10000-01-01", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/sales?to=-10000-01-01", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/lost-demand?group=sku", StatusCode::BAD_REQUEST),
        ("/v1/analytics/lost-demand?to=yesterday", StatusCode::BAD_REQUEST),
        (
            "/v1/analytics/order-statuses?placed_after=2026-01-02T00:00:00Z&placed_before=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/analytics/order-statuses?placed_after=2026-01-01T00:00:00Z&placed_before=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/v1/analytics/order-statuses?placed_after=today", StatusCode::BAD_REQUEST),
        ("/v1/analytics/order-statuses?status=paid", StatusCode::BAD_REQUEST),
        ("/v1/analytics/order-statuses?limit=501", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/order-statuses?cursor=bm90IGEgY3Vyc29y", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/orders-per-hour?day=2026-13-01", StatusCode::BAD_REQUEST),
        ("/v1/analytics/orders-per-hour?day=2026-12-05T00:00:00Z", StatusCode::BAD_REQUEST),
        ("/v1/analytics/orders-per-hour?day=%2B10000-01-01", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/orders-per-hour?limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/analytics/orders-per-hour?cursor=x", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let answer = shop.get(uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text());
        assert_eq!(answer.content_type(), "application/problem+json", "{uri}");
        assert_eq!(answer.json()["type"], "/problems/validation", "{uri}");
    }
    // Unknown parameters are refused, but `min_position` (read by its own extractor) is one of each query's.
    let answer = shop.get("/v1/analytics/top-products?from=2026-01-01&to=2026-01-01&min_position=0").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn lost_demand_counts_the_shortages_of_rejected_orders() {
    let shop = trading_day().await;
    let day = today();
    let lost = shop.fresh(&format!("/v1/analytics/lost-demand?from={day}&to={day}")).await;
    assert_eq!(
        lost["items"],
        json!([{
            "day": day, "sku": "TEE-RED-M", "currency": "EUR", "rejected_orders": 1, "units_requested": 500,
            "units_available": 98, "units_short": 402, "lost_revenue_amount": 500 * 1999
        }])
    );
    assert_eq!(lost["next_cursor"], json!(null));
    let other_sku = shop.fresh("/v1/analytics/lost-demand?sku=CAP-BLUE").await;
    assert_eq!(other_sku["items"], json!([]));
}

/// A row of `lost_demand_daily` as the sales projection would write it, on a day no event can give.
async fn lost_row(shop: &Shop, day: &str, sku: &str, currency: &str, requested: i64, available: i64) {
    sqlx::query(
        "insert into lost_demand_daily
                (day, sku, currency, rejected_orders, units_requested, units_available, lost_revenue_amount)
         values ($1::date, $2, $3, 1, $4, $5, $4 * 100)",
    )
    .bind(day)
    .bind(sku)
    .bind(currency)
    .bind(requested)
    .bind(available)
    .execute(&shop.state.pool)
    .await
    .expect("insert a lost demand row");
}

/// The `(day, sku, currency)` of each row of a page.
fn keys(page: &Value) -> Vec<(String, String, String)> {
    let field = |row: &Value, name: &str| row[name].as_str().unwrap().to_owned();
    items(page).iter().map(|row| (field(row, "day"), field(row, "sku"), field(row, "currency"))).collect()
}

#[tokio::test]
async fn lost_demand_filters_by_days_and_sku_and_pages_in_day_order() {
    let shop = shop().await;
    lost_row(&shop, "2026-01-03", "SKU-B", "EUR", 4, 1).await;
    lost_row(&shop, "2026-01-01", "SKU-B", "USD", 2, 0).await;
    lost_row(&shop, "2026-01-02", "SKU-A", "EUR", 5, 2).await;
    lost_row(&shop, "2026-01-01", "SKU-B", "EUR", 3, 1).await;
    lost_row(&shop, "2026-01-01", "SKU-A", "EUR", 7, 3).await;
    let key = |day: &str, sku: &str, currency: &str| (day.to_owned(), sku.to_owned(), currency.to_owned());
    let all = [
        key("2026-01-01", "SKU-A", "EUR"),
        key("2026-01-01", "SKU-B", "EUR"),
        key("2026-01-01", "SKU-B", "USD"),
        key("2026-01-02", "SKU-A", "EUR"),
        key("2026-01-03", "SKU-B", "EUR"),
    ];

    let every = shop.fresh("/v1/analytics/lost-demand").await;
    assert_eq!(keys(&every), all);
    assert_eq!(every["items"][0]["units_short"], 4);
    assert_eq!(every["items"][0]["lost_revenue_amount"], 700);
    assert_eq!(keys(&shop.fresh("/v1/analytics/lost-demand?from=2026-01-02").await), all[3..]);
    assert_eq!(keys(&shop.fresh("/v1/analytics/lost-demand?to=2026-01-01").await), all[..3]);
    let sku_b = shop.fresh("/v1/analytics/lost-demand?sku=SKU-B").await;
    assert_eq!(keys(&sku_b), [all[1].clone(), all[2].clone(), all[4].clone()]);
    let one_day = shop.fresh("/v1/analytics/lost-demand?from=2026-01-01&to=2026-01-01&sku=SKU-B").await;
    assert_eq!(keys(&one_day), all[1..3]);

    // Two rows a page: three pages, every row once, in order.
    let mut walked = Vec::new();
    let mut uri = "/v1/analytics/lost-demand?limit=2".to_owned();
    loop {
        let page = shop.fresh(&uri).await;
        walked.extend(keys(&page));
        let Some(cursor) = page["next_cursor"].as_str() else { break };
        uri = format!("/v1/analytics/lost-demand?limit=2&cursor={cursor}");
    }
    assert_eq!(walked, all);

    // A cursor is bound to its list: the sales report (same key shape) refuses this one.
    let first = shop.fresh("/v1/analytics/lost-demand?limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let foreign = shop.get(&format!("/v1/analytics/sales?group=sku&cursor={cursor}")).await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", foreign.text());
    assert_eq!(foreign.json()["type"], "/problems/validation");
}
