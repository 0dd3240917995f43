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
use super::headers::{command_response, with_change_headers, IfMatch, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::error::rejected_order;
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::IdempotencyKey;
use crate::openapi::schemas;
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
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .command(Access::Checkout, routes!(place))
        .command(Access::Checkout, routes!(pay))
        .command(Access::Fulfilment, routes!(ship))
        .command(Access::Fulfilment, routes!(deliver))
        .command(Access::Checkout, routes!(cancel))
        .command(Access::Fulfilment, routes!(receive_return))
        .command(Access::Fulfilment, routes!(refund))
}

/// An order to place. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PlaceOrderRequest)]
struct PlaceOrderRequest {
    /// The order's id, when the client chooses it (a UUID in any textual form; else 422). Without it, a request
    /// with an `Idempotency-Key` gets an id derived from the key and the request (so a retry finds the same
    /// order), otherwise a new UUIDv7. The same id again with the same customer and lines reports the order as it
    /// stands.
    #[schema(value_type = Option<uuid::Uuid>)]
    order_id: Option<String>,
    #[schema(value_type = schemas::CustomerId)]
    customer_id: String,
    /// 1 to 250 lines, each SKU once (else 422). Prices come from the catalog, never from the client.
    #[schema(min_items = 1, max_items = 250)]
    lines: Vec<LineRequest>,
}

/// A payment captured for the order (in the order's currency). Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PaymentRequest)]
struct Payment {
    /// Minor units captured: positive, at most what is outstanding (else 422).
    #[schema(minimum = 1, maximum = 250000000000000000_i64, example = 3998)]
    amount: i64,
    #[schema(value_type = schemas::Currency)]
    currency: String,
    /// The payment provider's reference. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "psp_123")]
    reference: Option<String>,
}

/// A shipment dispatched. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShipmentRequest)]
struct Shipment {
    /// What this shipment carries, SKUs of the order, at most what is still unshipped of each (else 422). Absent
    /// or empty: everything still unshipped.
    lines: Option<Vec<LineRequest>>,
    /// The carrier. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "dhl")]
    carrier: Option<String>,
    /// The carrier's tracking number. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "1Z999AA10123456784")]
    tracking_number: Option<String>,
}

/// An empty object (the body may also be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeliveryRequest)]
struct Delivery {}

/// A cancellation (the body may also be left out). Unknown fields are refused (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancellationRequest)]
struct Cancellation {
    /// Why the order is cancelled. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "customer request")]
    reason: Option<String>,
}

/// Goods returned (restocked at `location`, `main` when absent, if `restock`). Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReturnRequest)]
struct Return {
    /// What came back: at least one line, at most what was shipped and not returned yet of each SKU (else 422).
    #[schema(min_items = 1)]
    lines: Vec<LineRequest>,
    /// Put the returned units back on the shelf at `location`.
    #[serde(default)]
    restock: bool,
    /// Where the returned units are restocked (`main` when absent).
    #[schema(value_type = Option<schemas::LocationId>)]
    location: Option<String>,
}

/// A refund (in the order's currency). Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundRequest)]
struct Refund {
    /// Minor units refunded: positive, at most what was captured minus what was refunded (else 422).
    #[schema(minimum = 1, maximum = 250000000000000000_i64, example = 1999)]
    amount: i64,
    #[schema(value_type = schemas::Currency)]
    currency: String,
    /// Why. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "returned")]
    reason: Option<String>,
}

/// Place an order
///
/// Places an order and waits for the reservation process: every line is reserved on its SKU, then the order is
/// confirmed (201, with `reserved_until` and `Location`) or rejected (409 `insufficient-stock`). Prices come from
/// the catalog. The same `order_id` again with the same customer and lines reports the order as it stands (201,
/// its current status; or the 409 of a rejected order) and appends nothing.
#[utoipa::path(post, path = "/v1/orders", tag = "commands", operation_id = "placeOrder",
    params(RequestMeta),
    request_body = PlaceOrderRequest,
    responses(
        (status = 201, description = "Confirmed (or, for a repeated `order_id`, the order as it stands).",
            body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended (absent when \
                nothing was appended)."),
            ("Location" = String, description = "`/v1/orders/{id}`"))),
        (status = 409, description = "409 `insufficient-stock`: stock was short; the order is recorded as rejected, \
            and the problem has its `order_id`, the `shortages`, and the `ETag` and `Tally-Position` of the \
            rejection. Or 409 `version-conflict`: the `order_id` exists with another customer or other lines, or \
            (with `Retry-After`) its first placement is still in flight. Or 409 `invalid-transition`: a product is \
            discontinued.", body = Problem, content_type = "application/problem+json", headers(
            ("ETag" = String, description = "The rejected order's stream version (`insufficient-stock`)."),
            ("Tally-Position" = u64, description = "The global log position of the rejection \
                (`insufficient-stock`)."),
            ("Retry-After" = u32, description = "Seconds to wait (a placement in flight)."))),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, a SKU is not in the catalog, a SKU is on two lines, the lines are in several currencies \
            or the total is zero.", body = Problem, content_type = "application/problem+json"),
    ))]
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

/// Capture a payment
///
/// Records a payment captured for a confirmed or partially paid order; paid in full, the order is `paid`.
/// Answers 201 with the order as it stands after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/payments", tag = "commands", operation_id = "capturePayment",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body = Payment,
    responses(
        (status = 201, description = "Captured.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order's status does not allow a payment \
            (`current_status`, `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, the id is not a UUID, the currency is not the order's, or the amount is more than is \
            outstanding.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(order.id = %id))]
async fn pay(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Payment>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let amount = dto::positive_amount("amount", body.amount, "currency", &body.currency)?;
    let reference = dto::text("reference", body.reference)?;
    let outcome = state.commands.capture_payment(&meta.context, order_id, amount, reference, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

/// Dispatch a shipment
///
/// Ships lines of a paid or partially shipped order (no lines: everything still unshipped); the order becomes
/// `partially_shipped` or `shipped`, and the reserved stock is committed. Answers 201 with the order as it stands
/// after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/shipments", tag = "commands", operation_id = "dispatchShipment",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body = Shipment,
    responses(
        (status = 201, description = "Shipped.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order's status does not allow a shipment \
            (`current_status`, `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, the id is not a UUID, a SKU is not in the order, or a line ships more than is \
            unshipped.", body = Problem, content_type = "application/problem+json"),
    ))]
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

/// Mark an order delivered
///
/// Marks a shipped order `delivered`. Answers 201 with the order as it stands after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/delivery", tag = "commands", operation_id = "deliverOrder",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body(content = Option<Delivery>, description = "May be left out (an empty or whitespace-only body means \
        `{}`, as does `null`); when present, it must be a JSON object (else 422) sent as JSON (else 415)."),
    responses(
        (status = 201, description = "Delivered.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order is not `shipped` (`current_status`, \
            `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: the id is not a UUID, or the body is not `{}`.",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(order.id = %id))]
async fn deliver(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    OptionalJson(_delivery): OptionalJson<Delivery>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let outcome = state.commands.deliver(&meta.context, order_id, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

/// Cancel an order
///
/// Cancels a pending, confirmed, paid or partially shipped order and releases its reserved stock. Answers 201 with
/// the order as it stands after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/cancellation", tag = "commands", operation_id = "cancelOrder",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body(content = Option<Cancellation>, description = "May be left out (an empty or whitespace-only body \
        means `{}`, as does `null`); when present, it must be a JSON object (else 422) sent as JSON (else 415)."),
    responses(
        (status = 201, description = "Cancelled.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order's status does not allow a cancellation \
            (`current_status`, `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, or the id is not a UUID.", body = Problem, content_type = "application/problem+json"),
    ))]
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

/// Receive a return
///
/// Records goods returned from a partially shipped, shipped, delivered or cancelled order, restocking them at
/// `location` when `restock` is true. Answers 201 with the order as it stands after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/returns", tag = "commands", operation_id = "receiveReturn",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body = Return,
    responses(
        (status = 201, description = "Received.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order's status does not allow a return \
            (`current_status`, `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, the id is not a UUID, a SKU is not in the order, or a line returns more than was \
            shipped and not returned yet.", body = Problem, content_type = "application/problem+json"),
    ))]
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

/// Issue a refund
///
/// Refunds part or all of what was captured (paid, partially shipped, shipped, delivered, cancelled or expired
/// orders). Answers 201 with the order as it stands after the command.
#[utoipa::path(post, path = "/v1/orders/{id}/refunds", tag = "commands", operation_id = "issueRefund",
    params(OrderIdParam, RequestMeta, IfMatch),
    request_body = Refund,
    responses(
        (status = 201, description = "Refunded.", body = OrderView, headers(
            ("ETag" = String, description = "The order's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the last event appended."))),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the order's status does not allow a refund \
            (`current_status`, `action`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the order is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does not \
            fit the schema, the id is not a UUID, the currency is not the order's, or the amount is more than was \
            captured and not refunded yet.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(order.id = %id))]
async fn refund(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Refund>,
) -> Result<Response, Problem> {
    let order_id = order_id("order_id", &id)?;
    let amount = dto::positive_amount("amount", body.amount, "currency", &body.currency)?;
    let reason = dto::text("reason", body.reason)?;
    let outcome = state.commands.refund(&meta.context, order_id, amount, reason, meta.if_match).await?;
    order_response(&state, outcome, None).await
}

/// The `{id}` of an order command's path, for `#[utoipa::path(params(OrderIdParam))]`.
struct OrderIdParam;

impl utoipa::IntoParams for OrderIdParam {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::openapi::parameter(serde_json::json!({
            "name": "id", "in": "path",
            "schema": {"type": "string", "format": "uuid"},
            "example": "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a01",
            "description": "The order id: a UUID (else 422)."
        }))]
    }
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
