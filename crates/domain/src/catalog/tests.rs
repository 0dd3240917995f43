//! Given/when/then tests of every catalog rule, and of order-line pricing.

use super::*;
use crate::order::OrderLine;
use crate::testing::{self, Given};
use crate::values::{Currency, Money, Quantity, Sku};
use std::collections::BTreeMap;

fn given(events: &[ProductEvent]) -> Given<Product> {
    testing::given(events)
}

fn sku(code: &str) -> Sku {
    Sku::parse(code).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

fn register(name: &str, price: Money) -> ProductCommand {
    ProductCommand::RegisterProduct { sku: sku("TEE-RED-M"), name: name.to_owned(), price }
}

fn registered(price: Money) -> ProductEvent {
    ProductEvent::ProductRegistered { sku: sku("TEE-RED-M"), name: "Red tee, M".to_owned(), price }
}

fn reprice(price: Money) -> ProductCommand {
    ProductCommand::RepriceProduct { price }
}

#[test]
fn registering_a_new_product_records_it_active() {
    let state = given(&[]).when(register("Red tee, M", eur(1999))).then(&[registered(eur(1999))]);
    let details = state.details().unwrap();
    assert_eq!(details.sku(), &sku("TEE-RED-M"));
    assert_eq!(details.name(), "Red tee, M");
    assert_eq!(details.price(), eur(1999));
    assert_eq!(details.status(), ProductStatus::Active);
}

#[test]
fn registering_stores_the_name_trimmed() {
    given(&[]).when(register("  Red tee, M \n", eur(1999))).then(&[registered(eur(1999))]);
}

#[test]
fn a_price_is_bounded_on_registering_and_repricing() {
    given(&[]).when(register("Red tee, M", eur(Money::MAX_PRICE))).then(&[registered(eur(Money::MAX_PRICE))]);
    given(&[])
        .when(register("Red tee, M", eur(Money::MAX_PRICE + 1)))
        .then_err(|e| matches!(e, CatalogError::PriceTooHigh { max: 1_000_000_000 }));
    given(&[registered(eur(1999))])
        .when(reprice(eur(i64::MAX)))
        .then_err(|e| matches!(e, CatalogError::PriceTooHigh { .. }));
}

#[test]
fn a_name_with_a_nul_or_another_control_character_is_refused() {
    for name in ["Red\0tee", "Red\u{7}tee", "\0"] {
        given(&[]).when(register(name, eur(1999))).then_err(|e| matches!(e, CatalogError::ControlCharacterInName));
    }
}

#[test]
fn registering_for_free_is_allowed() {
    given(&[]).when(register("Red tee, M", eur(0))).then(&[registered(eur(0))]);
}

#[test]
fn a_product_is_registered_once() {
    given(&[registered(eur(1999))])
        .when(register("Red tee, M", eur(1999)))
        .then_err(|e| matches!(e, CatalogError::AlreadyRegistered { sku } if sku.as_str() == "TEE-RED-M"));
}

#[test]
fn a_discontinued_product_cannot_be_registered_again() {
    given(&[registered(eur(1999)), ProductEvent::ProductDiscontinued {}])
        .when(register("Red tee, M", eur(1999)))
        .then_err(|e| matches!(e, CatalogError::AlreadyRegistered { .. }));
}

#[test]
fn a_product_name_is_not_empty_once_trimmed() {
    given(&[]).when(register("", eur(1999))).then_err(|e| matches!(e, CatalogError::EmptyName));
    given(&[]).when(register(" \t ", eur(1999))).then_err(|e| matches!(e, CatalogError::EmptyName));
}

#[test]
fn a_product_name_has_at_most_200_characters() {
    let longest = "é".repeat(PRODUCT_NAME_MAX_CHARS);
    let expected = ProductEvent::ProductRegistered { sku: sku("TEE-RED-M"), name: longest.clone(), price: eur(1) };
    given(&[]).when(register(&longest, eur(1))).then(&[expected]);
    given(&[])
        .when(register(&"é".repeat(PRODUCT_NAME_MAX_CHARS + 1), eur(1)))
        .then_err(|e| matches!(e, CatalogError::NameTooLong { max: 200 }));
}

#[test]
fn a_price_is_not_negative() {
    given(&[]).when(register("Red tee, M", eur(-1))).then_err(|e| matches!(e, CatalogError::NegativePrice));
    given(&[registered(eur(1999))]).when(reprice(eur(-1))).then_err(|e| matches!(e, CatalogError::NegativePrice));
}

#[test]
fn repricing_records_the_previous_and_the_new_price() {
    let state = given(&[registered(eur(1999))])
        .when(reprice(eur(2499)))
        .then(&[ProductEvent::ProductRepriced { previous_price: eur(1999), price: eur(2499) }]);
    assert_eq!(state.details().unwrap().price(), eur(2499));
}

#[test]
fn repricing_to_the_current_price_records_nothing() {
    given(&[registered(eur(1999))]).when(reprice(eur(1999))).then_nothing();
}

#[test]
fn repricing_keeps_the_currency() {
    given(&[registered(eur(1999))]).when(reprice(usd(1999))).then_err(|e| {
        matches!(e, CatalogError::CurrencyChange { current, requested }
            if current.as_str() == "EUR" && requested.as_str() == "USD")
    });
}

#[test]
fn an_unregistered_product_cannot_be_repriced_or_discontinued() {
    given(&[]).when(reprice(eur(1))).then_err(|e| matches!(e, CatalogError::NotRegistered));
    given(&[]).when(ProductCommand::DiscontinueProduct).then_err(|e| matches!(e, CatalogError::NotRegistered));
}

#[test]
fn discontinuing_records_it_and_is_final() {
    let state = given(&[registered(eur(1999))])
        .when(ProductCommand::DiscontinueProduct)
        .then(&[ProductEvent::ProductDiscontinued {}]);
    assert_eq!(state.details().unwrap().status(), ProductStatus::Discontinued);
}

#[test]
fn a_discontinued_product_cannot_be_repriced_or_discontinued_again() {
    let history = [registered(eur(1999)), ProductEvent::ProductDiscontinued {}];
    given(&history).when(reprice(eur(1))).then_err(|e| matches!(e, CatalogError::Discontinued { .. }));
    given(&history)
        .when(ProductCommand::DiscontinueProduct)
        .then_err(|e| matches!(e, CatalogError::Discontinued { .. }));
}

#[test]
fn the_state_serializes_as_null_then_as_its_details() {
    assert_eq!(serde_json::to_value(Product::default()).unwrap(), serde_json::Value::Null);
    let state = given(&[registered(eur(1999))]).state().clone();
    assert_eq!(
        serde_json::to_value(state).unwrap(),
        serde_json::json!({"sku": "TEE-RED-M", "name": "Red tee, M",
            "price": {"amount": 1999, "currency": "EUR"}, "status": "active"})
    );
}

// Pricing.

fn catalog(products: &[(&str, &[ProductEvent])]) -> BTreeMap<Sku, Product> {
    products.iter().map(|(code, events)| (sku(code), <Product as Aggregate>::replay(*events))).collect()
}

fn product(code: &str, price: Money) -> ProductEvent {
    ProductEvent::ProductRegistered { sku: sku(code), name: code.to_owned(), price }
}

fn wanted(lines: &[(&str, u32)]) -> Vec<(Sku, Quantity)> {
    lines.iter().map(|(code, units)| (sku(code), Quantity::new(*units).unwrap())).collect()
}

#[test]
fn lines_are_priced_from_the_catalog_in_request_order() {
    let products = catalog(&[("A", &[product("A", eur(500))]), ("B", &[product("B", eur(250))])]);
    let lines = price_lines(&wanted(&[("B", 2), ("A", 1)]), |s| products.get(s)).unwrap();
    assert_eq!(
        lines,
        [
            OrderLine { sku: sku("B"), quantity: Quantity::new(2).unwrap(), unit_price: eur(250) },
            OrderLine { sku: sku("A"), quantity: Quantity::new(1).unwrap(), unit_price: eur(500) },
        ]
    );
}

#[test]
fn pricing_uses_the_latest_price() {
    let repriced =
        [product("A", eur(500)), ProductEvent::ProductRepriced { previous_price: eur(500), price: eur(450) }];
    let products = catalog(&[("A", &repriced)]);
    let lines = price_lines(&wanted(&[("A", 1)]), |s| products.get(s)).unwrap();
    assert_eq!(lines[0].unit_price, eur(450));
}

#[test]
fn pricing_an_unknown_product_is_refused() {
    let products = catalog(&[("A", &[product("A", eur(500))]), ("GHOST", &[])]);
    let result = price_lines(&wanted(&[("A", 1), ("NOPE", 1)]), |s| products.get(s));
    assert!(matches!(result, Err(CatalogError::UnknownProduct { sku }) if sku.as_str() == "NOPE"));
    let result = price_lines(&wanted(&[("GHOST", 1)]), |s| products.get(s));
    assert!(matches!(result, Err(CatalogError::UnknownProduct { sku }) if sku.as_str() == "GHOST"));
}

#[test]
fn pricing_a_discontinued_product_is_refused() {
    let products = catalog(&[("A", &[product("A", eur(500)), ProductEvent::ProductDiscontinued {}])]);
    let result = price_lines(&wanted(&[("A", 1)]), |s| products.get(s));
    assert!(matches!(result, Err(CatalogError::Discontinued { sku }) if sku.as_str() == "A"));
}

#[test]
fn priced_lines_share_one_currency() {
    let products = catalog(&[("A", &[product("A", eur(500))]), ("B", &[product("B", usd(500))])]);
    let result = price_lines(&wanted(&[("A", 1), ("B", 1)]), |s| products.get(s));
    assert!(matches!(result, Err(CatalogError::MixedCurrencies { sku, .. }) if sku.as_str() == "B"));
}
