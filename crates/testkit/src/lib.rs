//! Test support shared by every crate's database tests: a fresh, empty PostgreSQL database per test.
//!
//! The test command (`scripts/test`) starts a private PostgreSQL cluster for the run and exports its admin URL as
//! `TALLY_TEST_DATABASE_URL`. Each test asks [`fresh_database`] for a database of its own on that cluster, so tests
//! never share state and never touch the machine's own PostgreSQL.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::str::FromStr;

/// The variable the test command sets to the private cluster's admin URL.
pub const TEST_DATABASE_URL_VAR: &str = "TALLY_TEST_DATABASE_URL";

/// A database created for one test: its URL (to hand to a `tally` process) and a pool on it.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    pub pool: PgPool,
}

/// The private cluster's admin URL, or a panic that says how to get one.
pub fn cluster_url() -> String {
    std::env::var(TEST_DATABASE_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{TEST_DATABASE_URL_VAR} is not set: run the tests with `scripts/test`, which starts a private \
             PostgreSQL for them (or set it to the URL of a PostgreSQL you can create databases on)"
        )
    })
}

/// Creates an empty database with a unique name on the test cluster and connects a small pool to it.
/// No migrations are run: call `tally_store::MIGRATOR.run(&db.pool)` (or let the code under test do it).
pub async fn fresh_database() -> TestDatabase {
    let admin_url = cluster_url();
    let name = format!("tally_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        // Host and port only: the URL may hold a password.
        let options = PgConnectOptions::from_str(&admin_url).expect("parse the test cluster URL");
        panic!("cannot connect to the test cluster at {}:{}: {e}", options.get_host(), options.get_port())
    });
    // The name is generated above from hex digits only, so formatting it into the statement is safe.
    sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create the test database");
    admin.close().await.ok();

    let url = with_database(&admin_url, &name);
    let pool = PgPoolOptions::new().max_connections(20).connect(&url).await.expect("connect to the test database");
    TestDatabase { url, name, pool }
}

/// `url` with its database (the path) replaced by `name`; the user, password, host and every query parameter
/// (`sslmode`, `sslrootcert`, ...) stay as written. (sqlx's `to_url_lossy` writes `sslrootcert` back as
/// `file: <path>`, which names another file when parsed again, so a TLS test cluster would be unreachable.)
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let authority = base.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let path = base[authority..].find('/').map_or(base.len(), |slash| authority + slash);
    format!("{}/{name}{query}", &base[..path])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_keeps_credentials_and_tls_parameters() {
        assert_eq!(
            with_database("postgres://u:p@db.example:5432/tally?sslmode=verify-full&sslrootcert=/etc/ca.pem", "t1"),
            "postgres://u:p@db.example:5432/t1?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5433/tally", "t2"),
            "postgres://postgres@127.0.0.1:5433/t2"
        );
        assert_eq!(with_database("postgres://127.0.0.1:5433", "t3"), "postgres://127.0.0.1:5433/t3");
        assert_eq!(with_database("postgres://h?sslmode=require", "t4"), "postgres://h/t4?sslmode=require");
    }
}
