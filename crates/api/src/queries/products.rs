//! `GET /v1/products` and `GET /v1/products/{sku}`: the catalog from the products projection.
//!
//! A product is a [`ProductView`], the type the catalog's commands answer with too.

use super::csv::{text, time, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::{list_response, not_found, page_request, validation, MinPosition, PageParams};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::resources::ProductView;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::IgnoredAny;
use serde::Deserialize;
use tally_domain::catalog::ProductStatus;
use tally_projections::read::catalog::{self, ProductRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

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

/// The query string of the products list. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only products with this status (another value: 422).
    #[param(value_type = Option<schemas::ProductStatus>)]
    status: Option<String>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// The query string of one product: only `min_position` ([`MinPosition`] reads it). Another parameter is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OneQuery {
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// A page of products (`GET /v1/products` as JSON).
#[derive(ToSchema)]
#[schema(as = ProductPage)]
#[allow(dead_code)] // Documents the `ListBody<ProductView>` the handler answers, under its published name.
pub(crate) struct ProductPage {
    /// Products in SKU order.
    items: Vec<ProductView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// List products
///
/// The catalog from the products read model, in SKU order. As JSON, or as CSV when `Accept` prefers `text/csv`.
#[utoipa::path(get, path = "/v1/products", tag = "queries", operation_id = "listProducts",
    params(ListQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((ProductPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `status` is not a product status, `limit` is out of range, \
            or `cursor` is not one this list issued.", body = Problem, content_type = "application/problem+json"),
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
    let status = query.status.as_deref().map(str::parse::<ProductStatus>).transpose();
    let status = status.map_err(|error| validation(format!("status: {error}")))?;
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = catalog::list_products(&state.pool, status, &page).await?;
    Ok(list_response::<ProductRow, ProductView>(&headers, &uri, page))
}

/// Get a product
///
/// One product from the products read model.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "queries", operation_id = "getProduct",
    params(("sku" = schemas::Sku, Path, description = "The SKU.", example = "TEE-RED-M"), MinPosition),
    responses(
        (status = 200, description = "The product.", body = ProductView),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "404 `not-found`: no product has this SKU.", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all, fields(product.sku = %sku))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(sku): ApiPath<String>,
    ApiQuery(_query): ApiQuery<OneQuery>,
) -> Result<Response, Problem> {
    min_position.wait(&state, MODELS).await?;
    match catalog::product(&state.pool, &sku).await? {
        Some(row) => Ok(Json(ProductView::from(row)).into_response()),
        None => Err(not_found(format!("no product with SKU {sku:?}"))),
    }
}
