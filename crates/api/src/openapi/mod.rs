//! The OpenAPI 3.1 document of the whole API, served at `/openapi.json`, assembled from the code.
//!
//! Each handler declares its operation with `#[utoipa::path]` (path, parameters, request body, the answers it
//! gives) and is routed with `utoipa_axum::routes!`, so the path is written once and the schemas come from the
//! types the handler really reads and writes. What the router's layers add to every operation of a kind is added
//! here, from the router's own table ([`Endpoint`]):
//!
//! - who may call it (`security`, `x-tally-roles`, the roles in its description) and the guard's answers (401,
//!   403, 429, with the `RateLimit` headers);
//! - `X-Request-Id` on every request and answer; 400 for a malformed request, 500 and 503 (a dependency down, or
//!   the request timeout) on every operation; 413 and 415 on every one with a body;
//! - for a command, `Idempotency-Key`, its 409 and 422, and `Idempotency-Replayed` on its answers.
//!
//! The document's `info`, tags, security scheme and shared answers are in [`frame`]; the domain's schemas that no
//! handler names directly are in [`schemas`].

mod frame;
pub(crate) mod schemas;

use crate::auth::{may, Access, Endpoint};
use serde_json::{json, Map, Value};
use tally_domain::Role;

/// The whole document: the frame, the generated operations and schemas, each routed operation's access as the
/// router enforces it, and what the layers add.
pub(crate) fn document(generated: utoipa::openapi::OpenApi, endpoints: &[Endpoint]) -> Value {
    let mut document = frame::frame();
    let generated = serde_json::to_value(generated).expect("a generated OpenAPI document serialises");
    document["paths"] = generated["paths"].clone();
    let components = document["components"].as_object_mut().expect("components");
    let schemas = components.entry("schemas").or_insert(json!({})).as_object_mut().expect("components.schemas");
    if let Some(generated) = generated["components"]["schemas"].as_object() {
        schemas.extend(generated.iter().map(|(name, schema)| (name.clone(), schema.clone())));
    }
    for (name, schema) in schemas::all() {
        schemas.insert(name, serde_json::to_value(schema).expect("a schema serialises"));
    }
    for endpoint in endpoints {
        let method = endpoint.method.as_str().to_lowercase();
        let operation = document["paths"][&endpoint.path][&method]
            .as_object_mut()
            .unwrap_or_else(|| panic!("{method} {} is routed with routes!, so it has an operation", endpoint.path));
        declare_access(operation, endpoint.access);
        declare_shared(operation, endpoint);
    }
    document
}

/// A documented parameter written as its OpenAPI JSON (`{"name", "in", "schema", "description", ...}`), for the
/// extractors that document themselves (`impl IntoParams`): the JSON reads like the document it becomes. Without a
/// `required`, a path parameter is required and any other is not.
pub(crate) fn parameter(mut json: Value) -> utoipa::openapi::path::Parameter {
    if json.get("required").is_none() {
        json["required"] = json!(json["in"] == "path");
    }
    serde_json::from_value(json.clone()).unwrap_or_else(|error| panic!("a parameter's OpenAPI JSON: {error}: {json}"))
}

/// `schema`, or the empty value: the API reads `name=` for an optional number or flag as if the parameter were
/// absent (`crate::extract::ApiQuery`), as an HTML form sends an empty field. (OpenAPI's `allowEmptyValue`, which
/// utoipa's `Parameter` cannot carry.)
pub(crate) fn or_empty(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]})
}

/// A non-negative integer query parameter, or empty (read as absent): for `#[param(schema_with = ...)]`.
pub(crate) fn count_or_empty() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    schema(or_empty(json!({"type": "integer", "format": "int64", "minimum": 0})))
}

/// A schema written as its OpenAPI JSON, for the types whose JSON is built by hand (a problem).
pub(crate) fn schema(json: Value) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    serde_json::from_value(json).expect("a schema's OpenAPI JSON")
}

/// The roles that may call a route needing `access`, in [`Role::ALL`]'s order.
fn roles(access: Access) -> Vec<&'static str> {
    Role::ALL.into_iter().filter(|role| may(*role, access)).map(Role::as_str).collect()
}

/// Declares who may call `operation`: public ones need no key (`security: []`); the others need one (the
/// document's default `security`), name their roles in `x-tally-roles` and at the end of the description, and may
/// get the guard's 401, 403 and 429, and its rate-limit headers on every answer.
fn declare_access(operation: &mut Map<String, Value>, access: Access) {
    if access == Access::Public {
        operation.insert("security".into(), json!([]));
        operation.remove("x-tally-roles");
        return;
    }
    let roles = roles(access);
    operation.remove("security");
    operation.insert("x-tally-roles".into(), json!(roles));
    // The roles sentence closes the description; one already there (hand-written) is replaced, never trusted.
    let sentence = format!("Roles: {}.", roles.join(", "));
    let description = operation.get("description").and_then(Value::as_str).unwrap_or_default();
    let prose = description.split("Roles: ").next().unwrap_or_default().trim_end();
    let described = if prose.is_empty() { sentence } else { format!("{prose} {sentence}") };
    operation.insert("description".into(), json!(described));
    let responses = operation.entry("responses").or_insert(json!({}));
    for (status, name) in [("401", "Unauthorized"), ("403", "Forbidden"), ("429", "TooManyRequests")] {
        responses[status] = json!({ "$ref": format!("#/components/responses/{name}") });
    }
    let successes = responses.as_object_mut().into_iter().flatten().filter(|(status, _)| status.starts_with('2'));
    for (_, response) in successes {
        // A response by `$ref` is shared: its headers are declared where it is defined.
        if let Some(response) = response.as_object_mut().filter(|response| !response.contains_key("$ref")) {
            let headers = response.entry("headers").or_insert(json!({}));
            for header in ["RateLimit-Policy", "RateLimit"] {
                headers[header] = json!({ "$ref": format!("#/components/headers/{header}") });
            }
        }
    }
}

/// Declares what the router's layers add to `operation` (see the module doc): `X-Request-Id`, the shared error
/// answers, and for a command the `Idempotency-Key` contract. An answer the handler documents itself is kept, and
/// for a command's own 409 or 422 the idempotency case is added to its description.
fn declare_shared(operation: &mut Map<String, Value>, endpoint: &Endpoint) {
    let response = |name: &str| json!({ "$ref": format!("#/components/responses/{name}") });
    let header = |name: &str| json!({ "$ref": format!("#/components/headers/{name}") });
    let parameters = operation.entry("parameters").or_insert(json!([])).as_array_mut().expect("parameters");
    parameters.push(json!({
        "name": "X-Request-Id", "in": "header", "schema": { "type": "string" },
        "description": "The request id, echoed on the answer (a new UUIDv7 when absent, empty, longer than 200 bytes \
            or not visible ASCII); when it is a UUID it becomes the events' `correlation_id`."
    }));
    if endpoint.idempotent {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
            "description": IDEMPOTENCY_KEY,
        }));
    }
    let takes_body = operation.contains_key("requestBody");
    let responses = operation.entry("responses").or_insert(json!({})).as_object_mut().expect("responses");
    let mut shared = vec![("400", "BadRequest"), ("500", "InternalError"), ("503", "ServiceUnavailable")];
    if takes_body {
        shared.extend([("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    for (status, name) in shared {
        responses.entry(status).or_insert_with(|| response(name));
    }
    if endpoint.idempotent {
        for (status, name, case) in [
            (
                "409",
                "IdempotencyKeyInFlight",
                "Or 409 `idempotency-key-reused` (with `Retry-After`): the first request \
                with this `Idempotency-Key` is still in flight.",
            ),
            (
                "422",
                "IdempotencyKeyReused",
                "Or 422 `idempotency-key-reused`: this `Idempotency-Key` was used with \
                another method, path or body.",
            ),
        ] {
            match responses.get_mut(status).and_then(Value::as_object_mut) {
                Some(own) if !own.contains_key("$ref") => {
                    let description = own.get("description").and_then(Value::as_str).unwrap_or_default();
                    let described = format!("{} {case}", description.trim_end());
                    own.insert("description".into(), json!(described.trim_start()));
                }
                Some(_) => {}
                None => {
                    responses.insert(status.into(), response(name));
                }
            }
        }
    }
    for (status, answer) in responses.iter_mut() {
        let Some(answer) = answer.as_object_mut().filter(|answer| !answer.contains_key("$ref")) else { continue };
        let headers = answer.entry("headers").or_insert(json!({}));
        headers["X-Request-Id"] = header("X-Request-Id");
        if endpoint.idempotent && status.starts_with('2') {
            headers["Idempotency-Replayed"] = header("Idempotency-Replayed");
        }
    }
}

/// How `Idempotency-Key` works ([`crate::idempotency`]).
const IDEMPOTENCY_KEY: &str = "1 to 255 visible ASCII characters (else 400). A repeat with the same key, method, \
    path and body returns the first response (status, body, `Content-Type`, `ETag`, `Location`, `Tally-Position`) \
    with `Idempotency-Replayed: true`, without running the command again; 4xx answers are replayed too, 5xx answers \
    and answers with `Retry-After` are not recorded: a repeat then finds the first attempt's events in the log if it \
    recorded any, and answers with that attempt's outcome (the command is never applied twice), else runs the \
    command. The same key with another method, path or body: 422 `idempotency-key-reused`; while an attempt is in \
    flight: 409 `idempotency-key-reused` with `Retry-After` (an attempt whose process died is taken over 10 s after \
    it last renewed its hold on the key). Keys are per API key (two keys' `Idempotency-Key`s never meet) and kept \
    at least 24 hours.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_come_from_the_role_table_whatever_the_description_said() {
        let mut operation = json!({ "description": "Places an order. Roles: admin.", "security": [] });
        declare_access(operation.as_object_mut().unwrap(), Access::Checkout);
        assert_eq!(operation["description"], "Places an order. Roles: storefront, operations, admin.");
        assert_eq!(operation["x-tally-roles"], json!(["storefront", "operations", "admin"]));
        assert_eq!(operation.get("security"), None, "the document's default: a key");
        assert_eq!(operation["responses"]["401"]["$ref"], "#/components/responses/Unauthorized");

        declare_access(operation.as_object_mut().unwrap(), Access::Public);
        assert_eq!(operation["security"], json!([]));
        assert_eq!(operation.get("x-tally-roles"), None);
    }
}
