//! Rebuild this crate when a migration is added or changed: `sqlx::migrate!` embeds `migrations/` at compile time,
//! and cargo would otherwise not notice a new file there.
//!
//! And set `cfg(kurrentdb_server)` when `TALLY_TEST_KURRENTDB_URL` names a KurrentDB server for the tests: without
//! one, `tests/kurrentdb.rs` marks its server tests ignored, so a test run reports them as ignored, never as
//! passed. Setting or changing the variable rebuilds the crate.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-env-changed=TALLY_TEST_KURRENTDB_URL");
    println!("cargo:rustc-check-cfg=cfg(kurrentdb_server)");
    if std::env::var("TALLY_TEST_KURRENTDB_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=kurrentdb_server");
    }
}
