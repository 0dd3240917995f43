//! `tally`: the command-line entry point. It parses the command line, wires the pieces together and runs them;
//! everything with logic lives in the crates.
//!
//! - `tally serve`: the HTTP API (on a private PostgreSQL when no `DATABASE_URL` is given).
//! - `tally migrate`: apply the database migrations.
//! - `tally postgres start|stop`: manage the private cluster by hand (the test command uses this).

mod config;
mod private_postgres;
mod telemetry;

use anyhow::{Context, Result};
use clap::Parser;
use config::{Cli, Command, DatabaseArgs, PostgresAction, ServeArgs};
use private_postgres::PrivateCluster;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tally: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            with_database(&args, |pool| async move { migrate(&pool).await }).await
        }
        Command::Postgres {
            action: PostgresAction::Start { data_dir },
        } => {
            let cluster = PrivateCluster::start(&data_dir).await?;
            // Left running on purpose: `tally postgres stop` (or the next owner) stops it.
            println!("{}", cluster.url());
            Ok(())
        }
        Command::Postgres {
            action: PostgresAction::Stop { data_dir },
        } => {
            if private_postgres::stop(&data_dir).await? {
                println!("stopped the private PostgreSQL in {}", data_dir.display());
            } else {
                println!("no private PostgreSQL is running in {}", data_dir.display());
            }
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    with_database(&args.database, |pool| async move {
        migrate(&pool).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        let app = tally_api::router(tally_api::AppState { pool: pool.clone() });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serve HTTP")?;
        tracing::info!("shutting down");
        pool.close().await;
        Ok(())
    })
    .await
}

/// Runs `work` on a pool for the configured database: `DATABASE_URL`, or the private cluster, which is started
/// first and stopped afterwards whether `work` succeeded or not.
async fn with_database<F, Fut>(args: &DatabaseArgs, work: F) -> Result<()>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    if let Some(url) = &args.database_url {
        tracing::info!(database = %url, "using the configured database");
        return work(connect(url.expose()).await?).await;
    }
    let cluster = PrivateCluster::start(&args.data_dir).await?;
    let outcome = match connect(&cluster.url()).await {
        Ok(pool) => work(pool).await,
        Err(error) => Err(error),
    };
    let stopped = cluster.stop().await;
    outcome.and(stopped)
}

async fn connect(url: &str) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(32)
        .connect(url)
        .await
        .context("connect to PostgreSQL")
}

async fn migrate(pool: &PgPool) -> Result<()> {
    tally_store::MIGRATOR
        .run(pool)
        .await
        .context("apply migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm.recv() => {}
    }
}
