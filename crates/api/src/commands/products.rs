//! The catalog's commands: register a product, reprice it, discontinue it.
//!
//! - `POST /v1/products` `{"sku", "name", "price": {"amount", "currency"}}` -> 201 with the product and a
//!   `Location`; an already registered SKU is 409 `version-conflict`.
//! - `POST /v1/products/{sku}/price` `{"amount", "currency"}` (the new price: the resource is the price) -> 200
//!   with the product; another currency than the product's is 422; repricing to the current price records nothing.
//! - `POST /v1/products/{sku}/discontinuation` `{}` (or no body) -> 200 with the product; final, a second one is
//!   409 `invalid-transition`.

use super::answer::{first_recorded, last_change};
use super::dto::{self, MoneyRequest, OptionalJson};
use super::headers::{command_response, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::resources::ProductView;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tally_commands::ProductOutcome;
use tally_domain::{Aggregate, Product};
use tracing::instrument;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .post("/v1/products", Access::BackOffice, idempotent(register))
        .post("/v1/products/{sku}/price", Access::BackOffice, idempotent(reprice))
        .post("/v1/products/{sku}/discontinuation", Access::BackOffice, idempotent(discontinue))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterProduct {
    sku: String,
    name: String,
    price: MoneyRequest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Discontinue {}

#[instrument(skip_all, fields(product.sku = %body.sku))]
async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RegisterProduct>,
) -> Result<Response, Problem> {
    meta.refuse_if_match()?;
    let sku = dto::sku("sku", &body.sku)?;
    let price = dto::money("price", &body.price)?;
    let outcome = state.commands.register_product(&meta.context, sku.clone(), body.name, price).await?;
    respond(&state, StatusCode::CREATED, outcome, Some(format!("/v1/products/{sku}"))).await
}

#[instrument(skip_all, fields(product.sku = %sku))]
async fn reprice(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(sku): ApiPath<String>,
    ApiJson(body): ApiJson<MoneyRequest>,
) -> Result<Response, Problem> {
    let sku = dto::sku("sku", &sku)?;
    let price = dto::money("price", &body)?;
    let outcome = state.commands.reprice_product(&meta.context, &sku, price, meta.if_match).await?;
    respond(&state, StatusCode::OK, outcome, None).await
}

#[instrument(skip_all, fields(product.sku = %sku))]
async fn discontinue(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(sku): ApiPath<String>,
    OptionalJson(_): OptionalJson<Discontinue>,
) -> Result<Response, Problem> {
    let sku = dto::sku("sku", &sku)?;
    let outcome = state.commands.discontinue_product(&meta.context, &sku, meta.if_match).await?;
    respond(&state, StatusCode::OK, outcome, None).await
}

/// The product as the command left it, in the shape of `GET /v1/products/{sku}`.
async fn respond(
    state: &AppState,
    status: StatusCode,
    outcome: ProductOutcome,
    location: Option<String>,
) -> Result<Response, Problem> {
    let Some(details) = outcome.state.details() else {
        // A command that succeeded leaves a registered product: anything else is a bug, not the client's fault.
        return Err(crate::error::internal(&std::io::Error::other("product missing after a successful command")));
    };
    let stream_id = Product::stream_id(details.sku());
    let last = last_change(state.store.as_ref(), &stream_id, &outcome).await?;
    let registered_at = first_recorded(state.store.as_ref(), &stream_id, last).await?;
    let body = ProductView::from_aggregate(details, last, registered_at);
    Ok(command_response(status, outcome.version, outcome.position, location, &body))
}
