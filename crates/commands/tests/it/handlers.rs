//! Catalog and stock handlers on the in-memory store: outcomes (state, version, position), typed refusals,
//! not-found, the client's expected version, and the metadata stored with every event.

use crate::common::*;
use tally_commands::{CommandContext, CommandError};
use tally_domain::catalog::ProductStatus;
use tally_domain::inventory::AdjustmentReason;
use tally_domain::{Aggregate, CatalogError, DomainError, Inventory, InventoryError, Product};

#[tokio::test]
async fn registering_a_product_returns_its_state_version_and_position() {
    let h = memory(config());
    let outcome = h.commands.register_product(&context(), sku("TEE"), " Red tee ".into(), eur(1999)).await.unwrap();
    let details = outcome.state.details().unwrap();
    assert_eq!((details.name(), details.price(), details.status()), ("Red tee", eur(1999), ProductStatus::Active));
    assert_eq!((outcome.version, outcome.position, outcome.events.len()), (Some(0), Some(1), 1));

    let again = h.commands.register_product(&context(), sku("TEE"), "Other".into(), eur(1)).await.unwrap_err();
    assert!(matches!(again, CommandError::Domain(DomainError::Catalog(CatalogError::AlreadyRegistered { .. }))));
}

#[tokio::test]
async fn repricing_and_discontinuing_check_the_expected_version() {
    let h = memory(config());
    let ctx = context();
    h.commands.register_product(&ctx, sku("TEE"), "Tee".into(), eur(1999)).await.unwrap();

    let stale = h.commands.reprice_product(&ctx, &sku("TEE"), eur(2499), Some(3)).await.unwrap_err();
    assert!(matches!(stale, CommandError::VersionMismatch { expected: 3, actual: Some(0), .. }));

    let repriced = h.commands.reprice_product(&ctx, &sku("TEE"), eur(2499), Some(0)).await.unwrap();
    assert_eq!((repriced.state.details().unwrap().price(), repriced.version), (eur(2499), Some(1)));

    // The same price again changes nothing: no event, no position.
    let same = h.commands.reprice_product(&ctx, &sku("TEE"), eur(2499), None).await.unwrap();
    assert_eq!((same.version, same.position, same.events.len()), (Some(1), None, 0));

    let discontinued = h.commands.discontinue_product(&ctx, &sku("TEE"), Some(1)).await.unwrap();
    assert_eq!(discontinued.state.details().unwrap().status(), ProductStatus::Discontinued);
}

#[tokio::test]
async fn commands_on_an_unknown_product_are_not_found() {
    let h = memory(config());
    let ctx = context();
    let error = h.commands.reprice_product(&ctx, &sku("NOPE"), eur(1), None).await.unwrap_err();
    assert!(matches!(&error, CommandError::NotFound { stream_id } if stream_id == "product-NOPE"));
    let error = h.commands.receive_stock(&ctx, &sku("NOPE"), loc("main"), qty(1), "PO".into(), None).await;
    assert!(matches!(error, Err(CommandError::NotFound { .. })));
    assert!(history(h.raw.as_ref(), "inventory-NOPE").await.is_empty());
}

#[tokio::test]
async fn receiving_and_adjusting_stock() {
    let h = memory(config());
    let ctx = context();
    let tee = sku("TEE");
    stocked(&h.commands, "TEE", 1999, &[]).await;
    let received = h.commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(100), "PO-1001".into(), None).await;
    let received = received.unwrap();
    assert_eq!((received.state.on_hand(), received.state.available(), received.version), (100, 100, Some(0)));

    let adjusted = h.commands.adjust_stock(&ctx, &tee, loc("main"), -3, AdjustmentReason::Damaged, Some(0));
    assert_eq!(adjusted.await.unwrap().state.on_hand(), 97);

    let wrong_sign = h.commands.adjust_stock(&ctx, &tee, loc("main"), 3, AdjustmentReason::Damaged, None);
    assert!(matches!(
        wrong_sign.await,
        Err(CommandError::Domain(DomainError::Inventory(InventoryError::AdjustmentSignMismatch { .. })))
    ));
    let too_much = h.commands.adjust_stock(&ctx, &tee, loc("main"), -98, AdjustmentReason::Lost, None);
    assert!(matches!(
        too_much.await,
        Err(CommandError::Domain(DomainError::Inventory(InventoryError::AdjustmentBelowZero { .. })))
    ));
    let stale = h.commands.receive_stock(&ctx, &sku("TEE"), loc("main"), qty(1), "PO".into(), Some(0)).await;
    assert!(matches!(stale, Err(CommandError::VersionMismatch { expected: 0, actual: Some(1), .. })));
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().version, Some(1));
}

#[tokio::test]
async fn every_event_carries_the_context_as_metadata() {
    let h = memory(config());
    let request_id = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ctx = CommandContext::from_request(
        "storefront",
        Some(request_id),
        Some(traceparent),
        Some(tally_commands::IdempotentRun::first("key-1")),
    );
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let placed = h
        .commands
        .place_order(
            &ctx,
            tally_commands::PlaceOrder { order_id: None, customer_id: customer(), lines: vec![item("TEE", 1)] },
        )
        .await
        .unwrap();
    let order_id = placed.outcome().state.placed().unwrap().order_id();

    let order_events = history(h.raw.as_ref(), &tally_domain::Order::stream_id(&order_id)).await;
    let placed_event = &order_events[0];
    let metadata = &placed_event.metadata;
    assert_eq!(metadata.correlation_id.map(|id| id.to_string()).as_deref(), Some(request_id));
    assert_eq!(metadata.causation_id, Some(ctx.causation_id));
    assert_eq!(metadata.actor.as_deref(), Some("storefront"));
    assert_eq!(metadata.idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(metadata.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));

    // The reservation on the SKU was caused by the OrderPlaced event, in the same correlation.
    let stock_events = history(h.raw.as_ref(), &Inventory::stream_id(&sku("TEE"))).await;
    let reserved = stock_events.iter().find(|e| e.event_type == "StockReserved").unwrap();
    assert_eq!(reserved.metadata.causation_id, Some(placed_event.event_id));
    assert_eq!(reserved.metadata.correlation_id, metadata.correlation_id);
    assert_eq!(Product::stream_id(&sku("TEE")), "product-TEE");
}

#[tokio::test]
async fn a_webhook_subscription_records_its_history_and_refuses_commands_once_deleted() {
    use tally_domain::{Webhook, WebhookCommand, WebhookError, WebhookId};
    let h = memory(config());
    let ctx = context();
    let id = WebhookId::from_uuid(uuid::Uuid::now_v7());
    let subscribe = WebhookCommand::Subscribe {
        webhook_id: id,
        url: "https://hooks.example.com/tally".into(),
        event_types: vec!["OrderPlaced".into()],
        stream_prefix: None,
    };
    let made = h.commands.webhook_command(&ctx, id, subscribe, None).await.unwrap();
    assert_eq!((made.version, made.events.len()), (Some(0), 1));
    let pause = WebhookCommand::Pause { reason: "410 Gone".into() };
    let stale = h.commands.webhook_command(&ctx, id, pause.clone(), Some(5)).await.unwrap_err();
    assert!(matches!(stale, CommandError::VersionMismatch { .. }));
    let paused = h.commands.webhook_command(&ctx, id, pause, Some(0)).await.unwrap();
    assert_eq!(paused.state.details().unwrap().paused.as_deref(), Some("410 Gone"));
    h.commands.webhook_command(&ctx, id, WebhookCommand::Delete, None).await.unwrap();
    let refused = h.commands.webhook_command(&ctx, id, WebhookCommand::Resume, None).await.unwrap_err();
    assert!(matches!(refused, CommandError::Domain(DomainError::Webhook(WebhookError::Deleted))));
    let types: Vec<String> =
        history(h.raw.as_ref(), &Webhook::stream_id(&id)).await.into_iter().map(|e| e.event_type).collect();
    assert_eq!(types, ["WebhookSubscribed", "WebhookPaused", "WebhookDeleted"]);

    let unknown = WebhookId::from_uuid(uuid::Uuid::now_v7());
    let error = h.commands.webhook_command(&ctx, unknown, WebhookCommand::Delete, None).await.unwrap_err();
    assert!(matches!(error, CommandError::NotFound { .. }));
}
