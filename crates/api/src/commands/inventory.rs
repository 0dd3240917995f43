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
use super::headers::{command_response, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::resources::StockView;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tally_commands::InventoryOutcome;
use tally_domain::inventory::AdjustmentReason;
use tally_domain::{Aggregate, Inventory, Sku};
use tracing::instrument;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes.post("/v1/inventory/{sku}/receipts", Access::BackOffice, idempotent(receive)).post(
        "/v1/inventory/{sku}/adjustments",
        Access::BackOffice,
        idempotent(adjust),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Receipt {
    location: Option<String>,
    quantity: i64,
    reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjustment {
    location: Option<String>,
    delta: i64,
    /// An [`AdjustmentReason`] by its name.
    reason: String,
}

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
