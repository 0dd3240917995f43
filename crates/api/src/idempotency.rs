//! `Idempotency-Key` for every command (POST): a client may repeat a request safely, and only the first one runs.
//!
//! One mechanism, [`idempotent`], wraps each command handler (`post(idempotent(handler))`). For a request with
//! an `Idempotency-Key` it buffers the body (at most [`BODY_LIMIT`](crate::commands::BODY_LIMIT), else 413),
//! fingerprints it (SHA-256 of method, path and body) and claims the key in PostgreSQL (`idempotency_keys`,
//! `migrations/0003_idempotency_keys.sql`) with one `insert ... on conflict do nothing`:
//!
//! - claimed: the handler runs, with the key in the request's extensions (it reaches the events' metadata through
//!   `CommandContext`, and lets `POST /v1/orders` derive its order id from it). Its response is then stored
//!   (status; `ETag`, `Tally-Position`, `Location`, `Content-Type`; body) and the key is `completed`.
//!   The handler and the recording run in a task of their own, so a client that hangs up does not leave the key
//!   in flight;
//! - the key is completed with the same fingerprint: the stored response is replayed (with
//!   `Idempotency-Replayed: true`), and the command does not run again;
//! - another fingerprint: 422 `idempotency-key-reused`;
//! - in flight (the first request is still running): 409 `idempotency-key-reused` with `Retry-After`.
//!
//! **Failures.** A first request answered with a 5xx (store unavailable, contention, internal error), or with a
//! `Retry-After` (409: the order is still being placed by an earlier request), is not recorded: its key is
//! released and a retry runs the command again. Commands are safe to repeat (placing an order
//! again with the same id reports the same order; a key's orders get an id derived from key and body), and a 5xx
//! says "retry". A 4xx is recorded and replayed like a success: repeating the request would not change it.
//!
//! **Crashes.** A key left in flight by a process that died is taken over by a repeat once it is older than
//! [`IN_FLIGHT_TIMEOUT`] (longer than any request takes).
//!
//! **Retention.** Keys are kept at least [`RETENTION`] (24 hours); [`purge_expired_idempotency_keys`] deletes older
//! ones and is meant to be run periodically (e.g. hourly) by the server process. Keys are global, not per actor:
//! two clients that share a key with different bodies get a 422.

use crate::error::{internal, unavailable};
use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tracing::Instrument;

/// How long a key is kept at least.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// After this long, a key still in flight is taken to be abandoned by a crashed process.
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
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
    pub key: String,
    pub fingerprint: [u8; 32],
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

/// Wraps a command handler in the `Idempotency-Key` contract (see the module doc).
pub(crate) fn idempotent<H>(handler: H) -> Idempotent<H> {
    Idempotent(handler)
}

#[derive(Debug, Clone)]
pub(crate) struct Idempotent<H>(H);

impl<H, T> Handler<T, AppState> for Idempotent<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        Box::pin(run(self.0, request, state))
    }
}

async fn run<H, T>(handler: H, request: Request, state: AppState) -> Response
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return handler.call(request, state).await;
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
    let key = IdempotencyKey { fingerprint: fingerprint(&parts.method, parts.uri.path(), &bytes), key };
    let span = tracing::info_span!("idempotent", idempotency.key = %key.key);
    match claim(&state.pool, &key).instrument(span.clone()).await {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Replay(response)) => return response,
        Ok(Claim::Refused(problem)) => return problem.into_response(),
        Err(error) => return unavailable("the idempotency key store", &error).into_response(),
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(key.clone());
    let pool = state.pool.clone();
    let (task_pool, task_key) = (pool.clone(), key.clone());
    let task = tokio::spawn(
        async move {
            let response = handler.call(request, state).await;
            record(&task_pool, &task_key, response).await
        }
        .instrument(span),
    );
    match task.await {
        Ok(response) => response,
        Err(error) => {
            release(&pool, &key).await;
            internal(&error).into_response()
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
    /// The key is this request's: run the command.
    Claimed,
    /// The key's first request completed: its response, to send again.
    Replay(Response),
    /// Another body, or the first request is still in flight.
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
    abandoned: bool,
}

/// Claims `key` for this request, or says what to answer instead (see the module doc).
async fn claim(pool: &PgPool, key: &IdempotencyKey) -> Result<Claim, sqlx::Error> {
    // A few rounds: a key released (5xx) or taken over between our insert and our select is tried again.
    for _ in 0..3 {
        let inserted = sqlx::query(
            "insert into idempotency_keys (key, fingerprint, state) values ($1, $2, 'in_flight') \
             on conflict (key) do nothing",
        )
        .bind(&key.key)
        .bind(&key.fingerprint[..])
        .execute(pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Claim::Claimed);
        }
        let stored: Option<StoredKey> = sqlx::query_as(
            "select fingerprint, state, status, headers, body, \
                    created_at < now() - make_interval(secs => $2) as abandoned \
             from idempotency_keys where key = $1",
        )
        .bind(&key.key)
        .bind(IN_FLIGHT_TIMEOUT.as_secs_f64())
        .fetch_optional(pool)
        .await?;
        let Some(stored) = stored else { continue };
        if stored.fingerprint != key.fingerprint {
            return Ok(Claim::Refused(Problem::new(
                ProblemKind::IdempotencyKeyReused,
                "this Idempotency-Key was already used with another request (method, path or body)",
            )));
        }
        if stored.state == "completed" {
            return Ok(Claim::Replay(replay(stored)));
        }
        if !stored.abandoned {
            return Ok(Claim::Refused(
                Problem::new(
                    ProblemKind::IdempotencyKeyReused,
                    "the first request with this Idempotency-Key is still in flight",
                )
                .with_status(StatusCode::CONFLICT)
                .with_retry_after(1),
            ));
        }
        // Abandoned by a crashed process: take it over, unless another repeat just did.
        let taken = sqlx::query(
            "update idempotency_keys set created_at = now() \
             where key = $1 and state = 'in_flight' and created_at < now() - make_interval(secs => $2)",
        )
        .bind(&key.key)
        .bind(IN_FLIGHT_TIMEOUT.as_secs_f64())
        .execute(pool)
        .await?
        .rows_affected();
        if taken == 1 {
            tracing::warn!("took over an idempotency key abandoned in flight");
            return Ok(Claim::Claimed);
        }
    }
    Ok(Claim::Refused(
        Problem::new(
            ProblemKind::IdempotencyKeyReused,
            "the first request with this Idempotency-Key is still in flight",
        )
        .with_status(StatusCode::CONFLICT)
        .with_retry_after(1),
    ))
}

/// Stores the first response of a key (or releases the key after a 5xx) and returns the response.
async fn record(pool: &PgPool, key: &IdempotencyKey, response: Response) -> Response {
    // A 5xx, or any answer with `Retry-After` (an order still being placed), says "try again": not recorded.
    if response.status().is_server_error() || response.headers().contains_key(header::RETRY_AFTER) {
        release(pool, key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            release(pool, key).await;
            return internal(&error).into_response();
        }
    };
    let headers = stored_headers(&parts.headers);
    let stored = sqlx::query(
        "update idempotency_keys \
         set state = 'completed', status = $2, headers = $3, body = $4, completed_at = now() \
         where key = $1 and state = 'in_flight'",
    )
    .bind(&key.key)
    .bind(i16::try_from(parts.status.as_u16()).unwrap_or(i16::MAX))
    .bind(&headers)
    .bind(&bytes[..])
    .execute(pool)
    .await;
    if let Err(error) = stored {
        // The command ran; only its record is missing. The key stays in flight until it is taken over.
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Forgets an in-flight key so the request may be retried.
async fn release(pool: &PgPool, key: &IdempotencyKey) {
    let released = sqlx::query("delete from idempotency_keys where key = $1 and state = 'in_flight'")
        .bind(&key.key)
        .execute(pool)
        .await;
    if let Err(error) = released {
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not release an idempotency key");
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
