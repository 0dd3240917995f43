//! What the query operations share in the OpenAPI document: the descriptions of their common answers, and the
//! `Accept` header of the lists (`#[utoipa::path(params(AcceptCsv))]`).

use crate::openapi::parameter;
use serde_json::json;

/// A list's 200.
pub(super) const PAGE: &str = "A page. As JSON, or as CSV when `Accept` prefers `text/csv` (one page: a header \
    row and one record per item, CRLF line ends; a text field that starts like a spreadsheet formula, with `=`, \
    `+`, `-`, `@`, a tab or a carriage return, gets a leading `'`).";
/// A query's 400.
pub(super) const BAD_QUERY: &str = "400 `validation`: a query parameter cannot be parsed (not a number, a date or \
    a time where one is expected) or is not one this operation takes, a parameter is given twice, or \
    `min_position`/`Tally-Min-Position` is not a log position or is beyond the log's head (with `head`).";
/// A query's 503.
pub(super) const UNAVAILABLE: &str = "503 `unavailable` with `Retry-After`: the read models did not reach \
    `min_position` within 5 s (or a projection stopped before it), or the read-model database is unreachable.";
/// The `Accept` header of a list, for `#[utoipa::path(params(AcceptCsv))]`.
pub(crate) struct AcceptCsv;

impl utoipa::IntoParams for AcceptCsv {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![parameter(json!({
            "name": "Accept", "in": "header", "schema": {"type": "string"}, "example": "text/csv",
            "description": "`text/csv` ranked above `application/json` (a wildcard never counts for CSV) answers \
                the page as CSV; anything else, or no `Accept`, as JSON."
        }))]
    }
}
