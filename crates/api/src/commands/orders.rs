//! The order commands: place an order (the reservation process, answered when it has confirmed or rejected the
//! order), then its lifecycle. Every success is 201 with the order in the shape of `GET /v1/orders/{id}`.
//!
//! - `POST /v1/orders` `{"order_id"?, "customer_id", "lines": [{"sku", "quantity"}]}` -> 201 confirmed, with
//!   `Location`; 409 `insufficient-stock` with `order_id` and `shortages` when stock was short (the rejected
//!   order is recorded: the problem carries its `ETag` and `Tally-Position`). Without `order_id`, a request with an
//!   `Idempotency-Key` gets an id derived from the key and the request, so a retry after a 5xx finds the same order;
//!   otherwise a new UUIDv7. The same id again with the same customer and lines reports the order as it stands.
//! - `POST /v1/orders/{id}/payments` `{"amount", "currency", "reference"?}`
//! - `POST /v1/orders/{id}/shipments` `{"lines"?, "carrier"?, "tracking_number"?}` (no lines: all unshipped)
//! - `POST /v1/orders/{id}/delivery` `{}` or no body
//! - `POST /v1/orders/{id}/cancellation` `{"reason"?}` or no body
//! - `POST /v1/orders/{id}/returns` `{"lines", "restock"?: false, "location"?: "main"}`
//! - `POST /v1/orders/{id}/refunds` `{"amount", "currency", "reason"?}`
//!
//! A transition the order cannot make is 409 `invalid-transition`; amounts and quantities beyond what the order
//! allows (over-capture, over-refund, over-shipment, over-return) are 422 `validation`; an unknown order is 404.

use super::answer::{last_change, order_timeline};
use super::dto::{self, LineRequest, OptionalJson};
use super::headers::{command_response, with_change_headers, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::error::rejected_order;
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::{idempotent, IdempotencyKey};
use crate::problem::Problem;
use crate::resources::OrderView;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tally_commands::{OrderOutcome, PlaceOrder, Placement};
use tally_domain::{Aggregate, CustomerId, Order, OrderId};
use tracing::instrument;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .post("/v1/orders", Access::Checkout, idempotent(place))
        .post("/v1/orders/{id}/payments", Access::Checkout, idempotent(pay))
        .post("/v1/orders/{id}/shipments", Access::Fulfilment, idempotent(ship))
        .post("/v1/orders/{id}/delivery", Access::Fulfilment, idempotent(deliver))
        .post("/v1/orders/{id}/cancellation", Access::Checkout, idempotent(cancel))
        .post("/v1/orders/{id}/returns", Access::Fulfilment, idempotent(receive_return))
        .post("/v1/orders/{id}/refunds", Access::Fulfilment, idempotent(refund))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderRequest {
    order_id: Option<String>,
    customer_id: String,
    lines: Vec<LineRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payment {
    amount: i64,
    currency: String,
    reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shipment {
    lines: Option<Vec<LineRequest>>,
    carrier: Option<String>,
    tracking_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancellation {
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Return {
    lines: Vec<LineRequest>,
    #[serde(default)]
    restock: bool,
    location: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refund {
    amount: i64,
    currency: String,
    reason: Option<String>,
}

#[instrument(skip_all, fields(order.id))]
async fn place(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PlaceOrderRequest>,
) -> Result<Response, Problem> {
    meta.refuse_if_match()?;
    let order_id = match (&body.order_id, &meta.idempotency) {
        (Some(id), _) => Some(order_id("order_id", id)?),
        (None, Some(key)) => Some(derived_order_id(key)),
        (None, None) => None,
    };
    let customer_id = CustomerId::parse(&body.customer_id).map_err(|e| dto::invalid("customer_id", e))?;
    if body.lines.is_empty() {
        return Err(dto::invalid("lines", "at least one line is required"));
    }
    let lines = dto::lines("lines", &body.lines)?;
    let request = PlaceOrder { order_id, customer_id, lines };
    match state.commands.place_order(&meta.context, request).await? {
        Placement::Confirmed(outcome) => {
            let order_id = outcome.state.placed().map(|order| order.order_id());
            if let Some(order_id) = order_id {
                tracing::Span::current().record("order.id", tracing::field::display(order_id));
            }
            let location = order_id.map(|order_id| format!("/v1/orders/{order_id}"));
            order_response(&state, outcome, location).await
        }
        Placement::Rejected { order_id, shortages, outcome } => {
            tracing::Span::current().record("order.id", tracing::field::display(order_id));
            let mut response = rejected_order(order_id, &shortages).into_response();
            with_change_headers(&mut response, outcome.version, outcome.position);
            Ok(response)
        }
    }
}

#[instrument(skip_all, fields(order.id = %id))]
async fn pay(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Payment>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let amount = dto::amount("amount", body.amount, "currency", &body.currency)?;
    let reference = dto::text("reference", body.reference)?;
    let outcome = state.commands.capture_payment(&meta.context, order_id, amount, reference, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

#[instrument(skip_all, fields(order.id = %id))]
async fn ship(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Shipment>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let lines = dto::lines("lines", body.lines.as_deref().unwrap_or_default())?;
    let carrier = dto::text("carrier", body.carrier)?;
    let tracking_number = dto::text("tracking_number", body.tracking_number)?;
    let outcome = state.commands.ship(&meta.context, order_id, lines, carrier, tracking_number, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

#[instrument(skip_all, fields(order.id = %id))]
async fn deliver(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    OptionalJson(_): OptionalJson<Delivery>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let outcome = state.commands.deliver(&meta.context, order_id, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

#[instrument(skip_all, fields(order.id = %id))]
async fn cancel(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    OptionalJson(body): OptionalJson<Cancellation>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let reason = dto::text("reason", body.reason)?;
    let outcome = state.commands.cancel(&meta.context, order_id, reason, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

#[instrument(skip_all, fields(order.id = %id))]
async fn receive_return(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Return>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    if body.lines.is_empty() {
        return Err(dto::invalid("lines", "at least one line is required"));
    }
    let lines = dto::lines("lines", &body.lines)?;
    let location = dto::location("location", body.location.as_deref())?;
    let commands = &state.commands;
    let outcome =
        commands.receive_return(&meta.context, order_id, lines, body.restock, location, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

#[instrument(skip_all, fields(order.id = %id))]
async fn refund(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Refund>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let amount = dto::amount("amount", body.amount, "currency", &body.currency)?;
    let reason = dto::text("reason", body.reason)?;
    let outcome = state.commands.refund(&meta.context, order_id, amount, reason, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

fn order_id(field: &str, text: &str) -> Result<OrderId, Problem> {
    OrderId::parse(text).map_err(|error| dto::invalid(field, error))
}

/// The order id of a request with an `Idempotency-Key` and no `order_id`: the same key and request always name
/// the same order, so a retry after a 5xx cannot place a second one.
fn derived_order_id(key: &IdempotencyKey) -> OrderId {
    let mut hasher = Sha256::new();
    // Anonymous keys (no scope) keep the ids they always had.
    if !key.scope.is_empty() {
        hasher.update(key.scope.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.chain_update(key.key.as_bytes()).chain_update(key.fingerprint).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    OrderId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// 201 with the order as the command left it, in the shape of `GET /v1/orders/{id}`.
async fn order_response(
    state: &AppState,
    outcome: OrderOutcome,
    location: Option<String>,
) -> Result<Response, Problem> {
    let Some(order) = outcome.state.placed() else {
        return Err(crate::error::internal(&std::io::Error::other("order missing after a successful command")));
    };
    let stream_id = Order::stream_id(&order.order_id());
    let last = last_change(state.store.as_ref(), &stream_id, &outcome).await?;
    let timeline = order_timeline(state.store.as_ref(), &stream_id, &outcome, last).await?;
    let body = OrderView::from_aggregate(order, &timeline, last);
    Ok(command_response(StatusCode::CREATED, outcome.version, outcome.position, location, &body))
}
