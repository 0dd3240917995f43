//! The OpenAPI document describes what the audit endpoints really answer: real answers (after appends, payments,
//! shipments and tampering, so that every optional part is there) are held to the schema the served document gives
//! their operation's 200, strictly: a member the schema does not name is an error, so a field added to a store type
//! (`RecordedEvent`, `DigestCheck`, ...) fails here until `audit::schemas` documents it.

use super::tamper::tamper;
use super::Shop;
use axum::http::StatusCode;
use serde_json::Value;

/// What `value` breaks of `schema` (`$ref`s resolved in `document`): types, `required`, `enum`, and members no
/// `properties` names (unless `additionalProperties` allows them). Patterns and formats are schemathesis' part
/// (the contract test).
fn violations(document: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = document.pointer(reference.trim_start_matches('#')).expect("a $ref resolves");
        return violations(document, target, value, at);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema[key].as_array() {
            let fits = |branch: &Value| violations(document, branch, value, at).is_empty();
            return match branches.iter().any(fits) {
                true => Vec::new(),
                false => vec![format!("{at}: fits no branch of {key}: {value}")],
            };
        }
    }
    let type_name = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let number_fits = type_name == "integer" && allowed.contains(&"number");
    if !allowed.is_empty() && !allowed.contains(&type_name) && !number_fits {
        return vec![format!("{at}: a {type_name} where the schema says {allowed:?}: {value}")];
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(value) {
            return vec![format!("{at}: {value} is not one of {values:?}")];
        }
    }
    let mut found = Vec::new();
    match value {
        Value::Object(members) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !members.contains_key(required) {
                    found.push(format!("{at}: `{required}` is required but absent"));
                }
            }
            for (name, member) in members {
                let at = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), &schema["additionalProperties"]) {
                    (Some(property), _) => found.extend(violations(document, property, member, &at)),
                    (None, Value::Object(_)) => {
                        found.extend(violations(document, &schema["additionalProperties"], member, &at));
                    }
                    (None, Value::Bool(true)) => {}
                    (None, _) if properties.is_some() => found.push(format!("{at}: not in the schema")),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) if schema.get("items").is_some() => {
            for (n, item) in items.iter().enumerate() {
                found.extend(violations(document, &schema["items"], item, &format!("{at}[{n}]")));
            }
        }
        _ => {}
    }
    found
}

/// The schema of `component`.
fn component(document: &Value, component: &str) -> Value {
    document["components"]["schemas"][component].clone()
}

/// Asserts that `value` fits `schema`.
fn assert_fits(document: &Value, schema: &Value, value: &Value, what: &str) {
    let found = violations(document, schema, value, what);
    assert!(found.is_empty(), "{what} does not fit its schema:\n{}", found.join("\n"));
}

impl Shop {
    /// `GET uri` answered 200, held to the schema of that operation's 200 (`path` as documented).
    async fn fits(&self, document: &Value, path: &str, uri: &str) -> Value {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        let schema = &document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path}: no JSON schema for its 200");
        let body = answer.json();
        assert_fits(document, schema, &body, uri);
        body
    }
}

#[tokio::test]
async fn every_audit_answer_fits_the_schema_the_document_gives_it() {
    let (shop, orders) = Shop::busy(2).await;
    let document = crate::openapi_document(&shop.state);
    let order = orders[0];
    shop.fits(&document, "/v1/streams/{stream_id}/events", &format!("/v1/streams/order-{order}/events")).await;
    shop.fits(&document, "/v1/streams/{stream_id}/events", "/v1/streams/inventory-TEE-RED-M/events?limit=1").await;
    shop.fits(&document, "/v1/events", "/v1/events?limit=3").await;
    let history = shop.fits(&document, "/v1/orders/{id}/history", &format!("/v1/orders/{order}/history")).await;
    assert!(history["items"].as_array().is_some_and(|items| items.len() >= 3), "{history}");

    let created = shop.send("POST", "/v1/audit/digests", &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_fits(&document, &component(&document, "DigestSummary"), &created.json(), "POST /v1/audit/digests");
    let id = created.json()["id"].clone();
    shop.fits(&document, "/v1/audit/digest", "/v1/audit/digest").await;
    shop.fits(&document, "/v1/audit/digests", "/v1/audit/digests?limit=1").await;
    let full = shop.fits(&document, "/v1/audit/digests/{id}", &format!("/v1/audit/digests/{id}?leaves=true")).await;
    assert_fits(&document, &component(&document, "Digest"), &full, "a digest with its leaves");

    // Tampered: the verification has breaks and the check has differences, with all their parts.
    tamper(&shop.state.pool, &format!("delete from events where stream_id = 'order-{order}' and stream_version = 1"))
        .await;
    tamper(
        &shop.state.pool,
        "update events set data = '{\"n\": 1}' where stream_id = 'inventory-CAP-BLUE' and stream_version = 0",
    )
    .await;
    let verification = shop.fits(&document, "/v1/audit/verify", "/v1/audit/verify").await;
    assert_eq!(verification["intact"], false, "{verification}");
    let check = shop
        .fits(&document, "/v1/audit/digests/{id}/verification", &format!("/v1/audit/digests/{id}/verification"))
        .await;
    assert!(check["differences"].as_array().is_some_and(|d| !d.is_empty()), "{check}");

    for (format, line_schema) in [("jsonl", "RecordedEvent"), ("cloudevents", "CloudEvent")] {
        let export = shop.get(&format!("/v1/export?format={format}")).await;
        assert_eq!(export.status, StatusCode::OK, "{}", export.text());
        for line in export.text().lines() {
            let line: Value = serde_json::from_str(line).expect("a JSON line");
            assert_fits(&document, &component(&document, line_schema), &line, &format!("a {format} line"));
        }
    }
}

#[test]
fn the_checker_finds_an_undocumented_member_a_missing_one_and_a_wrong_type() {
    let document = serde_json::json!({"components": {"schemas": {"Hash": {"type": "string"}}}});
    let schema = serde_json::json!({
        "type": "object", "required": ["a"],
        "properties": {"a": {"type": "integer"}, "h": {"$ref": "#/components/schemas/Hash"}}
    });
    let value = serde_json::json!({"h": 3, "b": true});
    let found = violations(&document, &schema, &value, "v");
    assert_eq!(found.len(), 3, "{found:?}");
}
