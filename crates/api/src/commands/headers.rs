//! The HTTP headers of a command: what a request says about itself (`X-Actor`, `X-Request-Id`, `traceparent`,
//! `Idempotency-Key`, `If-Match`) and what a response says about the change (`ETag`, `Tally-Position`,
//! `Location`), in one place so every endpoint reads and writes them alike.
//!
//! - Actor: the authenticated API key ([`Caller`], set by the guard), as `apikey-{uuid}` with the key's name; a
//!   client cannot choose it. `X-Actor` (1 to 128 printable ASCII characters) says on whose behalf the client
//!   acts (a back-office user, a customer) and is recorded as `claimed_actor`, never as the actor.
//! - Correlation: `X-Request-Id` becomes the correlation id when it is a UUID (a request without one has been
//!   given a new UUID by [`crate::layers`]); `traceparent` gives the trace id, or, when the request came without
//!   one and OpenTelemetry export is on, the trace Tally started for it.
//! - `If-Match: "<version>"` (one strong ETag) becomes the command's expected version; `*` means "any version";
//!   anything else is a 400.
//! - `ETag: "<version>"` is the stream version after the command, `Tally-Position` the global position of the last
//!   event appended (absent when the command appended nothing, e.g. a repeat).

use crate::auth::Caller;
use crate::idempotency::IdempotencyKey;
use crate::layers::{current_traceparent, TRACEPARENT, X_REQUEST_ID};
use crate::openapi::parameter;
use crate::problem::{Problem, ProblemKind};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use tally_commands::CommandContext;

pub(crate) static X_ACTOR: HeaderName = HeaderName::from_static("x-actor");
pub(crate) static TALLY_POSITION: HeaderName = HeaderName::from_static("tally-position");

/// The actor recorded for a request without a caller (only public routes have none, and they run no command).
const ANONYMOUS: &str = "anonymous";
const MAX_ACTOR_CHARS: usize = 128;

/// What a command request carries besides its body.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta {
    /// Becomes every appended event's metadata.
    pub context: CommandContext,
    /// `If-Match`: the stream version the client based the command on.
    pub if_match: Option<u64>,
    /// The request's `Idempotency-Key` and body fingerprint, when it had a key.
    pub idempotency: Option<IdempotencyKey>,
}

impl RequestMeta {
    /// Refuses `If-Match` on a command that creates its stream (there is no version to match yet).
    pub fn refuse_if_match(&self) -> Result<(), Problem> {
        match self.if_match {
            Some(_) => Err(bad_request("If-Match applies to commands on an existing resource, not to creating one")),
            None => Ok(()),
        }
    }
}

/// The headers every command reads (`X-Actor`, `traceparent`), for `#[utoipa::path(params(RequestMeta))]`.
/// (`X-Request-Id` is every operation's, and `Idempotency-Key` every command's: [`crate::openapi`] adds them.)
impl utoipa::IntoParams for RequestMeta {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            parameter(json!({
                "name": "X-Actor", "in": "header",
                // 1 to 128 visible characters, spaces inside.
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ACTOR_CHARS,
                           "pattern": "^[!-~]([ -~]*[!-~])?$"},
                "description": "On whose behalf the client acts (a back-office user, a customer): 1 to 128 printable \
                    ASCII characters once trimmed, else 400. Recorded in the events' metadata as `claimed_actor`, as \
                    claimed and never verified; it is never the `actor`, which is always the API key that sent the \
                    request (`apikey-{uuid}`, with its name as `actor_name`)."
            })),
            parameter(json!({
                "name": "traceparent", "in": "header",
                // Any value: W3C Trace Context has a receiver ignore a malformed one, not refuse the request.
                "schema": {"type": "string"},
                "example": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "description": "W3C trace context (`00-<trace id>-<parent id>-<flags>`); its trace id is recorded in \
                    the events' metadata. A value that is not a valid `traceparent` is ignored (as W3C Trace Context \
                    requires), never refused."
            })),
        ]
    }
}

/// `If-Match` as a command on an existing resource takes it, for `#[utoipa::path(params(RequestMeta, IfMatch))]`.
/// (A command that creates its stream refuses it, and does not document it.)
pub(crate) struct IfMatch;

impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![parameter(json!({
            "name": "If-Match", "in": "header",
            "schema": {"type": "string", "pattern": "^(\\*|\"[0-9]{1,19}\")?$"},
            "example": "\"3\"",
            "description": "One strong ETag as sent in `ETag` (e.g. `\"3\"`): the command runs only if the stream is \
                at that version, else 412 `version-conflict`. `*` or empty: no expectation. Anything else: 400."
        }))]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let headers = &parts.headers;
        let claimed_actor = claimed_actor(headers)?;
        let caller = parts.extensions.get::<Caller>();
        let idempotency = parts.extensions.get::<IdempotencyKey>().cloned();
        let traceparent = text(headers, &TRACEPARENT).map(str::to_owned).or_else(current_traceparent);
        let mut context = CommandContext::from_request(
            caller.map_or_else(|| ANONYMOUS.to_owned(), Caller::actor),
            text(headers, &X_REQUEST_ID),
            traceparent.as_deref(),
            idempotency.as_ref().map(IdempotencyKey::run),
        );
        context.actor_name = caller.map(|caller| caller.name.to_string());
        context.claimed_actor = claimed_actor;
        Ok(RequestMeta { context, if_match: if_match(headers)?, idempotency })
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn bad_request(detail: &str) -> Problem {
    Problem::new(ProblemKind::Validation, detail).with_status(StatusCode::BAD_REQUEST)
}

/// Refuses a command whose own headers (`X-Actor`, `If-Match`) are malformed. The `Idempotency-Key` layer asks
/// first, so a malformed request is a 400 whether or not its key was used before (a replay never hides it).
pub(crate) fn check(headers: &HeaderMap) -> Result<(), Problem> {
    claimed_actor(headers)?;
    if_match(headers)?;
    Ok(())
}

/// `X-Actor`: on whose behalf the client says it acts.
fn claimed_actor(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(&X_ACTOR) else {
        return Ok(None);
    };
    // `to_str` lets a tab through; the surrounding whitespace is HTTP's optional whitespace, not the actor's.
    let actor = value.to_str().map(str::trim).unwrap_or_default();
    let printable = actor.bytes().all(|byte| (b' '..=b'~').contains(&byte));
    if printable && (1..=MAX_ACTOR_CHARS).contains(&actor.len()) {
        Ok(Some(actor.to_owned()))
    } else {
        Err(bad_request("X-Actor must be 1 to 128 printable ASCII characters"))
    }
}

/// `If-Match`: one strong ETag `"<version>"`, or `*` (no expectation). An empty value is no expectation either, as
/// if the header were not sent (an empty list of entity tags, which RFC 9110's list syntax allows).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || bad_request("If-Match must be one strong ETag as sent in ETag, e.g. \"3\"");
    let value = value.to_str().map_err(|_| malformed())?.trim();
    // Empty, as a client sends an unset variable: no expectation, like `*`.
    if value == "*" || value.is_empty() {
        return Ok(None);
    }
    let digits = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(malformed)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    digits.parse::<u64>().map(Some).map_err(|_| malformed())
}

/// The `ETag` of a stream version.
pub(crate) fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits in quotes are a valid header value")
}

/// A command's successful answer: `status`, JSON `body`, `ETag`, `Tally-Position` and (on a create) `Location`.
pub(crate) fn command_response<T: Serialize>(
    status: StatusCode,
    version: Option<u64>,
    position: Option<u64>,
    location: Option<String>,
    body: &T,
) -> Response {
    let mut response = (status, Json(body)).into_response();
    with_change_headers(&mut response, version, position);
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Adds `ETag` and `Tally-Position` to a response (a problem about a recorded change carries them too).
pub(crate) fn with_change_headers(response: &mut Response, version: Option<u64>, position: Option<u64>) {
    let headers = response.headers_mut();
    if let Some(version) = version {
        headers.insert(header::ETAG, etag(version));
    }
    if let Some(position) = position {
        headers.insert(TALLY_POSITION.clone(), HeaderValue::from(position));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_match_takes_one_strong_etag_a_star_or_nothing() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&with_if_match("\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&with_if_match(" \"0\" ")).unwrap(), Some(0));
        assert_eq!(if_match(&with_if_match("*")).unwrap(), None);
        assert_eq!(if_match(&with_if_match("")).unwrap(), None);
        for bad in ["3", "W/\"3\"", "\"-1\"", "\"a\"", "\"\"", "\"1\", \"2\"", "\"99999999999999999999999\""] {
            let problem = if_match(&with_if_match(bad)).unwrap_err();
            assert_eq!(problem.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn x_actor_is_an_optional_claim() {
        assert_eq!(claimed_actor(&HeaderMap::new()).unwrap(), None);
        let mut headers = HeaderMap::new();
        headers.insert(X_ACTOR.clone(), HeaderValue::from_static("back-office"));
        assert_eq!(claimed_actor(&headers).unwrap().as_deref(), Some("back-office"));
        headers.insert(X_ACTOR.clone(), HeaderValue::from_static(" "));
        assert!(claimed_actor(&headers).is_err());
    }
}
