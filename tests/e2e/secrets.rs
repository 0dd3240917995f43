//! No secret in the logs: a server that issues a key over HTTP, is called with it, with a wrong key and with a
//! key of a role that may not call the route, and revokes it, never writes any of these keys to its log.
//!
//! Why: logs are shipped, kept and read far more widely than the database; a key in them is a leaked key.
//! (`scripts/test` scans the logs of every process of a whole test run for anything shaped like a key.)

use crate::harness::{authorized, key_for, post_expect, TallyProcess};
use serde_json::{json, Value};

/// GET `url` with `key` and return the status.
async fn get_with(http: &reqwest::Client, url: &str, key: &str) -> u16 {
    let response = http.get(url).bearer_auth(key).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response.status().as_u16()
}

#[tokio::test]
async fn keys_issued_used_refused_and_revoked_never_reach_the_log() {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve_on(&db.url);
    let admin = key_for(&base).expect("an admin key for a server on a database");
    let http = reqwest::Client::new();

    let product = json!({ "sku": "SECRET-TEE", "name": "Tee", "price": { "amount": 900, "currency": "EUR" } });
    post_expect(&format!("{base}/v1/products"), &product, 201).await;
    let issued =
        post_expect(&format!("{base}/v1/keys"), &json!({ "name": "web shop", "role": "storefront" }), 201).await;
    let storefront = issued.body["secret"].as_str().expect("the secret, shown once").to_owned();
    let id = issued.body["id"].as_str().expect("the key's id").to_owned();

    let products = format!("{base}/v1/products");
    assert_eq!(get_with(&http, &products, &storefront).await, 200, "a storefront key reads the catalog");
    // The storefront key with its last character changed: no longer a key (its checksum is wrong).
    let last = storefront.chars().last().unwrap();
    let wrong = format!("{}{}", &storefront[..storefront.len() - 1], if last == 'x' { 'y' } else { 'x' });
    assert_eq!(get_with(&http, &products, &wrong).await, 401, "a wrong key is refused");
    let projections = format!("{base}/v1/projections");
    assert_eq!(get_with(&http, &projections, &storefront).await, 403, "a storefront key may not read projections");

    let revocation = format!("{base}/v1/keys/{id}/revocation");
    let response = authorized(http.post(&revocation), &revocation).send().await.expect("revoke");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((status, body["revoked_at"].is_string()), (200, true), "{body}");
    assert_eq!(get_with(&http, &products, &storefront).await, 401, "a revoked key is refused");

    let (status, lines) = server.terminate_with_logs();
    assert!(status.success(), "tally serve stops cleanly on SIGTERM");
    assert!(lines.len() > 5, "the server logged its start and its requests: {lines:?}");
    for (what, secret) in [("admin", &admin), ("storefront", &storefront), ("wrong", &wrong)] {
        let leaks: Vec<usize> = (1..=lines.len()).filter(|n| lines[n - 1].contains(secret.as_str())).collect();
        // The lines are not printed: they hold the secret.
        assert!(leaks.is_empty(), "the {what} key is in the server's log, at lines {leaks:?}");
    }
}
