//! The command line: one typed description of every subcommand and flag, parsed once in `main`.
//!
//! Every flag has an environment twin (DESIGN.md, "Configuration"); nothing else in the program reads the
//! environment for configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tally",
    version,
    about = "Event-sourced order and inventory engine"
)]
pub struct Cli {
    /// Log output: `pretty` for people, `json` for machines (default: pretty on a terminal, else json).
    #[arg(long, env = "TALLY_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (on a private PostgreSQL when no database URL is given).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
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

/// A database URL. It may carry a password, so `Debug` and `Display` show it with the password masked.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected a postgres:// or postgresql:// URL".to_owned())
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // postgres://user:password@host/db -> postgres://user:***@host/db
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let credentials = &self.0[scheme_end + 3..at];
                match credentials.find(':') {
                    Some(colon) => write!(
                        f,
                        "{}{}:***{}",
                        &self.0[..scheme_end + 3],
                        &credentials[..colon],
                        &self.0[at..]
                    ),
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_never_prints_its_password() {
        let url: DatabaseUrl = "postgres://tally:s3cret@db.example:5432/tally"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://tally:***@db.example:5432/tally"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.expose(),
            "postgres://tally:s3cret@db.example:5432/tally"
        );
    }

    #[test]
    fn a_database_url_without_password_prints_as_is() {
        let url: DatabaseUrl = "postgres://postgres@127.0.0.1:5433/tally".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://postgres@127.0.0.1:5433/tally");
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!("mysql://x@y/z".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
