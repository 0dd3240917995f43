//! Every action from every status: allowed ones pass the status rule, all others are `InvalidTransition`.

use super::*;

const STATUSES: [OrderStatus; 9] = [
    OrderStatus::Pending,
    OrderStatus::Confirmed,
    OrderStatus::Paid,
    OrderStatus::PartiallyShipped,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::Rejected,
    OrderStatus::Cancelled,
    OrderStatus::Expired,
];

const ACTIONS: [OrderAction; 9] = [
    OrderAction::Confirm,
    OrderAction::Reject,
    OrderAction::CapturePayment,
    OrderAction::Ship,
    OrderAction::Deliver,
    OrderAction::Cancel,
    OrderAction::Expire,
    OrderAction::Return,
    OrderAction::Refund,
];

/// The statuses each action starts from (the state machine in the module doc).
fn allowed_from(action: OrderAction) -> &'static [OrderStatus] {
    use OrderStatus::*;
    match action {
        OrderAction::Confirm | OrderAction::Reject => &[Pending],
        OrderAction::CapturePayment | OrderAction::Expire => &[Confirmed],
        OrderAction::Ship => &[Paid, PartiallyShipped],
        OrderAction::Deliver => &[Shipped],
        OrderAction::Cancel => &[Pending, Confirmed, Paid, PartiallyShipped],
        OrderAction::Return => &[PartiallyShipped, Shipped, Delivered, Cancelled],
        OrderAction::Refund => &[Paid, PartiallyShipped, Shipped, Delivered, Cancelled, Expired],
    }
}

/// A command for `action` that passes every rule but the status one where it can.
fn command(action: OrderAction) -> OrderCommand {
    match action {
        OrderAction::Confirm => OrderCommand::ConfirmOrder { reserved_until: at(12, 30) },
        OrderAction::Reject => OrderCommand::RejectOrder { shortages: Vec::new() },
        OrderAction::CapturePayment => capture(eur(100)),
        OrderAction::Ship => ship(Vec::new()),
        OrderAction::Deliver => OrderCommand::DeliverOrder,
        OrderAction::Cancel => cancel(),
        OrderAction::Expire => expire(at(23, 0)),
        OrderAction::Return => return_items(vec![item("A", 1)]),
        OrderAction::Refund => refund(eur(1)),
    }
}

#[test]
fn each_history_reaches_its_status() {
    for status in STATUSES {
        assert_eq!(given(&history(status)).state().status(), Some(status));
    }
}

#[test]
fn every_action_from_a_status_it_does_not_start_from_is_an_invalid_transition() {
    let mut checked = 0;
    for status in STATUSES {
        for action in ACTIONS.into_iter().filter(|action| !allowed_from(*action).contains(&status)) {
            given(&history(status)).when(command(action)).then_err(
                |e| matches!(e, OrderError::InvalidTransition { from, action: a } if *from == status && *a == action),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 81 - 21, "21 of the 81 (status, action) pairs are allowed");
}

#[test]
fn every_action_from_a_status_it_starts_from_passes_the_status_rule() {
    for status in STATUSES {
        for action in ACTIONS.into_iter().filter(|action| allowed_from(*action).contains(&status)) {
            let result = decide(given(&history(status)).state(), command(action));
            assert!(!matches!(result, Err(OrderError::InvalidTransition { .. })), "{action} from {status}: {result:?}");
        }
    }
}

#[test]
fn a_command_on_an_order_never_placed_is_refused() {
    for action in ACTIONS {
        given(&[]).when(command(action)).then_err(|e| matches!(e, OrderError::NotPlaced));
    }
    given(&[]).when(return_items(Vec::new())).then_err(|e| matches!(e, OrderError::NotPlaced));
}

#[test]
fn an_order_is_placed_once_whatever_its_status() {
    for status in STATUSES {
        given(&history(status))
            .when(place(standard_lines()))
            .then_err(|e| matches!(e, OrderError::AlreadyPlaced { order_id: id } if *id == order_id()));
    }
}

#[test]
fn a_shipped_order_cannot_be_cancelled() {
    for status in [OrderStatus::Shipped, OrderStatus::Delivered] {
        given(&history(status)).when(cancel()).then_err(
            |e| matches!(e, OrderError::InvalidTransition { from, action: OrderAction::Cancel } if *from == status),
        );
    }
}

#[test]
fn an_order_not_paid_in_full_cannot_ship() {
    let partly_paid = [placed(), confirmed(), captured(1000, 1000)];
    given(&partly_paid).when(ship(Vec::new())).then_err(|e| {
        matches!(e, OrderError::InvalidTransition { from: OrderStatus::Confirmed, action: OrderAction::Ship })
    });
}
