//! The contract: an outside fuzzer, schemathesis, reads the `/openapi.json` a real `tally serve` serves and sends
//! the server a few thousand requests generated from it, valid and invalid, with every check it has. Any server
//! error, any answer that breaks the document's schemas, any valid request refused or invalid one accepted fails
//! the test. What the document cannot express (an unknown SKU, two parameters that exclude each other) is listed
//! per operation, with the reason, in `tests/contract/schemathesis.toml`.
//!
//! The run is seeded (the same requests every time) and bounded in examples and time. `ensure_schemathesis`
//! (scripts/lib.sh) installs schemathesis in a virtualenv of its own and sets `TALLY_SCHEMATHESIS` to its `st`
//! program. One worker: schemathesis 4.32's coverage phase can fail with a `SystemError` when two of its threads
//! parse at once (seen on Python 3.11), which would make the test flaky for a reason outside Tally.

use crate::harness::{self, post_expect, wait_until_caught_up, TallyProcess};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// The variable `scripts/test` sets to the schemathesis CLI (`st`) it installed.
const SCHEMATHESIS_VAR: &str = "TALLY_SCHEMATHESIS";
/// The seed of the generated requests: a failure reproduces with the same seed.
const SEED: &str = "20261204";
/// Requests per operation and phase, and the time the whole run may take.
const MAX_EXAMPLES: &str = "40";
const MAX_SECONDS: &str = "180";
/// More arguments for schemathesis, split on whitespace (e.g. `--include-tag commands` while working on the
/// commands); unset in the suite.
const EXTRA_ARGS_VAR: &str = "TALLY_CONTRACT_ARGS";

/// The variable the configuration reads the one key `revokeApiKey` may revoke from (see `seed_examples`).
const REVOCABLE_KEY_VAR: &str = "TALLY_CONTRACT_REVOCABLE_KEY";

/// The example values of the document's parameters (a SKU, an order id) exist, so the generated requests reach
/// the handlers' logic instead of stopping at 404. Returns the id of a key issued for `revokeApiKey` to revoke:
/// schemathesis follows the document's links from the keys list to the revocation, and would otherwise revoke the
/// admin key it runs with, after which every request is a 401.
async fn seed_examples(base: &str) -> String {
    post_expect(
        &format!("{base}/v1/products"),
        &json!({"sku": "TEE-RED-M", "name": "Red tee, M", "price": {"amount": 1999, "currency": "EUR"}}),
        201,
    )
    .await;
    post_expect(
        &format!("{base}/v1/inventory/TEE-RED-M/receipts"),
        &json!({"quantity": 100, "reference": "seed"}),
        201,
    )
    .await;
    post_expect(
        &format!("{base}/v1/orders"),
        &json!({
            "order_id": "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a01",
            "customer_id": "cust-42",
            "lines": [{"sku": "TEE-RED-M", "quantity": 2}],
        }),
        201,
    )
    .await;
    post_expect(&format!("{base}/v1/audit/digests"), &json!({}), 201).await;
    let revocable =
        post_expect(&format!("{base}/v1/keys"), &json!({"name": "revoked by schemathesis", "role": "analyst"}), 201)
            .await;
    wait_until_caught_up(base, Duration::from_secs(30)).await;
    revocable.body["id"].as_str().expect("an issued key has an id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_the_document_and_the_server_disagree_on() {
    let schemathesis = std::env::var(SCHEMATHESIS_VAR).unwrap_or_else(|_| {
        panic!(
            "{SCHEMATHESIS_VAR} is not set: run the tests with `scripts/test`, which installs schemathesis in a \
             virtualenv and sets it (or point it at an `st` program of schemathesis 4)"
        )
    });
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    let revocable_key = seed_examples(&base).await;
    let key = harness::key_for(&base).expect("the harness issued an admin key for this server");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/contract/schemathesis.toml");
    let report_dir = tempfile::tempdir().expect("a directory for schemathesis' reports");

    // Run in the report directory: schemathesis keeps a cache of the failures it found in `.schemathesis/` under its
    // working directory and replays them first on the next run; each run here starts from the seed alone.
    let output = Command::new(&schemathesis)
        .current_dir(report_dir.path())
        .env(REVOCABLE_KEY_VAR, revocable_key)
        .args(["--config-file", config, "run", &format!("{base}/openapi.json")])
        .args(["--checks", "all", "--seed", SEED, "--max-examples", MAX_EXAMPLES, "--max-time", MAX_SECONDS])
        .args(["--workers", "1", "--no-color", "--report", "junit", "--report-dir"])
        .arg(report_dir.path())
        .arg("--header")
        .arg(format!("Authorization: Bearer {key}"))
        .args(std::env::var(EXTRA_ARGS_VAR).unwrap_or_default().split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("run {schemathesis}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // schemathesis masks the Authorization header in what it prints; the key must not reach the test log anyway.
    let shown = format!("{stdout}\n{stderr}").replace(&key, "[the admin key]");
    println!("{shown}");
    assert!(output.status.success(), "schemathesis found disagreements (seed {SEED}); its report is above");
}
