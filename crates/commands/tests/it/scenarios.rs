//! Scenarios run against both stores (`writers.rs` on memory, `postgres.rs` on PostgreSQL): a hot SKU under
//! concurrent orders, a conflict caused by another process, a long stream served from the cache, and two command
//! sides (two processes) sharing one hot SKU.

use crate::common::*;
use std::time::Duration;
use tally_commands::{Commands, Placement};
use tally_domain::inventory::InventoryCommand;
use tally_domain::order::{OrderStatus, Shortage};
use tally_domain::{Aggregate, Inventory, OrderId};
use tally_store::{EventStore, ExpectedVersion};
use uuid::Uuid;

/// Places `orders` single-unit orders of `HOT` at once; returns (confirmed, rejected) counts.
async fn place_single_unit_orders(commands: &Commands, orders: usize) -> (usize, usize) {
    let tasks: Vec<_> = (0..orders)
        .map(|_| {
            let commands = commands.clone();
            tokio::spawn(async move { commands.place_order(&context(), order_of(vec![item("HOT", 1)])).await })
        })
        .collect();
    let (mut confirmed, mut rejected) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Placement::Confirmed(outcome) => {
                assert_eq!(outcome.state.status(), Some(OrderStatus::Confirmed));
                confirmed += 1;
            }
            Placement::Rejected { shortages, outcome, .. } => {
                assert_eq!(shortages, vec![Shortage { sku: sku("HOT"), requested: qty(1), available: 0 }]);
                assert_eq!(outcome.state.status(), Some(OrderStatus::Rejected));
                rejected += 1;
            }
        }
    }
    (confirmed, rejected)
}

/// 200 concurrent single-unit orders against 50 units of one SKU (spread over `stock`'s locations): exactly 50
/// confirmed, 150 rejected with their shortages, 50 reserved, and the stored stream never oversold.
pub async fn hot_sku(h: &Harness, stock: &[(&str, u32)]) {
    stocked(&h.commands, "HOT", 1999, stock).await;
    let (confirmed, rejected) = place_single_unit_orders(&h.commands, 200).await;
    assert_eq!((confirmed, rejected), (50, 150));

    let inventory = h.commands.inventory(&sku("HOT")).await.unwrap();
    assert_eq!((inventory.state.on_hand(), inventory.state.reserved(), inventory.state.available()), (50, 50, 0));
    assert_eq!(inventory.state.reservations().count(), 50);
    let replayed = replay_inventory_never_oversold(h.raw.as_ref(), "HOT").await;
    assert_eq!(&replayed, inventory.state.as_ref());
}

/// Another process appends to a SKU behind the writer's back: the writer's next append conflicts, it reads the
/// tail and decides again on the real state.
pub async fn conflict_from_another_process(h: &Harness) {
    stocked(&h.commands, "SKU", 1999, &[("main", 10)]).await;
    let stream = Inventory::stream_id(&sku("SKU"));
    // The writer now holds the stream at version 0. Another process reserves 8 units for its order.
    let other_order = OrderId::from_uuid(Uuid::now_v7());
    let current = h.commands.inventory(&sku("SKU")).await.unwrap();
    let expires_at = h.clock.now_for_test();
    let reserve = InventoryCommand::ReserveStock { order_id: other_order, quantity: qty(8), expires_at };
    let events = Inventory::decide(&current.state, reserve).unwrap();
    h.raw.append(&stream, ExpectedVersion::Exact(0), events.iter().map(stored).collect()).await.unwrap();

    // Decided on the stale state, 5 units would fit; on the real one only 2 are left.
    let refused = h.commands.place_order(&context(), order_of(vec![item("SKU", 5)])).await.unwrap();
    assert!(matches!(refused, Placement::Rejected { ref shortages, .. } if shortages[0].available == 2));
    let accepted = h.commands.place_order(&context(), order_of(vec![item("SKU", 2)])).await.unwrap();
    assert!(matches!(accepted, Placement::Confirmed(_)));

    let inventory = h.commands.inventory(&sku("SKU")).await.unwrap();
    assert_eq!((inventory.state.reserved(), inventory.state.available()), (10, 0));
    assert!(inventory.state.reservation(&other_order).is_some());

    // The writer now remembers "nothing available". Another process receives 3 units: a refusal must not rest on
    // the remembered state (no false "out of stock"), although refusing appends nothing the store could check.
    let received =
        tally_domain::InventoryEvent::StockReceived { location: loc("main"), quantity: qty(3), reference: "PO".into() };
    let version =
        h.raw.read_stream(&stream, tally_store::ReadStream::backwards_from_end(1)).await.unwrap()[0].stream_version;
    h.raw.append(&stream, ExpectedVersion::Exact(version), vec![stored(&received)]).await.unwrap();
    let accepted = h.commands.place_order(&context(), order_of(vec![item("SKU", 3)])).await.unwrap();
    assert!(matches!(accepted, Placement::Confirmed(_)), "{accepted:?}");
    replay_inventory_never_oversold(h.raw.as_ref(), "SKU").await;
}

/// A stream of `length` events: the first command reads it all, later ones only what is new, whether the writer
/// still runs or has stopped (then the snapshot comes from the cache). `h` must have a short `writer_idle`.
pub async fn long_stream_reads_only_its_tail(h: &Harness, length: u64) {
    stocked(&h.commands, "LONG", 1999, &[]).await;
    let stream = Inventory::stream_id(&sku("LONG"));
    let receipt = || {
        stored(&tally_domain::InventoryEvent::StockReceived {
            location: loc("main"),
            quantity: qty(1),
            reference: "PO".into(),
        })
    };
    let mut written = 0;
    while written < length {
        let chunk = (length - written).min(1000);
        let expected = if written == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(written - 1) };
        h.raw.append(&stream, expected, (0..chunk).map(|_| receipt()).collect()).await.unwrap();
        written += chunk;
    }
    let (ctx, long) = (context(), sku("LONG"));
    let receive = || h.commands.receive_stock(&ctx, &long, loc("main"), qty(1), "PO".into(), None);

    h.counting.take_events_read();
    receive().await.unwrap();
    assert_eq!(h.counting.take_events_read(), length, "the first command reads the whole stream once");

    let outcome = receive().await.unwrap();
    assert_eq!(h.counting.take_events_read(), 0, "the running writer holds the state");
    assert_eq!(outcome.version, Some(length + 1));

    h.raw.append(&stream, ExpectedVersion::Exact(length + 1), (0..3).map(|_| receipt()).collect()).await.unwrap();
    let outcome = receive().await.unwrap();
    assert_eq!(h.counting.take_events_read(), 3, "a conflict reads only the 3 new events");
    assert_eq!(outcome.version, Some(length + 5));

    wait_until_writers_stop(&h.commands).await;
    let outcome = receive().await.unwrap();
    assert_eq!(h.counting.take_events_read(), 0, "a new writer starts from the cached snapshot");
    assert_eq!((outcome.version, outcome.state.on_hand()), (Some(length + 6), length + 7));
}

/// Two command sides on one store (two processes) place orders for one SKU at once: conflicts between them are
/// caught up and decided again; exactly the stock is confirmed.
pub async fn two_processes_share_a_hot_sku(first: &Harness, second: &Commands) {
    stocked(&first.commands, "HOT", 1999, &[("main", 30), ("back", 30)]).await;
    let (a, b) = tokio::join!(place_single_unit_orders(&first.commands, 50), place_single_unit_orders(second, 50));
    assert_eq!((a.0 + b.0, a.1 + b.1), (60, 40));
    let inventory = first.commands.inventory(&sku("HOT")).await.unwrap();
    assert_eq!((inventory.state.reserved(), inventory.state.available()), (60, 0));
    replay_inventory_never_oversold(first.raw.as_ref(), "HOT").await;
}

/// Waits (bounded) until every writer task has stopped for idleness.
pub async fn wait_until_writers_stop(commands: &Commands) {
    for _ in 0..200 {
        if commands.stats().running_writers == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("writers still running: {:?}", commands.stats());
}

/// The raw store of a harness, for a second command side on it.
pub fn raw_store(h: &Harness) -> std::sync::Arc<dyn EventStore> {
    std::sync::Arc::clone(&h.raw)
}
