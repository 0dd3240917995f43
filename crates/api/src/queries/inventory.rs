//! `GET /v1/inventory[/{sku}]` and `GET /v1/inventory/{sku}/ledger`: stock from the inventory projection.
//!
//! One SKU's stock is a [`StockView`], the type the stock commands answer with too.
//! The list takes `?below=N` for low stock (fewer than N units available); the ledger is a SKU's stock history
//! in log order.

use super::csv::{opt, opt_text, text, time, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::orders::PointQuery;
use super::{list_response, not_found, page_request, validation, MinPosition, PageParams};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::resources::StockView;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tally_projections::read::stock::{self, LedgerRow, StockRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

const MODELS: &[ReadModel] = &[ReadModel::Inventory];

impl CsvRecord for StockView {
    /// One record per SKU; `locations` is the number of locations (the ledger has the per-location detail).
    const HEADER: &'static [&'static str] =
        &["sku", "on_hand", "reserved", "available", "locations", "version", "position", "updated_at"];

    fn fields(&self) -> Vec<Cell> {
        vec![
            text(&self.sku),
            value(self.on_hand),
            value(self.reserved),
            value(self.available),
            value(self.locations.len()),
            value(self.version),
            value(self.position),
            time(&self.updated_at),
        ]
    }
}

/// One stock movement at one location (an event touching several locations has one entry per location): the
/// ledger table's row, as is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LedgerEntry)]
pub(crate) struct LedgerView {
    /// The global log position of the event.
    #[schema(minimum = 0)]
    pub position: i64,
    /// The inventory stream's version of the event.
    #[schema(minimum = 0)]
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    #[schema(value_type = schemas::LocationId)]
    pub location: String,
    #[schema(value_type = LedgerKind)]
    pub kind: String,
    /// For `adjusted`: `count_correction`, `damaged`, `lost` or `found`; for `released`: `cancelled`, `expired`
    /// or `rejected`; else `null`.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// For `reserved`, `released`, `committed` and `restocked`: the order.
    #[schema(required = true)]
    pub order_id: Option<Uuid>,
    /// For `committed`: the shipment.
    #[schema(required = true)]
    pub shipment_id: Option<Uuid>,
    /// For `restocked`: the return.
    #[schema(required = true)]
    pub return_id: Option<Uuid>,
    /// For `received`: the receipt's reference.
    #[schema(required = true)]
    pub reference: Option<String>,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    /// At this location, after the event.
    pub on_hand_after: i64,
    pub reserved_after: i64,
    pub available_after: i64,
    /// At all locations of the SKU, after the event.
    pub sku_on_hand_after: i64,
    pub sku_reserved_after: i64,
    pub sku_available_after: i64,
}

/// What a ledger entry records.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Documents `LedgerView::kind` (the inventory projection's movement kinds).
pub(crate) enum LedgerKind {
    Received,
    Adjusted,
    Reserved,
    Released,
    Committed,
    Restocked,
}

impl From<LedgerRow> for LedgerView {
    fn from(row: LedgerRow) -> Self {
        LedgerView {
            position: row.position,
            version: row.version,
            recorded_at: row.recorded_at,
            sku: row.sku,
            location: row.location,
            kind: row.kind,
            reason: row.reason,
            order_id: row.order_id,
            shipment_id: row.shipment_id,
            return_id: row.return_id,
            reference: row.reference,
            on_hand_delta: row.on_hand_delta,
            reserved_delta: row.reserved_delta,
            on_hand_after: row.on_hand_after,
            reserved_after: row.reserved_after,
            available_after: row.available_after,
            sku_on_hand_after: row.sku_on_hand_after,
            sku_reserved_after: row.sku_reserved_after,
            sku_available_after: row.sku_available_after,
        }
    }
}

impl CsvRecord for LedgerView {
    const HEADER: &'static [&'static str] = &[
        "position",
        "version",
        "recorded_at",
        "sku",
        "location",
        "kind",
        "reason",
        "order_id",
        "shipment_id",
        "return_id",
        "reference",
        "on_hand_delta",
        "reserved_delta",
        "on_hand_after",
        "reserved_after",
        "available_after",
        "sku_on_hand_after",
        "sku_reserved_after",
        "sku_available_after",
    ];

    fn fields(&self) -> Vec<Cell> {
        vec![
            value(self.position),
            value(self.version),
            time(&self.recorded_at),
            text(&self.sku),
            text(&self.location),
            text(&self.kind),
            opt_text(&self.reason),
            opt(&self.order_id),
            opt(&self.shipment_id),
            opt(&self.return_id),
            opt_text(&self.reference),
            value(self.on_hand_delta),
            value(self.reserved_delta),
            value(self.on_hand_after),
            value(self.reserved_after),
            value(self.available_after),
            value(self.sku_on_hand_after),
            value(self.sku_reserved_after),
            value(self.sku_available_after),
        ]
    }
}

/// The query string of the inventory list. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only SKUs with fewer than this many units available (negative: 422).
    #[param(schema_with = crate::openapi::count_or_empty)]
    below: Option<i64>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// The query string of the ledger. Another parameter is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// A page of SKUs' stock (`GET /v1/inventory` as JSON).
#[derive(ToSchema)]
#[schema(as = StockPage)]
#[allow(dead_code)] // Documents the `ListBody<StockView>` the handler answers, under its published name.
pub(crate) struct StockPage {
    /// SKUs' stock in SKU order.
    items: Vec<StockView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A page of a SKU's ledger (`GET /v1/inventory/{sku}/ledger` as JSON).
#[derive(ToSchema)]
#[schema(as = LedgerPage)]
#[allow(dead_code)] // Documents the `ListBody<LedgerView>` the handler answers, under its published name.
pub(crate) struct LedgerPage {
    /// Movements in log order (position, then location).
    items: Vec<LedgerView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// List stock
///
/// Every SKU's stock from the inventory read model, in SKU order; `below` for low stock. In CSV, `locations` is
/// the number of locations.
#[utoipa::path(get, path = "/v1/inventory", tag = "queries", operation_id = "listStock",
    params(ListQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((StockPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `below` is negative, `limit` is out of range, or `cursor` \
            is not one this list issued.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    if query.below.is_some_and(|below| below < 0) {
        return Err(validation("below must be a number of units (0 or more)"));
    }
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = stock::list_stock(&state.pool, query.below, &page).await?;
    Ok(list_response::<StockRow, StockView>(&headers, &uri, page))
}

/// Get a SKU's stock
///
/// One SKU's stock from the inventory read model; with `as_of` or `at_version`, the inventory aggregate's state at
/// that point, folded from the event log (`min_position` is then not waited for).
#[utoipa::path(get, path = "/v1/inventory/{sku}", tag = "queries", operation_id = "getStock",
    params(("sku" = schemas::Sku, Path, description = "The SKU.", example = "TEE-RED-M"), PointQuery, MinPosition),
    responses(
        (status = 200, description = "The stock (`Stock`), or with `as_of`/`at_version` the state at that point \
            (`InventoryAt`).", body = inline(StockAnswer)),
        (status = 400, description = super::orders::BAD_POINT_QUERY, body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "404 `not-found`: no stock was ever recorded for the SKU, or (with `as_of` or \
            `at_version`) its inventory has no state at that point: no event at or before `as_of`, or no version \
            `at_version`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = super::orders::POINT_UNAVAILABLE, body = Problem,
            content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all, fields(inventory.sku = %sku))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(sku): ApiPath<String>,
    ApiQuery(query): ApiQuery<PointQuery>,
) -> Result<Response, Problem> {
    // Audit: `?as_of=` / `?at_version=` is answered from the event log with the domain's `evolve`, not from the
    // read model (crate::audit::history).
    let point = query.point();
    if point.is_requested() {
        return crate::audit::inventory_at(&state, &sku, point).await;
    }
    min_position.wait(&state, MODELS).await?;
    match stock::stock(&state.pool, &sku).await? {
        Some(row) => Ok(Json(StockView::from(row)).into_response()),
        None => Err(not_found(format!("no stock was ever recorded for SKU {sku:?}"))),
    }
}

/// Get a SKU's stock ledger
///
/// A SKU's stock movements in log order, one entry per event and location.
#[utoipa::path(get, path = "/v1/inventory/{sku}/ledger", tag = "queries", operation_id = "getStockLedger",
    params(("sku" = schemas::Sku, Path, description = "The SKU.", example = "TEE-RED-M"), PageParams, AcceptCsv,
        MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((LedgerPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "404 `not-found`: no stock was ever recorded for the SKU.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `limit` is out of range, or `cursor` is not one this list \
            issued.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all, fields(inventory.sku = %sku))]
pub(crate) async fn ledger(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(sku): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, Problem> {
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = stock::ledger(&state.pool, &sku, &page).await?;
    if page.items.is_empty() && stock::stock(&state.pool, &sku).await?.is_none() {
        return Err(not_found(format!("no stock was ever recorded for SKU {sku:?}")));
    }
    Ok(list_response::<LedgerRow, LedgerView>(&headers, &uri, page))
}

/// `GET /v1/inventory/{sku}`'s answer: the read model's stock, or the state at a point in time.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Documents the two shapes `one` answers.
pub(crate) enum StockAnswer {
    Current(StockView),
    At(InventoryAt),
}

/// A SKU's inventory folded from its events up to the point asked for, with the domain's `evolve` (never from the
/// read model): what `crate::audit::inventory_at` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents the answer of `crate::audit::inventory_at`.
pub(crate) struct InventoryAt {
    /// `inventory-{sku}`.
    stream_id: String,
    /// The version of the last event folded.
    version: u64,
    /// Its global position.
    position: u64,
    /// When it was recorded.
    recorded_at: DateTime<Utc>,
    state: InventoryState,
    /// The `as_of` asked for, or `null`.
    #[schema(required = true)]
    as_of: Option<DateTime<Utc>>,
    /// The `at_version` asked for, or `null`.
    #[schema(required = true)]
    at_version: Option<u64>,
}

/// The inventory aggregate's state of one SKU as the domain folds it from its events (the domain's serialization).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::Inventory`'s serialization.
pub(crate) struct InventoryState {
    /// Stock per location id.
    locations: BTreeMap<String, LocationLevel>,
    /// The active reservations per order id.
    reservations: BTreeMap<String, ReservationState>,
}

/// Stock at one location, in an inventory's state.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::inventory::LocationStock`'s serialization.
pub(crate) struct LocationLevel {
    on_hand: u64,
    reserved: u64,
    /// `on_hand - reserved`.
    available: u64,
}

/// What one order holds, in an inventory's state.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::inventory::Reservation`'s serialization.
pub(crate) struct ReservationState {
    /// Its allocations to locations, in the order they were made.
    allocations: Vec<AllocationState>,
    /// When the reservation lapses unless the order is paid.
    expires_at: DateTime<Utc>,
}

/// Units of a reservation at one location.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::inventory::Allocation`'s serialization.
pub(crate) struct AllocationState {
    #[schema(value_type = schemas::LocationId)]
    location: String,
    #[schema(minimum = 1)]
    quantity: u32,
}
