//! The key scenarios on PostgreSQL, each on a fresh database of the test cluster (`TALLY_TEST_DATABASE_URL`):
//! the hot SKU on one and two locations, a conflict from another process, two processes on one SKU, tail-only
//! reads of a long stream, and the repeat-safety of ship/cancel/return effects.

use crate::common::*;
use crate::scenarios;
use std::time::Duration;
use tally_commands::{CommandConfig, Commands};
use tally_domain::order::OrderStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_two_hundred_orders_for_fifty_units_confirm_exactly_fifty() {
    scenarios::hot_sku(&postgres(config()).await, &[("main", 50)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_two_hundred_orders_for_fifty_units_over_two_locations_confirm_exactly_fifty() {
    scenarios::hot_sku(&postgres(config()).await, &[("main", 25), ("back", 25)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_conflict_from_another_process_is_caught_up_and_decided_again() {
    scenarios::conflict_from_another_process(&postgres(config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_two_command_sides_on_one_store_share_a_hot_sku() {
    let first = postgres(config()).await;
    let second = Commands::new(scenarios::raw_store(&first), config());
    scenarios::two_processes_share_a_hot_sku(&first, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_long_stream_served_from_the_cache_reads_only_its_tail() {
    let config = CommandConfig { writer_idle: Duration::from_millis(100), ..config() };
    scenarios::long_stream_reads_only_its_tail(&postgres(config).await, 5_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_ship_cancel_and_return_effects_apply_once() {
    let h = postgres(config()).await;
    let ctx = context();
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 5)]).await;
    let stock = |name: &'static str| {
        let commands = h.commands.clone();
        async move {
            let snapshot = commands.inventory(&sku(name)).await.unwrap();
            (snapshot.state.on_hand(), snapshot.state.reserved(), snapshot.version)
        }
    };

    // Shipped, then returned with restock: each effect once, however often settled.
    let placement = h.commands.place_order(&ctx, order_of(vec![item("TEE", 3)])).await.unwrap();
    let shipped_id = placement.outcome().state.placed().unwrap().order_id();
    h.commands.capture_payment(&ctx, shipped_id, eur(3 * 1999), "psp".into(), None).await.unwrap();
    h.commands.ship(&ctx, shipped_id, vec![], "dhl".into(), "1Z".into(), None).await.unwrap();
    h.commands.receive_return(&ctx, shipped_id, vec![item("TEE", 1)], true, loc("main"), None).await.unwrap();
    let after = stock("TEE").await;
    assert_eq!((after.0, after.1), (8, 0));
    for _ in 0..3 {
        h.commands.settle_order(&ctx, shipped_id).await.unwrap();
    }
    assert_eq!(stock("TEE").await, after);

    // Cancelled: the hold is released once.
    let placement = h.commands.place_order(&ctx, order_of(vec![item("TEE", 2), item("CAP", 5)])).await.unwrap();
    let cancelled_id = placement.outcome().state.placed().unwrap().order_id();
    assert_eq!(stock("CAP").await.1, 5);
    let cancelled = h.commands.cancel(&ctx, cancelled_id, "changed mind".into(), None).await.unwrap();
    assert_eq!(cancelled.state.status(), Some(OrderStatus::Cancelled));
    let (tee, cap) = (stock("TEE").await, stock("CAP").await);
    assert_eq!(((tee.0, tee.1), (cap.0, cap.1)), ((8, 0), (5, 0)));
    h.commands.settle_order(&ctx, cancelled_id).await.unwrap();
    assert_eq!((stock("TEE").await, stock("CAP").await), (tee, cap));
    replay_inventory_never_oversold(h.raw.as_ref(), "TEE").await;
}
