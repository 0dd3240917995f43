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
use super::headers::{command_response, IfMatch, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::schemas;
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
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .command(Access::BackOffice, routes!(register))
        .command(Access::BackOffice, routes!(reprice))
        .command(Access::BackOffice, routes!(discontinue))
}

/// A product to register. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegisterProductRequest)]
struct RegisterProduct {
    #[schema(value_type = schemas::Sku)]
    sku: String,
    /// The product's name: 1 to 200 characters once trimmed of white space, no control characters inside (it is
    /// stored trimmed; else 422).
    // White space around (trimmed: `char::is_whitespace`), then 1 to 200 characters that are not control
    // characters (`char::is_control`), the first and the last of them not white space.
    #[schema(
        pattern = "^[\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*\
            [^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]\
            ([^\\u0000-\\u001f\\u007f-\\u009f]{0,198}\
            [^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?\
            [\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
        example = "Red tee, M"
    )]
    name: String,
    price: MoneyRequest,
}

/// An empty object (the body may also be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DiscontinueProductRequest)]
struct Discontinue {}

/// Register a product
///
/// Registers a product in the catalog. Answers 201 with the product and its `Location`.
#[utoipa::path(post, path = "/v1/products", tag = "commands", operation_id = "registerProduct",
    params(RequestMeta),
    request_body = RegisterProduct,
    responses(
        (status = 201, description = "Registered.", body = ProductView, headers(
            ("ETag" = String, description = "The product's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the registration (absent when \
                nothing was appended)."),
            ("Location" = String, description = "`/v1/products/{sku}`"))),
        (status = 409, description = "409 `version-conflict`: the SKU is already registered.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), or the body does \
            not fit the schema.", body = Problem, content_type = "application/problem+json"),
    ))]
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

/// Reprice a product
///
/// Sets a product's price (the body is the new price, in the product's currency). Repricing to the current price
/// records nothing (no `Tally-Position`). Answers 200 (not 201) with the product.
#[utoipa::path(post, path = "/v1/products/{sku}/price", tag = "commands", operation_id = "repriceProduct",
    params(("sku" = schemas::Sku, Path, description = "The product's SKU.", example = "TEE-RED-M"),
        RequestMeta, IfMatch),
    request_body = MoneyRequest,
    responses(
        (status = 200, description = "Repriced (or already at that price).", body = ProductView, headers(
            ("ETag" = String, description = "The product's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the repricing (absent when the \
                price was already this one)."))),
        (status = 404, description = "404 `not-found`: the SKU is not registered.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the product is discontinued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the product is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: a value breaks a rule (`field` names it), the body does \
            not fit the schema, the SKU is malformed, or the currency is not the product's.", body = Problem,
            content_type = "application/problem+json"),
    ))]
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

/// Discontinue a product
///
/// Discontinues a product: it can no longer be ordered. Final. Answers 200 (not 201) with the product.
#[utoipa::path(post, path = "/v1/products/{sku}/discontinuation", tag = "commands",
    operation_id = "discontinueProduct",
    params(("sku" = schemas::Sku, Path, description = "The product's SKU.", example = "TEE-RED-M"),
        RequestMeta, IfMatch),
    request_body(content = Option<Discontinue>, description = "May be left out (an empty or whitespace-only body \
        means `{}`, as does `null`); when present, it must be a JSON object (else 422) sent as JSON (else 415)."),
    responses(
        (status = 200, description = "Discontinued.", body = ProductView, headers(
            ("ETag" = String, description = "The product's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the discontinuation."))),
        (status = 404, description = "404 `not-found`: the SKU is not registered.", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "409 `invalid-transition`: the product is already discontinued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the product is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: the SKU is malformed, or the body is not `{}`.",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(product.sku = %sku))]
async fn discontinue(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(sku): ApiPath<String>,
    OptionalJson(_discontinue): OptionalJson<Discontinue>,
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
