//! `GET /v1/products` and `GET /v1/products/{sku}`: the catalog from the products projection.
//!
//! A product is a [`ProductView`], the type the catalog's commands answer with too.

use super::csv::{text, time, value, Cell, CsvRecord};
use super::{list_response, not_found, page_request, validation, MinPosition};
use crate::problem::Problem;
use crate::resources::ProductView;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tally_domain::catalog::ProductStatus;
use tally_projections::read::catalog::{self, ProductRow};
use tally_projections::ReadModel;
use tracing::instrument;

const MODELS: &[ReadModel] = &[ReadModel::Products];

impl CsvRecord for ProductView {
    const HEADER: &'static [&'static str] =
        &["sku", "name", "price_amount", "currency", "status", "version", "position", "registered_at", "updated_at"];

    fn fields(&self) -> Vec<Cell> {
        vec![
            text(&self.sku),
            text(&self.name),
            value(self.price.amount),
            text(&self.price.currency),
            text(&self.status),
            value(self.version),
            value(self.position),
            time(&self.registered_at),
            time(&self.updated_at),
        ]
    }
}

/// The query string of the products list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/products[?status=active|discontinued]`.
#[instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    let status = query.status.as_deref().map(str::parse::<ProductStatus>).transpose();
    let status = status.map_err(|error| validation(format!("status: {error}")))?;
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = catalog::list_products(&state.pool, status, &page).await?;
    Ok(list_response::<ProductRow, ProductView>(&headers, &uri, page))
}

/// `GET /v1/products/{sku}`.
#[instrument(skip_all, fields(product.sku = %sku))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(sku): ApiPath<String>,
) -> Result<Response, Problem> {
    min_position.wait(&state, MODELS).await?;
    match catalog::product(&state.pool, &sku).await? {
        Some(row) => Ok(Json(ProductView::from(row)).into_response()),
        None => Err(not_found(format!("no product with SKU {sku:?}"))),
    }
}
