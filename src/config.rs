//! The command line: one typed description of every subcommand and flag, parsed once in `main`.
//!
//! Every flag has an environment twin (DESIGN.md, "Configuration"); nothing else in the program reads the
//! environment for configuration.

use crate::nats_relay::SubjectMapping;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "tally", version, about = "Event-sourced order and inventory engine")]
pub struct Cli {
    /// Log output: `pretty` for people, `json` for machines (default: pretty on a terminal, else json).
    #[arg(long, env = "TALLY_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Export traces (every span at the log level and above) to this OpenTelemetry collector over OTLP/HTTP
    /// (protobuf), e.g. `http://localhost:4318`; spans go to `<endpoint>/v1/traces`. Off when not given.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true, value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (on a private PostgreSQL when no database URL is given).
    Serve(Box<ServeArgs>),
    /// Run the projectors only (no HTTP), to scale reads out; several may run at once.
    Project(ProjectArgs),
    /// Rebuild read models from the whole log beside the live ones, then swap them in.
    Rebuild(RebuildArgs),
    /// Verify the hash chain of every stream (or one) and report each broken place.
    Verify(VerifyArgs),
    /// Record a digest (a Merkle root over every stream's head), or check the store against a recorded one.
    Digest(DigestArgs),
    /// Write the event log (or a range of it) to stdout as JSON lines or CloudEvents.
    Export(ExportArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// API keys: create one (its secret is printed once), list them, revoke one.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Relay the event log to a message broker: `tally relay nats --nats-url nats://host:4222`.
    Relay {
        #[command(subcommand)]
        broker: RelayBroker,
    },
    /// Manage the private PostgreSQL cluster kept under the data directory.
    Postgres {
        #[command(subcommand)]
        action: PostgresAction,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP address to listen on (`127.0.0.1:0` picks a free port and logs it).
    #[arg(long, env = "TALLY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,

    /// Add demo data (products, stock, a few orders) when the event store is empty.
    #[arg(long, env = "TALLY_DEMO")]
    pub demo: bool,

    /// How long a confirmed, unpaid order holds its stock (e.g. `30m`, `90s`, `2h`).
    #[arg(long, env = "TALLY_RESERVATION_TTL", default_value = "30m", value_parser = parse_duration)]
    pub reservation_ttl: std::time::Duration,

    /// How old a product's cached price may be when it prices an order (`0s`: always read the catalog). Catalog
    /// changes made through this process apply at once; this bounds how long one made through another process
    /// takes to reach this one's orders.
    #[arg(long, env = "TALLY_CATALOG_MAX_AGE", default_value = "1s", value_parser = parse_duration)]
    pub catalog_max_age: std::time::Duration,

    /// Rate limits per API key, by role, overriding the defaults for the roles named (e.g.
    /// `storefront=500/s,analyst=6000/min`). Defaults: 20000/s for storefront, operations and admin, 2000/s for
    /// analyst and auditor. Limits are per node.
    #[arg(long, env = "TALLY_RATE_LIMITS", default_value = "")]
    pub rate_limits: tally_api::limits::RoleLimits,

    /// How long a request may take to begin its answer before it is answered 503 `unavailable` (the live tail,
    /// the export, verification and digests excepted: they take as long as the log is long).
    #[arg(long, env = "TALLY_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate chain: PEM, the server's certificate first, then
    /// any intermediates. Needs `--tls-key`.
    #[arg(long, env = "TALLY_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1). Needs `--tls-cert`.
    #[arg(long, env = "TALLY_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Also relay the event log to this NATS server's JetStream (as `tally relay nats` does), e.g.
    /// `nats://127.0.0.1:4222`. Off when not given.
    #[arg(long, env = "TALLY_NATS_URL", value_name = "URL")]
    pub nats_url: Option<NatsUrl>,

    /// The subject prefix of the relayed events (`<prefix>.<stream category>.<event type>`).
    #[arg(long, env = "TALLY_NATS_PREFIX", default_value = "tally", value_parser = parse_nats_prefix)]
    pub nats_prefix: SubjectMapping,

    /// Let webhooks be delivered to loopback, private, shared (CGNAT), link-local and cloud-metadata addresses
    /// too: for tests and for receivers on a private network. Off: only public addresses.
    #[arg(long, env = "TALLY_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
}

#[derive(Debug, Subcommand)]
pub enum RelayBroker {
    /// Publish every event of the log to NATS JetStream, in log order, once (one relay per cluster holds the
    /// lease; others wait to take over).
    Nats(RelayNatsArgs),
}

#[derive(Debug, Args)]
pub struct RelayNatsArgs {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    #[arg(long, env = "TALLY_NATS_URL", value_name = "URL")]
    pub nats_url: NatsUrl,

    /// The subject prefix of the relayed events (`<prefix>.<stream category>.<event type>`).
    #[arg(long, env = "TALLY_NATS_PREFIX", default_value = "tally", value_parser = parse_nats_prefix)]
    pub nats_prefix: SubjectMapping,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

/// A NATS subject prefix, as [`SubjectMapping::parse`] accepts one.
fn parse_nats_prefix(text: &str) -> Result<SubjectMapping, String> {
    SubjectMapping::parse(text)
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Issue a key; its secret is printed on the last line of standard output, this once.
    Create {
        /// storefront, operations, analyst, auditor or admin.
        #[arg(long)]
        role: tally_domain::Role,
        /// What the key is for (shown in listings and recorded as the actor's name on its events).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        event_store: EventStoreArgs,
    },
    /// List every key: id, name, role, created, last used, revoked (never a secret).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        event_store: EventStoreArgs,
    },
    /// Revoke a key by its id: every node refuses it within about a second. Final.
    Revoke {
        /// The key's id, as `tally keys list` shows it.
        id: tally_domain::ApiKeyId,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        event_store: EventStoreArgs,
    },
}

/// A duration as `humantime` reads one: a number and a unit, `500ms`, `90s`, `30m`, `2h`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|error| format!("{text:?} is not a duration like 30m, 90s or 2h: {error}"))
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The projections to rebuild (products, inventory, orders, sales); all when none is named.
    pub projections: Vec<String>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this stream (e.g. `order-0193...`).
    #[arg(long)]
    pub stream: Option<String>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Instead of recording a new digest, check the store against the recorded digest with this id.
    #[arg(long)]
    pub check: Option<i64>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `jsonl` (each event as the audit API shows it) or `cloudevents` (CloudEvents 1.0 JSON).
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormatArg,

    /// Only this stream.
    #[arg(long)]
    pub stream: Option<String>,

    /// Only events after this global position.
    #[arg(long, default_value_t = 0)]
    pub after: u64,

    /// Only events at or below this global position (default: the head when the export starts).
    #[arg(long)]
    pub to_position: Option<u64>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub event_store: EventStoreArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Jsonl,
    Cloudevents,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Where the private PostgreSQL lives when no database URL is given.
    #[arg(long, env = "TALLY_DATA_DIR", default_value = "./.tally")]
    pub data_dir: PathBuf,

    /// PostgreSQL for read models and the event store; without it a private cluster is started.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Args)]
pub struct EventStoreArgs {
    /// Where events are stored: `postgres://...` or `esdb://...` / `kurrentdb://...` (default: the database).
    #[arg(long, env = "EVENT_STORE_URL")]
    pub event_store_url: Option<EventStoreUrl>,
}

#[derive(Debug, Subcommand)]
pub enum PostgresAction {
    /// Start the private cluster (creating it on first use), print its URL and leave it running.
    Start {
        #[arg(long, env = "TALLY_DATA_DIR", default_value = "./.tally")]
        data_dir: PathBuf,
    },
    /// Stop the private cluster if it is running.
    Stop {
        #[arg(long, env = "TALLY_DATA_DIR", default_value = "./.tally")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A URL that may carry a password: `Debug` and `Display` mask it; only [`SecretUrl::expose`] gives it out.
#[derive(Clone)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn scheme(&self) -> &str {
        self.0.split("://").next().unwrap_or("")
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A PostgreSQL URL may carry its password as a query parameter too: ...?password=secret -> ?password=***
        let url = match self.0.split_once('?') {
            Some((base, query)) => {
                let pairs: Vec<&str> = query
                    .split('&')
                    .map(|pair| if pair.starts_with("password=") { "password=***" } else { pair })
                    .collect();
                format!("{base}?{}", pairs.join("&"))
            }
            None => self.0.clone(),
        };
        // scheme://user:password@host/db -> scheme://user:***@host/db
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let credentials = &url[scheme_end + 3..at];
                match credentials.find(':') {
                    Some(colon) => write!(f, "{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..]),
                    None => f.write_str(&url),
                }
            }
            _ => f.write_str(&url),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A PostgreSQL URL (`postgres://` or `postgresql://`).
#[derive(Clone, Debug)]
pub struct DatabaseUrl(SecretUrl);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = SecretUrl(s.to_owned());
        match url.scheme() {
            "postgres" | "postgresql" => Ok(Self(url)),
            _ => Err("expected a postgres:// or postgresql:// URL".to_owned()),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A NATS server URL, or several separated by commas. Its credentials (`user:password@` or a `token@`) never
/// print: `Debug` and `Display` show `***@` instead; only [`NatsUrl::expose`] gives them out.
#[derive(Clone)]
pub struct NatsUrl(String);

impl NatsUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for NatsUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for NatsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self
            .0
            .split(',')
            .map(|server| {
                let start = server.find("://").map_or(0, |scheme_end| scheme_end + 3);
                match server[start..].rfind('@') {
                    Some(at) => format!("{}***{}", &server[..start], &server[start + at..]),
                    None => server.to_owned(),
                }
            })
            .collect();
        f.write_str(&servers.join(","))
    }
}

impl fmt::Debug for NatsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Where the events live: PostgreSQL, or a KurrentDB (EventStoreDB) cluster.
#[derive(Clone, Debug)]
pub enum EventStoreUrl {
    Postgres(SecretUrl),
    KurrentDb(SecretUrl),
}

impl std::str::FromStr for EventStoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = SecretUrl(s.to_owned());
        match url.scheme() {
            "postgres" | "postgresql" => Ok(Self::Postgres(url)),
            _ if tally_store::kurrentdb::is_kurrentdb_url(s) => Ok(Self::KurrentDb(url)),
            _ => Err(format!(
                "expected postgres://... or one of KurrentDB's schemes ({}://...)",
                tally_store::kurrentdb::SCHEMES.join("://, ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_url_never_prints_its_credentials() {
        for (url, shown) in [
            ("nats://relay:s3cret@nats.example:4222", "nats://***@nats.example:4222"),
            ("nats://s3cret-token@nats.example:4222", "nats://***@nats.example:4222"),
            ("tls://a:s3cret@n1:4222,tls://a:s3cret@n2:4222", "tls://***@n1:4222,tls://***@n2:4222"),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("127.0.0.1:4222", "127.0.0.1:4222"),
        ] {
            let url: NatsUrl = url.parse().unwrap();
            assert_eq!((url.to_string(), format!("{url:?}")), (shown.to_owned(), shown.to_owned()));
        }
    }

    #[test]
    fn a_database_url_never_prints_its_password() {
        let url: DatabaseUrl = "postgres://tally:s3cret@db.example:5432/tally".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://tally:***@db.example:5432/tally");
        assert!(!format!("{url:?}").contains("s3cret"));
        let store: EventStoreUrl = "esdb://admin:changeit@kurrent.example:2113?tls=true".parse().unwrap();
        assert!(!format!("{store:?}").contains("changeit"));
        assert_eq!(url.expose(), "postgres://tally:s3cret@db.example:5432/tally");
    }

    #[test]
    fn a_database_url_without_password_prints_as_is() {
        let url: DatabaseUrl = "postgres://postgres@127.0.0.1:5433/tally".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://postgres@127.0.0.1:5433/tally");
    }

    #[test]
    fn a_password_in_the_query_is_masked_too() {
        let url: DatabaseUrl =
            "postgres://tally@db.example/tally?sslmode=verify-full&password=s3cret&sslrootcert=/etc/ca.pem"
                .parse()
                .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://tally@db.example/tally?sslmode=verify-full&password=***&sslrootcert=/etc/ca.pem"
        );
        let both: DatabaseUrl = "postgres://tally:s3cret@db.example/tally?password=s3cret".parse().unwrap();
        assert!(!both.to_string().contains("s3cret"), "{both}");
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!("mysql://x@y/z".parse::<DatabaseUrl>().is_err());
        assert!("esdb://x@y".parse::<DatabaseUrl>().is_err());
        assert!("mysql://x@y/z".parse::<EventStoreUrl>().is_err());
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("30m"), Ok(std::time::Duration::from_secs(1800)));
        assert_eq!(parse_duration("90s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(std::time::Duration::from_secs(7200)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn event_store_urls_pick_the_adapter() {
        assert!(matches!("postgresql://a@b/c".parse(), Ok(EventStoreUrl::Postgres(_))));
        assert!(matches!("esdb+discover://a:2113".parse(), Ok(EventStoreUrl::KurrentDb(_))));
        assert!(matches!("kurrentdb://a:2113?tls=false".parse(), Ok(EventStoreUrl::KurrentDb(_))));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
