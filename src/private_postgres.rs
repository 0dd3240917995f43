//! A private PostgreSQL cluster under the data directory, so that nobody has to set up a database to run Tally.
//!
//! `tally serve` without `DATABASE_URL` calls [`PrivateCluster::start`]: it finds the server binaries, creates the
//! cluster on first use (`initdb`, trust auth, loopback only), starts it on a free port and waits until it accepts
//! connections. Files under the data directory:
//!
//! - `postgres/data/` the cluster, `postgres/server.log` its log (owned by the user that runs the server);
//! - `cluster.lock` held while one process decides whether to create, start or attach, so two `tally` processes
//!   starting on the same data directory never run `initdb` or `pg_ctl start` twice;
//! - `cluster.owner` the pid of the process that started the server: that process stops it when it exits.
//!
//! A second process on the same data directory attaches to the running server and leaves it running when it exits;
//! if the owner died without stopping it (SIGKILL), the next process adopts it.
//!
//! PostgreSQL refuses to run as root. When Tally runs as root it runs `initdb` and the server as the `postgres`
//! system user the packages create. That user must be able to reach the cluster's directory; when it cannot (a data
//! directory under `/root`, say), the cluster files go to `/var/tmp/tally-postgres-<hash of the data dir>` instead,
//! and the log says so.

use anyhow::{bail, Context, Result};
use sqlx::{Connection, PgConnection};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The database Tally uses inside its private cluster.
const DATABASE: &str = "tally";
/// The cluster's superuser (`initdb -U`), whatever the operating-system user is.
const SUPERUSER: &str = "postgres";
/// How long to wait for another process holding the cluster lock, and for the server to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running private cluster, started or attached to by this process.
#[derive(Debug)]
pub struct PrivateCluster {
    files: ClusterFiles,
    binaries: PathBuf,
    run_as: Option<SystemUser>,
    port: u16,
    /// Whether this process started (or adopted) the server and must stop it.
    owner: bool,
}

impl PrivateCluster {
    /// Creates the cluster on first use, starts it (or attaches to the one already running) and creates the
    /// `tally` database in it.
    pub async fn start(data_dir: &Path) -> Result<Self> {
        let binaries = find_binaries()?;
        let run_as = server_user()?;
        let files = ClusterFiles::new(data_dir, run_as.as_ref())?;
        let _lock = files.lock().await?;

        files.prepare_directories(run_as.as_ref())?;
        if !files.pgdata.join("PG_VERSION").exists() {
            initdb(&binaries, &files, run_as.as_ref()).await?;
        }

        let (port, owner) = match running_port(&binaries, &files, run_as.as_ref()).await? {
            Some(port) if owner_is_alive(&files) => {
                tracing::info!(port, data_dir = %files.pgdata.display(),
                    "attaching to the private PostgreSQL another tally process started; it stays running when this one exits");
                (port, false)
            }
            Some(port) => {
                tracing::info!(port, data_dir = %files.pgdata.display(),
                    "adopting the private PostgreSQL left running by a tally process that has exited");
                (port, true)
            }
            None => {
                let port = free_port()?;
                start_server(&binaries, &files, run_as.as_ref(), port).await?;
                (port, true)
            }
        };
        if owner {
            fs::write(&files.owner, std::process::id().to_string())
                .with_context(|| format!("write {}", files.owner.display()))?;
        }

        let cluster = Self { files, binaries, run_as, port, owner };
        cluster.wait_until_accepting().await?;
        cluster.ensure_database().await?;
        Ok(cluster)
    }

    /// The URL of the `tally` database in this cluster.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Stops the server if this process owns it; a process that only attached leaves it running.
    pub async fn stop(self) -> Result<()> {
        if !self.owner {
            tracing::info!("leaving the private PostgreSQL running for the process that started it");
            return Ok(());
        }
        stop_server(&self.binaries, &self.files, self.run_as.as_ref()).await?;
        fs::remove_file(&self.files.owner).ok();
        Ok(())
    }

    async fn wait_until_accepting(&self) -> Result<()> {
        let url = format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match PgConnection::connect(&url).await {
                Ok(connection) => return connection.close().await.context("close probe connection"),
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "private PostgreSQL not accepting connections yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "the private PostgreSQL did not accept connections within {}s; see {}",
                            STARTUP_TIMEOUT.as_secs(),
                            self.files.log.display()
                        )
                    })
                }
            }
        }
    }

    async fn ensure_database(&self) -> Result<()> {
        let url = format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port);
        let mut connection = PgConnection::connect(&url).await.context("connect to the private PostgreSQL")?;
        let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut connection)
            .await?;
        if !exists {
            sqlx::query(&format!("create database {DATABASE}"))
                .execute(&mut connection)
                .await
                .context("create the tally database")?;
        }
        connection.close().await?;
        Ok(())
    }
}

/// Stops the private cluster under `data_dir` if one is running, whoever started it (`tally postgres stop`).
pub async fn stop(data_dir: &Path) -> Result<bool> {
    let binaries = find_binaries()?;
    let run_as = server_user()?;
    let files = ClusterFiles::new(data_dir, run_as.as_ref())?;
    if !files.pgdata.join("PG_VERSION").exists() {
        return Ok(false);
    }
    let _lock = files.lock().await?;
    if running_port(&binaries, &files, run_as.as_ref()).await?.is_none() {
        return Ok(false);
    }
    stop_server(&binaries, &files, run_as.as_ref()).await?;
    fs::remove_file(&files.owner).ok();
    Ok(true)
}

/// Where the cluster's files live (see the module doc).
#[derive(Debug)]
struct ClusterFiles {
    /// The directory the server user owns: `pgdata` and the log are inside it.
    home: PathBuf,
    pgdata: PathBuf,
    log: PathBuf,
    lock: PathBuf,
    owner: PathBuf,
}

impl ClusterFiles {
    fn new(data_dir: &Path, run_as: Option<&SystemUser>) -> Result<Self> {
        fs::create_dir_all(data_dir).with_context(|| format!("create data directory {}", data_dir.display()))?;
        let data_dir = std::path::absolute(data_dir)?;
        let home = match run_as {
            Some(user) if !user.can_enter(&data_dir)? => {
                let home = PathBuf::from(format!("/var/tmp/tally-postgres-{:016x}", fnv1a(&data_dir)));
                tracing::info!(data_dir = %data_dir.display(), cluster_dir = %home.display(),
                    "the postgres user cannot enter the data directory, so the cluster files live elsewhere");
                home
            }
            _ => data_dir.join("postgres"),
        };
        Ok(Self {
            pgdata: home.join("data"),
            log: home.join("server.log"),
            home,
            lock: data_dir.join("cluster.lock"),
            owner: data_dir.join("cluster.owner"),
        })
    }

    /// Takes the data directory's cluster lock, waiting while another process holds it.
    async fn lock(&self) -> Result<fs::File> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .with_context(|| format!("open {}", self.lock.display()))?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(fs::TryLockError::WouldBlock) => bail!(
                    "another tally process has held {} for {}s while starting PostgreSQL; is it stuck?",
                    self.lock.display(),
                    STARTUP_TIMEOUT.as_secs()
                ),
                Err(fs::TryLockError::Error(error)) => {
                    return Err(error).with_context(|| format!("lock {}", self.lock.display()))
                }
            }
        }
    }

    fn prepare_directories(&self, run_as: Option<&SystemUser>) -> Result<()> {
        fs::create_dir_all(&self.home).with_context(|| format!("create {}", self.home.display()))?;
        fs::set_permissions(&self.home, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&self.home, Some(user.uid), Some(user.gid))
                .with_context(|| format!("give {} to the {} user", self.home.display(), user.name))?;
        }
        Ok(())
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: from `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_binaries() -> Result<PathBuf> {
    let has_all = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| dir.join(b).is_file());
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|dir| has_all(dir)) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_all(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under \
             /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`) or point \
             Tally at an existing database with DATABASE_URL"
        ),
    }
}

async fn initdb(binaries: &Path, files: &ClusterFiles, run_as: Option<&SystemUser>) -> Result<()> {
    tracing::info!(data_dir = %files.pgdata.display(), "creating the private PostgreSQL cluster");
    let mut command = server_command(binaries, "initdb", files, run_as);
    command.arg("--pgdata").arg(&files.pgdata).args([
        "--username",
        SUPERUSER,
        "--auth",
        "trust",
        "--encoding",
        "UTF8",
        "--no-locale",
    ]);
    run(command, "initdb").await
}

async fn start_server(binaries: &Path, files: &ClusterFiles, run_as: Option<&SystemUser>, port: u16) -> Result<()> {
    tracing::info!(port, data_dir = %files.pgdata.display(), "starting the private PostgreSQL");
    // Loopback TCP only, no Unix socket (its path length limit would depend on where the data directory is).
    let options =
        format!("-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200");
    let mut command = server_command(binaries, "pg_ctl", files, run_as);
    command
        .args(["start", "--wait", "--timeout", "60", "--pgdata"])
        .arg(&files.pgdata)
        .arg("--log")
        .arg(&files.log)
        .args(["-o", &options]);
    run(command, "pg_ctl start").await.with_context(|| format!("see the server log at {}", files.log.display()))
}

async fn stop_server(binaries: &Path, files: &ClusterFiles, run_as: Option<&SystemUser>) -> Result<()> {
    tracing::info!(data_dir = %files.pgdata.display(), "stopping the private PostgreSQL");
    let mut command = server_command(binaries, "pg_ctl", files, run_as);
    command.args(["stop", "--wait", "--mode", "fast", "--pgdata"]).arg(&files.pgdata);
    run(command, "pg_ctl stop").await
}

/// The port of the server running on `pgdata`, or `None` when none runs (a stale pid file counts as none).
async fn running_port(binaries: &Path, files: &ClusterFiles, run_as: Option<&SystemUser>) -> Result<Option<u16>> {
    let mut command = server_command(binaries, "pg_ctl", files, run_as);
    command.args(["status", "--pgdata"]).arg(&files.pgdata);
    let status = command.output().await.context("run pg_ctl status")?.status;
    if !status.success() {
        return Ok(None);
    }
    // postmaster.pid: line 1 the pid, line 4 the port (PostgreSQL's documented layout).
    let pid_file = files.pgdata.join("postmaster.pid");
    let contents = fs::read_to_string(&pid_file).with_context(|| format!("read {}", pid_file.display()))?;
    let port = contents
        .lines()
        .nth(3)
        .and_then(|line| line.trim().parse().ok())
        .with_context(|| format!("no port on line 4 of {}", pid_file.display()))?;
    Ok(Some(port))
}

fn owner_is_alive(files: &ClusterFiles) -> bool {
    fs::read_to_string(&files.owner)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists())
}

fn server_command(binaries: &Path, program: &str, files: &ClusterFiles, run_as: Option<&SystemUser>) -> Command {
    let mut command = Command::new(binaries.join(program));
    // The server user may not be able to enter our working directory; give it one it owns.
    command.current_dir(&files.home).env("LC_ALL", "C").stdin(std::process::Stdio::null());
    if let Some(user) = run_as {
        // std drops root's supplementary groups before switching user.
        command.uid(user.uid).gid(user.gid).env("HOME", &files.home).env("USER", &user.name);
    }
    command
}

async fn run(mut command: Command, what: &str) -> Result<()> {
    let output = command.output().await.with_context(|| format!("run {what}"))?;
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim(),
        String::from_utf8_lossy(&output.stdout).trim()
    )
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The operating-system user that runs the server: `None` (ourselves) unless we are root.
fn server_user() -> Result<Option<SystemUser>> {
    let euid = fs::metadata("/proc/self").context("read /proc/self")?.uid();
    if euid != 0 {
        return Ok(None);
    }
    let user = SystemUser::lookup("postgres")?;
    tracing::info!(user = %user.name,
        "running as root: the private PostgreSQL runs as the postgres user, since PostgreSQL refuses to run as root");
    Ok(Some(user))
}

#[derive(Debug, Clone)]
struct SystemUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl SystemUser {
    fn lookup(name: &str) -> Result<Self> {
        let passwd = fs::read_to_string("/etc/passwd").context("read /etc/passwd")?;
        passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 3 && fields[0] == name)
            .and_then(|fields| {
                Some(Self { name: name.to_owned(), uid: fields[2].parse().ok()?, gid: fields[3].parse().ok()? })
            })
            .with_context(|| {
                format!(
                    "running as root, Tally runs PostgreSQL as the `{name}` user, but there is none; \
                     install the PostgreSQL packages (they create it) or run Tally as an ordinary user"
                )
            })
    }

    /// Whether this user may traverse every directory from `/` down to `dir`.
    fn can_enter(&self, dir: &Path) -> Result<bool> {
        for ancestor in dir.ancestors() {
            let meta = fs::metadata(ancestor).with_context(|| format!("inspect {}", ancestor.display()))?;
            let mode = meta.mode();
            let executable = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !executable {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// FNV-1a over the path's bytes: a stable, dependency-free name for a relocated cluster directory.
fn fnv1a(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocated_cluster_names_are_stable_and_distinct() {
        assert_eq!(fnv1a(Path::new("/root/shop/.tally")), fnv1a(Path::new("/root/shop/.tally")));
        assert_ne!(fnv1a(Path::new("/root/shop/.tally")), fnv1a(Path::new("/root/other/.tally")));
    }

    #[test]
    fn a_user_cannot_enter_a_directory_closed_to_others() {
        let dir = std::env::temp_dir().join(format!("tally-enter-{}", std::process::id()));
        fs::create_dir_all(dir.join("inner")).unwrap();
        let stranger = SystemUser { name: "stranger".into(), uid: 65_000, gid: 65_000 };
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let open = stranger.can_enter(&dir.join("inner")).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let closed = stranger.can_enter(&dir.join("inner")).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(open, "a 0755 path under the temp dir is enterable");
        assert!(!closed, "a 0700 directory owned by someone else is not enterable");
    }
}
