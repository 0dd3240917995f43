//! `tally`: the command-line entry point. It parses the command line, wires the pieces together and runs them;
//! everything with logic lives in the crates.
//!
//! - `tally serve`: the HTTP API (on a private PostgreSQL when no `DATABASE_URL` is given; HTTPS with
//!   `--tls-cert`/`--tls-key`, see `https.rs`; the NATS relay too with `--nats-url`).
//! - `tally project`: the projectors only, to scale reads out.
//! - `tally rebuild [projection...]`: rebuild read models beside the live ones and swap them in.
//! - `tally verify`, `tally digest`, `tally export`: the auditor's commands.
//! - `tally keys create|list|revoke`: API keys.
//! - `tally relay nats`: publish the event log to NATS JetStream (`nats_relay.rs`).
//! - `tally migrate`: apply the database migrations.
//! - `tally postgres start|stop`: manage the private cluster by hand (the test command uses this).

mod audit;
mod config;
mod demo;
mod https;
mod keys;
mod nats_relay;
mod order_process;
mod postgres_tls;
mod private_postgres;
mod progress;
mod telemetry;
mod workers;

use anyhow::{Context, Result};
use clap::Parser;
use config::{
    Cli, Command, DatabaseArgs, EventStoreArgs, EventStoreUrl, ExportFormatArg, KeysAction, NatsUrl, PostgresAction,
    ProjectArgs, RebuildArgs, RelayBroker, RelayNatsArgs, ServeArgs,
};
use private_postgres::PrivateCluster;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally_commands::{CommandConfig, Commands};
use tally_projections::{Projector, ProjectorOptions, ReadModel};
use tally_store::{EventStore, PgEventStore, PgStoreOptions};
use tally_webhooks::{EgressPolicy, Senders};
use tokio::sync::watch;

/// mimalloc instead of the system allocator: profiles of the HTTP commands and of the export showed glibc's
/// `malloc`/`free` at 17-30% of tally's CPU (many short-lived JSON values and buffers per request and per event).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS crypto provider for the whole process, ring. rustls is built with both ring and aws-lc-rs (the
    // KurrentDB client brings aws-lc-rs), so it cannot pick a default by itself, and sqlx's `sslmode=verify-ca`
    // asks for the default (it panicked without one). Installed first, so the KurrentDB client uses it too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let telemetry = match telemetry::init(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("tally: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = run(cli.command).await;
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tally: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Project(args) => project(args).await,
        Command::Rebuild(args) => rebuild(args).await,
        Command::Verify(args) => {
            with_store(&args.database, &args.event_store, |store, _| async move {
                audit::verify(store.as_ref(), args.stream.as_deref()).await
            })
            .await
        }
        Command::Digest(args) => {
            with_store(&args.database, &args.event_store, |store, pool| async move {
                audit::digest(store.as_ref(), &pool, args.check).await
            })
            .await
        }
        Command::Export(args) => {
            let format = match args.format {
                ExportFormatArg::Jsonl => tally_audit::export::ExportFormat::JsonLines,
                ExportFormatArg::Cloudevents => tally_audit::export::ExportFormat::CloudEvents,
            };
            let range = tally_audit::export::LogRange {
                stream: args.stream,
                after: args.after,
                to_position: args.to_position,
                ..Default::default()
            };
            with_store(&args.database, &args.event_store, |store, _| async move {
                audit::export(store, range, format).await
            })
            .await
        }
        Command::Keys { action: KeysAction::Create { role, name, database, event_store } } => {
            with_store(&database, &event_store, |store, pool| keys::create(store, pool, role, name)).await
        }
        Command::Keys { action: KeysAction::List { database, event_store } } => {
            with_store(&database, &event_store, keys::list).await
        }
        Command::Keys { action: KeysAction::Revoke { id, database, event_store } } => {
            with_store(&database, &event_store, |store, _| keys::revoke(store, id)).await
        }
        Command::Relay { broker: RelayBroker::Nats(args) } => relay_nats(args).await,
        Command::Migrate(args) => with_database(&args, |pool, _| async move { migrate(&pool).await }).await,
        Command::Postgres { action: PostgresAction::Start { data_dir } } => {
            let cluster = PrivateCluster::start(&data_dir).await?;
            // Left running on purpose: `tally postgres stop` (or the next owner) stops it.
            println!("{}", cluster.url());
            Ok(())
        }
        Command::Postgres { action: PostgresAction::Stop { data_dir } } => {
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
    let demo = args.demo;
    let rate_limits = args.rate_limits;
    let request_timeout = args.request_timeout;
    let webhook_allow_private = args.webhook_allow_private;
    let demo_keys_file = args.database.data_dir.join("demo-keys.env");
    // Read before anything starts, so a bad certificate or key fails at once and leaves nothing running.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(https::load(cert, key)?),
        _ => None, // clap accepts both flags or neither
    };
    let command_config = CommandConfig {
        reservation_ttl: args.reservation_ttl,
        catalog_max_age: args.catalog_max_age,
        ..CommandConfig::default()
    };
    with_database(&args.database, |pool, database_url| async move {
        migrate(&pool).await?;
        let opened = open_event_store(args.event_store.event_store_url.as_ref(), &database_url).await?;
        let store = Arc::clone(&opened.store);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let commands = Commands::new(Arc::clone(&store), command_config);
        let projector = Projector::new(Arc::clone(&store), pool.clone(), ProjectorOptions::default());
        let mut state = tally_api::AppState::new(pool.clone(), Arc::clone(&store), commands.clone(), projector.clone());
        state.limits = rate_limits;
        state.request_timeout = request_timeout;
        state.egress = EgressPolicy { allow_private: webhook_allow_private };
        // Built before anything appends: the first router installs the process's metrics recorder.
        let app = tally_api::router(state.clone());
        if demo {
            demo::seed(&commands).await.context("add demo data")?;
            demo::issue_keys(&state, &demo_keys_file).await.context("issue the demo keys")?;
        }

        // Background tasks: the projector, the order process, the purges, the API keys' reader, the webhooks'
        // senders and, with `--nats-url`, the NATS relay, stopped together.
        let (stop, stopped) = watch::channel(false);
        let background = [
            tokio::spawn({
                let projector = projector.clone();
                let stopped = stopped.clone();
                async move {
                    if let Err(error) = projector.run(stopped).await {
                        tracing::error!(error = %error, "the projector stopped with an error");
                    }
                }
            }),
            tokio::spawn(tally_projections::follow(
                order_process::OrderProcess::new(commands.clone(), pool.clone()),
                Arc::clone(&store),
                (*pool.connect_options()).clone(),
                ProjectorOptions::default(),
                stopped.clone(),
            )),
            tokio::spawn(workers::purge(pool.clone(), stopped.clone())),
            tokio::spawn(state.keys.clone().follow(stopped.clone())),
            tokio::spawn(tally_webhooks::supervisor::supervise(
                Senders {
                    subscriptions: state.webhooks.clone(),
                    pool: pool.clone(),
                    commands: commands.clone(),
                    policy: state.egress,
                    client: tally_webhooks::sender::http_client(state.egress),
                },
                Arc::clone(&store),
                (*pool.connect_options()).clone(),
                ProjectorOptions::default(),
                stopped.clone(),
            )),
        ];
        let relay = match args.nats_url {
            Some(url) => {
                let relay = connect_nats_relay(&url, args.nats_prefix).await?;
                Some(tokio::spawn(tally_projections::follow(
                    relay,
                    Arc::clone(&store),
                    (*pool.connect_options()).clone(),
                    ProjectorOptions::default(),
                    stopped,
                )))
            }
            None => None,
        };

        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %listener.local_addr()?, scheme, "listening");
        if demo {
            println!("the console: {scheme}://{}/ (sign in with one of the demo keys above)", listener.local_addr()?);
        }
        let served = match tls {
            Some(tls) => https::serve(listener, app, tls, shutdown_signal()).await.context("serve HTTPS"),
            None => axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("serve HTTP"),
        };
        tracing::info!("shutting down");
        stop.send(true).ok();
        for task in background.into_iter().chain(relay) {
            task.await.ok();
        }
        opened.close().await;
        pool.close().await;
        served
    })
    .await
}

/// Runs the projectors until Ctrl-C or SIGTERM. Each projection is held by one process at a time (a lease); this
/// one takes over whatever no other process holds.
async fn project(args: ProjectArgs) -> Result<()> {
    with_store(&args.database, &args.event_store, |store, pool| async move {
        let projector = Projector::new(store, pool, ProjectorOptions::default());
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn({
            let projector = projector.clone();
            async move { projector.run(stopped).await }
        });
        tracing::info!("projecting; Ctrl-C or SIGTERM stops");
        shutdown_signal().await;
        stop.send(true).ok();
        running.await.context("the projector task panicked")??;
        Ok(())
    })
    .await
}

/// Relays the event log to NATS JetStream until Ctrl-C or SIGTERM (one relay per cluster holds the lease; this
/// one waits to take over if another does).
async fn relay_nats(args: RelayNatsArgs) -> Result<()> {
    let relay = connect_nats_relay(&args.nats_url, args.nats_prefix).await?;
    with_database(&args.database, |pool, database_url| async move {
        migrate(&pool).await?;
        let opened = open_event_store(args.event_store.event_store_url.as_ref(), &database_url).await?;
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(tally_projections::follow(
            relay,
            Arc::clone(&opened.store),
            (*pool.connect_options()).clone(),
            ProjectorOptions::default(),
            stopped,
        ));
        tracing::info!(nats = %args.nats_url, "relaying the log to NATS; Ctrl-C or SIGTERM stops");
        shutdown_signal().await;
        stop.send(true).ok();
        running.await.context("the relay task panicked")?;
        opened.close().await;
        pool.close().await;
        Ok(())
    })
    .await
}

/// The relay over a NATS connection that keeps retrying, at start-up too (a NATS server down or restarting is
/// waited for, not an error).
async fn connect_nats_relay(url: &NatsUrl, subjects: nats_relay::SubjectMapping) -> Result<nats_relay::NatsRelay> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url.expose())
        .await
        .with_context(|| format!("connect to NATS at {url}"))?;
    Ok(nats_relay::NatsRelay::new(client, subjects))
}

/// Rebuilds the named read models (all when none is named) from the whole log, all at once (each on its own
/// connection, so the two cores and PostgreSQL's backends share the work), while the live ones keep serving
/// queries.
async fn rebuild(args: RebuildArgs) -> Result<()> {
    let models = if args.projections.is_empty() {
        ReadModel::ALL.to_vec()
    } else {
        args.projections.iter().map(|name| ReadModel::from_name(name)).collect::<Result<Vec<_>, _>>()?
    };
    with_store(&args.database, &args.event_store, |store, pool| async move {
        let projector = Projector::new(store, pool, ProjectorOptions::default());
        let bars = indicatif::MultiProgress::new();
        let mut displays: Vec<progress::RebuildDisplay> =
            models.iter().map(|model| progress::RebuildDisplay::new(&bars, model.name())).collect();
        let jobs = models.iter().zip(displays.iter_mut()).map(|(&model, display)| {
            (model, move |progress: &tally_projections::RebuildProgress| display.update(progress))
        });
        let results = projector.rebuild_together(jobs.collect()).await;
        displays.into_iter().for_each(progress::RebuildDisplay::finish);
        let mut failures = Vec::new();
        for (model, result) in models.iter().zip(results) {
            match result {
                Ok(done) => println!(
                    "rebuilt {}: {} events in {:.1}s ({:.0} events/s), live at position {}",
                    done.projection,
                    done.events_applied,
                    done.elapsed.as_secs_f64(),
                    done.events_per_second,
                    done.position
                ),
                Err(error) => failures.push(anyhow::Error::new(error).context(format!("rebuild {}", model.name()))),
            }
        }
        for failure in &failures {
            eprintln!("{failure:#}");
        }
        if !failures.is_empty() {
            anyhow::bail!("{} of {} rebuilds failed (the others were swapped in)", failures.len(), models.len());
        }
        Ok(())
    })
    .await
}

/// Runs `work` with the event store (and the database pool) of the configuration, after migrating.
async fn with_store<F, Fut>(database: &DatabaseArgs, event_store: &EventStoreArgs, work: F) -> Result<()>
where
    F: FnOnce(Arc<dyn EventStore>, PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    with_database(database, |pool, database_url| async move {
        migrate(&pool).await?;
        let opened = open_event_store(event_store.event_store_url.as_ref(), &database_url).await?;
        let outcome = work(Arc::clone(&opened.store), pool.clone()).await;
        opened.close().await;
        pool.close().await;
        outcome
    })
    .await
}

/// Runs `work` on a pool for the configured database (and its URL): `DATABASE_URL`, or the private cluster, which
/// is started first and stopped afterwards whether `work` succeeded or not.
async fn with_database<F, Fut>(args: &DatabaseArgs, work: F) -> Result<()>
where
    F: FnOnce(PgPool, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    if let Some(url) = &args.database_url {
        tracing::info!(database = %url, "using the configured database");
        return work(connect(url.expose()).await?, url.expose().to_owned()).await;
    }
    let cluster = PrivateCluster::start(&args.data_dir).await?;
    let url = cluster.url();
    let outcome = match connect(&url).await {
        Ok(pool) => work(pool, url).await,
        Err(error) => Err(error),
    };
    let stopped = cluster.stop().await;
    outcome.and(stopped)
}

/// How long a request waits for a read-model connection before it fails (503). With the database down, sqlx keeps
/// retrying a refused connection until this deadline, so it is how long a query takes to fail during an outage:
/// within the 2 s the API promises, far above a healthy pool's waits (docs/decisions.md, 2026-12-04). The event
/// store's pool has the same default (`PgStoreOptions::acquire_timeout`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long start-up waits for a database that refuses connections (one starting beside Tally).
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// The read-model pool, once the database accepts a connection (waiting up to [`STARTUP_WAIT`]; any other error,
/// a wrong password or a refused TLS certificate say, fails at once).
async fn connect(url: &str) -> Result<PgPool> {
    postgres_tls::check_files(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy(url)
        .context("parse the PostgreSQL URL")?;
    let deadline = Instant::now() + STARTUP_WAIT;
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(pool),
            Err(sqlx::Error::PoolTimedOut) if Instant::now() < deadline => {
                tracing::info!("waiting for PostgreSQL to accept connections");
            }
            Err(error) => return Err(postgres_tls::connect_error(error)),
        }
    }
}

/// The event store: `EVENT_STORE_URL` when given, else the PostgreSQL database itself. The store keeps its own pool,
/// whose connections carry its statement and idle-in-transaction timeouts.
struct OpenedStore {
    store: Arc<dyn EventStore>,
    /// The PostgreSQL adapter, to close before its database stops.
    postgres: Option<PgEventStore>,
}

impl OpenedStore {
    async fn close(self) {
        if let Some(postgres) = self.postgres {
            postgres.close().await;
        }
    }
}

async fn open_event_store(url: Option<&EventStoreUrl>, database_url: &str) -> Result<OpenedStore> {
    let postgres_url = match url {
        None => database_url.to_owned(),
        Some(EventStoreUrl::Postgres(url)) => {
            tracing::info!(event_store = %url, "events are stored in a separate PostgreSQL database");
            let pool = connect(url.expose()).await?;
            migrate(&pool).await?;
            pool.close().await;
            url.expose().to_owned()
        }
        Some(EventStoreUrl::KurrentDb(url)) => {
            tracing::info!(event_store = %url, "events are stored in KurrentDB");
            let store = tally_store::kurrentdb::KurrentDbEventStore::connect(url.expose())
                .await
                .context("connect to KurrentDB")?;
            return Ok(OpenedStore { store: Arc::new(store), postgres: None });
        }
    };
    let postgres = PgEventStore::connect(&postgres_url, PgStoreOptions::default()).await?;
    Ok(OpenedStore { store: Arc::new(postgres.clone()), postgres: Some(postgres) })
}

async fn migrate(pool: &PgPool) -> Result<()> {
    tally_store::MIGRATOR.run(pool).await.context("apply migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm.recv() => {}
    }
}
