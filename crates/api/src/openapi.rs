//! The OpenAPI 3.1 document of the whole API, served at `/openapi.json`, assembled from the code.
//!
//! Each handler declares its operation with `#[utoipa::path]` (path, parameters, request body, the answers it
//! gives) and is routed with `utoipa_axum::routes!`, so the path is written once and the schemas come from the
//! types the handler really reads and writes. What every operation of a kind shares is added here, from the
//! router's own table ([`Endpoint`]): who may call it (`security`, `x-tally-roles`, the roles in its description)
//! and the guard's answers (401, 403, 429, with the `RateLimit` headers).
//!
//! Moving from the hand-written document (`crates/api/openapi.json`) to the generated one happens route by route:
//! until every handler is annotated, the operations and schemas not generated yet are taken from that file, and
//! [`document`] overlays the generated ones on it. The tests below hold both halves to the router's table.

use crate::auth::{may, Access, Endpoint};
use serde_json::{json, Map, Value};
use tally_domain::Role;

/// The hand-written document: what has not been generated from the code yet.
const HAND_WRITTEN: &str = include_str!("../openapi.json");

/// The whole document: the hand-written one, with every generated operation and schema in place of its
/// hand-written twin, and every routed operation's access declared as the router enforces it.
pub(crate) fn document(generated: utoipa::openapi::OpenApi, endpoints: &[Endpoint]) -> Value {
    let mut document: Value = serde_json::from_str(HAND_WRITTEN).expect("crates/api/openapi.json is JSON");
    let generated = serde_json::to_value(generated).expect("a generated OpenAPI document serialises");
    if let Some(paths) = generated["paths"].as_object() {
        for (path, item) in paths {
            let operations = document["paths"].as_object_mut().expect("paths").entry(path.clone()).or_insert(json!({}));
            for (method, operation) in item.as_object().into_iter().flatten() {
                operations[method] = operation.clone();
            }
        }
    }
    if let Some(schemas) = generated["components"]["schemas"].as_object() {
        let components = document["components"]["schemas"].as_object_mut().expect("components.schemas");
        components.extend(schemas.iter().map(|(name, schema)| (name.clone(), schema.clone())));
    }
    for endpoint in endpoints {
        let operation = &mut document["paths"][&endpoint.path][endpoint.method.as_str().to_lowercase()];
        if let Some(operation) = operation.as_object_mut() {
            declare_access(operation, endpoint.access);
        }
    }
    document
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
