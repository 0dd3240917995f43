//! Two runners of one order at once (a request and the order process, or two nodes), with the window between one
//! runner's reservations and its decision held open by a gate: whatever the other runner does in that window,
//! the order ends with holds that match its outcome.

use crate::common::*;
use std::sync::Arc;
use tally_commands::{CommandConfig, Commands, DecisionGate, Placement};
use tally_domain::order::OrderStatus;
use tally_domain::{OrderId, Sku};
use tally_store::{EventStore, MemoryEventStore};

/// Two command sides on one store; the first stops every order runner at `gate` before it decides.
fn two_nodes(gate: &DecisionGate) -> (Commands, Commands) {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let gated = CommandConfig { decision_gate: Some(gate.clone()), ..config() };
    (Commands::new(Arc::clone(&store), gated), Commands::new(store, config()))
}

/// Places an order of one unit each of A and B on `node` in a task; returns the order id and the task.
fn place_a_and_b(node: &Commands) -> (OrderId, tokio::task::JoinHandle<Placement>) {
    let order_id = OrderId::from_uuid(uuid::Uuid::now_v7());
    let request = tally_commands::PlaceOrder {
        order_id: Some(order_id),
        customer_id: customer(),
        lines: vec![item("A", 1), item("B", 1)],
    };
    let node = node.clone();
    (order_id, tokio::spawn(async move { node.place_order(&context(), request).await.unwrap() }))
}

async fn reserved(node: &Commands, name: &str) -> u64 {
    node.inventory(&Sku::parse(name).unwrap()).await.unwrap().state.reserved()
}

async fn status(node: &Commands, order_id: OrderId) -> Option<OrderStatus> {
    node.order(order_id).await.unwrap().state.status()
}

#[tokio::test]
async fn a_runner_that_found_a_shortage_does_not_release_what_another_runner_confirmed() {
    let gate = DecisionGate::default();
    let (first, second) = two_nodes(&gate);
    stocked(&second, "A", 100, &[("main", 1)]).await;
    stocked(&second, "B", 100, &[]).await;
    let (order_id, running) = place_a_and_b(&first);
    gate.reached().await; // the first runner holds A and found B short
    second.receive_stock(&context(), &sku("B"), loc("main"), qty(1), "PO".into(), None).await.unwrap();
    assert!(matches!(second.resume_pending_order(&context(), order_id).await.unwrap(), Placement::Confirmed(_)));
    gate.let_one_through();
    let first_answer = running.await.unwrap();
    assert!(matches!(first_answer, Placement::Confirmed(_)), "the order was decided by the other runner");
    assert_eq!(status(&second, order_id).await, Some(OrderStatus::Confirmed));
    assert_eq!(
        (reserved(&second, "A").await, reserved(&second, "B").await),
        (1, 1),
        "a confirmed order keeps its holds"
    );
}

#[tokio::test]
async fn a_runner_that_would_confirm_an_order_another_runner_rejected_leaves_no_holds() {
    let gate = DecisionGate::default();
    let (first, second) = two_nodes(&gate);
    stocked(&second, "A", 100, &[("main", 1)]).await;
    stocked(&second, "B", 100, &[("main", 1)]).await;
    let (order_id, running) = place_a_and_b(&first);
    gate.reached().await; // the first runner holds A and B and is about to confirm
    second.cancel(&context(), order_id, "changed my mind".into(), None).await.unwrap();
    gate.let_one_through();
    running.await.unwrap();
    assert_eq!(status(&second, order_id).await, Some(OrderStatus::Cancelled));
    assert_eq!((reserved(&second, "A").await, reserved(&second, "B").await), (0, 0), "a cancelled order holds nothing");
}

#[tokio::test]
async fn two_runners_that_both_found_a_shortage_reject_once_and_hold_nothing() {
    let gate = DecisionGate::default();
    let (first, second) = two_nodes(&gate);
    stocked(&second, "A", 100, &[("main", 1)]).await;
    stocked(&second, "B", 100, &[]).await;
    let (order_id, running) = place_a_and_b(&first);
    gate.reached().await;
    assert!(matches!(second.resume_pending_order(&context(), order_id).await.unwrap(), Placement::Rejected { .. }));
    gate.let_one_through();
    assert!(matches!(running.await.unwrap(), Placement::Rejected { .. }));
    assert_eq!(status(&second, order_id).await, Some(OrderStatus::Rejected));
    assert_eq!((reserved(&second, "A").await, reserved(&second, "B").await), (0, 0));
    let history = history(second.store().as_ref(), &format!("order-{order_id}")).await;
    assert_eq!(history.iter().filter(|e| e.event_type == "OrderRejected").count(), 1);
}
