//! The console in a real browser: headless Chromium driven through chromedriver ([`crate::browser`]) against a
//! real `tally serve` on a real PostgreSQL. A person signs in with a key of each role and sees only that role's
//! pages and actions; an operator places, pays and ships an order through the pages (on a phone-sized screen),
//! with a refusal shown in words; the overview follows the log live; an auditor verifies the hash chains, records
//! and checks a digest, reads an order as it stood and exports the log; an analyst downloads a CSV. Every page is
//! drawn at 390 and 1440 px without a console error, a CSP violation, an unlabelled control or a sideways scroll,
//! and screenshotted (`target/console-screenshots/`; the README's come from here, copied to `docs/console/`).

use crate::browser::{console_errors, screenshot, wait_for, wait_for_text, Chromedriver, Session};
use crate::harness::{self, add_products, get_json, post_expect, receive_stock, wait_until_caught_up, TallyProcess};
use fantoccini::Locator;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const ROLES: [&str; 5] = ["storefront", "operations", "analyst", "auditor", "admin"];
const SKUS: [&str; 2] = ["CONSOLE-TEE", "CONSOLE-CAP"];
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1440, 900);

/// A server with a catalog, some stock and a key per role, and a chromedriver to open browsers on it.
struct Console {
    base: String,
    keys: BTreeMap<&'static str, String>,
    driver: Chromedriver,
    _server: TallyProcess,
    _db: tally_testkit::TestDatabase,
}

impl Console {
    async fn start() -> Self {
        let db = tally_testkit::fresh_database().await;
        // Private addresses allowed: the webhook the pages show points at a local port.
        let (server, base) = TallyProcess::serve(&["--database-url", &db.url, "--webhook-allow-private"]);
        let keys = ROLES
            .into_iter()
            .map(|role| (role, harness::create_key(&db.url, role, &format!("console {role}"))))
            .collect();
        add_products(&base, &SKUS).await;
        receive_stock(&base, &SKUS, 6).await;
        let driver = Chromedriver::start().await;
        Console { base, keys, driver, _server: server, _db: db }
    }

    /// A browser of `size`, signed in with the key of `role` through the sign-in form, as a person would.
    async fn signed_in(&self, role: &str, size: (u32, u32)) -> Session {
        let session = self.driver.session(size.0, size.1).await;
        session.goto(&self.base).await.expect("open the console");
        // The key field has the focus when the page opens: type the key and press Enter.
        wait_for(&session, "#api-key:focus").await;
        let active = session.active_element().await.expect("the focused element");
        active.send_keys(&format!("{}\u{e007}", self.keys[role])).await.expect("type the key and press Enter");
        wait_for_text(&session, "#who", role).await;
        session
    }

    /// Opens `#/<path>` and waits until that page (not the one before it) is drawn with its data.
    async fn open(&self, session: &Session, path: &str) {
        session.goto(&format!("{}/#/{path}", self.base)).await.expect("open a page");
        let route = path.split('?').next().unwrap_or_default();
        wait_for(session, &format!("main[data-ready='{route}']")).await;
    }
}

/// Runs `script` in the page and returns what it returns.
async fn run(session: &Session, script: &str) -> Value {
    session.execute(script, vec![]).await.unwrap_or_else(|e| panic!("run {script:?}: {e}"))
}

async fn text_of(session: &Session, css: &str) -> String {
    session.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find {css}: {e}")).text().await.expect("its text")
}

async fn click(session: &Session, css: &str) {
    let element = wait_for(session, css).await;
    element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Sets the control `css` to `value` by typing, as a person would (clearing it first).
async fn type_into(session: &Session, css: &str, value: &str) {
    let element = wait_for(session, css).await;
    element.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    element.send_keys(value).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// The page's console errors, except the refusals the test provoked on purpose: `expected` lists them as (part
/// of the address, status); the browser reports each as a failed load. Any other failed load counts.
async fn unexpected_errors(session: &Session, expected: &[(&str, u16)]) -> Vec<String> {
    console_errors(session)
        .await
        .into_iter()
        .filter(|error| {
            !expected.iter().any(|(address, status)| {
                error.starts_with("network:")
                    && error.contains(address)
                    && error.contains(&format!("status of {status}"))
            })
        })
        .collect()
}

/// Waits until the order on the page shows exactly `status` (not merely a status containing the word).
async fn wait_for_order_status(session: &Session, status: &str) {
    let what = format!("the order's status to read exactly {status:?}");
    crate::harness::poll_until(&what, crate::browser::WAIT_TIMEOUT, || async {
        let shown = run(session, "return document.querySelector('#order-summary .badge')?.textContent ?? null").await;
        if shown == json!(status) {
            Ok(())
        } else {
            Err(format!("shows {shown}"))
        }
    })
    .await;
}

/// The names of the pages in the navigation.
async fn nav_pages(session: &Session) -> Vec<String> {
    let names = run(session, "return [...document.querySelectorAll('#nav a')].map((a) => a.textContent)").await;
    serde_json::from_value(names).expect("a list of names")
}

async fn place_order(base: &str, sku: &str, quantity: u64) -> Value {
    let order = json!({ "customer_id": "cus-console", "lines": [{ "sku": sku, "quantity": quantity }] });
    post_expect(&format!("{base}/v1/orders"), &order, 201).await.body
}

#[tokio::test]
async fn each_role_signs_in_and_sees_and_does_only_what_it_may() {
    let console = Console::start().await;
    let expected: [(&str, &[&str]); 5] = [
        ("storefront", &["Orders"]),
        ("operations", &["Overview", "Orders", "Inventory", "Analytics"]),
        ("analyst", &["Overview", "Orders", "Inventory", "Analytics"]),
        ("auditor", &["Overview", "Orders", "Inventory", "Analytics", "Audit"]),
        ("admin", &["Overview", "Orders", "Inventory", "Analytics", "Audit", "Keys", "Webhooks"]),
    ];
    let order = place_order(&console.base, SKUS[0], 1).await;
    let order_id = order["order_id"].as_str().expect("an order id");
    for (role, pages) in expected {
        let session = console.signed_in(role, DESKTOP).await;
        assert_eq!(nav_pages(&session).await, pages, "the pages of {role}");
        // The key is in the tab's storage only: not in the address, not in a cookie.
        let url = session.current_url().await.expect("the address").to_string();
        assert!(!url.contains(&console.keys[role]), "the key is in the address {url}");
        assert_eq!(run(&session, "return document.cookie").await, json!(""));

        // A page the role may not use, opened by its address, says so and shows none of it.
        if !pages.contains(&"Audit") {
            session.goto(&format!("{}/#/audit", console.base)).await.unwrap();
            wait_for_text(&session, "main h1", "Not for this role").await;
            assert!(session.find(Locator::Css("#verify")).await.is_err(), "{role} sees the verification form");
        }
        // The actions on an order follow the role's accesses.
        console.open(&session, &format!("orders/{order_id}")).await;
        let actions =
            run(&session, "return [...document.querySelectorAll('form[id^=action-]')].map((f) => f.id)").await;
        let actions: Vec<String> = serde_json::from_value(actions).unwrap();
        let wanted: &[&str] = match role {
            "storefront" => &["action-pay", "action-cancel"],
            "operations" | "admin" => {
                &["action-pay", "action-ship", "action-deliver", "action-cancel", "action-return", "action-refund"]
            }
            _ => &[],
        };
        assert_eq!(actions, wanted, "the actions {role} is offered");
        // The history with who did what is the auditors' (and admins'); the others see the milestones.
        let has_history = session.find(Locator::Css("#order-history")).await.is_ok();
        assert_eq!(has_history, ["auditor", "admin"].contains(&role), "{role} and the order's history");
        if role == "storefront" {
            console.open(&session, "orders").await;
            assert!(session.find(Locator::Css("#place-order")).await.is_ok(), "a storefront may place orders");
            assert!(session.find(Locator::Css("table")).await.is_err(), "a storefront may not list orders");
        }
        if role == "analyst" {
            console.open(&session, "inventory").await;
            assert!(session.find(Locator::Css("#receive-stock")).await.is_err(), "an analyst may not receive stock");
            // Nor can the analyst do it by hand from the page: the server refuses the key.
            let status = session
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     fetch('/v1/inventory/CONSOLE-TEE/receipts', { method: 'POST', headers: {
                       'Authorization': 'Bearer ' + sessionStorage.getItem('tally.console.key'),
                       'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
                       body: JSON.stringify({ quantity: 1 }) }).then((r) => done(r.status));",
                    vec![],
                )
                .await
                .expect("a request from the page");
            assert_eq!(status, json!(403));
        }
        let provoked = [("/receipts", 403)]; // the analyst's request by hand, above
        assert_eq!(unexpected_errors(&session, &provoked).await, Vec::<String>::new(), "errors in {role}'s pages");
        // Signing out forgets the key.
        click(&session, "#session button").await;
        wait_for(&session, "#api-key").await;
        assert_eq!(run(&session, "return sessionStorage.length").await, json!(0));
        session.close().await;
    }

    // A key that is not one is refused in words, and nothing is kept.
    let session = console.driver.session(DESKTOP.0, DESKTOP.1).await;
    session.goto(&console.base).await.unwrap();
    type_into(&session, "#api-key", "tally_not-a-key-at-all").await;
    click(&session, "form button[type=submit]").await;
    wait_for_text(&session, "[role=alert]", "This key is not valid").await;
    assert_eq!(run(&session, "return sessionStorage.length").await, json!(0));
    session.close().await;
}

#[tokio::test]
async fn an_operator_places_pays_and_ships_an_order_through_the_pages_on_a_phone() {
    let console = Console::start().await;
    let session = console.signed_in("operations", PHONE).await;
    console.open(&session, "orders").await;

    type_into(&session, "#place-order input[name=customer_id]", "cus-phone").await;
    type_into(&session, "#place-order input[name=sku]", SKUS[1]).await;
    type_into(&session, "#place-order input[name=quantity]", "2").await;
    click(&session, "#place-order button[type=submit]").await;
    wait_for_order_status(&session, "confirmed").await;
    let order_id = run(&session, "return location.hash.split('/')[2].split('?')[0]").await;
    let order_id = order_id.as_str().expect("the order's id in the address").to_owned();

    // Pay: the amount is filled in with what is outstanding.
    click(&session, "#action-pay button[type=submit]").await;
    wait_for_order_status(&session, "paid").await;
    wait_for_text(&session, ".notice.ok", "Pay: done.").await;

    // Ship one of the two units, then the rest.
    type_into(&session, &format!("#action-ship input[name='line:{}']", SKUS[1]), "1").await;
    type_into(&session, "#action-ship input[name=carrier]", "dhl").await;
    click(&session, "#action-ship button[type=submit]").await;
    wait_for_order_status(&session, "partially shipped").await;
    click(&session, "#action-ship button[type=submit]").await;
    wait_for_order_status(&session, "shipped").await;
    let (_, order) = get_json(&format!("{}/v1/orders/{order_id}", console.base)).await;
    assert_eq!(order["status"], "shipped", "{order}");
    assert_eq!(order["lines"][0]["shipped"], 2, "{order}");

    // A refusal is shown in words: a shipped order cannot be cancelled.
    click(&session, "#action-cancel button[type=submit]").await;
    let refusal = wait_for_text(&session, "[role=alert]", "Cancel:").await.text().await.unwrap();
    assert!(refusal.contains("Not possible now") && refusal.contains("shipped"), "the refusal reads: {refusal}");
    wait_until_caught_up(&console.base, Duration::from_secs(30)).await;
    let (_, order) = get_json(&format!("{}/v1/orders/{order_id}", console.base)).await;
    assert_eq!(order["status"], "shipped", "a refused cancellation changed the order: {order}");

    // Acting on a page made stale by someone else is refused, not applied.
    post_expect(&format!("{}/v1/orders/{order_id}/delivery", console.base), &json!({}), 201).await;
    click(&session, "#action-refund button[type=submit]").await;
    wait_for_text(&session, "[role=alert]", "changed since the page was loaded").await;
    wait_until_caught_up(&console.base, Duration::from_secs(30)).await;
    let (_, order) = get_json(&format!("{}/v1/orders/{order_id}", console.base)).await;
    assert_eq!(order["refunded"]["amount"], 0, "a stale refund was applied: {order}");

    // The catalog and the stock: register a product, receive it, and find it on its page.
    console.open(&session, "inventory/catalog").await;
    type_into(&session, "#register-product input[name=sku]", "CONSOLE-MUG").await;
    type_into(&session, "#register-product input[name=name]", "Mug").await;
    type_into(&session, "#register-product input[name=amount]", "7.50").await;
    click(&session, "#register-product button[type=submit]").await;
    wait_for_text(&session, "[role=status]", "Registered CONSOLE-MUG.").await;
    wait_for_text(&session, "main table", "€7.50").await;
    console.open(&session, "inventory").await;
    type_into(&session, "#receive-stock input[name=sku]", "CONSOLE-MUG").await;
    type_into(&session, "#receive-stock input[name=quantity]", "12").await;
    type_into(&session, "#receive-stock input[name=location]", "backroom").await;
    click(&session, "#receive-stock button[type=submit]").await;
    wait_for_text(&session, "#sku-levels", "12").await;
    wait_for_text(&session, "main table", "backroom").await;
    let (_, stock) = get_json(&format!("{}/v1/inventory/CONSOLE-MUG", console.base)).await;
    assert_eq!(stock["locations"][0]["location"], "backroom", "{stock}");
    assert_eq!(stock["on_hand"], 12, "{stock}");
    let provoked = [("/cancellation", 409), ("/refunds", 412)];
    assert_eq!(unexpected_errors(&session, &provoked).await, Vec::<String>::new());
    session.close().await;
}

#[tokio::test]
async fn the_overview_follows_the_log_live() {
    let console = Console::start().await;
    // An auditor's overview has the live tail; an operator's refreshes its figures as the log moves.
    let auditor = console.signed_in("auditor", DESKTOP).await;
    console.open(&auditor, "overview").await;
    let operator = console.signed_in("operations", PHONE).await;
    console.open(&operator, "overview").await;
    wait_for_text(&operator, "#today", "No sales recorded today yet").await;

    let order = place_order(&console.base, SKUS[0], 2).await;
    let order_id = order["order_id"].as_str().unwrap();
    // The tail shows the order's events within moments, linked to the order.
    wait_for(&auditor, &format!("#live-events a[href='#/orders/{order_id}']")).await;
    wait_for_text(&auditor, "#live-events", "OrderPlaced").await;
    // Both overviews count it, without a reload.
    for session in [&auditor, &operator] {
        wait_for_text(session, "#today [data-figure=orders]", "1").await;
        wait_for_text(session, "#order-statuses", "confirmed").await;
        wait_for(session, "#hourly-chart canvas").await;
    }
    let head = wait_until_caught_up(&console.base, Duration::from_secs(30)).await;
    wait_for_text(&operator, "#updated", &format!("position {head}")).await;
    // Low stock: CONSOLE-TEE has 3 received, 2 reserved: 1 available.
    wait_for_text(&operator, "#low-stock", SKUS[0]).await;
    for session in [&auditor, &operator] {
        assert_eq!(unexpected_errors(session, &[]).await, Vec::<String>::new());
    }
    // Opened again and again, the overview still appears: each live tail ends with its page (a browser holds six
    // connections to a server; tails left open made the seventh load wait a minute).
    for load in 0..8 {
        auditor.goto(&format!("{}/?load={load}#/overview", console.base)).await.unwrap();
        wait_for(&auditor, "main[data-ready='overview']").await;
    }
    auditor.close().await;
    operator.close().await;
}

#[tokio::test]
async fn an_auditor_verifies_records_and_checks_a_digest_reads_the_past_and_exports() {
    let console = Console::start().await;
    let order = place_order(&console.base, SKUS[0], 1).await;
    let order_id = order["order_id"].as_str().unwrap();
    let session = console.signed_in("auditor", DESKTOP).await;
    console.open(&session, "audit").await;

    click(&session, "#verify button[type=submit]").await;
    let result = wait_for_text(&session, "#verification-result", "Intact").await.text().await.unwrap();
    assert!(result.contains("every hash chain holds"), "{result}");

    click(&session, "#record-digest button").await;
    wait_for_text(&session, "[role=status]", "Recorded digest 1").await;
    click(&session, "button[data-digest='1']").await;
    wait_for_text(&session, "[role=status]", "Digest 1: the store still matches it").await;

    // The order as it stood at its first version: placed, not yet confirmed.
    type_into(&session, "#point-in-time input[name=id]", order_id).await;
    type_into(&session, "#point-in-time input[name=at_version]", "0").await;
    click(&session, "#point-in-time button[type=submit]").await;
    wait_for_text(&session, "#point-in-time-result pre", "\"status\": \"pending\"").await;

    // The global log, filtered to the order's stream, then exported.
    type_into(&session, "#log-filters input[name=stream_prefix]", &format!("order-{order_id}")).await;
    click(&session, "#log-filters button[type=submit]").await;
    wait_for_text(&session, "main table", "OrderPlaced").await;
    click(&session, "form[data-export=jsonl] button").await;
    let export = session.wait_for_download("jsonl", Duration::from_secs(30)).await;
    let lines: Vec<Value> = std::fs::read_to_string(&export)
        .expect("read the export")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(!lines.is_empty(), "an empty export");
    assert!(
        lines.iter().all(|event| event["stream_id"] == format!("order-{order_id}")),
        "the export ignored the filter: {lines:?}"
    );
    assert_eq!(lines[0]["event_type"], "OrderPlaced");
    assert_eq!(unexpected_errors(&session, &[]).await, Vec::<String>::new());
    session.close().await;
}

#[tokio::test]
async fn an_analyst_sees_sales_and_lost_demand_and_downloads_them_as_csv() {
    let console = Console::start().await;
    place_order(&console.base, SKUS[0], 2).await;
    // More than there is: rejected, and counted as lost demand.
    let rejected = json!({ "customer_id": "cus-late", "lines": [{ "sku": SKUS[1], "quantity": 50 }] });
    post_expect(&format!("{}/v1/orders", console.base), &rejected, 409).await;
    wait_until_caught_up(&console.base, Duration::from_secs(30)).await;

    let session = console.signed_in("analyst", DESKTOP).await;
    console.open(&session, "analytics").await;
    wait_for_text(&session, "main", SKUS[1]).await;
    let lost = text_of(&session, "#lost-title + div table").await;
    assert!(lost.contains(SKUS[1]) && lost.contains("50"), "lost demand reads: {lost}");
    // The chart is drawn (a canvas) with a text alternative naming today's figure.
    wait_for(&session, "#sales-chart canvas").await;
    let label = run(&session, "return document.getElementById('sales-chart').getAttribute('aria-label')").await;
    assert!(label.as_str().unwrap_or_default().contains("€10.00"), "the chart's text alternative: {label}");

    click(&session, "button[data-csv=sales]").await;
    let csv = std::fs::read_to_string(session.wait_for_download(".csv", Duration::from_secs(30)).await).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap_or_default().starts_with("day,sku,currency,orders"), "the CSV's header: {csv}");
    assert!(lines.next().unwrap_or_default().contains(",EUR,1,"), "today's row: {csv}");
    assert_eq!(unexpected_errors(&session, &[]).await, Vec::<String>::new());
    session.close().await;
}

#[tokio::test]
async fn an_admin_issues_and_revokes_a_key_and_pauses_and_resumes_a_webhook_through_the_pages() {
    let console = Console::start().await;
    let admin = console.signed_in("admin", DESKTOP).await;
    console.open(&admin, "keys").await;
    type_into(&admin, "#create-key input[name=name]", "night shift").await;
    wait_for(&admin, "#create-key select[name=role]").await.select_by_value("analyst").await.unwrap();
    click(&admin, "#create-key button[type=submit]").await;
    let secret = wait_for(&admin, "input[data-secret]").await.prop("value").await.unwrap().expect("the new key");
    assert!(secret.starts_with("tally_"), "the secret shown: {secret}");
    wait_for_text(&admin, "main table", "night shift").await;

    // The new key signs in, as an analyst.
    let analyst = console.driver.session(PHONE.0, PHONE.1).await;
    analyst.goto(&console.base).await.unwrap();
    type_into(&analyst, "#api-key", &secret).await;
    click(&analyst, "form button[type=submit]").await;
    wait_for_text(&analyst, "#who", "analyst").await;

    // Revoked from the admin's page, it is refused at the analyst's next step, which signs the analyst out.
    click(&admin, "form[aria-label='Revoke night shift'] input[type=checkbox]").await;
    click(&admin, "form[aria-label='Revoke night shift'] button").await;
    wait_for_text(&admin, "[role=status]", "Revoked night shift.").await;
    crate::harness::poll_until("the revoked key to be refused", Duration::from_secs(10), || async {
        analyst.goto(&format!("{}/?load={}#/orders", console.base, load_id())).await.map_err(|e| e.to_string())?;
        match analyst.find(Locator::Css("#api-key")).await {
            Ok(_) => Ok(()),
            Err(_) => Err("still signed in".to_owned()),
        }
    })
    .await;
    wait_for_text(&analyst, "[role=status]", "no longer accepts this key").await;
    assert_eq!(run(&analyst, "return sessionStorage.length").await, json!(0));
    analyst.close().await;

    // A webhook subscribed through the page: its secret shown once; paused with a reason, then resumed.
    console.open(&admin, "webhooks").await;
    type_into(&admin, "#create-webhook input[name=url]", "http://127.0.0.1:9/hooks").await;
    type_into(&admin, "#create-webhook input[name=event_types]", "OrderPlaced, OrderShipped").await;
    click(&admin, "#create-webhook button[type=submit]").await;
    let secret = wait_for(&admin, "input[data-secret]").await.prop("value").await.unwrap().expect("its secret");
    assert!(secret.starts_with("whsec_"), "the secret shown: {secret}");
    click(&admin, "#webhook-outcome a").await;
    wait_for(&admin, "#webhook-pause").await;
    let path = run(&admin, "return location.hash.slice(2)").await;
    let path = path.as_str().expect("the webhook's page").to_owned();
    // Paused meanwhile by someone else: this page's pause is refused, not applied over it.
    let url = format!("{}/v1/{path}/pause", console.base);
    post_expect(&url, &json!({ "reason": "maintenance elsewhere" }), 200).await;
    type_into(&admin, "#webhook-pause input[name=reason]", "receiver moving").await;
    click(&admin, "#webhook-pause button[type=submit]").await;
    wait_for_text(&admin, "[role=alert]", "changed since the page was loaded").await;
    // Opened again (a new document: the same address would not reload it), the page shows the pause.
    admin.goto(&format!("{}/?load={}#/{path}", console.base, load_id())).await.unwrap();
    wait_for_text(&admin, "main", "Paused: maintenance elsewhere").await;
    click(&admin, "#webhook-resume button[type=submit]").await;
    wait_for(&admin, "#webhook-pause").await;
    type_into(&admin, "#webhook-pause input[name=reason]", "receiver moving").await;
    click(&admin, "#webhook-pause button[type=submit]").await;
    wait_for_text(&admin, "main", "Paused: receiver moving").await;
    click(&admin, "#webhook-resume button[type=submit]").await;
    wait_for(&admin, "#webhook-pause").await;
    let (_, hooks) = get_json(&format!("{}/v1/webhooks", console.base)).await;
    assert_eq!(hooks["items"][0]["status"], "active", "{hooks}");
    assert_eq!(hooks["items"][0]["event_types"], json!(["OrderPlaced", "OrderShipped"]), "{hooks}");
    assert_eq!(unexpected_errors(&admin, &[("/pause", 412)]).await, Vec::<String>::new());
    admin.close().await;
}

/// A different query string each time: a new document, as a person opening the console again gets.
fn load_id() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn a_list_pages_forwards_and_back_and_keeps_the_keyboard_on_the_pager() {
    let console = Console::start().await;
    // 27 orders: a page of 25 and a page of 2.
    let receipt = json!({ "quantity": 30 });
    post_expect(&format!("{}/v1/inventory/{}/receipts", console.base, SKUS[0]), &receipt, 201).await;
    for _ in 0..27 {
        place_order(&console.base, SKUS[0], 1).await;
    }
    wait_until_caught_up(&console.base, Duration::from_secs(30)).await;
    let session = console.signed_in("analyst", DESKTOP).await;
    console.open(&session, "orders").await;
    let rows = "return document.querySelectorAll('.paged tbody tr').length";
    assert_eq!(run(&session, rows).await, json!(25));
    click(&session, ".pager button:nth-of-type(2)").await; // Next page
    wait_for_text(&session, ".pager [role=status]", "Page 2").await;
    assert_eq!(run(&session, rows).await, json!(2));
    // "Next" ran out: the keyboard is on "Previous", which goes back.
    let focused = run(&session, "return document.activeElement.textContent").await;
    assert_eq!(focused, json!("Previous page"));
    let previous = session.active_element().await.unwrap();
    previous.send_keys("\u{e007}").await.unwrap();
    wait_for_text(&session, ".pager [role=status]", "Page 1").await;
    assert_eq!(run(&session, rows).await, json!(25));
    assert_eq!(unexpected_errors(&session, &[]).await, Vec::<String>::new());
    session.close().await;
}

/// Every page at both widths: drawn with its data, no console error or CSP violation, every control labelled,
/// nothing wider than the screen; a screenshot of each.
#[tokio::test]
async fn every_page_at_390_and_1440_pixels_is_labelled_fits_and_has_no_errors() {
    let console = Console::start().await;
    let order = place_order(&console.base, SKUS[0], 2).await;
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/orders/{order_id}/payments", console.base);
    post_expect(&url, &json!({ "amount": 1000, "currency": "EUR", "reference": "psp-1" }), 201).await;
    // Nothing listens there: the page shows a failing subscription.
    let webhook = json!({ "url": "http://127.0.0.1:9/hooks", "event_types": ["OrderPlaced"] });
    let webhook = post_expect(&format!("{}/v1/webhooks", console.base), &webhook, 201).await.body;
    // Hostile text in the data is shown as text: no element, no script.
    let hostile = json!({ "sku": "CONSOLE-XSS", "name": "<img src=x id=injected onerror=\"document.title='owned'\">",
                          "price": { "amount": 100, "currency": "EUR" } });
    post_expect(&format!("{}/v1/products", console.base), &hostile, 201).await;
    wait_until_caught_up(&console.base, Duration::from_secs(30)).await;
    let pages = [
        ("overview", "overview".to_owned()),
        ("orders", "orders".to_owned()),
        ("order", format!("orders/{order_id}")),
        ("inventory", "inventory".to_owned()),
        ("sku", format!("inventory/{}", SKUS[0])),
        ("catalog", "inventory/catalog".to_owned()),
        ("analytics", "analytics".to_owned()),
        ("audit", "audit".to_owned()),
        ("keys", "keys".to_owned()),
        ("webhooks", "webhooks".to_owned()),
        ("webhook", format!("webhooks/{}", webhook["id"].as_str().unwrap())),
    ];
    for size in [PHONE, DESKTOP] {
        let signin = console.driver.session(size.0, size.1).await;
        signin.goto(&console.base).await.unwrap();
        wait_for(&signin, "#api-key").await;
        screenshot(&signin, "signin").await;
        signin.close().await;

        let session = console.signed_in("admin", size).await;
        for (name, path) in &pages {
            console.open(&session, path).await;
            // Charts are drawn after the page's tables.
            if ["overview", "analytics"].contains(name) {
                wait_for(&session, ".chart canvas").await;
            }
            let unlabelled = run(
                &session,
                "return [...document.querySelectorAll('input, select, textarea')]
                   .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.outerHTML)",
            )
            .await;
            assert_eq!(unlabelled, json!([]), "controls without a label on {name} at {}px", size.0);
            // Wider content would widen a phone's layout viewport (and shrink the text) or scroll the page sideways;
            // wide tables scroll inside their own box instead.
            let widths = run(&session, "return [window.innerWidth, document.documentElement.scrollWidth]").await;
            let fits = widths[0] == size.0 && widths[1].as_u64() <= Some(u64::from(size.0));
            assert!(fits, "{name} does not fit a {}px screen: viewport and page {widths}", size.0);
            if *name == "catalog" {
                wait_for_text(&session, "main table", "<img src=x id=injected").await;
                assert!(session.find(Locator::Css("#injected")).await.is_err(), "a product's name became an element");
                assert_ne!(session.title().await.unwrap(), "owned");
            }
            screenshot(&session, name).await;
            let errors = unexpected_errors(&session, &[]).await;
            assert_eq!(errors, Vec::<String>::new(), "errors on {name} at {}px", size.0);
        }
        session.close().await;
    }
}

/// What the console's answers say to the browser: a strict policy, no framing, no sniffing; and the API refuses a
/// forged request, which can carry no key (there is no cookie to ride on).
#[tokio::test]
async fn the_console_is_served_under_a_strict_policy_and_a_forged_request_is_refused() {
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    let client = reqwest::Client::new();
    for path in ["/", "/console/app.js", "/console/pages/orders.js", "/console/console.css"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let policy = header("content-security-policy").unwrap_or_default();
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert!(header("set-cookie").is_none(), "{path} sets a cookie");
        // Unchanged files cost a 304.
        let etag = header("etag").expect("an ETag");
        let again = client.get(format!("{base}{path}")).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // A cross-site form or script posting to the API has no key to send: refused, nothing appended.
    let forged = client
        .post(format!("{base}/v1/orders"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("customer_id=x")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // No CORS: a page elsewhere may not read the API's answers or send it the key.
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/v1/orders"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "the API allows another origin");
    let missing = client.get(format!("{base}/console/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
}
