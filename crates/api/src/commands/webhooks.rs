//! Webhook subscriptions over HTTP, for the `admin` role (issue #14; the design is in docs/decisions.md,
//! 2026-12-05). The deliveries themselves are `tally_webhooks`' sender's.
//!
//! - `POST /v1/webhooks` `{"url", "event_types"?, "stream_prefix"?}` -> 201 with the subscription and its signing
//!   `secret` (`whsec_...`), shown this once. No `Idempotency-Key` (400), for the reason `POST /v1/keys` takes none.
//! - `GET /v1/webhooks[?limit=&cursor=]`, `GET /v1/webhooks/{id}`: subscriptions with where their deliveries stand.
//! - `DELETE /v1/webhooks/{id}` -> 204; deliveries stop within about a second.
//! - `POST /v1/webhooks/{id}/secret` -> 200 with a new `secret`; the old one still signs for 24 hours.
//! - `POST /v1/webhooks/{id}/pause` `{"reason"}`, `POST /v1/webhooks/{id}/resume`, `POST /v1/webhooks/{id}/replay`
//!   `{"after"}` -> 200 with the subscription.
//! - `GET /v1/webhooks/{id}/deliveries[?limit=&cursor=]`: the attempts, newest first.

use super::dto;
use super::headers::{command_response, etag, IfMatch, RequestMeta};
use crate::auth::{Access, ApiRoutes};
use crate::error::{internal, unavailable};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::IDEMPOTENCY_KEY;
use crate::problem::{Problem, ProblemKind};
use crate::queries::{page_in_memory, page_request, ListBody, PageParams, PageQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_commands::WebhookOutcome;
use tally_domain::webhook::REASON_MAX_CHARS;
use tally_domain::{WebhookCommand, WebhookId};
use tally_projections::read::Cursor;
use tally_webhooks::manage::{self, ManageError, NewSubscription, WithSecret};
use tally_webhooks::storage::{self, Attempt};
use tally_webhooks::Subscription;
use tracing::instrument;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .route(Access::Webhooks, routes!(create, list))
        .route(Access::Webhooks, routes!(one, delete))
        .route(Access::Webhooks, routes!(rotate_secret))
        .route(Access::Webhooks, routes!(deliveries))
        .command(Access::Webhooks, routes!(pause))
        .command(Access::Webhooks, routes!(resume))
        .command(Access::Webhooks, routes!(replay))
}

/// A subscription to make. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhook)]
struct CreateWebhook {
    /// Where to POST the events: `http` or `https`, no credentials or fragment, at most 2,048 characters. Its host
    /// must resolve to public addresses only, unless the server allows private ones (`--webhook-allow-private`).
    #[schema(min_length = 1, max_length = 2048, example = "https://hooks.example.com/tally")]
    url: String,
    /// The event types to deliver (e.g. `OrderPlaced`); absent or empty: every type.
    #[serde(default)]
    #[schema(max_items = 64, example = json!(["OrderPlaced", "OrderPaid"]))]
    event_types: Option<Vec<String>>,
    /// Only events of streams whose id starts with this (e.g. `order-`); absent: every stream.
    #[schema(min_length = 1, max_length = 200, example = "order-")]
    stream_prefix: Option<String>,
}

/// A subscription and where its deliveries stand. Never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
struct WebhookBody {
    /// The subscription id; its stream is `webhook-{id}`, and its sender's row in `/v1/projections` too.
    #[schema(value_type = uuid::Uuid)]
    id: WebhookId,
    url: String,
    /// The event types delivered; empty: every type.
    event_types: Vec<String>,
    /// Only events of streams whose id starts with this; `null`: every stream.
    stream_prefix: Option<String>,
    /// `active`, or `paused` (nothing is delivered until it is resumed).
    #[schema(pattern = "^(active|paused)$")]
    status: &'static str,
    /// Why it is paused (by an admin, or by the sender: `410 Gone`, or 24 hours of failures).
    paused_reason: Option<String>,
    paused_at: Option<DateTime<Utc>>,
    /// Who paused it: `apikey-{uuid}`, `cli`, or `webhook-sender`.
    paused_by: Option<String>,
    created_at: DateTime<Utc>,
    /// Who subscribed: `apikey-{uuid}` or `cli`.
    created_by: Option<String>,
    /// How many times its secret was rotated.
    secret_rotations: u32,
    delivery: DeliveryBody,
}

/// Where the deliveries stand.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
struct DeliveryBody {
    /// Every wanted event up to this global log position has been delivered (a 2xx) or was not wanted.
    position: u64,
    /// Events of the log after `position` (of any type: not all of them are wanted).
    lag_events: u64,
    /// Failed attempts in a row at the event it is stuck on (0: not failing).
    failed_attempts: u32,
    /// Since when it has been failing; after 24 hours the subscription is paused.
    failing_since: Option<DateTime<Utc>>,
    /// When the next attempt is due, while failing.
    next_attempt_at: Option<DateTime<Utc>>,
    /// The last failed attempt's error, while failing (or the 410 that paused it).
    last_error: Option<String>,
}

/// A subscription just made, or its secret just rotated: the subscription and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookWithSecret)]
struct WithSecretBody {
    #[serde(flatten)]
    webhook: WebhookBody,
    /// The signing secret: verify each delivery's `webhook-signature` with it, as Standard Webhooks 1.0 says.
    /// Shown in this answer only.
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+={0,2}$", example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

/// Why deliveries stop. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PauseWebhook)]
struct Pause {
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500, example = "receiver down for maintenance")]
    reason: String,
}

/// Where deliveries start again. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReplayWebhook)]
struct Replay {
    /// Deliver again every wanted event after this global log position (0: the whole log); at most the log's
    /// head.
    #[schema(minimum = 0, example = 0)]
    after: u64,
}

/// An empty object (the body may also be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ResumeWebhook)]
struct Resume {}

/// The names the lists' cursors carry (a cursor of another list is refused).
const WEBHOOKS_LIST: &str = "webhooks";
const DELIVERIES_LIST: &str = "webhook-deliveries";

/// Subscribe a webhook
///
/// Subscribes a URL to the events of the log (all of them, or those of `event_types` and `stream_prefix`), from
/// now on. Answers 201 with the subscription and its signing `secret`, shown this once. Takes no
/// `Idempotency-Key` (400): a repeat would have to answer the secret again; a client that lost the answer deletes
/// the subscription it cannot verify (`GET /v1/webhooks` lists them) and makes another.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "createWebhook",
    params(RequestMeta),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Subscribed.", body = WithSecretBody, headers(
            ("ETag" = String, description = "The subscription's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the subscription."),
            ("Location" = String, description = "`/v1/webhooks/{id}`"))),
        (status = 422, description = "422 `validation`: the URL is malformed, not http(s), carries credentials or \
            resolves to an address webhooks may not go to; an event type or the stream prefix breaks a rule; or the \
            body does not fit the schema.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<Response, Problem> {
    refuse_idempotency_key(&headers, "POST /v1/webhooks")?;
    meta.refuse_if_match()?;
    let new = NewSubscription {
        url: body.url,
        event_types: body.event_types.unwrap_or_default(),
        stream_prefix: body.stream_prefix,
    };
    let made = manage::subscribe(&state.pool, &state.commands, &meta.context, &state.egress, new)
        .await
        .map_err(manage_problem)?;
    let location = format!("/v1/webhooks/{}", made.webhook_id);
    with_secret_response(&state, StatusCode::CREATED, Some(location), made).await
}

/// List webhooks
///
/// Every subscription that is not deleted, oldest first, with where its deliveries stand; never a secret. Read
/// from the log up to its head, so a change made through any node is listed as it is.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    params(PageParams),
    responses(
        (status = 200, description = "A page of subscriptions.", body = ListBody<WebhookBody>),
        (status = 422, description = "422 `validation`: `limit` is out of range, or `cursor` is not one from \
            `next_cursor`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
async fn list(State(state): State<AppState>, ApiQuery(query): ApiQuery<PageQuery>) -> Result<Response, Problem> {
    state.webhooks.refresh().await.map_err(|error| unavailable("reading the webhooks", &error))?;
    let page = page_in_memory(WEBHOOKS_LIST, query, state.webhooks.current(), |subscription| subscription.id)?;
    let items = bodies(&state, page.items).await?;
    Ok(Json(ListBody { items, next_cursor: page.next_cursor }).into_response())
}

/// Get a webhook
///
/// One subscription, with where its deliveries stand; never its secret.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(WebhookPath),
    responses(
        (status = 200, description = "The subscription; `ETag`: the version of its stream, for `If-Match`.",
            body = WebhookBody, headers(("ETag" = String, description = "The subscription's stream version, as a strong ETag."))),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn one(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    let known = subscription(&state, webhook_id).await?;
    // The version of its stream, for `If-Match` on the commands (as every command's answer carries it).
    let version = known.version;
    let body = bodies(&state, vec![known]).await?.remove(0);
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

/// Delete a webhook
///
/// Deletes a subscription, for good: deliveries stop within about a second, and its secret is forgotten. Deleting
/// a deleted subscription answers the same and records nothing.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(WebhookPath, RequestMeta, IfMatch),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "404 `not-found`: no subscription has this id.", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the subscription is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    state.commands.webhook_command(&meta.context, webhook_id, WebhookCommand::Delete, meta.if_match).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Rotate a webhook's secret
///
/// Makes a new signing secret and answers it, this once. The old secret still signs for 24 hours (each delivery
/// carries both signatures), so receivers can switch without missing a delivery. Takes no `Idempotency-Key`
/// (400): a repeat would have to answer the secret again.
#[utoipa::path(post, path = "/v1/webhooks/{id}/secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    params(WebhookPath, RequestMeta, IfMatch),
    responses(
        (status = 200, description = "Rotated.", body = WithSecretBody, headers(
            ("ETag" = String, description = "The subscription's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the rotation."))),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the subscription is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    refuse_idempotency_key(&headers, "POST /v1/webhooks/{id}/secret")?;
    let rotated = manage::rotate_secret(&state.pool, &state.commands, &meta.context, webhook_id, meta.if_match)
        .await
        .map_err(manage_problem)?;
    with_secret_response(&state, StatusCode::OK, None, rotated).await
}

/// Pause a webhook
///
/// Stops deliveries, with the reason, until the subscription is resumed (events are not skipped: a resume delivers
/// them). Pausing a paused subscription records nothing.
#[utoipa::path(post, path = "/v1/webhooks/{id}/pause", tag = "webhooks", operation_id = "pauseWebhook",
    params(WebhookPath, RequestMeta, IfMatch),
    request_body = Pause,
    responses(
        (status = 200, description = "Paused.", body = WebhookBody, headers(
            ("ETag" = String, description = "The subscription's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the pause (absent when it was \
                paused already)."))),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the subscription is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: the reason is empty or too long.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn pause(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Pause>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    // The domain's bound, checked before `If-Match` as every command's body is.
    let reason = body.reason.trim();
    if !(1..=REASON_MAX_CHARS).contains(&reason.chars().count()) {
        let rule = format!("must be 1 to {REASON_MAX_CHARS} characters, spaces around it not counted");
        return Err(dto::invalid("reason", rule));
    }
    let command = WebhookCommand::Pause { reason: reason.to_owned() };
    let outcome = state.commands.webhook_command(&meta.context, webhook_id, command, meta.if_match).await?;
    command_answer(&state, webhook_id, &outcome).await
}

/// Resume a webhook
///
/// Starts deliveries again where they stopped, at once (a failing receiver's backoff starts over). Resuming an
/// active subscription records nothing.
#[utoipa::path(post, path = "/v1/webhooks/{id}/resume", tag = "webhooks", operation_id = "resumeWebhook",
    params(WebhookPath, RequestMeta, IfMatch),
    request_body(content = Option<Resume>, description = "May be left out (an empty or whitespace-only body means \
        `{}`); when present, it must be JSON (else 415)."),
    responses(
        (status = 200, description = "Resumed.", body = WebhookBody, headers(
            ("ETag" = String, description = "The subscription's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the resume (absent when it was \
                active already)."))),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the subscription is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn resume(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    dto::OptionalJson(_resume): dto::OptionalJson<Resume>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    let outcome =
        state.commands.webhook_command(&meta.context, webhook_id, WebhookCommand::Resume, meta.if_match).await?;
    // Resumed now (not already active): the sender tries at once (it reads its state before each batch).
    if outcome.position.is_some() {
        storage::clear_failures(&state.pool, webhook_id)
            .await
            .map_err(|error| unavailable("resetting the webhook's retries", &error))?;
    }
    command_answer(&state, webhook_id, &outcome).await
}

/// Replay a webhook's deliveries
///
/// Delivers again, in order, every wanted event after the global log position `after` (0: the whole log); the
/// deliveries since are repeated with their `webhook-id`s, so a receiver that dedupes by it sees nothing twice.
/// A position after the sender's moves it on instead, skipping the events between. Recorded in the log; the
/// sender carries it out within about a second (once the subscription is active).
#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", tag = "webhooks", operation_id = "replayWebhook",
    params(WebhookPath, RequestMeta, IfMatch),
    request_body = Replay,
    responses(
        (status = 200, description = "The replay is recorded.", body = WebhookBody, headers(
            ("ETag" = String, description = "The subscription's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the replay request."))),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the subscription is not at the version given in \
            `If-Match`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `after` is beyond the log's head.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn replay(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Replay>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    let head = state.store.head_position().await.map_err(|error| unavailable("reading the log's head", &error))?;
    if body.after > head {
        return Err(dto::invalid("after", format!("{} is beyond the log's head, {head}", body.after)));
    }
    let command = WebhookCommand::Replay { after: body.after };
    let outcome = state.commands.webhook_command(&meta.context, webhook_id, command, meta.if_match).await?;
    command_answer(&state, webhook_id, &outcome).await
}

/// List a webhook's delivery attempts
///
/// Every attempt of the last 7 days, newest first: the event, the attempt's number, the receiver's status (`null`:
/// no answer), the latency and the error.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    params(WebhookPath, PageParams),
    responses(
        (status = 200, description = "A page of attempts.", body = ListBody<AttemptBody>),
        (status = 404, description = "404 `not-found`: no subscription has this id (or it was deleted).",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `limit` is out of range, or `cursor` is not one from \
            `next_cursor`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(webhook.id = %id))]
async fn deliveries(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, Problem> {
    let webhook_id = webhook_id(&id)?;
    let page = page_request(query.limit, query.cursor)?;
    // Newest first: the cursor holds the last attempt's id, and the next page is the attempts before it.
    let before: Option<i64> =
        page.cursor.as_deref().map(|cursor| Cursor::decode(DELIVERIES_LIST, cursor)).transpose()?;
    subscription(&state, webhook_id).await?;
    let mut attempts = storage::attempts(&state.pool, webhook_id, before, page.limit + 1)
        .await
        .map_err(|error| unavailable("reading the deliveries", &error))?;
    let limit = page.limit as usize;
    let next_cursor = (attempts.len() > limit).then(|| Cursor::encode(DELIVERIES_LIST, &attempts[limit - 1].id));
    attempts.truncate(limit);
    let items: Vec<AttemptBody> = attempts.into_iter().map(AttemptBody::from).collect();
    Ok(Json(ListBody { items, next_cursor }).into_response())
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookAttempt)]
struct AttemptBody {
    /// The event's global log position.
    position: u64,
    /// The event's id: the delivery's `webhook-id`.
    event_id: uuid::Uuid,
    event_type: String,
    /// 1 for the first attempt at this event, then +1 per retry.
    attempt: u32,
    attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; `null` when no answer came (refused, timed out, an address not allowed).
    status: Option<u16>,
    /// From sending the request to the end of the answer, in milliseconds.
    latency_ms: f64,
    /// Why the attempt failed; `null` when it delivered.
    error: Option<String>,
}

impl From<Attempt> for AttemptBody {
    fn from(attempt: Attempt) -> Self {
        AttemptBody {
            position: u64::try_from(attempt.position).unwrap_or(0),
            event_id: attempt.event_id,
            event_type: attempt.event_type,
            attempt: u32::try_from(attempt.attempt).unwrap_or(0),
            attempted_at: attempt.attempted_at,
            status: attempt.status.and_then(|status| u16::try_from(status).ok()),
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        }
    }
}

/// The path parameter of every `/v1/webhooks/{id}` route (read as text by `ApiPath`: an id that is not a UUID is
/// a 404, like an unknown one).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // declared for the document only
struct WebhookPath {
    /// The subscription id.
    #[param(example = "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a02")]
    id: uuid::Uuid,
}

fn webhook_id(id: &str) -> Result<WebhookId, Problem> {
    WebhookId::parse(id).map_err(|_| Problem::new(ProblemKind::NotFound, format!("no webhook with id {id:?}")))
}

fn refuse_idempotency_key(headers: &HeaderMap, route: &str) -> Result<(), Problem> {
    if headers.contains_key(&IDEMPOTENCY_KEY) {
        return Err(Problem::new(
            ProblemKind::Validation,
            format!("{route} takes no Idempotency-Key: the secret is shown once and never stored with an answer"),
        )
        .with_status(StatusCode::BAD_REQUEST));
    }
    Ok(())
}

fn manage_problem(error: ManageError) -> Problem {
    match error {
        ManageError::Egress(error) => dto::invalid("url", error),
        ManageError::Command(error) => Problem::from(error),
        ManageError::Database(error) => unavailable("storing the webhook's secret", &error),
        ManageError::Random(error) => internal(&error),
    }
}

/// The answer of a subscription or a rotation: the subscription with its new secret.
async fn with_secret_response(
    state: &AppState,
    status: StatusCode,
    location: Option<String>,
    made: WithSecret,
) -> Result<Response, Problem> {
    let webhook = body_at(state, made.webhook_id, made.outcome.position).await?;
    let body = WithSecretBody { webhook, secret: made.secret.text() };
    Ok(command_response(status, made.outcome.version, made.outcome.position, location, &body))
}

/// The answer of a command on a subscription: 200 with the subscription as it now stands.
async fn command_answer(
    state: &AppState,
    webhook_id: WebhookId,
    outcome: &WebhookOutcome,
) -> Result<Response, Problem> {
    let webhook = body_at(state, webhook_id, outcome.position).await?;
    Ok(command_response(StatusCode::OK, outcome.version, outcome.position, None, &webhook))
}

/// The subscription once the cache has read the log up to `position` (a change just made).
async fn body_at(state: &AppState, webhook_id: WebhookId, position: Option<u64>) -> Result<WebhookBody, Problem> {
    if position.is_none_or(|position| state.webhooks.position() < position) {
        state.webhooks.refresh().await.map_err(|error| unavailable("reading the webhooks", &error))?;
    }
    let known = state.webhooks.get(webhook_id).filter(|known| !known.details.deleted);
    let known = known.ok_or_else(|| not_found(webhook_id))?;
    Ok(bodies(state, vec![known]).await?.remove(0))
}

/// The subscription, read up to the log's head first; 404 when it does not exist or was deleted.
async fn subscription(state: &AppState, webhook_id: WebhookId) -> Result<Subscription, Problem> {
    state.webhooks.refresh().await.map_err(|error| unavailable("reading the webhooks", &error))?;
    state.webhooks.get(webhook_id).filter(|known| !known.details.deleted).ok_or_else(|| not_found(webhook_id))
}

fn not_found(webhook_id: WebhookId) -> Problem {
    Problem::new(ProblemKind::NotFound, format!("no webhook with id {webhook_id}"))
}

/// The subscriptions with where their deliveries stand (one query for all).
async fn bodies(state: &AppState, subscriptions: Vec<Subscription>) -> Result<Vec<WebhookBody>, Problem> {
    let ids: Vec<WebhookId> = subscriptions.iter().map(|subscription| subscription.id).collect();
    let reading = |error: &dyn std::error::Error| unavailable("reading the webhooks' deliveries", error);
    let statuses = storage::delivery_status(&state.pool, &ids).await.map_err(|error| reading(&error))?;
    let head = state.store.head_position().await.map_err(|error| reading(&error))?;
    Ok(subscriptions
        .into_iter()
        .map(|subscription| {
            let status = statuses
                .iter()
                .find(|status| status.webhook_id == subscription.id.as_uuid())
                .cloned()
                .unwrap_or_default();
            let position = status.position().unwrap_or(subscription.subscribed_position);
            let failed_attempts = u32::try_from(status.failed_attempts.unwrap_or(0)).unwrap_or(0);
            let failing = failed_attempts > 0;
            let details = subscription.details;
            WebhookBody {
                id: subscription.id,
                url: details.url,
                event_types: details.event_types,
                stream_prefix: details.stream_prefix,
                status: if details.paused.is_some() { "paused" } else { "active" },
                paused_reason: details.paused,
                paused_at: subscription.paused_at,
                paused_by: subscription.paused_by,
                created_at: subscription.created_at,
                created_by: subscription.created_by,
                secret_rotations: details.rotations,
                delivery: DeliveryBody {
                    position,
                    lag_events: head.saturating_sub(position),
                    failed_attempts,
                    failing_since: status.failing_since.filter(|_| failing),
                    next_attempt_at: status.next_attempt_at.filter(|_| failing),
                    last_error: status.last_error,
                },
            }
        })
        .collect())
}
