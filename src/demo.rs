//! Demo data for `tally serve --demo`: a small catalog with stock in two locations and a few orders in different
//! states, so a new user has something to query. Added through the command side like any other command, and only
//! into an empty event store (a restart never adds it twice).

use anyhow::{Context, Result};
use tally_commands::{CommandContext, Commands, PlaceOrder, Placement};
use tally_domain::order::ItemLine;
use tally_domain::{Currency, CustomerId, LocationId, Money, Quantity, Sku};

/// (sku, name, price in cents, units in "main", units in "backroom")
const CATALOG: [(&str, &str, i64, u32, u32); 5] = [
    ("TEE-RED-M", "Red tee, M", 1999, 100, 20),
    ("TEE-RED-L", "Red tee, L", 1999, 60, 0),
    ("HOODIE-GREY-M", "Grey hoodie, M", 4999, 25, 10),
    ("CAP-BLACK", "Black cap", 1499, 40, 0),
    ("MUG-LOGO", "Logo mug", 999, 5, 0),
];

/// Seeds the demo data unless the store already holds events. Returns whether it seeded.
pub async fn seed(commands: &Commands) -> Result<bool> {
    if commands.store().head_position().await? > 0 {
        tracing::info!("the event store already holds events: no demo data added");
        return Ok(false);
    }
    let context = CommandContext::new("demo");
    let eur = Currency::parse("EUR")?;
    for (sku, name, cents, main, backroom) in CATALOG {
        let sku = Sku::parse(sku)?;
        commands.register_product(&context, sku.clone(), name.to_owned(), Money::new(cents, eur)).await?;
        for (location, units) in [("main", main), ("backroom", backroom)] {
            if let Ok(quantity) = Quantity::new(units) {
                let location = LocationId::parse(location)?;
                commands.receive_stock(&context, &sku, location, quantity, "PO-DEMO-1".to_owned(), None).await?;
            }
        }
    }

    let paid_and_shipped = place(commands, &context, "cus-ada", &[("TEE-RED-M", 2), ("CAP-BLACK", 1)]).await?;
    let order = confirmed(paid_and_shipped)?;
    let total = order.state.placed().context("a placed order")?.total();
    commands.capture_payment(&context, order_id(&order)?, total, "psp_demo_1".to_owned(), None).await?;
    commands.ship(&context, order_id(&order)?, Vec::new(), "dhl".to_owned(), "1ZDEMO1".to_owned(), None).await?;

    let awaiting_payment = place(commands, &context, "cus-grace", &[("HOODIE-GREY-M", 1)]).await?;
    confirmed(awaiting_payment)?;

    // More mugs than there are: rejected, and visible as lost demand.
    place(commands, &context, "cus-linus", &[("MUG-LOGO", 8)]).await?;
    tracing::info!(products = CATALOG.len(), "demo data added");
    Ok(true)
}

async fn place(
    commands: &Commands,
    context: &CommandContext,
    customer: &str,
    lines: &[(&str, u32)],
) -> Result<Placement> {
    let lines = lines
        .iter()
        .map(|(sku, quantity)| Ok(ItemLine { sku: Sku::parse(sku)?, quantity: Quantity::new(*quantity)? }))
        .collect::<Result<Vec<_>>>()?;
    let request = PlaceOrder { order_id: None, customer_id: CustomerId::parse(customer)?, lines };
    Ok(commands.place_order(context, request).await?)
}

fn confirmed(placement: Placement) -> Result<tally_commands::OrderOutcome> {
    match placement {
        Placement::Confirmed(outcome) => Ok(outcome),
        Placement::Rejected { order_id, .. } => anyhow::bail!("demo order {order_id} was rejected"),
    }
}

fn order_id(outcome: &tally_commands::OrderOutcome) -> Result<tally_domain::OrderId> {
    Ok(outcome.state.placed().context("a placed order")?.order_id())
}

/// Issues one key per role on the first start (when no key was ever issued), prints them and writes them to
/// `keys_file` (`TALLY_<ROLE>_KEY=...`, readable by the owner only) for the README's tour and the console's sign
/// in. A later start prints them again from the file. The file holds secrets: it is for a demo on one's own
/// machine, never for a deployment.
pub async fn issue_keys(state: &tally_api::AppState, keys_file: &std::path::Path) -> Result<()> {
    if !state.keys.is_empty().await? {
        match std::fs::read_to_string(keys_file) {
            Ok(lines) => println!("demo API keys, one per role (from {}):\n{lines}", keys_file.display()),
            Err(_) => println!(
                "demo API keys were issued on an earlier start, but {} is gone: issue one with `tally keys create`",
                keys_file.display()
            ),
        }
        return Ok(());
    }
    let context = CommandContext::new("demo");
    let mut lines = String::new();
    for role in tally_domain::Role::ALL {
        let name = format!("demo {role}");
        let issued = tally_api::auth::issue::issue_key(&state.pool, &state.commands, &context, name, role).await?;
        lines.push_str(&format!("TALLY_{}_KEY={}\n", role.as_str().to_uppercase(), issued.secret));
    }
    write_private(keys_file, &lines).with_context(|| format!("write {}", keys_file.display()))?;
    println!("demo API keys, one per role (kept in {} for the README's tour):\n{lines}", keys_file.display());
    Ok(())
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}
