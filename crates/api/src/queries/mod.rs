//! The `/v1` query endpoints (GET) over the read models, and the projections' status.
//!
//! Handlers are thin: parse and validate the query string, wait for `min_position` ([`consistency`]), call a
//! reader of `tally_projections::read` (which owns the SQL), and turn its rows into the response shapes of
//! DESIGN.md ("HTTP API", "Contract examples"). Lists are `{"items": [...], "next_cursor": ...}` with keyset
//! cursors, or CSV ([`csv`]) when `Accept` prefers it.
//!
//! - `products`, `inventory`, `orders`, `analytics`: the endpoints of each read model.
//! - `lost_demand`, `order_counts`: the console's analytics (issue #15): lost demand from the sales read model;
//!   orders per status and per hour of a day from the orders read model.
//! - `projections`: `GET /v1/projections`, each projection's position, lag, state and failure.
//! - `consistency`: read-your-writes (`min_position`, `Tally-Min-Position`).
//! - `csv`: `Accept` negotiation and RFC 4180 output.

mod analytics;
mod consistency;
mod csv;
mod docs;
mod inventory;
mod lost_demand;
mod order_counts;
mod orders;
mod products;
mod projections;
#[cfg(test)]
mod tests;

use crate::auth::{Access, ApiRoutes};
use crate::problem::{Problem, ProblemKind};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tally_projections::read::{Cursor, Page, PageRequest, ReadError, DEFAULT_LIMIT, MAX_LIMIT};
use utoipa_axum::routes;

pub(crate) use consistency::MinPosition;

pub(crate) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .route(Access::StorefrontRead, routes!(products::list))
        .route(Access::StorefrontRead, routes!(products::one))
        .route(Access::Query, routes!(inventory::list))
        .route(Access::StorefrontRead, routes!(inventory::one))
        .route(Access::Query, routes!(inventory::ledger))
        .route(Access::Query, routes!(orders::list))
        .route(Access::StorefrontRead, routes!(orders::one))
        .route(Access::Query, routes!(analytics::sales))
        .route(Access::Query, routes!(analytics::top_products))
        .route(Access::Query, routes!(lost_demand::lost_demand))
        .route(Access::Query, routes!(order_counts::order_statuses))
        .route(Access::Query, routes!(order_counts::orders_per_hour))
        .route(Access::Query, routes!(projections::status))
}

/// A list's JSON body: a page of items, in the list's order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ListBody<T> {
    pub items: Vec<T>,
    /// The cursor of the next page (pass it as `cursor`); `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The paging parameters every list takes, `limit` and `cursor`, for `#[utoipa::path(params(PageParams, ...))]`
/// (a list's own query type reads them, with `#[param(ignore)]` on its fields).
pub(crate) struct PageParams;

impl utoipa::IntoParams for PageParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            crate::openapi::parameter(serde_json::json!({
                "name": "limit", "in": "query",
                "schema": crate::openapi::or_empty(
                    serde_json::json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})
                ),
                "description": format!("Items per page (1 to {MAX_LIMIT}; outside: 422; empty: the default).")
            })),
            crate::openapi::parameter(serde_json::json!({
                // `tally_projections::read::Cursor`: base64url without padding.
                "name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                "description": "The `next_cursor` of the previous page. Opaque and bound to this list: another \
                    list's cursor, or text that is not a cursor, is a 422. Absent or empty: the first page."
            })),
        ]
    }
}

/// The page a request asks for: `limit` (default 50, 1 to 500) and `cursor` (opaque, from `next_cursor`).
pub(crate) fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, Problem> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(validation(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    Ok(PageRequest { limit, cursor: cursor.filter(|cursor| !cursor.is_empty()) })
}

/// The query string of a list that takes nothing but paging: `limit` and `cursor` (another parameter is a 400).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page of a list every node holds in memory, in the order of `key` (the API keys, the webhook
/// subscriptions), paged like the read models' lists: the items after the cursor's key, and the cursor of the
/// next page, bound to `list`.
pub(crate) fn page_in_memory<T, K>(
    list: &str,
    query: PageQuery,
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Result<ListBody<T>, Problem>
where
    K: Serialize + serde::de::DeserializeOwned + PartialOrd,
{
    let page = page_request(query.limit, query.cursor)?;
    let after: Option<K> = page.cursor.as_deref().map(|cursor| Cursor::decode(list, cursor)).transpose()?;
    let limit = page.limit as usize;
    let mut items: Vec<T> = items
        .into_iter()
        .filter(|item| after.as_ref().is_none_or(|after| key(item) > *after))
        .take(limit + 1)
        .collect();
    let next_cursor = (items.len() > limit).then(|| Cursor::encode(list, &key(&items[limit - 1])));
    items.truncate(limit);
    Ok(ListBody { items, next_cursor })
}

/// A page as JSON, or as CSV when `Accept` prefers it.
pub(crate) fn list_response<R, T>(headers: &HeaderMap, uri: &Uri, page: Page<R>) -> Response
where
    T: From<R> + Serialize + csv::CsvRecord,
{
    let items: Vec<T> = page.items.into_iter().map(T::from).collect();
    body_response(headers, uri, ListBody { items, next_cursor: page.next_cursor })
}

/// A list's body as JSON, or as CSV when `Accept` prefers it (for lists paged in memory, [`page_in_memory`]).
pub(crate) fn body_response<T>(headers: &HeaderMap, uri: &Uri, body: ListBody<T>) -> Response
where
    T: Serialize + csv::CsvRecord,
{
    if csv::wants_csv(headers) {
        return csv::page_response(&body.items, body.next_cursor.as_deref(), uri);
    }
    Json(body).into_response()
}

/// A `validation` problem (422: the request is well-formed but a value breaks a rule).
pub(crate) fn validation(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Validation, detail)
}

/// A `not-found` problem.
pub(crate) fn not_found(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::NotFound, detail)
}

impl From<ReadError> for Problem {
    fn from(error: ReadError) -> Self {
        match error {
            // 422, as `PageParams` documents for every list: the request is well-formed, the cursor is not one
            // this list issued.
            ReadError::InvalidCursor => Problem::new(ProblemKind::Validation, "the cursor is not valid for this list")
                .with_extension("field", serde_json::json!("cursor")),
            ReadError::Database(error) if tally_store::error::database_unreachable(&error) => {
                tracing::warn!(error = %error, "the read-model database is unreachable");
                Problem::new(ProblemKind::Unavailable, "the read models could not be read").with_retry_after(1)
            }
            ReadError::Database(error) => {
                tracing::error!(error = %error, "reading a read model failed");
                Problem::new(ProblemKind::Internal, "reading the read models failed")
            }
        }
    }
}
