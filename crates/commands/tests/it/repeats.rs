//! Keyed commands run again (an `Idempotency-Key` retried after a crash, a 5xx or a lost response record): the
//! earlier attempt's events are found by their derived ids, nothing is appended twice, and the answer is the
//! earlier attempt's outcome, on one command side or on two sharing a store.

use crate::common::*;
use std::sync::Arc;
use tally_commands::{CommandContext, Commands, IdempotentRun};
use tally_domain::order::OrderStatus;
use tally_domain::{Aggregate, Inventory, Order};
use tally_store::MemoryEventStore;

/// The context of a request under `key`; `earlier_attempt` as the HTTP layer sets it on a takeover.
fn keyed(key: &str, earlier_attempt: bool) -> CommandContext {
    let run = IdempotentRun { scope: String::new(), key: key.to_owned(), earlier_attempt };
    CommandContext::from_request("storefront", None, None, Some(run))
}

#[tokio::test]
async fn a_receipt_repeated_after_its_answer_was_lost_appends_nothing_and_answers_the_first_outcome() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[]).await;
    let receive = |ctx: CommandContext| {
        let commands = h.commands.clone();
        async move { commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(10), "PO-7".into(), None).await }
    };
    let first = receive(keyed("receipt-7", false)).await.unwrap();
    // Stock moves on meanwhile.
    receive(context()).await.unwrap();
    let again = receive(keyed("receipt-7", true)).await.unwrap();
    let stream = history(h.raw.as_ref(), &Inventory::stream_id(&sku("TEE"))).await;
    assert_eq!(stream.len(), 2, "the repeat appended nothing");
    assert_eq!((again.version, again.position), (first.version, first.position));
    assert_eq!(again.state.on_hand(), 10, "the stock as the first attempt left it");
    assert_eq!(again.events.len(), 1);
    assert_eq!(again.events[0].event_id, first.events[0].event_id);
}

#[tokio::test]
async fn a_repeat_whose_decision_is_now_a_refusal_still_answers_the_first_outcome() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let placed = h.commands.place_order(&context(), order_of(vec![item("TEE", 2)])).await.unwrap();
    let order_id = placed.outcome().state.placed().unwrap().order_id();
    h.commands.capture_payment(&context(), order_id, eur(3998), "psp".into(), None).await.unwrap();
    let ship = |ctx: CommandContext| {
        let commands = h.commands.clone();
        async move { commands.ship(&ctx, order_id, Vec::new(), "dhl".into(), "1Z".into(), None).await }
    };
    let first = ship(keyed("ship-1", false)).await.unwrap();
    assert_eq!(first.state.status(), Some(OrderStatus::Shipped));
    // Shipping everything again would be refused (nothing left to ship): the repeat finds the first shipment.
    let again = ship(keyed("ship-1", true)).await.unwrap();
    assert_eq!((again.version, again.position), (first.version, first.position));
    let shipments = history(h.raw.as_ref(), &Order::stream_id(&order_id)).await;
    assert_eq!(shipments.iter().filter(|e| e.event_type == "ShipmentDispatched").count(), 1);
    let stock = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!((stock.state.on_hand(), stock.state.reserved()), (3, 0), "committed once");
    // Without the key, the same request is a new command, and refused.
    assert!(ship(context()).await.is_err());
}

#[tokio::test]
async fn a_repeat_with_nothing_recorded_runs_the_command() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[]).await;
    let ctx = keyed("never-landed", true);
    let outcome = h.commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(4), "PO".into(), None).await.unwrap();
    assert_eq!((outcome.events.len(), outcome.state.on_hand()), (1, 4));
}

#[tokio::test]
async fn one_keyed_command_sent_to_two_command_sides_at_once_is_recorded_once() {
    let store: Arc<dyn tally_store::EventStore> = Arc::new(MemoryEventStore::new());
    let (a, b) = (Commands::new(Arc::clone(&store), config()), Commands::new(Arc::clone(&store), config()));
    stocked(&a, "TEE", 1999, &[]).await;
    let mut answers = Vec::new();
    for round in 0..20 {
        let side = if round % 2 == 0 { a.clone() } else { b.clone() };
        answers.push(tokio::spawn(async move {
            let ctx = keyed("burst", round > 0);
            side.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(3), "PO".into(), None).await
        }));
    }
    let mut versions = Vec::new();
    for answer in answers {
        versions.push(answer.await.unwrap().unwrap().version);
    }
    let stream = history(store.as_ref(), &Inventory::stream_id(&sku("TEE"))).await;
    assert_eq!(stream.len(), 1, "twenty attempts, one receipt");
    assert!(versions.iter().all(|v| *v == Some(0)), "every attempt answers the one receipt: {versions:?}");
}

#[tokio::test]
async fn a_recorded_repeat_in_a_batch_leaves_the_batch_s_other_commands_alone() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[]).await;
    let ctx = keyed("in-a-batch", false);
    h.commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(5), "PO".into(), None).await.unwrap();
    // The same key (a repeat that does not know it is one) queued with ordinary receipts.
    let mut pending = Vec::new();
    for n in 0..10 {
        let commands = h.commands.clone();
        let ctx = if n == 5 { keyed("in-a-batch", false) } else { context() };
        pending.push(tokio::spawn(async move {
            commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(1), "PO".into(), None).await
        }));
    }
    for answer in pending {
        answer.await.unwrap().unwrap();
    }
    let stock = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!(stock.state.on_hand(), 5 + 9, "the nine others were received, the repeat was not");
}
