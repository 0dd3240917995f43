//! Stock commands of the back office: goods received and count corrections, on a registered SKU.
//!
//! - `POST /v1/inventory/{sku}/receipts` `{"location"?: "main", "quantity", "reference"?}` -> 201 with the SKU's
//!   stock (the shape of `GET /v1/inventory/{sku}`) and a `Location`; an unregistered SKU is 404.
//! - `POST /v1/inventory/{sku}/adjustments` `{"location"?: "main", "delta", "reason"}` with `reason` one of
//!   `count_correction` (either sign), `damaged`, `lost` (negative), `found` (positive) -> 201 with the stock;
//!   taking `on_hand` below zero or below what is reserved is 409 `insufficient-stock`.
//!
//! Reservations, commits and restocks are not here: they are steps of the order process, never sent directly.

use super::answer::last_change;
use super::dto;
use super::headers::{command_response, IfMatch, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::resources::StockView;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tally_commands::InventoryOutcome;
use tally_domain::inventory::AdjustmentReason;
use tally_domain::{Aggregate, Inventory, Quantity, Sku};
use tracing::instrument;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes.command(Access::BackOffice, routes!(receive)).command(Access::BackOffice, routes!(adjust))
}

/// Goods received at a location (`main` when `location` is absent). Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReceiptRequest)]
struct Receipt {
    /// Where the goods are received (`main` when absent).
    #[schema(value_type = Option<schemas::LocationId>)]
    location: Option<String>,
    /// Units received, 1 to 1,000,000 (else 422).
    #[schema(minimum = 1, maximum = 1000000, example = 100)]
    quantity: i64,
    /// A purchase order or delivery note. Empty when absent. At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "PO-1001")]
    reference: Option<String>,
}

/// A count correction at a location (`main` when `location` is absent). Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdjustmentRequest)]
struct Adjustment {
    /// Where the stock is adjusted (`main` when absent).
    #[schema(value_type = Option<schemas::LocationId>)]
    location: Option<String>,
    #[schema(schema_with = delta_schema)]
    delta: i64,
    /// Why the count changed; it decides the sign `delta` may have.
    #[schema(value_type = schemas::AdjustmentReason)]
    reason: String,
}

/// The schema of [`Adjustment::delta`]: what the handler and the stock check, `not: {const: 0}` included (which
/// utoipa's attributes cannot say). The sign the reason allows is in the description (a rule across two fields).
fn delta_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::openapi::schema(serde_json::json!({
        "type": "integer", "format": "int64", "minimum": -1_000_000, "maximum": 1_000_000, "not": {"const": 0},
        "example": -3,
        "description": "The change of the units on hand: not 0, at most 1,000,000 either way (else 422); negative \
            for `damaged` and `lost`, positive for `found`, either sign for `count_correction` (else 422)."
    }))
}

/// Receive stock
///
/// Goods in: adds `quantity` units on hand at `location` of a registered SKU. Answers 201 with the SKU's stock.
#[utoipa::path(post, path = "/v1/inventory/{sku}/receipts", tag = "commands", operation_id = "receiveStock",
    params(("sku" = schemas::Sku, Path, description = "A registered SKU.", example = "TEE-RED-M"),
        RequestMeta, IfMatch),
    request_body = Receipt,
    responses(
        (status = 201, description = "Received.", body = StockView, headers(
            ("ETag" = String, description = "The SKU's inventory stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the receipt."),
            ("Location" = String, description = "`/v1/inventory/{sku}`"))),
        (status = 404, description = "404 `not-found`: the SKU is not registered in the catalog.", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the SKU's stock is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does \
            not fit the schema, or the SKU is malformed.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(inventory.sku = %sku))]
async fn receive(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(sku): ApiPath<String>,
    ApiJson(body): ApiJson<Receipt>,
) -> Result<Response, Problem> {
    let sku = dto::sku("sku", &sku)?;
    let location = dto::location("location", body.location.as_deref())?;
    let quantity = dto::quantity("quantity", body.quantity)?;
    let reference = dto::text("reference", body.reference)?;
    let outcome =
        state.commands.receive_stock(&meta.context, &sku, location, quantity, reference, meta.if_match).await?;
    respond(&state, &sku, outcome).await
}

/// Adjust stock
///
/// A count correction of a registered SKU at a location. Answers 201 with the SKU's stock.
#[utoipa::path(post, path = "/v1/inventory/{sku}/adjustments", tag = "commands", operation_id = "adjustStock",
    params(("sku" = schemas::Sku, Path, description = "A registered SKU.", example = "TEE-RED-M"),
        RequestMeta, IfMatch),
    request_body = Adjustment,
    responses(
        (status = 201, description = "Adjusted.", body = StockView, headers(
            ("ETag" = String, description = "The SKU's inventory stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the adjustment."),
            ("Location" = String, description = "`/v1/inventory/{sku}`"))),
        (status = 404, description = "404 `not-found`: the SKU is not registered in the catalog.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `insufficient-stock`: the adjustment would take `on_hand` below zero or \
            below what is reserved (`location`, `on_hand`, `reserved`, `delta`).", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the SKU's stock is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does \
            not fit the schema, the SKU is malformed, or `delta` is 0 or of the wrong sign for the `reason`.",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(inventory.sku = %sku))]
async fn adjust(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(sku): ApiPath<String>,
    ApiJson(body): ApiJson<Adjustment>,
) -> Result<Response, Problem> {
    let sku = dto::sku("sku", &sku)?;
    let location = dto::location("location", body.location.as_deref())?;
    if body.delta == 0 {
        return Err(dto::invalid("delta", "an adjustment must change the stock"));
    }
    // The stock's own rule too: checked here, a delta out of bounds is a 422 whatever `If-Match` says.
    if body.delta.unsigned_abs() > u64::from(Quantity::MAX) {
        return Err(dto::invalid("delta", format!("at most {} units either way", Quantity::MAX)));
    }
    let reason: AdjustmentReason = body.reason.parse().map_err(|error| dto::invalid("reason", error))?;
    let outcome = state.commands.adjust_stock(&meta.context, &sku, location, body.delta, reason, meta.if_match).await?;
    respond(&state, &sku, outcome).await
}

/// The SKU's stock as the command left it, in the shape of `GET /v1/inventory/{sku}`.
async fn respond(state: &AppState, sku: &Sku, outcome: InventoryOutcome) -> Result<Response, Problem> {
    let last = last_change(state.store.as_ref(), &Inventory::stream_id(sku), &outcome).await?;
    let body = StockView::from_aggregate(sku, &outcome.state, last);
    let location = Some(format!("/v1/inventory/{sku}"));
    Ok(command_response(StatusCode::CREATED, outcome.version, outcome.position, location, &body))
}
