//! Test support shared by every crate's database tests: a fresh, empty PostgreSQL database per test, dropped when
//! the test ends; and realistic event histories to put in it.
//!
//! The test command (`scripts/test`) starts a private PostgreSQL cluster for the run and exports its admin URL as
//! `TALLY_TEST_DATABASE_URL`. Each test asks [`fresh_database`] for a database of its own on that cluster, so tests
//! never share state and never touch the machine's own PostgreSQL.
//!
//! The database is dropped once nothing of the test holds it: neither the [`TestDatabase`] nor any clone of its
//! pool (a helper may hand on only the pool, inside a store or an app state). A test that passes and one that
//! panics both drop theirs: the last holder goes when the test's locals are dropped, or at the latest when its
//! runtime shuts down (which drops the tasks still holding the pool), before the test is reported. A child
//! process given the URL is the test's to stop first; `with (force)` ends any connection left open.
//!
//! # Layout
//! - this file: [`fresh_database`] and the [`TestDatabase`] it makes (below);
//! - [`workload`]: random commands run through the domain's deciders, for the projections tests and the history
//!   benchmark's seeder (each appends them its own way).

pub mod workload;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::str::FromStr;
use std::sync::Arc;

/// The variable the test command sets to the private cluster's admin URL.
pub const TEST_DATABASE_URL_VAR: &str = "TALLY_TEST_DATABASE_URL";

/// A database created for one test: its URL (to hand to a `tally` process) and a pool on it. Dropped when this
/// and every clone of `pool` are gone (see the crate doc).
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    pub pool: PgPool,
    /// Shared with the pool; the last of the two to go drops the database.
    _dropper: Arc<DropDatabase>,
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
    let dropper = Arc::new(DropDatabase { admin_url: admin_url.clone(), name: name.clone() });

    let url = with_database(&admin_url, &name);
    let held_by_pool = Arc::clone(&dropper);
    let pool = PgPoolOptions::new()
        .max_connections(20)
        // The pool holds the database too: this hook lives as long as the pool's last clone.
        .after_connect(move |_, _| {
            let _database = &held_by_pool;
            Box::pin(async { Ok(()) })
        })
        .connect(&url)
        .await
        .expect("connect to the test database");
    TestDatabase { url, name, pool, _dropper: dropper }
}

/// Drops a test database when it is dropped itself (the last holder of the database went).
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    /// Never panics (it may run while a failed test unwinds): a database it cannot drop is reported on stderr.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A thread and a runtime of its own: this may run inside the test's runtime, where blocking on a future
        // panics, or while that runtime shuts down.
        let dropping = std::thread::Builder::new().name(format!("drop {name}")).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_database(&admin_url, &name)).map_err(std::io::Error::other)
        });
        let outcome = match dropping {
            Ok(thread) => thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the thread panicked"))),
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            eprintln!("tally-testkit: the test database {} was not dropped: {error}", self.name);
        }
    }
}

/// `drop database ... with (force)`: ends the connections still open on it (a pool being dropped, a child process
/// that outlived its test) instead of failing on them.
async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    // The name was generated by `fresh_database` from hex digits only.
    sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await?;
    admin.close().await
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
    use super::*;

    /// Whether the test cluster has a database of this name.
    async fn exists(name: &str) -> bool {
        let mut admin = PgConnection::connect(&cluster_url()).await.expect("connect to the test cluster");
        sqlx::query_scalar("select exists (select from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .expect("look the database up")
    }

    #[tokio::test]
    async fn a_database_lives_as_long_as_its_pool_and_is_dropped_with_the_last_holder() {
        let db = fresh_database().await;
        let (name, pool) = (db.name.clone(), db.pool.clone());
        drop(db);
        sqlx::query("create table kept (id int)").execute(&pool).await.expect("the pool still has its database");
        assert!(exists(&name).await);
        drop(pool);
        assert!(!exists(&name).await, "dropped with its last holder");
    }

    #[test]
    fn a_database_is_dropped_when_its_test_panics() {
        let (sender, named) = std::sync::mpsc::channel();
        let test = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let db = fresh_database().await;
                sender.send(db.name.clone()).expect("send the name");
                panic!("a test that fails (on purpose)");
            })
        });
        assert!(test.join().is_err(), "the test panicked");
        let name = named.recv().expect("the database's name");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        assert!(!runtime.block_on(exists(&name)), "dropped while the test unwound");
    }

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
