//! Who may do what, through the whole router: every route × every role (the routes taken from the router's own
//! table, the expectations written from the rules, not from `may`), 401 for no, malformed, unknown and
//! revoked keys, keys across two nodes, the actor the events record, per-key idempotency and rate limits.

use crate::support::{app, app_with_store_pool, get, post, Reply, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};
use tally_api::auth::{may, Access};
use tally_domain::Role;
use tower::ServiceExt;

/// Whether `role` may call `method path`, as the issue states the roles (independent of `tally_api::auth::may`).
fn allowed(role: Role, method: &Method, path: &str) -> bool {
    let public = is_public(path);
    let audit = path.starts_with("/v1/audit")
        || path.starts_with("/v1/events")
        || path.starts_with("/v1/streams")
        || path == "/v1/export"
        || path.ends_with("/history");
    // API keys and webhook subscriptions: admin only.
    let admin_only = path.starts_with("/v1/keys") || path.starts_with("/v1/webhooks");
    let metrics = path == "/metrics";
    let read = method == Method::GET;
    let command = method == Method::POST && !audit && !admin_only;
    let checkout = method == Method::POST
        && (path == "/v1/orders" || path.ends_with("/payments") || path.ends_with("/cancellation"));
    let shop_read =
        read && ["/v1/products", "/v1/products/{sku}", "/v1/inventory/{sku}", "/v1/orders/{id}"].contains(&path);
    let query = read && !audit && !admin_only && !metrics;
    // Who the key is: any key.
    let session = path == "/v1/me";
    public
        || session
        || match role {
            Role::Admin => true,
            Role::Storefront => checkout || shop_read,
            Role::Operations => command || query || metrics,
            Role::Analyst => query,
            Role::Auditor => query || audit,
        }
}

/// The routes anyone may call without a key.
fn is_public(path: &str) -> bool {
    ["/healthz", "/readyz", "/openapi.json", "/problems/{kind}"].contains(&path)
}

/// `path` with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{sku}", "TEE-RED-M")
        .replace("{id}", "0193a4b2-7c1e-7d3a-9f00-1234567890ab")
        .replace("{stream_id}", "order-0193a4b2-7c1e-7d3a-9f00-1234567890ab")
        .replace("{kind}", "validation")
}

/// Sends a request with `authorization` (if any) and reads only the head (the live tail streams forever).
async fn status_and_head(app: &TestApp, method: &Method, uri: &str, authorization: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if method == Method::POST {
        request = request.header("content-type", "application/json");
    }
    let body = if method == Method::POST { Body::from("{}") } else { Body::empty() };
    let response = app.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let is_problem = headers.get("content-type").is_some_and(|v| v == "application/problem+json");
    let bytes = if is_problem {
        axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()
    } else {
        Vec::new()
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Reply { status, headers, body, bytes }
}

#[tokio::test]
async fn each_role_gets_exactly_its_routes_and_no_key_gets_none() {
    let app = app().await;
    let endpoints = tally_api::endpoints(&app.state);
    assert!(endpoints.len() > 35, "the router's table lists every route ({})", endpoints.len());
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, format!("Bearer {}", app.key(role).await)));
    }
    for endpoint in &endpoints {
        let uri = concrete(&endpoint.path);
        let (method, path) = (&endpoint.method, endpoint.path.as_str());
        for (role, authorization) in &keys {
            let reply = status_and_head(&app, method, &uri, Some(authorization)).await;
            if allowed(*role, method, path) {
                assert!(
                    ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status),
                    "{role} may call {method} {path}, got {}: {}",
                    reply.status,
                    reply.body
                );
            } else {
                reply.assert_problem(StatusCode::FORBIDDEN, "forbidden");
            }
            if !allowed(*role, method, path) || !reply.status.is_server_error() {
                continue;
            }
            panic!("{role} {method} {path}: {}", reply.status);
        }
        let anonymous = status_and_head(&app, method, &uri, None).await;
        if is_public(path) {
            assert_ne!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path} is public");
        } else {
            anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(anonymous.header("www-authenticate"), Some("Bearer realm=\"tally\""), "{method} {path}");
            assert!(anonymous.header("ratelimit").is_none(), "no key, no budget");
        }
    }
}

#[tokio::test]
async fn malformed_unknown_and_revoked_keys_are_refused_with_401() {
    let app = app().await;
    let key = app.key(Role::Analyst).await;
    let mut typo = key.clone().into_bytes();
    typo[12] = if typo[12] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let unknown = tally_api::auth::secret::generate().unwrap().secret;
    for (authorization, detail) in [
        (format!("Bearer {typo}"), "malformed"),
        ("Bearer not-a-key".to_owned(), "malformed"),
        (format!("Basic {key}"), "Bearer"),
        (format!("Bearer {unknown}"), "not known"),
    ] {
        let reply = app.send(get("/v1/products").header("authorization", &authorization)).await;
        reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(reply.body["detail"].as_str().unwrap().contains(detail), "{}", reply.body);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"tally\", error=\"invalid_token\""));
        let sent = authorization.split_once(' ').map_or(authorization.as_str(), |(_, token)| token);
        assert!(!String::from_utf8_lossy(&reply.bytes).contains(sent), "the problem never repeats what was sent");
    }
    let with_key = |call: crate::support::Call| call.header("authorization", &format!("Bearer {key}"));
    app.send(with_key(get("/v1/products"))).await.assert_status(StatusCode::OK);

    let id = listed_id(&app, "test analyst").await;
    app.send(post(format!("/v1/keys/{id}/revocation"))).await.assert_status(StatusCode::OK);
    let reply = app.send(with_key(get("/v1/products"))).await;
    reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(reply.body["detail"].as_str().unwrap().contains("revoked"), "{}", reply.body);
}

/// The id of the key named `name`, from `GET /v1/keys`.
async fn listed_id(app: &TestApp, name: &str) -> String {
    let listed = app.send(get("/v1/keys")).await;
    let items = listed.assert_status(StatusCode::OK)["items"].as_array().unwrap().clone();
    let key = items.iter().find(|key| key["name"] == name).unwrap_or_else(|| panic!("{name} in {items:?}"));
    key["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_are_issued_listed_and_revoked_over_http_and_never_show_their_secret_again() {
    let app = app().await;
    let created = app.send(post("/v1/keys").json(json!({ "name": "web shop", "role": "storefront" }))).await;
    let body = created.assert_status(StatusCode::CREATED).clone();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tally_") && secret.ends_with(body["hint"].as_str().unwrap()));
    assert_eq!((body["name"].as_str(), body["role"].as_str()), (Some("web shop"), Some("storefront")));
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location"), Some(format!("/v1/keys/{id}").as_str()));

    for reply in [app.send(get("/v1/keys")).await, app.send(get(format!("/v1/keys/{id}"))).await] {
        let text = String::from_utf8_lossy(&reply.bytes).into_owned();
        assert_eq!(reply.status, StatusCode::OK, "{text}");
        assert!(text.contains("web shop") && !text.contains(&secret[6..]), "{text}");
        assert!(!text.contains("secret") && !text.contains("sha256"), "{text}");
    }
    let repeat = post("/v1/keys").json(json!({ "name": "again", "role": "analyst" })).key("k-1");
    app.send(repeat).await.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let bad = app.send(post("/v1/keys").json(json!({ "name": "x", "role": "root" }))).await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let bad = app.send(post("/v1/keys").json(json!({ "name": " ", "role": "analyst" }))).await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");

    let revoked = app.send(post(format!("/v1/keys/{id}/revocation"))).await;
    assert!(revoked.assert_status(StatusCode::OK)["revoked_at"].is_string(), "{}", revoked.body);
    app.send(post(format!("/v1/keys/{id}/revocation"))).await.assert_status(StatusCode::OK);
    let stream = app.events(&format!("apikey-{id}")).await;
    let types: Vec<&str> = stream.iter().map(|event| event.event_type.as_str()).collect();
    assert_eq!(types, ["ApiKeyIssued", "ApiKeyRevoked"], "a second revocation records nothing");
    let unknown = "0193a4b2-7c1e-7d3a-9f00-000000000000";
    app.send(post(format!("/v1/keys/{unknown}/revocation"))).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn a_key_issued_on_one_node_works_on_another_at_once_and_a_revoked_one_is_refused_by_both_within_2_s() {
    let node_a = app().await;
    let node_b = node_a.second_node().await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(node_a.state.keys.clone().follow(stopped.clone()));
    tokio::spawn(node_b.state.keys.clone().follow(stopped));
    // Both nodes know the admin key before the new one is issued (their registries have read the log).
    node_b.send(get("/v1/keys")).await.assert_status(StatusCode::OK);

    let created = node_a.send(post("/v1/keys").json(json!({ "name": "pos", "role": "storefront" }))).await;
    let body = created.assert_status(StatusCode::CREATED).clone();
    let bearer = format!("Bearer {}", body["secret"].as_str().unwrap());
    let call = || get("/v1/products").header("authorization", &bearer);
    node_b.send(call()).await.assert_status(StatusCode::OK);
    node_a.send(call()).await.assert_status(StatusCode::OK);

    let id = body["id"].as_str().unwrap();
    node_a.send(post(format!("/v1/keys/{id}/revocation"))).await.assert_status(StatusCode::OK);
    let revoked_at = Instant::now();
    for node in [&node_a, &node_b] {
        loop {
            if node.send(call()).await.status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(revoked_at.elapsed() < Duration::from_secs(2), "a revoked key still works after 2 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn the_actor_of_every_event_is_the_key_and_x_actor_is_only_a_claim() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 10).await;
    let created = app.send(post("/v1/keys").json(json!({ "name": "web shop", "role": "storefront" }))).await;
    let key = created.assert_status(StatusCode::CREATED).clone();
    let bearer = format!("Bearer {}", key["secret"].as_str().unwrap());
    let order = json!({ "customer_id": "cus-1", "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }] });
    let placed = post("/v1/orders").json(order).header("authorization", &bearer).header("x-actor", "admin");
    let placed = app.send(placed).await.assert_status(StatusCode::CREATED).clone();
    let events = app.events(&format!("order-{}", placed["order_id"].as_str().unwrap())).await;
    let placed_event = events.iter().find(|event| event.event_type == "OrderPlaced").unwrap();
    let actor = format!("apikey-{}", key["id"].as_str().unwrap());
    assert_eq!(placed_event.metadata.actor.as_deref(), Some(actor.as_str()), "the key, whatever X-Actor says");
    assert_eq!(placed_event.metadata.actor_name.as_deref(), Some("web shop"));
    assert_eq!(placed_event.metadata.claimed_actor.as_deref(), Some("admin"), "the claim, recorded as such");

    let issued = &app.events(&format!("apikey-{}", key["id"].as_str().unwrap())).await[0];
    assert!(issued.metadata.actor.as_deref().is_some_and(|a| a.starts_with("apikey-")), "issued by the admin key");
    assert_eq!(issued.metadata.claimed_actor, None);
}

#[tokio::test]
async fn idempotency_keys_are_per_api_key() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let (first, second) = (app.key(Role::Operations).await, app.key(Role::Operations).await);
    for (key, quantity) in [(&first, 5), (&second, 7)] {
        let call = post("/v1/inventory/TEE-RED-M/receipts")
            .json(json!({ "quantity": quantity }))
            .key("receipt-1")
            .header("authorization", &format!("Bearer {key}"));
        app.send(call).await.assert_status(StatusCode::CREATED);
    }
    let stock = app.events("inventory-TEE-RED-M").await;
    assert_eq!(stock.len(), 2, "two callers' equal keys never meet: both receipts are recorded");
}

#[tokio::test]
async fn a_burst_past_the_limit_gets_429_with_retry_after_and_other_keys_are_not_slowed() {
    let mut app = app().await;
    app.state.limits = "storefront=3/min".parse().unwrap();
    app.router = tally_api::router(app.state.clone());
    let (busy, other) = (app.key(Role::Storefront).await, app.key(Role::Storefront).await);
    let call = |key: &str| get("/v1/products").header("authorization", &format!("Bearer {key}"));
    for remaining in [2, 1, 0] {
        let reply = app.send(call(&busy)).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.header("ratelimit-policy"), Some("\"storefront\";q=3;w=60"));
        let budget = reply.header("ratelimit").unwrap();
        assert!(budget.starts_with(&format!("\"storefront\";r={remaining};t=")), "{budget}");
    }
    let refused = app.send(call(&busy)).await;
    refused.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "a third of the minute at most: {retry_after}");
    assert!(refused.header("ratelimit").unwrap().starts_with("\"storefront\";r=0;t="));
    app.send(call(&other)).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_known_key_works_while_the_log_is_unreachable_and_an_unknown_one_gets_503() {
    let (app, store_pool) = app_with_store_pool().await;
    app.send(get("/v1/products")).await.assert_status(StatusCode::OK);
    store_pool.close().await;
    // The admin key is in memory: the read-model query needs no event store.
    app.send(get("/v1/products")).await.assert_status(StatusCode::OK);
    let unknown = tally_api::auth::secret::generate().unwrap().secret;
    let reply = app.send(get("/v1/products").header("authorization", &format!("Bearer {unknown}"))).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(reply.header("retry-after").is_some(), "{}", reply.body);
}

#[tokio::test]
async fn every_key_learns_who_it_is_and_what_its_role_may_call() {
    let app = app().await;
    for role in Role::ALL {
        let key = app.key(role).await;
        let reply = app.send(get("/v1/me").header("authorization", &format!("Bearer {key}"))).await;
        let body = reply.assert_status(StatusCode::OK).clone();
        assert_eq!(body["role"], role.to_string(), "{body}");
        assert!(body["key_id"].is_string() && body["name"].is_string(), "{body}");
        let expected: Vec<Access> = Access::ALL.into_iter().filter(|access| may(role, *access)).collect();
        assert_eq!(body["accesses"], serde_json::to_value(&expected).unwrap(), "{body}");
        let keys = body["accesses"].as_array().unwrap().contains(&json!("keys"));
        assert_eq!(keys, role == Role::Admin, "{body}");
        assert!(!reply.bytes.windows(key.len()).any(|window| window == key.as_bytes()), "never the secret");
    }
}
