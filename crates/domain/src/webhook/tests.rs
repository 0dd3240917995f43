//! Given/when/then tests of every webhook rule.

use super::*;
use crate::testing::{self, Given};
use uuid::Uuid;

fn given(events: &[WebhookEvent]) -> Given<Webhook> {
    testing::given(events)
}

fn webhook_id() -> WebhookId {
    WebhookId::from_uuid(Uuid::from_u128(0x0193_a4b2_0000_7000_8000_0000_0000_00bb))
}

fn subscribe(url: &str, event_types: &[&str], stream_prefix: Option<&str>) -> WebhookCommand {
    WebhookCommand::Subscribe {
        webhook_id: webhook_id(),
        url: url.to_owned(),
        event_types: event_types.iter().map(|t| t.to_string()).collect(),
        stream_prefix: stream_prefix.map(str::to_owned),
    }
}

fn subscribed() -> WebhookEvent {
    WebhookEvent::WebhookSubscribed {
        webhook_id: webhook_id(),
        url: "https://hooks.example.com/tally".to_owned(),
        event_types: vec!["OrderPlaced".to_owned()],
        stream_prefix: Some("order-".to_owned()),
    }
}

fn paused() -> WebhookEvent {
    WebhookEvent::WebhookPaused { reason: "410 Gone".to_owned() }
}

#[test]
fn subscribing_records_the_url_and_the_filters() {
    let state = given(&[])
        .when(subscribe(" https://hooks.example.com/tally ", &["OrderPlaced"], Some("order-")))
        .then(&[subscribed()]);
    let details = state.details().unwrap();
    assert!(details.wants("order-0193", "OrderPlaced"));
    assert!(!details.wants("order-0193", "OrderPaid"), "another type");
    assert!(!details.wants("inventory-TEE", "OrderPlaced"), "another stream");
    let every = given(&[]).when(subscribe("https://h.example/", &[], None)).then(&[WebhookEvent::WebhookSubscribed {
        webhook_id: webhook_id(),
        url: "https://h.example/".to_owned(),
        event_types: vec![],
        stream_prefix: None,
    }]);
    assert!(every.details().unwrap().wants("product-TEE", "ProductRegistered"), "no filter: everything");
}

#[test]
fn a_subscription_is_made_once() {
    given(&[subscribed()])
        .when(subscribe("https://other.example/", &[], None))
        .then_err(|e| matches!(e, WebhookError::AlreadySubscribed { .. }));
}

#[test]
fn the_url_and_the_filters_are_checked() {
    for url in ["", "   ", "https://a.example/\u{0}", "https://a.example/x y"] {
        given(&[]).when(subscribe(url, &[], None)).then_err(|e| matches!(e, WebhookError::InvalidUrl { .. }));
    }
    let long = format!("https://a.example/{}", "a".repeat(URL_MAX_CHARS));
    given(&[]).when(subscribe(&long, &[], None)).then_err(|e| matches!(e, WebhookError::InvalidUrl { .. }));
    for bad in ["", "Order Placed", "order.placed", "OrderPlacé"] {
        given(&[])
            .when(subscribe("https://a.example/", &[bad], None))
            .then_err(|e| matches!(e, WebhookError::InvalidEventType(_)));
    }
    given(&[])
        .when(subscribe("https://a.example/", &["OrderPlaced", "OrderPlaced"], None))
        .then_err(|e| matches!(e, WebhookError::DuplicateEventType(_)));
    let many: Vec<String> = (0..=MAX_EVENT_TYPES).map(|i| format!("Type{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    given(&[])
        .when(subscribe("https://a.example/", &many, None))
        .then_err(|e| matches!(e, WebhookError::TooManyEventTypes { .. }));
    for prefix in ["", "order-\u{7}"] {
        given(&[])
            .when(subscribe("https://a.example/", &[], Some(prefix)))
            .then_err(|e| matches!(e, WebhookError::InvalidStreamPrefix { .. }));
    }
}

#[test]
fn pausing_says_why_and_resuming_clears_it_each_recorded_once() {
    let state =
        given(&[subscribed()]).when(WebhookCommand::Pause { reason: " 410 Gone ".to_owned() }).then(&[paused()]);
    assert_eq!(state.details().unwrap().paused.as_deref(), Some("410 Gone"));
    given(&[subscribed(), paused()]).when(WebhookCommand::Pause { reason: "again".to_owned() }).then_nothing();
    given(&[subscribed()])
        .when(WebhookCommand::Pause { reason: " ".to_owned() })
        .then_err(|e| matches!(e, WebhookError::InvalidReason { .. }));
    let state = given(&[subscribed(), paused()]).when(WebhookCommand::Resume).then(&[WebhookEvent::WebhookResumed {}]);
    assert_eq!(state.details().unwrap().paused, None);
    given(&[subscribed()]).when(WebhookCommand::Resume).then_nothing();
}

#[test]
fn rotations_and_replays_are_recorded() {
    let state =
        given(&[subscribed()]).when(WebhookCommand::RotateSecret).then(&[WebhookEvent::WebhookSecretRotated {}]);
    assert_eq!(state.details().unwrap().rotations, 1);
    given(&[subscribed(), paused()])
        .when(WebhookCommand::Replay { after: 41 })
        .then(&[WebhookEvent::WebhookReplayRequested { after: 41 }]);
}

#[test]
fn a_deleted_subscription_stays_deleted_and_a_second_delete_records_nothing() {
    let deleted = [subscribed(), WebhookEvent::WebhookDeleted {}];
    assert!(
        given(&[subscribed()])
            .when(WebhookCommand::Delete)
            .then(&[WebhookEvent::WebhookDeleted {}])
            .details()
            .unwrap()
            .deleted
    );
    given(&deleted).when(WebhookCommand::Delete).then_nothing();
    for command in [
        WebhookCommand::RotateSecret,
        WebhookCommand::Resume,
        WebhookCommand::Pause { reason: "x".to_owned() },
        WebhookCommand::Replay { after: 0 },
    ] {
        given(&deleted).when(command).then_err(|e| matches!(e, WebhookError::Deleted));
    }
}

#[test]
fn nothing_but_subscribing_works_on_a_subscription_never_made() {
    for command in [WebhookCommand::Delete, WebhookCommand::RotateSecret, WebhookCommand::Resume] {
        given(&[]).when(command).then_err(|e| matches!(e, WebhookError::NotSubscribed));
    }
}
