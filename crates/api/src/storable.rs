//! Text PostgreSQL cannot store is a client error, refused at the edge: one middleware for every path and query
//! string, one check for every JSON body.
//!
//! PostgreSQL's `text` and `jsonb` cannot hold U+0000 (NUL). Reaching the database with one fails the statement:
//! a query answered 500, an append failing a whole writer batch (503 for every command batched with it), an
//! export stream broken after its 200. So:
//!
//! - [`refuse_unstorable_uri`] (a layer on the whole router, so it runs before any handler and before the first
//!   byte of a streamed answer) percent-decodes the path and the query string and answers 400 `validation` when
//!   either holds a NUL or is not UTF-8 once decoded;
//! - [`check_json`] refuses a JSON body with a NUL in any string or key, 422 `validation` (the JSON is well formed,
//!   its content is not acceptable). `ApiJson` and `OptionalJson` both run it.
//!
//! The deciders refuse NUL in every free text too (`tally_domain::values::storable_text`), so no path reaches the
//! store with one; this layer makes the answer a prompt, uniform problem+json.

use crate::problem::{Problem, ProblemKind};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Answers 400 `validation` for a path or query string holding a NUL or invalid UTF-8 once percent-decoded.
pub(crate) async fn refuse_unstorable_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if let Err(problem) =
        check_uri_part("path", uri.path()).and_then(|()| check_uri_part("query string", uri.query().unwrap_or("")))
    {
        return problem.into_response();
    }
    next.run(request).await
}

fn check_uri_part(part: &str, encoded: &str) -> Result<(), Problem> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    let problem = |what: &str| {
        Problem::new(ProblemKind::Validation, format!("the {part} holds {what} once percent-decoded"))
            .with_status(StatusCode::BAD_REQUEST)
    };
    match std::str::from_utf8(&decoded) {
        Err(_) => Err(problem("bytes that are not UTF-8")),
        Ok(text) if text.contains('\0') => Err(problem("a NUL character (%00), which cannot be stored")),
        Ok(_) => Ok(()),
    }
}

/// Refuses a JSON body with U+0000 in a string or a key (422 `validation`). A raw NUL byte is already a JSON
/// syntax error; the escape `\u0000` is what can get through. Bodies without that escape (nearly all) are only
/// scanned; the rare one with it is parsed to tell a real NUL from an escaped backslash followed by `u0000`.
pub(crate) fn check_json(bytes: &[u8]) -> Result<(), Problem> {
    if !bytes.windows(6).any(|w| w == br"\u0000") {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) if holds_nul(&value) => Err(Problem::new(
            ProblemKind::Validation,
            "the body holds a NUL character (\\u0000) in a string, which cannot be stored",
        )),
        // Malformed JSON is reported by the body's own parse, with its usual detail.
        _ => Ok(()),
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(key, value)| key.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_finds_nul_and_invalid_utf8() {
        for fine in ["/v1/products/a%20b%2fc", "q=100%", "q=%zz%4"] {
            assert!(check_uri_part("query string", fine).is_ok(), "{fine}");
        }
        assert!(check_uri_part("path", "/v1/products/TEE-%E2%82%AC").is_ok());
        for bad in ["/v1/products/a%00", "event_type=%00", "x=%C3%28", "x=%ff"] {
            let problem = check_uri_part("query string", bad).unwrap_err();
            assert_eq!(problem.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn json_with_a_nul_in_a_string_or_key_is_refused() {
        assert!(check_json(br#"{"name": "Red tee"}"#).is_ok());
        assert!(check_json(br#"{"name": "a\\u0000"}"#).is_ok(), "an escaped backslash, then text");
        for bad in [&br#"{"name": "a\u0000b"}"#[..], br#"{"lines": [{"sku": "\u0000"}]}"#, br#"{"\u0000": 1}"#] {
            let problem = check_json(bad).unwrap_err();
            assert_eq!(problem.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
}
