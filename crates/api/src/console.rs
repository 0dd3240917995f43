//! The console: the browser pages `tally serve` answers at `/`, for operators, analysts, auditors and admins.
//!
//! A handful of static files (one HTML page, JavaScript modules, a stylesheet and the vendored chart library
//! uPlot) compiled into the binary from `crates/api/console/`, so nothing is fetched from anywhere else and no
//! Node toolchain is needed. The pages draw themselves in the browser from the same `/v1` JSON API curl uses, with
//! the key the person signs in with in the `Authorization` header: the console can show and do nothing the key's
//! role may not (docs/decisions.md, 2026-12-05, "A static console over the JSON API").
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from here only, no inline code,
//! requests to this origin only, never framed) and is revalidated by its ETag, so a new binary's files are used at
//! once and an unchanged one costs a 304.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::problem::{Problem, ProblemKind};
use crate::AppState;

/// What the console's pages may load and do: everything from this origin, nothing inline, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file of the console, as compiled in.
struct Asset {
    /// Its name under `/console/` (the page itself is `index.html`, served at `/`).
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset { name: $name, content_type: $content_type, body: include_bytes!(concat!("../console/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", CSS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("chart.js", JS),
    asset!("pages/overview.js", JS),
    asset!("pages/orders.js", JS),
    asset!("pages/inventory.js", JS),
    asset!("pages/analytics.js", JS),
    asset!("pages/audit.js", JS),
    asset!("pages/admin.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
];

/// `GET /` (the page) and `GET /console/{file}` (what it loads). Public: the files hold no data.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(page)).route("/console/{*file}", get(file))
}

async fn page(request_headers: HeaderMap) -> Response {
    serve("index.html", &request_headers)
}

async fn file(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    serve(&file, &request_headers)
}

fn serve(name: &str, request_headers: &HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, asset)| asset.name == name) else {
        return Problem::new(ProblemKind::NotFound, format!("the console has no file {name}")).into_response();
    };
    let etag = &etags()[index];
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Revalidated on every use: cheap (a 304), and a new binary's files are never mixed with an old one's.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::ETAG, etag.clone());
    let unchanged = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag.to_str().unwrap_or_default() || tag.trim() == "*");
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    (headers, asset.body).into_response()
}

/// Each asset's ETag, a hash of its bytes, in the order of [`ASSETS`]; computed once.
fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                let hex: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
                HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_served() {
        // A module imported by another but missing from ASSETS would be a 404 in the browser only.
        for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js") && !asset.name.starts_with("vendor/")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines().filter(|line| line.starts_with("import ")) {
                let target = line.split(['"', '\'']).nth(1).expect("an import names its module");
                let base = asset.name.rsplit_once('/').map_or("", |(dir, _)| dir);
                let resolved = resolve(base, target);
                assert!(
                    ASSETS.iter().any(|served| served.name == resolved),
                    "{} imports {target} ({resolved}), which the console does not serve",
                    asset.name
                );
            }
        }
    }

    fn resolve(base: &str, target: &str) -> String {
        let mut parts: Vec<&str> = base.split('/').filter(|part| !part.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }

    #[test]
    fn no_page_writes_html_from_data() {
        // Data reaches the page through textContent and attributes only (docs/decisions.md, 2026-12-05).
        for asset in ASSETS.iter().filter(|asset| !asset.name.starts_with("vendor/")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "style="] {
                assert!(!text.contains(forbidden), "{} uses {forbidden}", asset.name);
            }
        }
    }
}
