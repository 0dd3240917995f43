//! The shared harness: start `tally` as a child process, find the address it listens on, stop it as an operator
//! would (SIGTERM) or as a crash would (SIGKILL); a small JSON client over the HTTP API; bounded polls.
//!
//! API keys: `serve` on a database issues an admin key there first (`tally keys create`, once per database) and
//! remembers it for the server's base URL; the request helpers send it (`Authorization: Bearer`) to any URL under
//! that base ([`key_for`], [`authorized`]). Servers on a private cluster (`--data-dir`) get none.
//!
//! Logs: every line a spawned `tally` writes to stderr is echoed (`[tally] ...`) and, when `TALLY_TEST_LOG_DIR` is
//! set, appended to `tally-<pid>.log` in that directory, which `scripts/test` scans for secrets after the run.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// How long a `tally serve` may take to listen (it may have to create a cluster first).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// The admin key of each `tally serve` started on a database, by its base URL (`http://127.0.0.1:port`). Tests
/// run concurrently, each with servers of its own: a key is always looked up by URL.
static KEYS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
/// The admin key issued on each database, by its URL: every server on one database gets the same key, so a test
/// calling two nodes is one client to both (idempotency keys, for one, belong to the API key that sent them).
static DATABASE_KEYS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The key of the server whose base URL `url` is, or starts with (followed by a path or a query).
pub fn key_for(url: &str) -> Option<String> {
    let keys = KEYS.lock().unwrap();
    keys.iter()
        .find(|(base, _)| {
            url.strip_prefix(base.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        })
        .map(|(_, key)| key.clone())
}

/// `request` to `url` with the key of its server, if it has one.
pub fn authorized(request: reqwest::RequestBuilder, url: &str) -> reqwest::RequestBuilder {
    match key_for(url) {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

/// Issues a key of `role` named `name` on the database `database_url` (`tally keys create`) and returns its
/// secret (the last line of the command's output).
pub fn create_key(database_url: &str, role: &str, name: &str) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["keys", "create", "--role", role, "--name", name, "--database-url", database_url])
        .env_remove("DATABASE_URL")
        .env_remove("EVENT_STORE_URL")
        .env("TALLY_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tally keys create");
    let pid = child.id();
    let output = child.wait_with_output().expect("run tally keys create");
    let mut log = log_file(pid);
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        eprintln!("[tally keys] {line}");
        keep_log_line(&mut log, line);
    }
    assert!(output.status.success(), "tally keys create failed ({})", output.status);
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    stdout.lines().last().expect("the key on the last line").trim().to_owned()
}

/// The admin key of the database `database_url`, issued on first use.
fn admin_key_of(database_url: &str) -> String {
    if let Some(key) = DATABASE_KEYS.lock().unwrap().get(database_url) {
        return key.clone();
    }
    let key = create_key(database_url, "admin", "e2e");
    DATABASE_KEYS.lock().unwrap().entry(database_url.to_owned()).or_insert(key).clone()
}

/// The file a process's log lines are appended to: `$TALLY_TEST_LOG_DIR/tally-<pid>.log`, when the variable is set.
fn log_file(pid: u32) -> Option<std::fs::File> {
    let dir = std::env::var_os("TALLY_TEST_LOG_DIR")?;
    let path = Path::new(&dir).join(format!("tally-{pid}.log"));
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    Some(file.unwrap_or_else(|e| panic!("open {}: {e}", path.display())))
}

fn keep_log_line(file: &mut Option<std::fs::File>, line: &str) {
    if let Some(file) = file {
        writeln!(file, "{line}").expect("append to the test log");
    }
}

/// A running `tally` process. Killed if still running when dropped, so a failing test leaves no server behind.
pub struct TallyProcess {
    child: Child,
    log_lines: mpsc::Receiver<String>,
    /// Every line received from `log_lines` so far.
    seen: Vec<String>,
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
        let mut log = log_file(child.id());
        let (sender, log_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[tally] {line}");
                keep_log_line(&mut log, &line);
                if sender.send(line).is_err() {
                    // The test stopped listening; keep draining so the child never blocks on a full pipe.
                }
            }
        });
        Self { child, log_lines, seen: Vec::new() }
    }

    /// Spawns `tally serve` on a free port with the given extra arguments and waits until it listens. Given
    /// `--database-url`, first issues an admin key on that database (once per database), which the request helpers
    /// then send to this server.
    pub fn serve(extra_args: &[&str]) -> (Self, String) {
        let database_url = extra_args.windows(2).find(|pair| pair[0] == "--database-url").map(|pair| pair[1]);
        let key = database_url.map(admin_key_of);
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let mut process = Self::spawn(&args);
        let base = format!("http://{}", process.wait_for_log("listening", "address"));
        if let Some(key) = key {
            KEYS.lock().unwrap().insert(base.clone(), key);
        }
        (process, base)
    }

    /// Spawns `tally serve` on the PostgreSQL database `database_url` (e.g. a `tally_testkit::fresh_database()`)
    /// on a free port, waits until it listens, and returns it with its base URL.
    pub fn serve_on(database_url: &str) -> (Self, String) {
        Self::serve(&["--database-url", database_url])
    }

    /// Spawns `tally project` (projectors only) on `database_url` and waits until its projectors run (they compete
    /// for the leases from then on).
    pub fn project_on(database_url: &str) -> Self {
        let mut process = Self::spawn(&["project", "--database-url", database_url]);
        process.wait_for_message("projectors started");
        process
    }

    /// Waits for the log line whose message is `message` and returns its field `field`.
    pub fn wait_for_log(&mut self, message: &str, field: &str) -> String {
        let line = self.wait_for_message(message);
        line[field].as_str().unwrap_or_else(|| panic!("no {field} in {line}")).to_owned()
    }

    /// Waits for the log line whose message is `message` and returns it as JSON.
    pub fn wait_for_message(&mut self, message: &str) -> Value {
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
            self.seen.push(line.clone());
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == message {
                return entry;
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL (a crash: no shutdown code runs, connections are cut) and waits until the process is gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL tally");
        self.child.wait().expect("wait for the killed tally");
    }

    /// Sends SIGTERM (what an operator or a supervisor sends) and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait(Duration::from_secs(60))
    }

    /// Like [`TallyProcess::terminate`], and returns every log line the process wrote too.
    pub fn terminate_with_logs(mut self) -> (ExitStatus, Vec<String>) {
        self.send_sigterm();
        let status = self.wait(Duration::from_secs(60));
        // The reader thread ends with the pipe (bounded: a child of the process may hold the pipe open).
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self.log_lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }

    fn send_sigterm(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit by itself, and returns its status and every log line it wrote.
    pub fn wait_for_exit(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.wait(STARTUP_TIMEOUT);
        // The reader thread ends with the pipe; collect what it forwarded.
        self.seen.extend(self.log_lines.iter());
        (status, std::mem::take(&mut self.seen))
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
    let request = authorized(reqwest::Client::new().get(url), url);
    let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// GET a URL and return the body as text (e.g. `/metrics`).
pub async fn get_text(url: &str) -> String {
    let request = authorized(reqwest::Client::new().get(url), url);
    let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response.text().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The pid in a projector's holder id (`pid-{pid}-{suffix}`, see `ProjectorOptions::holder`).
pub fn holder_pid(holder: &str) -> Option<u32> {
    holder.strip_prefix("pid-")?.split('-').next()?.parse().ok()
}

/// An HTTP answer: status, `Tally-Position` (commands) and JSON body (`Null` when there is none).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub position: Option<u64>,
    pub body: Value,
}

/// POSTs `body` as JSON; `Err` when no HTTP answer came (connection refused or cut, timeout).
pub async fn try_post_json(client: &reqwest::Client, url: &str, body: &Value) -> Result<Reply, reqwest::Error> {
    let response = authorized(client.post(url), url).json(body).send().await?;
    let status = response.status().as_u16();
    let position = response
        .headers()
        .get("tally-position")
        .map(|value| value.to_str().expect("ascii Tally-Position").parse().expect("numeric Tally-Position"));
    let body = response.json().await.unwrap_or(Value::Null);
    Ok(Reply { status, position, body })
}

/// POSTs `body` as JSON to a server that must answer.
pub async fn post_json(url: &str, body: &Value) -> Reply {
    try_post_json(&reqwest::Client::new(), url, body).await.unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// POSTs and insists on the status `expected`, with the body in the failure message.
pub async fn post_expect(url: &str, body: &Value, expected: u16) -> Reply {
    let reply = post_json(url, body).await;
    assert_eq!(reply.status, expected, "POST {url} {body} answered {}: {}", reply.status, reply.body);
    reply
}

/// Registers a product per SKU (one event each), priced 5 EUR.
pub async fn add_products(base: &str, skus: &[&str]) {
    for sku in skus {
        let product = json!({ "sku": sku, "name": sku, "price": { "amount": 500, "currency": "EUR" } });
        post_expect(&format!("{base}/v1/products"), &product, 201).await;
    }
}

/// `count` stock receipts of one unit, round the SKUs (one event each).
pub async fn receive_stock(base: &str, skus: &[&str], count: usize) {
    for n in 0..count {
        let sku = skus[n % skus.len()];
        post_expect(&format!("{base}/v1/inventory/{sku}/receipts"), &json!({ "quantity": 1 }), 201).await;
    }
}

/// Calls `check` every 100 ms until it returns `Ok`, for at most `timeout`; then panics naming `what` and the
/// last state `check` described in its `Err`.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The row of the follower `name` (`order-process`, `nats-relay`, `webhook-{id}`) in `GET /v1/projections` of the
/// server at `base`; `Err` with the whole answer while it is not listed.
pub async fn follower_status(base: &str, name: &str) -> Result<Value, String> {
    let (_, body) = get_json(&format!("{base}/v1/projections")).await;
    let followers = body["followers"].as_array().ok_or_else(|| body.to_string())?;
    followers.iter().find(|follower| follower["name"] == name).cloned().ok_or_else(|| body.to_string())
}

/// Waits (at most `timeout`) until every projection has applied the whole log and none has failed, according to
/// `GET /v1/projections` of the server at `base`; returns the log head they reached.
pub async fn wait_until_caught_up(base: &str, timeout: Duration) -> u64 {
    let url = format!("{base}/v1/projections");
    poll_until("every projection to reach the log head", timeout, || async {
        let (status, body) = get_json(&url).await;
        let head = body["head"].as_u64().ok_or_else(|| format!("{status} {body}"))?;
        let items = body["items"].as_array().ok_or_else(|| format!("{status} {body}"))?;
        let caught_up = !items.is_empty()
            && items.iter().all(|item| item["position"].as_u64() == Some(head) && item["failure"].is_null());
        if caught_up {
            Ok(head)
        } else {
            Err(body.to_string())
        }
    })
    .await
}

/// A private `nats-server` with JetStream on a port of its own and a store directory that outlives it, so a test
/// can stop it and start it again in the same place (a NATS restart). Never the server on 4222. Killed on drop.
pub struct NatsServer {
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("find a free port").local_addr().unwrap().port();
        let store = tempfile::tempdir().expect("a store directory for nats-server");
        let mut server = NatsServer { port, store, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port and store, and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let child = Command::new(nats_server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server (scripts/test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (SIGTERM: it flushes its store and closes its connections) and waits until it is gone. Not
    /// SIGKILL: nats-server's file store writes asynchronously, so a killed server may lose messages it has
    /// acknowledged, which no client can detect (the relay's checkpoint is already past them).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            if !terminated.is_ok_and(|status| status.success()) {
                child.kill().ok();
            }
            child.wait().ok();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `nats-server` on the PATH, else where the Debian package puts it.
fn nats_server_binary() -> String {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("nats-server").is_file()))
        .unwrap_or(false);
    if on_path {
        "nats-server".to_owned()
    } else {
        "/usr/sbin/nats-server".to_owned()
    }
}
