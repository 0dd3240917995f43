//! After a randomized workload of every command kind, each read model equals a from-scratch rebuild (table
//! contents, row by row), and agrees with the domain's own state of every aggregate.

use std::collections::BTreeMap;
use tally_projections::{Projector, ReadModel};

use crate::workload::Workload;
use crate::{assert_equals_rebuild, caught_up, options, setup, Running};

const KINDS: [&str; 16] = [
    "register",
    "reprice",
    "discontinue",
    "receive",
    "adjust",
    "place",
    "confirm",
    "reject",
    "capture",
    "ship",
    "deliver",
    "cancel",
    "expire",
    "return",
    "refund",
    "place",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_model_equals_a_rebuild_after_a_random_workload() {
    let (db, store) = setup().await;
    let projector = Projector::new(store.clone(), db.pool.clone(), options("live", 37));
    let running = Running::start(projector.clone());
    let mut workload = Workload::new(store.clone(), 42);
    workload.run(900).await;
    for kind in KINDS {
        assert!(workload.generator.accepted.get(kind).copied().unwrap_or(0) > 0, "the workload never ran {kind}");
    }
    caught_up(&projector, workload.last_position).await;

    assert_matches_domain(&db.pool, &workload).await;
    assert_sales_agree_with_orders(&db.pool).await;
    for model in ReadModel::ALL {
        for (table, rows) in crate::snapshot(&db, model).await {
            assert!(!rows.is_empty(), "{table} is empty after the workload");
        }
    }
    // Rebuild while a reader keeps querying the live tables: it never sees an error.
    let reader_pool = db.pool.clone();
    let reader = tokio::spawn(async move {
        for _ in 0..200 {
            let count: i64 = sqlx::query_scalar("select count(*) from orders").fetch_one(&reader_pool).await.unwrap();
            assert!(count > 0, "readers see the live orders during a rebuild");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
    assert_equals_rebuild(&db, &projector).await;
    reader.await.expect("the reader saw no error");

    // The live projector goes on after the swaps, on the new tables.
    workload.run(100).await;
    caught_up(&projector, workload.last_position).await;
    assert_matches_domain(&db.pool, &workload).await;
    running.stop().await;
}

/// The read models say what the aggregates' own states say.
async fn assert_matches_domain(pool: &sqlx::PgPool, workload: &Workload) {
    let levels: Vec<(String, String, i64, i64)> =
        sqlx::query_as("select sku, location, on_hand, reserved from inventory_levels").fetch_all(pool).await.unwrap();
    let mut expected = BTreeMap::new();
    for (sku, (inventory, _)) in &workload.generator.inventories {
        for (location, stock) in inventory.locations() {
            let counts = (i64::try_from(stock.on_hand()).unwrap(), i64::try_from(stock.reserved()).unwrap());
            expected.insert((sku.to_string(), location.to_string()), counts);
        }
    }
    let actual: BTreeMap<_, _> = levels.into_iter().map(|(s, l, h, r)| ((s, l), (h, r))).collect();
    assert_eq!(actual, expected, "inventory levels");

    let orders: Vec<(uuid::Uuid, String, i64, i64)> =
        sqlx::query_as("select order_id, status, paid_amount, refunded_amount from orders")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(orders.len(), workload.generator.orders.len());
    for (id, status, paid, refunded) in orders {
        let order = workload.generator.orders[&tally_domain::OrderId::from_uuid(id)].0.placed().unwrap().clone();
        assert_eq!(status, order.status().as_str());
        assert_eq!((paid, refunded), (order.paid().minor(), order.refunded().minor()), "money of {id}");
    }

    let products: Vec<(String, i64, String)> =
        sqlx::query_as("select sku, price_amount, status from products").fetch_all(pool).await.unwrap();
    assert_eq!(products.len(), workload.generator.products.len());
    for (sku, price, status) in products {
        let details =
            workload.generator.products[&tally_domain::Sku::parse(&sku).unwrap()].0.details().unwrap().clone();
        assert_eq!(price, details.price().minor());
        let expected = details.status().as_str();
        assert_eq!(status, expected);
    }
}

/// Sales and orders are separate projections, but they count the same facts.
async fn assert_sales_agree_with_orders(pool: &sqlx::PgPool) {
    let confirmed: i64 =
        sqlx::query_scalar("select count(*) from orders where confirmed_at is not null").fetch_one(pool).await.unwrap();
    let withdrawn: i64 = sqlx::query_scalar(
        "select count(*) from orders where confirmed_at is not null and (cancelled_at is not null or expired_at is not null)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let returned: i64 =
        sqlx::query_scalar("select coalesce(sum(returned), 0)::bigint from order_lines").fetch_one(pool).await.unwrap();
    let rejected: i64 =
        sqlx::query_scalar("select count(*) from orders where status = 'rejected'").fetch_one(pool).await.unwrap();
    let (orders, cancelled, units_returned): (i64, i64, i64) = sqlx::query_as(
        "select sum(orders)::bigint, sum(cancelled_orders)::bigint, sum(units_returned)::bigint from sales_daily",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((orders, cancelled, units_returned), (confirmed, withdrawn, returned));
    let lost_orders: i64 =
        sqlx::query_scalar("select count(distinct order_id)::bigint from orders where status = 'rejected'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(lost_orders, rejected);
    let shortage_lines: i64 =
        sqlx::query_scalar("select coalesce(sum(jsonb_array_length(shortages)), 0)::bigint from orders")
            .fetch_one(pool)
            .await
            .unwrap();
    let lost_rows: i64 = sqlx::query_scalar("select coalesce(sum(rejected_orders), 0)::bigint from lost_demand_daily")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(lost_rows, shortage_lines);
    let (daily_net, sku_net): (i64, i64) = sqlx::query_as(
        "select (select sum(net_revenue_amount) from sales_daily)::bigint,
                (select sum(net_revenue_amount) from sales_daily_sku)::bigint",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(daily_net, sku_net, "per-sku sales add up to the daily sales");
}
