//! How fast the console's pages appear (`scripts/bench history`, on ~1,000,000 events): each page loaded afresh
//! `RUNS` times in headless Chromium, signed in with the key given, timing from the start of navigation to
//! - `fcp`: the first contentful paint (the browser's own `first-contentful-paint` entry), and
//! - `ready`: the page drawn with its data (the console's `tally:page-ready` mark, set when a page's requests
//!   have answered and its tables are on screen).
//!
//! Usage: `console_paint <chromedriver URL> <tally base URL> <API key>`; prints one
//! `name=console_<page>_<fcp|ready> ops=<runs> p50_ms=... max_ms=...` line per page and measure.

use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use std::time::Duration;

const RUNS: usize = 7;
const PAGES: [&str; 5] = ["overview", "orders", "inventory", "analytics", "audit"];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, driver, base, key] = args.as_slice() else {
        eprintln!("usage: console_paint <chromedriver URL> <tally base URL> <API key>");
        std::process::exit(2);
    };
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900"],
        },
    });
    let Value::Object(capabilities) = capabilities else { unreachable!() };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .expect("a Chromium session through chromedriver");
    client.goto(base).await.expect("open the console");
    client.execute("sessionStorage.setItem('tally.console.key', arguments[0])", vec![json!(key)]).await.unwrap();
    for page in PAGES {
        let mut fcp = Vec::new();
        let mut ready = Vec::new();
        for run in 0..=RUNS {
            // A new query string makes a new document: a full load, as opening the console's address is.
            client.goto(&format!("{base}/?load={run}#/{page}")).await.expect("open the page");
            client
                .wait()
                .at_most(Duration::from_secs(60))
                .for_element(Locator::Css(&format!("main[data-ready='{page}']")))
                .await
                .unwrap_or_else(|e| panic!("the {page} page was not drawn: {e}"));
            let times = client
                .execute(
                    "return [performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
                             performance.getEntriesByName('tally:page-ready')[0]?.startTime ?? -1]",
                    vec![],
                )
                .await
                .expect("the page's timings");
            // The first load of each page warms the browser's cache (ETags) and the server: not counted.
            if run > 0 {
                fcp.push(times[0].as_f64().expect("a first contentful paint"));
                ready.push(times[1].as_f64().expect("a page-ready mark"));
            }
        }
        for (measure, mut values) in [("fcp", fcp), ("ready", ready)] {
            values.sort_by(f64::total_cmp);
            let p50 = values[values.len() / 2];
            let max = values[values.len() - 1];
            let all: Vec<String> = values.iter().map(|value| format!("{value:.0}")).collect();
            println!(
                "name=console_{page}_{measure} ops={RUNS} p50_ms={p50:.0} max_ms={max:.0} all_ms={}",
                all.join(",")
            );
        }
    }
    client.close().await.ok();
}
