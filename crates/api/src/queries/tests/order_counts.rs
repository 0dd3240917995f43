//! Orders per status and orders per hour of a day: the figures, the filters, paging in memory.

use super::analytics::{items, today, trading_day};
use super::{shop, Shop};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The `(status, orders)` of each item of a page.
fn counts(page: &Value) -> Vec<(String, i64)> {
    items(page)
        .iter()
        .map(|row| (row["status"].as_str().unwrap().to_owned(), row["orders"].as_i64().unwrap()))
        .collect()
}

fn count(status: &str, orders: i64) -> (String, i64) {
    (status.to_owned(), orders)
}

#[tokio::test]
async fn order_statuses_count_the_orders_in_each_status_in_lifecycle_order() {
    let shop = trading_day().await;
    let all = shop.fresh("/v1/analytics/order-statuses").await;
    assert_eq!(counts(&all), [count("confirmed", 2), count("rejected", 1), count("cancelled", 1)]);
    assert_eq!(all["next_cursor"], json!(null));

    // The window is exclusive at both ends, as for `GET /v1/orders`: the third order (the cancelled one) is the
    // boundary.
    let orders = shop.fresh("/v1/orders").await;
    let third = orders["items"][2]["placed_at"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(orders["items"][2]["status"], "cancelled");
    let before = shop.fresh(&format!("/v1/analytics/order-statuses?placed_before={third}")).await;
    assert_eq!(counts(&before), [count("confirmed", 2)]);
    let after = shop.fresh(&format!("/v1/analytics/order-statuses?placed_after={third}")).await;
    assert_eq!(counts(&after), [count("rejected", 1)]);
    let none = shop.fresh("/v1/analytics/order-statuses?placed_after=2999-01-01T00:00:00Z").await;
    assert_eq!(none, json!({"items": [], "next_cursor": null}));

    // Paged like every list.
    let first = shop.fresh("/v1/analytics/order-statuses?limit=2").await;
    assert_eq!(counts(&first), [count("confirmed", 2), count("rejected", 1)]);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let rest = shop.fresh(&format!("/v1/analytics/order-statuses?limit=2&cursor={cursor}")).await;
    assert_eq!(counts(&rest), [count("cancelled", 1)]);
    assert_eq!(rest["next_cursor"], json!(null));
    let foreign = shop.get(&format!("/v1/analytics/orders-per-hour?cursor={cursor}")).await;
    assert_eq!(foreign.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{}", foreign.text());
}

/// An order as the orders projection would hold it, placed at a time no command can choose.
async fn order_row(shop: &Shop, placed_at: &str, status: &str, currency: &str, total: i64) {
    sqlx::query(
        "insert into orders (order_id, customer_id, status, currency, total_amount, paid_amount, refunded_amount,
                             line_count, units, placed_at, updated_at, version, position)
         values ($1, 'cus-1', $2, $3, $4, 0, 0, 1, 1, $5::timestamptz, $5::timestamptz, 0, 0)",
    )
    .bind(Uuid::now_v7())
    .bind(status)
    .bind(currency)
    .bind(total)
    .bind(placed_at)
    .execute(&shop.state.pool)
    .await
    .expect("insert an order row");
}

/// The `(hour, currency, orders, amount)` of each item of a page.
fn hours(page: &Value) -> Vec<(String, String, i64, i64)> {
    let text = |row: &Value, name: &str| row[name].as_str().unwrap().to_owned();
    let number = |row: &Value, name: &str| row[name].as_i64().unwrap();
    items(page)
        .iter()
        .map(|row| (text(row, "hour"), text(row, "currency"), number(row, "orders"), number(row, "amount")))
        .collect()
}

fn hour(hour: &str, currency: &str, orders: i64, amount: i64) -> (String, String, i64, i64) {
    (hour.to_owned(), currency.to_owned(), orders, amount)
}

#[tokio::test]
async fn orders_per_hour_count_the_orders_placed_and_not_rejected_by_hour_and_currency() {
    let shop = shop().await;
    order_row(&shop, "2026-02-28T23:59:59.999999Z", "confirmed", "EUR", 7).await;
    order_row(&shop, "2026-03-01T09:50:00Z", "cancelled", "EUR", 2500).await;
    order_row(&shop, "2026-03-01T09:10:00Z", "confirmed", "EUR", 1000).await;
    order_row(&shop, "2026-03-01T09:20:00Z", "paid", "USD", 700).await;
    order_row(&shop, "2026-03-01T11:00:00Z", "rejected", "EUR", 9999).await;
    order_row(&shop, "2026-03-01T13:59:59.999999Z", "pending", "EUR", 300).await;
    order_row(&shop, "2026-03-01T14:00:00+01:00", "expired", "EUR", 40).await;
    order_row(&shop, "2026-03-02T00:00:00Z", "delivered", "EUR", 5).await;

    let day = shop.fresh("/v1/analytics/orders-per-hour?day=2026-03-01").await;
    assert_eq!(
        hours(&day),
        [
            hour("2026-03-01T09:00:00Z", "EUR", 2, 3500),
            hour("2026-03-01T09:00:00Z", "USD", 1, 700),
            hour("2026-03-01T13:00:00Z", "EUR", 2, 340),
        ]
    );
    assert_eq!(day["next_cursor"], json!(null));
    let next_day = shop.fresh("/v1/analytics/orders-per-hour?day=2026-03-02").await;
    assert_eq!(hours(&next_day), [hour("2026-03-02T00:00:00Z", "EUR", 1, 5)]);
    let empty = shop.fresh("/v1/analytics/orders-per-hour?day=2026-03-03").await;
    assert_eq!(empty, json!({"items": [], "next_cursor": null}));

    let first = shop.fresh("/v1/analytics/orders-per-hour?day=2026-03-01&limit=2").await;
    assert_eq!(hours(&first), hours(&day)[..2]);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let rest = shop.fresh(&format!("/v1/analytics/orders-per-hour?day=2026-03-01&limit=2&cursor={cursor}")).await;
    assert_eq!(hours(&rest), hours(&day)[2..]);
    assert_eq!(rest["next_cursor"], json!(null));
}

#[tokio::test]
async fn orders_per_hour_default_to_today_and_agree_with_the_orders_list() {
    let shop = trading_day().await;
    let today = today();
    // What the orders list says, grouped by hour and currency by hand.
    let orders = shop.fresh("/v1/orders").await;
    let mut expected: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for order in items(&orders).iter().filter(|order| order["status"] != "rejected") {
        let placed_at: DateTime<Utc> = order["placed_at"].as_str().unwrap().parse().unwrap();
        if placed_at.date_naive().to_string() != today {
            continue;
        }
        let hour = serde_json::to_value(placed_at.duration_trunc(TimeDelta::hours(1)).unwrap()).unwrap();
        let currency = order["total"]["currency"].as_str().unwrap().to_owned();
        let entry = expected.entry((hour.as_str().unwrap().to_owned(), currency)).or_default();
        entry.0 += 1;
        entry.1 += order["total"]["amount"].as_i64().unwrap();
    }
    let expected: Vec<_> =
        expected.into_iter().map(|((hour, currency), (n, amount))| (hour, currency, n, amount)).collect();
    let orders_counted: i64 = expected.iter().map(|row| row.2).sum();
    assert_eq!(orders_counted, 3, "three of the four orders were not rejected: {orders}");
    assert_eq!(expected.iter().map(|row| row.3).sum::<i64>(), 2 * 1999 + 1200 + 5 * 1200 + 1999);

    let per_hour = shop.fresh("/v1/analytics/orders-per-hour").await;
    assert_eq!(hours(&per_hour), expected);
    assert_eq!(hours(&shop.fresh(&format!("/v1/analytics/orders-per-hour?day={today}")).await), expected);
}
