//! `GET /v1/inventory[/{sku}]` and `GET /v1/inventory/{sku}/ledger`: stock from the inventory projection.
//!
//! One SKU's stock is a [`StockView`], the type the stock commands answer with too.
//! The list takes `?below=N` for low stock (fewer than N units available); the ledger is a SKU's stock history
//! in log order.

use super::csv::{opt, opt_text, text, time, value, Cell, CsvRecord};
use super::{list_response, not_found, page_request, validation, MinPosition};
use crate::problem::Problem;
use crate::resources::StockView;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_projections::read::stock::{self, LedgerRow, StockRow};
use tally_projections::ReadModel;
use tracing::instrument;
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

/// One ledger entry as the API shows it: the table's row, as is.
#[derive(Debug, Serialize)]
pub(crate) struct LedgerView {
    pub position: i64,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub sku: String,
    pub location: String,
    pub kind: String,
    pub reason: Option<String>,
    pub order_id: Option<Uuid>,
    pub shipment_id: Option<Uuid>,
    pub return_id: Option<Uuid>,
    pub reference: Option<String>,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub on_hand_after: i64,
    pub reserved_after: i64,
    pub available_after: i64,
    pub sku_on_hand_after: i64,
    pub sku_reserved_after: i64,
    pub sku_available_after: i64,
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

/// The query string of the inventory list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    below: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The query string of the ledger.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/inventory[?below=N]`.
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

/// `GET /v1/inventory/{sku}`.
#[instrument(skip_all, fields(inventory.sku = %sku))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(sku): ApiPath<String>,
    ApiQuery(point): ApiQuery<crate::audit::PointInTime>,
) -> Result<Response, Problem> {
    // Audit: `?as_of=` / `?at_version=` is answered from the event log with the domain's `evolve`, not from the
    // read model (crate::audit::history).
    if point.is_requested() {
        return crate::audit::inventory_at(&state, &sku, point).await;
    }
    min_position.wait(&state, MODELS).await?;
    match stock::stock(&state.pool, &sku).await? {
        Some(row) => Ok(Json(StockView::from(row)).into_response()),
        None => Err(not_found(format!("no stock was ever recorded for SKU {sku:?}"))),
    }
}

/// `GET /v1/inventory/{sku}/ledger`.
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
