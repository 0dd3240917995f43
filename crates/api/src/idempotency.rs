//! `Idempotency-Key` for every command (POST): a client may repeat a request safely, and its command is applied
//! once, whatever fails in between.
//!
//! One mechanism, [`layer`], a route layer on each command's POST (`ApiRoutes::command`, which also documents the
//! header; it runs inside the guard, since a key belongs to its caller). For a request with
//! an `Idempotency-Key` it buffers the body (at most [`BODY_LIMIT`](crate::commands::BODY_LIMIT), else 413),
//! fingerprints it (SHA-256 of method, path and body) and claims the key in PostgreSQL (`idempotency_keys`,
//! migrations 0003 and 0005) with one `insert ... on conflict do nothing`:
//!
//! - claimed: the handler runs, with the key in the request's extensions (it reaches the command side through
//!   `CommandContext`, where the command's events get ids derived from the key, and lets `POST /v1/orders`
//!   derive its order id from it). Its response is then stored (status; `ETag`, `Tally-Position`, `Location`,
//!   `Content-Type`; body) and the key is `completed`. The handler and the recording run in a task of their
//!   own, so a client that hangs up does not leave the attempt half done;
//! - the key is completed with the same fingerprint: the stored response is replayed (with
//!   `Idempotency-Replayed: true`), and the command does not run again;
//! - another fingerprint: 422 `idempotency-key-reused`;
//! - in flight (an attempt is running and holds the key's lease): 409 `idempotency-key-reused` with `Retry-After`.
//!
//! **Failures never drop a key.** An attempt answered with a 5xx, or with `Retry-After` (an order still being
//! placed), may still have appended (a commit whose acknowledgement was lost, a settlement that failed after the
//! order event): its key becomes `unknown`, not deleted. A retry takes an `unknown` key over at once and runs the
//! handler as an *earlier attempt*: the command side looks for the earlier attempt's events (derived ids) and
//! answers with that attempt's outcome if it was recorded, or runs the command if it was not. Should two attempts
//! ever run at once, the store refuses the second one's derived event ids: one command, one effect.
//!
//! **Crashes.** An attempt holds the key for [`ATTEMPT_LEASE`], renewed while its request runs. A key whose lease
//! ran out (its process died, or could not reach the database to record the answer) is taken over by a retry,
//! again as an earlier attempt. Only the database's clock is compared, never two nodes'.
//!
//! **Scope and retention.** A key belongs to its caller (`scope`: the id of the request's API key), so two clients
//! that happen to pick the same key never see each other's answers or refusals. Keys are kept at
//! least [`RETENTION`] (24 hours); [`purge_expired_idempotency_keys`] deletes older ones and is run hourly by the
//! server. After that, a repeat's derived event ids still keep the command from being applied twice.

use crate::error::{internal, unavailable};
use crate::problem::{Problem, ProblemKind};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::future::Future;
use std::time::Duration;
use tracing::Instrument;

/// How long a key is kept at least.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an attempt holds its key without renewing it: a retry may take over a key whose attempt stopped
/// renewing this long ago (its process died).
pub const ATTEMPT_LEASE: Duration = Duration::from_secs(10);
/// How often a running attempt renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(3);
/// The header a client sends.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response.
pub static IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");
const MAX_KEY_CHARS: usize = 255;
/// The response headers stored with a key and replayed.
const REPLAYED_HEADERS: [HeaderName; 4] =
    [header::CONTENT_TYPE, header::ETAG, header::LOCATION, HeaderName::from_static("tally-position")];

/// A request's key and the fingerprint of its method, path and body (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Whose key it is: the caller's API key id.
    pub scope: String,
    pub key: String,
    pub fingerprint: [u8; 32],
    /// This request took the key over from an attempt that ended without a recorded answer.
    pub earlier_attempt: bool,
}

impl IdempotencyKey {
    /// The key as the command side takes it.
    pub(crate) fn run(&self) -> tally_commands::IdempotentRun {
        tally_commands::IdempotentRun {
            scope: self.scope.clone(),
            key: self.key.clone(),
            earlier_attempt: self.earlier_attempt,
        }
    }
}

/// Deletes the keys created more than `older_than` ago (never less than [`RETENTION`]); returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_expired_idempotency_keys(pool: &PgPool, older_than: Duration) -> Result<u64, sqlx::Error> {
    let older_than = older_than.max(RETENTION);
    let deleted = sqlx::query("delete from idempotency_keys where created_at < now() - make_interval(secs => $1)")
        .bind(older_than.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected();
    tracing::info!(idempotency.purged = deleted, "purged expired idempotency keys");
    Ok(deleted)
}

/// The `Idempotency-Key` contract (see the module doc) as a route layer on a command's POST:
/// `from_fn_with_state(pool, idempotency::layer)`, inside the guard (a key belongs to its caller). Other methods
/// pass through: only commands take a key.
pub(crate) async fn layer(State(pool): State<PgPool>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    // A malformed request is refused before its key is looked at: a replay must not answer for it.
    if let Err(problem) = crate::commands::check_command_headers(request.headers()) {
        return problem.into_response();
    }
    run(pool, request, move |request| next.run(request)).await
}

/// Runs `command` on `request` under the request's `Idempotency-Key`, if it has one.
async fn run<C, F>(pool: PgPool, request: Request, command: C) -> Response
where
    C: FnOnce(Request) -> F,
    F: Future<Output = Response> + Send + 'static,
{
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return command(request).await;
    };
    let key = match parse_key(value) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::commands::BODY_LIMIT).await else {
        return Problem::new(ProblemKind::Validation, "the body is larger than the limit (or could not be read)")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response();
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), &bytes);
    // Keys are per API key: two callers' keys never meet.
    let scope =
        parts.extensions.get::<crate::auth::Caller>().map(|caller| caller.key_id.to_string()).unwrap_or_default();
    let mut key = IdempotencyKey { scope, key, fingerprint, earlier_attempt: false };
    let span = tracing::info_span!("idempotent", idempotency.key = %key.key);
    match claim(&pool, &key).instrument(span.clone()).await {
        Ok(Claim::Claimed { earlier_attempt }) => key.earlier_attempt = earlier_attempt,
        Ok(Claim::Replay(response)) => return response,
        Ok(Claim::Refused(problem)) => return problem.into_response(),
        Err(error) => return unavailable("the idempotency key store", &error).into_response(),
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(key.clone());
    let attempt = command(request);
    let (task_pool, task_key) = (pool.clone(), key.clone());
    let task = tokio::spawn(
        async move {
            let response = holding_lease(&task_pool, &task_key, attempt).await;
            record(&task_pool, &task_key, response).await
        }
        .instrument(span),
    );
    match task.await {
        Ok(response) => response,
        Err(error) => {
            mark_unknown(&pool, &key).await;
            internal(&error).into_response()
        }
    }
}

/// Runs the attempt, renewing the key's lease every [`LEASE_RENEWAL`] while it runs.
async fn holding_lease<F: Future<Output = Response>>(pool: &PgPool, key: &IdempotencyKey, attempt: F) -> Response {
    tokio::pin!(attempt);
    loop {
        tokio::select! {
            response = &mut attempt => return response,
            () = tokio::time::sleep(LEASE_RENEWAL) => {
                let renewed = sqlx::query(
                    "update idempotency_keys set lease_until = now() + make_interval(secs => $3) \
                     where scope = $1 and key = $2 and state = 'in_flight'",
                )
                .bind(&key.scope)
                .bind(&key.key)
                .bind(ATTEMPT_LEASE.as_secs_f64())
                .execute(pool)
                .await;
                if let Err(error) = renewed {
                    tracing::warn!(error = %crate::error::cause_chain(&error), "could not renew an idempotency key's lease");
                }
            }
        }
    }
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters, else 400.
fn parse_key(value: &HeaderValue) -> Result<String, Problem> {
    let valid = !value.is_empty() && value.len() <= MAX_KEY_CHARS && value.as_bytes().iter().all(u8::is_ascii_graphic);
    match value.to_str() {
        Ok(key) if valid => Ok(key.to_owned()),
        _ => Err(Problem::new(ProblemKind::Validation, "Idempotency-Key must be 1 to 255 visible ASCII characters")
            .with_status(StatusCode::BAD_REQUEST)),
    }
}

/// SHA-256 over method, path and body, each length-prefixed so no two requests share an encoding.
fn fingerprint(method: &Method, path: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [method.as_str().as_bytes(), path.as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// What claiming a key found.
enum Claim {
    /// The key is this request's: run the command. `earlier_attempt`: taken over from an attempt that ended
    /// without a recorded answer, which may have appended.
    Claimed { earlier_attempt: bool },
    /// The key's first request completed: its response, to send again.
    Replay(Response),
    /// Another body, or an attempt is in flight.
    Refused(Problem),
}

/// A key's row, as a repeat sees it.
#[derive(sqlx::FromRow)]
struct StoredKey {
    fingerprint: Vec<u8>,
    state: String,
    status: Option<i16>,
    headers: Option<serde_json::Value>,
    body: Option<Vec<u8>>,
    /// No attempt holds the key: the last one ended without an answer, or stopped renewing its lease.
    takeable: bool,
}

/// Claims `key` for this request, or says what to answer instead (see the module doc).
async fn claim(pool: &PgPool, key: &IdempotencyKey) -> Result<Claim, sqlx::Error> {
    let lease = ATTEMPT_LEASE.as_secs_f64();
    let inserted = sqlx::query(
        "insert into idempotency_keys (scope, key, fingerprint, state, lease_until) \
         values ($1, $2, $3, 'in_flight', now() + make_interval(secs => $4)) \
         on conflict (scope, key) do nothing",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .bind(&key.fingerprint[..])
    .bind(lease)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Claimed { earlier_attempt: false });
    }
    let stored: Option<StoredKey> = sqlx::query_as(
        "select fingerprint, state, status, headers, body, \
                (state = 'unknown' or (state = 'in_flight' and lease_until < now())) as takeable \
         from idempotency_keys where scope = $1 and key = $2",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .fetch_optional(pool)
    .await?;
    // Purged between the insert and the select: this request is as good as a first one, and must not append
    // twice either, which the derived event ids see to.
    let Some(stored) = stored else { return Ok(Claim::Refused(in_flight())) };
    if stored.fingerprint != key.fingerprint {
        return Ok(Claim::Refused(Problem::new(
            ProblemKind::IdempotencyKeyReused,
            "this Idempotency-Key was already used with another request (method, path or body)",
        )));
    }
    if stored.state == "completed" {
        return Ok(Claim::Replay(replay(stored)));
    }
    if !stored.takeable {
        return Ok(Claim::Refused(in_flight()));
    }
    // Take it over, unless another retry just did.
    let taken = sqlx::query(
        "update idempotency_keys \
            set state = 'in_flight', lease_until = now() + make_interval(secs => $3), attempts = attempts + 1 \
          where scope = $1 and key = $2 \
            and (state = 'unknown' or (state = 'in_flight' and lease_until < now()))",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .bind(lease)
    .execute(pool)
    .await?
    .rows_affected();
    if taken == 1 {
        tracing::info!("took over an idempotency key whose earlier attempt has no recorded answer");
        return Ok(Claim::Claimed { earlier_attempt: true });
    }
    Ok(Claim::Refused(in_flight()))
}

/// 409: an attempt under the key is running.
fn in_flight() -> Problem {
    Problem::new(ProblemKind::IdempotencyKeyReused, "the first request with this Idempotency-Key is still in flight")
        .with_status(StatusCode::CONFLICT)
        .with_retry_after(1)
}

/// Stores the first response of a key and returns it; after an answer that says "try again" the key is left
/// `unknown` instead (the attempt may have appended: see the module doc).
async fn record(pool: &PgPool, key: &IdempotencyKey, response: Response) -> Response {
    // A 5xx, or any answer with `Retry-After` (an order still being placed), says "try again".
    if response.status().is_server_error() || response.headers().contains_key(header::RETRY_AFTER) {
        mark_unknown(pool, key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            mark_unknown(pool, key).await;
            return internal(&error).into_response();
        }
    };
    let headers = stored_headers(&parts.headers);
    let stored = sqlx::query(
        "update idempotency_keys \
         set state = 'completed', status = $3, headers = $4, body = $5, completed_at = now() \
         where scope = $1 and key = $2 and state = 'in_flight'",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .bind(i16::try_from(parts.status.as_u16()).unwrap_or(i16::MAX))
    .bind(&headers)
    .bind(&bytes[..])
    .execute(pool)
    .await;
    if let Err(error) = stored {
        // The command ran; only its record is missing. Once the lease runs out, a retry takes the key over and
        // finds the command's events in the log.
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Marks the key's attempt as ended without a recorded answer, so a retry may take it over at once. If even that
/// fails, the lease runs out and a retry takes it over then.
async fn mark_unknown(pool: &PgPool, key: &IdempotencyKey) {
    let marked = sqlx::query(
        "update idempotency_keys set state = 'unknown' where scope = $1 and key = $2 and state = 'in_flight'",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .execute(pool)
    .await;
    if let Err(error) = marked {
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not mark an idempotency key unknown");
    }
}

/// The replayed headers of a response, as a JSON object of name -> value.
fn stored_headers(headers: &HeaderMap) -> serde_json::Value {
    let mut stored = serde_json::Map::new();
    for name in &REPLAYED_HEADERS {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            stored.insert(name.as_str().to_owned(), serde_json::Value::String(value.to_owned()));
        }
    }
    serde_json::Value::Object(stored)
}

/// The first response again, from its row.
fn replay(stored: StoredKey) -> Response {
    let status = stored
        .status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(Bytes::from(stored.body.unwrap_or_default())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(serde_json::Value::Object(stored_headers)) = stored.headers {
        for (name, value) in stored_headers {
            let (Ok(name), Some(Ok(value))) = (HeaderName::try_from(name), value.as_str().map(HeaderValue::from_str))
            else {
                continue;
            };
            headers.insert(name, value);
        }
    }
    headers.insert(IDEMPOTENCY_REPLAYED.clone(), HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let base = fingerprint(&Method::POST, "/v1/orders", b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/v1/orders", b"{}"));
        assert_ne!(base, fingerprint(&Method::PUT, "/v1/orders", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/orders/x", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/orders", b"{ }"));
    }

    #[test]
    fn a_key_is_visible_ascii() {
        assert_eq!(parse_key(&HeaderValue::from_static("order-42")).unwrap(), "order-42");
        for bad in ["", "has space", &"k".repeat(256)] {
            assert!(parse_key(&HeaderValue::from_str(bad).unwrap()).is_err(), "{bad:?}");
        }
    }
}
