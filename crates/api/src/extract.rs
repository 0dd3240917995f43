//! Extractors whose rejections are problem+json: a malformed body, query string or path segment gets a
//! `validation` problem (or 413 for an oversize body), never axum's plain-text rejection.
//!
//! Handlers use `ApiJson<T>`, `ApiQuery<T>` and `ApiPath<T>` instead of axum's `Json`, `Query` and `Path`.
//! JSON bodies (`ApiJson`, and `OptionalJson` in `commands::dto`) go through [`is_json`], [`body_bytes`] and
//! [`parse_json`], which also refuses a NUL in any string (`storable`).

use crate::problem::{Problem, ProblemKind};
use crate::storable;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::FromRequestParts;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body. Wrong content type, malformed JSON, unknown fields (with `#[serde(deny_unknown_fields)]`), wrong
/// types, out-of-range numbers and a NUL (`\u0000`) in a string are 400/422 `validation` problems; a body over
/// the limit is 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(request.headers()) {
            return Err(not_json());
        }
        let bytes = body_bytes(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Whether the request says its body is JSON (`application/json`, or any `+json` type).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type.is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or("").trim();
        essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
    })
}

/// 415 for a body that is not sent as JSON.
pub(crate) fn not_json() -> Problem {
    Problem::new(ProblemKind::Validation, "send the body as JSON with Content-Type: application/json")
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

/// The whole body: 413 over the limit, 400 when it cannot be read.
pub(crate) async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(ProblemKind::Validation, "the body is larger than the limit")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            Problem::new(ProblemKind::Validation, "the body could not be read").with_status(StatusCode::BAD_REQUEST)
        }
    })
}

/// A JSON body as `T`, after refusing text the store cannot hold (422).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    storable::check_json(bytes)?;
    let axum::Json(body) = axum::Json::<T>::from_bytes(bytes).map_err(Problem::from)?;
    Ok(body)
}

/// A query string, parsed into `T` by `serde_html_form`: a name given several times fills a `Vec` field
/// (`event_type=A&event_type=B`), and `name=` is `None` for an optional number or flag (and for any optional
/// field read with `serde_html_form::de::empty_as_none`). A value that does not parse, and a name a
/// `#[serde(deny_unknown_fields)]` type does not know, are 400 `validation` problems; the `field` extension names
/// the parameter when the error is about one.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// A query string (without the `?`) as `T`; see [`ApiQuery`].
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Problem> {
    let deserializer = serde_html_form::Deserializer::from_bytes(query.as_bytes());
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let problem = Problem::new(ProblemKind::Validation, format!("invalid query string: {error}"))
            .with_status(StatusCode::BAD_REQUEST);
        match field.as_str() {
            "" | "." => problem,
            _ => problem.with_extension("field", serde_json::json!(field)),
        }
    })
}

/// Path segments, parsed into `T`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let detail = match &rejection {
            JsonRejection::JsonDataError(_) => {
                format!("the body does not fit the expected shape: {}", rejection.body_text())
            }
            JsonRejection::JsonSyntaxError(_) => format!("the body is not valid JSON: {}", rejection.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                "send the body as JSON with Content-Type: application/json".to_owned()
            }
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "the body is larger than the limit".to_owned(),
            _ => "the body could not be read".to_owned(),
        };
        let status = match status {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => status,
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        Problem::new(ProblemKind::Validation, detail).with_status(status)
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        Problem::new(ProblemKind::Validation, format!("invalid path: {}", rejection.body_text()))
            .with_status(StatusCode::BAD_REQUEST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::post;
    use axum::Router;
    use serde::Deserialize;
    use tower::ServiceExt;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Receipt {
        quantity: u32,
    }

    async fn post_body(body: &'static str, content_type: &str) -> (StatusCode, String, serde_json::Value) {
        let app: Router = Router::new().route("/", post(|ApiJson(_): ApiJson<Receipt>| async { "ok" }));
        let request =
            Request::post("/").header("content-type", content_type).body(Body::from(body)).expect("a request");
        let response = app.oneshot(request).await.expect("a response");
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap_or("").to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
        (status, content_type, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn bad_bodies_are_validation_problems() {
        for (body, content_type, status) in [
            ("{", "application/json", StatusCode::BAD_REQUEST),
            (r#"{"quantity": "ten"}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY),
            (r#"{"quantity": -1}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY),
            (r#"{"quantity": 99999999999}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY),
            (r#"{"quantity": 1, "extra": true}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY),
            (r#"{"quantity": 1}"#, "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (r#"{"quantity": 1, "note": "\u0000"}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (got, content_type, problem) = post_body(body, content_type).await;
            assert_eq!(got, status, "{body}");
            assert_eq!(content_type, "application/problem+json", "{body}");
            assert_eq!(problem["type"], "/problems/validation", "{body}");
        }
    }
}
