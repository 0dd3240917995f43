//! The shared harness: start `tally` as a child process, find the address it listens on, stop it as an operator
//! would (SIGTERM) or as a crash would (SIGKILL).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a `tally serve` may take to listen (it may have to create a cluster first).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `tally` process. Killed if still running when dropped, so a failing test leaves no server behind.
pub struct TallyProcess {
    child: Child,
    log_lines: mpsc::Receiver<String>,
}

impl TallyProcess {
    /// Spawns `tally <args>` with JSON logs and none of the caller's database settings.
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("EVENT_STORE_URL")
            .env("TALLY_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tally");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, log_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[tally] {line}");
                if sender.send(line).is_err() {
                    // The test stopped listening; keep draining so the child never blocks on a full pipe.
                }
            }
        });
        Self { child, log_lines }
    }

    /// Spawns `tally serve` on a free port with the given extra arguments and waits until it listens.
    pub fn serve(extra_args: &[&str]) -> (Self, String) {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let mut process = Self::spawn(&args);
        let address = process.wait_for_log("listening", "address");
        (process, format!("http://{address}"))
    }

    /// Waits for the log line whose message is `message` and returns its field `field`.
    pub fn wait_for_log(&mut self, message: &str, field: &str) -> String {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match self.log_lines.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!("tally never logged {message:?} (exit status: {status:?})")
                }
            };
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == message {
                return entry[field].as_str().unwrap_or_else(|| panic!("no {field} in {line}")).to_owned();
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (what an operator or a supervisor sends) and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait(Duration::from_secs(60))
    }

    /// Waits for the process to exit by itself, and returns its status and every log line it wrote.
    pub fn wait_for_exit(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.wait(STARTUP_TIMEOUT);
        // The reader thread ends with the pipe; collect what it forwarded.
        let lines = self.log_lines.iter().collect();
        (status, lines)
    }

    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for tally") {
                return status;
            }
            assert!(Instant::now() < deadline, "tally did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TallyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// A temporary data directory for a private cluster, which the `postgres` user can enter when we run as root.
/// Stops whatever cluster is left in it when dropped.
pub struct DataDir(tempfile::TempDir);

impl DataDir {
    pub fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new().prefix("tally-e2e-").tempdir().expect("create a temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod the temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn arg(&self) -> &str {
        self.path().to_str().expect("utf-8 temp dir")
    }

    /// The pid of the PostgreSQL server running on this data directory, if any (from its `postmaster.pid`).
    pub fn postgres_pid(&self) -> Option<u32> {
        let pid_file = self.path().join("postgres/data/postmaster.pid");
        let pid: u32 = std::fs::read_to_string(pid_file).ok()?.lines().next()?.trim().parse().ok()?;
        process_is_alive(pid).then_some(pid)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["postgres", "stop", "--data-dir", self.arg()])
            .env("TALLY_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok();
    }
}

pub fn process_is_alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: its /proc/<pid>/stat says state Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// GET a URL and return the status and JSON body.
pub async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
