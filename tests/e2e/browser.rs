//! A headless Chromium driven through WebDriver, for the browser console's end-to-end tests: a private
//! `chromedriver` ([`Chromedriver`]), sessions with an exact CSS viewport and a download directory of their own
//! ([`Session`]), screenshots kept under the target directory ([`screenshot`]), the page's console errors and CSP
//! violations ([`console_errors`]), and waits that name what they awaited ([`wait_for`], [`wait_for_text`]).
//!
//! ```ignore
//! let driver = Chromedriver::start().await;
//! let session = driver.session(390, 844).await;
//! session.goto(&base).await.unwrap();
//! wait_for_text(&session, "h1", "Orders").await;
//! assert_eq!(console_errors(&session).await, Vec::<String>::new());
//! screenshot(&session, "orders").await;
//! session.close().await;
//! ```
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` (`scripts/test` installs them);
//! without them a test fails, it is not skipped.

use crate::harness::poll_until;
use axum::http::Method;
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long chromedriver may take to listen and to say it is ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`wait_for`] and [`wait_for_text`] wait.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `chromedriver` on a port of its own, in a process group of its own: dropping it kills the group, so no
/// Chromium outlives a failing test (killing chromedriver alone would leave its browsers running).
pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    /// Starts `chromedriver` (from the PATH) on a free port and waits until `GET /status` says it is ready.
    pub async fn start() -> Self {
        let mut child = Command::new("chromedriver")
            .arg("--port=0")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver (scripts/test installs it: ensure_chromium in scripts/lib.sh)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[chromedriver] {line}");
                // Once the port is known nobody listens; keep draining so chromedriver never blocks on the pipe.
                sender.send(line).ok();
            }
        });
        // Port 0 lets chromedriver pick a free port, which it names: "... started successfully on port 41235."
        let mut driver = Chromedriver { child, url: String::new() };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let port = loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("chromedriver never said which port it listens on"));
            if let Some(port) = line.strip_prefix("ChromeDriver was started successfully on port ") {
                break port.trim_end_matches('.').to_owned();
            }
        };
        driver.url = format!("http://127.0.0.1:{port}");
        let status_url = format!("{}/status", driver.url);
        poll_until("chromedriver to be ready", STARTUP_TIMEOUT, || async {
            let status: Value =
                reqwest::get(&status_url).await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
            if status["value"]["ready"] == true {
                Ok(())
            } else {
                Err(status.to_string())
            }
        })
        .await;
        driver
    }

    /// A new headless Chromium whose CSS viewport is exactly `width` x `height` (device scale factor 1, mobile
    /// emulation below 600 px), with downloads allowed into a temporary directory of the session's own. Under
    /// mobile emulation a page without `<meta name="viewport" content="width=device-width">` is laid out 980 px wide.
    pub async fn session(&self, width: u32, height: u32) -> Session {
        let dir = tempfile::Builder::new().prefix("tally-browser-").tempdir().expect("a temp dir for the browser");
        let profile = dir.path().join("profile");
        let downloads = dir.path().join("downloads");
        std::fs::create_dir(&downloads).expect("create the download directory");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": [
                    // As root Chromium needs --no-sandbox; /dev/shm is small in containers.
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            // Keeps the browser's console (and CSP violations) for `console_errors`.
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("start a Chromium session through chromedriver: {e}"));
        // A headless window loses part of its height to simulated browser chrome; the override sets the viewport
        // itself.
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 });
        cdp(&client, "Emulation.setDeviceMetricsOverride", metrics).await;
        let download = json!({ "behavior": "allow", "downloadPath": downloads });
        cdp(&client, "Browser.setDownloadBehavior", download).await;
        Session { client, downloads, _dir: dir }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`); its browsers are in the group too.
        Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status().ok();
        self.child.wait().ok();
    }
}

/// One browser: use it as the fantoccini [`Client`] it derefs to. [`Session::close`] ends it cleanly (chromedriver
/// stops that Chromium); otherwise it ends with its [`Chromedriver`].
pub struct Session {
    client: Client,
    downloads: PathBuf,
    /// Holds the profile and the downloads; removed on drop.
    _dir: tempfile::TempDir,
}

impl Deref for Session {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Session {
    /// The directory downloads land in.
    pub fn download_dir(&self) -> &Path {
        &self.downloads
    }

    /// Waits (at most `timeout`) for a finished download whose file name ends with `name_suffix` (Chromium writes
    /// into `*.crdownload` and renames when done) and returns its path.
    pub async fn wait_for_download(&self, name_suffix: &str, timeout: Duration) -> PathBuf {
        let what = format!("a download named *{name_suffix} in {}", self.downloads.display());
        poll_until(&what, timeout, || async {
            let names: Vec<String> = std::fs::read_dir(&self.downloads)
                .expect("read the download directory")
                .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
                .collect();
            match names.iter().find(|name| name.ends_with(name_suffix) && !name.ends_with(".crdownload")) {
                Some(name) => Ok(self.downloads.join(name)),
                None => Err(format!("files: {names:?}")),
            }
        })
        .await
    }

    /// Ends the session: chromedriver closes the browser and waits for it.
    pub async fn close(self) {
        self.client.close().await.unwrap_or_else(|e| panic!("close the browser session: {e}"));
    }
}

/// Saves a screenshot of the viewport as `<target dir>/console-screenshots/<name>-<width>.png` (the target
/// directory is `CARGO_TARGET_DIR`, else `target` in the repository) and returns its path.
pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let width = client.execute("return window.innerWidth", vec![]).await.expect("read window.innerWidth");
    let png = client.screenshot().await.unwrap_or_else(|e| panic!("take the screenshot {name}: {e}"));
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repository.join("target"), |dir| repository.join(dir));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join(format!("{name}-{width}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// The errors the page's console got since the last call (`console.error`, uncaught exceptions, failed loads,
/// CSP violations), each as `<source>: <message>`. Read through chromedriver's log endpoint, which empties it.
pub async fn console_errors(client: &Client) -> Vec<String> {
    let entries = client
        .issue_cmd(SessionPost { path: "se/log", body: json!({ "type": "browser" }) })
        .await
        .unwrap_or_else(|e| panic!("read the browser's console log: {e}"));
    let entries = entries.as_array().unwrap_or_else(|| panic!("a log is a list of entries: {entries}"));
    entries
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| {
            format!("{}: {}", entry["source"].as_str().unwrap_or("?"), entry["message"].as_str().unwrap_or(""))
        })
        .collect()
}

/// Waits (at most [`WAIT_TIMEOUT`]) for an element matching `css`.
pub async fn wait_for(client: &Client, css: &str) -> Element {
    client
        .wait()
        .at_most(WAIT_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting {WAIT_TIMEOUT:?} for an element matching {css:?}: {e}"))
}

/// Waits (at most [`WAIT_TIMEOUT`]) for an element matching `css` whose text contains `text`, and returns it.
pub async fn wait_for_text(client: &Client, css: &str, text: &str) -> Element {
    let what = format!("an element matching {css:?} with the text {text:?}");
    poll_until(&what, WAIT_TIMEOUT, || async {
        let mut seen = Vec::new();
        // An element may be replaced between finding it and reading it: that is "not yet", as is no element.
        for element in client.find_all(Locator::Css(css)).await.map_err(|e| e.to_string())? {
            let Ok(content) = element.text().await else { continue };
            if content.contains(text) {
                return Ok(element);
            }
            seen.push(content);
        }
        Err(format!("texts: {seen:?}"))
    })
    .await
}

/// Runs a Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
async fn cdp(client: &Client, cmd: &str, params: Value) -> Value {
    client
        .issue_cmd(SessionPost { path: "goog/cdp/execute", body: json!({ "cmd": cmd, "params": params }) })
        .await
        .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
}

/// A POST of a JSON body to an endpoint of the session that fantoccini has no method for.
#[derive(Debug)]
struct SessionPost {
    /// Relative to `/session/{id}/`.
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/{}", session_id.expect("a session"), self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.body.to_string()))
    }
}

/// `chromium` on the PATH (where Debian's package puts its launcher).
fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .expect("chromium on the PATH (scripts/test installs it: ensure_chromium in scripts/lib.sh)")
}

/// The harness itself, on a page served from this process under a CSP as strict as the console's.
mod tests {
    use super::*;
    use axum::http::header;
    use axum::routing::get;
    use axum::Router;

    const CSP: &str = "default-src 'self'";
    const CSV: &str = "sku,on_hand\nHARNESS-A,3\n";
    /// An inline script (which the CSP blocks) and an external one (which it allows): the latter fills in the
    /// greeting after a moment and logs a console error.
    const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>harness</title><script src="/app.js" defer></script></head>
<body><p id="greeting">loading</p><a id="export" href="/export.csv">export</a>
<script>document.body.dataset.inline = "ran";</script></body></html>"#;
    const APP_JS: &str = r#"setTimeout(() => {
  document.getElementById("greeting").textContent = "hello from app.js";
  console.error("app.js: a deliberate error");
}, 200);"#;

    /// Serves [`PAGE`], `/app.js` and `/export.csv` (an attachment) on a free port; returns the page's URL.
    async fn serve_page() -> String {
        let app = Router::new()
            .route(
                "/",
                get(|| async { ([(header::CONTENT_SECURITY_POLICY, CSP), (header::CONTENT_TYPE, "text/html")], PAGE) }),
            )
            .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP_JS) }))
            .route(
                "/export.csv",
                get(|| async {
                    let disposition = "attachment; filename=\"export.csv\"";
                    ([(header::CONTENT_TYPE, "text/csv"), (header::CONTENT_DISPOSITION, disposition)], CSV)
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve the test page") });
        format!("http://{address}/")
    }

    /// The width and height a PNG declares in its IHDR chunk (bytes 16..24, big-endian).
    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        assert_eq!(&png[12..16], b"IHDR", "no IHDR chunk first");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        (width, height)
    }

    #[tokio::test]
    async fn exact_viewports_screenshots_downloads_and_console_errors() {
        let page = serve_page().await;
        let driver = Chromedriver::start().await;
        for (width, height) in [(390, 844), (1440, 900)] {
            let session = driver.session(width, height).await;
            session.goto(&page).await.expect("open the test page");
            wait_for_text(&session, "#greeting", "hello from app.js").await;

            let viewport = session.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
            assert_eq!(viewport, json!([width, height]), "the CSS viewport");
            let path = screenshot(&session, "browser-harness").await;
            assert!(path.ends_with(format!("console-screenshots/browser-harness-{width}.png")), "{}", path.display());
            assert_eq!(png_size(&std::fs::read(&path).unwrap()), (width, height), "the screenshot's pixels");

            let inline_ran = session.execute("return document.body.dataset.inline || null", vec![]).await.unwrap();
            assert_eq!(inline_ran, Value::Null, "the CSP let the inline script run");
            let errors = console_errors(&session).await;
            assert!(errors.iter().any(|e| e.contains("violates the following Content Security Policy")), "{errors:?}");
            assert!(errors.iter().any(|e| e.contains("app.js: a deliberate error")), "{errors:?}");
            assert_eq!(console_errors(&session).await, Vec::<String>::new(), "errors are reported once");

            wait_for(&session, "#export").await.click().await.expect("click the export link");
            let file = session.wait_for_download("export.csv", WAIT_TIMEOUT).await;
            assert_eq!(file.parent(), Some(session.download_dir()));
            assert_eq!(std::fs::read_to_string(&file).unwrap(), CSV);
            session.close().await;
        }
    }
}
