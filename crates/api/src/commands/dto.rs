//! The command endpoints' JSON requests, and the checks that turn request fields into the domain's value types.
//! (Their answers are the resources' own types, `crate::resources`, the same as the GETs'.)
//!
//! These are separate types from the domain's (CONVENTIONS.md, "Domain"): the HTTP contract of DESIGN.md can stay
//! put while events and states evolve. Requests refuse unknown fields; numbers arrive as plain integers and are
//! checked here through the domain's constructors (`Sku::parse`, `Quantity::new`, `Currency::parse`, ...), so a
//! bad value is a 422 `validation` problem whose detail and `field` extension name the field.

use crate::extract;
use crate::openapi::schemas;
use crate::problem::{Problem, ProblemKind};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tally_domain::order::ItemLine;
use tally_domain::{Currency, LocationId, Money, Quantity, Sku, ValueError};
use utoipa::ToSchema;

/// The longest free text accepted (references, carriers, tracking numbers, reasons), in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 500;

/// A price in a request: `{"amount": 1999, "currency": "EUR"}`. Unknown fields are refused (422).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MoneyRequest)]
pub(crate) struct MoneyRequest {
    /// Integer minor units: a price is from 0 to 1,000,000,000 (else 422).
    #[schema(minimum = 0, maximum = 1000000000, example = 1999)]
    pub amount: i64,
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
}

/// Units of one SKU: `{"sku": "TEE-RED-M", "quantity": 2}`. Unknown fields are refused (422).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LineRequest)]
pub(crate) struct LineRequest {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    /// Units, 1 to 1,000,000 (else 422).
    #[schema(minimum = 1, maximum = 1000000, example = 2)]
    pub quantity: i64,
}

/// A 422 `validation` problem about `field`.
pub(crate) fn invalid(field: &str, detail: impl std::fmt::Display) -> Problem {
    Problem::new(ProblemKind::Validation, format!("{field}: {detail}")).with_extension("field", json!(field))
}

fn value<T>(field: &str, result: Result<T, ValueError>) -> Result<T, Problem> {
    result.map_err(|error| invalid(field, error))
}

pub(crate) fn sku(field: &str, text: &str) -> Result<Sku, Problem> {
    value(field, Sku::parse(text))
}

/// A location, `main` when absent.
pub(crate) fn location(field: &str, text: Option<&str>) -> Result<LocationId, Problem> {
    text.map_or_else(|| Ok(LocationId::main()), |text| value(field, LocationId::parse(text)))
}

/// A quantity from 1 to [`Quantity::MAX`] (1,000,000) units.
pub(crate) fn quantity(field: &str, units: i64) -> Result<Quantity, Problem> {
    let units = u64::try_from(units).map_err(|_| invalid(field, ValueError::ZeroQuantity))?;
    value(field, Quantity::bounded(units))
}

/// A price, from 0 to [`Money::MAX_PRICE`], from a `{"amount", "currency"}` object named `field`. (The catalog
/// holds the same rule; checking it here too makes a price out of bounds a 422 whatever `If-Match` says, as the
/// document's `MoneyRequest` promises.)
pub(crate) fn money(field: &str, money: &MoneyRequest) -> Result<Money, Problem> {
    let amount_field = format!("{field}.amount");
    let price = amount(&amount_field, money.amount, &format!("{field}.currency"), &money.currency)?;
    if price.minor() > Money::MAX_PRICE {
        return Err(invalid(&amount_field, format!("a price is at most {} minor units", Money::MAX_PRICE)));
    }
    Ok(price)
}

/// A payment or a refund: like [`amount`], and more than zero (the order holds the same rule; checked here too,
/// so a zero amount is a 422 whatever `If-Match` says).
pub(crate) fn positive_amount(
    amount_field: &str,
    amount: i64,
    currency_field: &str,
    currency: &str,
) -> Result<Money, Problem> {
    let money = self::amount(amount_field, amount, currency_field, currency)?;
    if !money.is_positive() {
        return Err(invalid(amount_field, "the amount must be positive"));
    }
    Ok(money)
}

/// An amount that is not negative and at most [`Money::MAX_AMOUNT`], from two fields (payments and refunds have
/// them at the top level). A price's own bound, [`Money::MAX_PRICE`], is the catalog's rule.
pub(crate) fn amount(amount_field: &str, amount: i64, currency_field: &str, currency: &str) -> Result<Money, Problem> {
    let currency = value(currency_field, Currency::parse(currency))?;
    if amount < 0 {
        return Err(invalid(amount_field, "the amount must not be negative"));
    }
    value(amount_field, Money::bounded(amount, currency))
}

/// Lines of `(sku, quantity)`, each checked; `field` names the list (`lines`).
pub(crate) fn lines(field: &str, lines: &[LineRequest]) -> Result<Vec<ItemLine>, Problem> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            Ok(ItemLine {
                sku: sku(&format!("{field}[{i}].sku"), &line.sku)?,
                quantity: quantity(&format!("{field}[{i}].quantity"), line.quantity)?,
            })
        })
        .collect()
}

/// Free text, at most [`MAX_TEXT_CHARS`] characters and no control characters; empty when absent.
pub(crate) fn text(field: &str, text: Option<String>) -> Result<String, Problem> {
    let text = text.unwrap_or_default();
    if text.chars().count() > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(invalid(field, format!("must be at most {MAX_TEXT_CHARS} characters, none of them control")));
    }
    Ok(text)
}

/// A JSON body that may also be left out entirely (`POST /v1/orders/{id}/delivery` with no body means `{}`), or
/// sent as JSON `null`, which means the same.
#[derive(Debug, Clone, Default)]
pub(crate) struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let is_json = extract::is_json(request.headers());
        let bytes = extract::body_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(extract::not_json());
        }
        // Malformed JSON is refused here, as every body's is (400).
        match extract::parse_json::<serde_json::Value>(&bytes)? {
            // JSON `null` says "no body" too (the document's schema for an optional body allows it).
            serde_json::Value::Null => Ok(OptionalJson(T::default())),
            // serde reads a struct from an array too (`[]` is a field-less struct): only an object is one here.
            serde_json::Value::Object(_) => extract::parse_json(&bytes).map(OptionalJson),
            _ => Err(invalid("body", "must be a JSON object (or null, or left out)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn bad_values_name_their_field() {
        let problem = quantity("lines[0].quantity", 0).unwrap_err();
        assert_eq!(problem.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem.detail.starts_with("lines[0].quantity: "), "{}", problem.detail);
        assert_eq!(problem.extensions["field"], "lines[0].quantity");
        assert!(quantity("quantity", -1).is_err());
        assert!(quantity("quantity", i64::from(u32::MAX) + 1).is_err());
        assert_eq!(quantity("quantity", 1_000_000).unwrap().get(), 1_000_000);
        assert_eq!(quantity("quantity", 1_000_001).unwrap_err().status, StatusCode::UNPROCESSABLE_ENTITY);
        let too_much = amount("amount", Money::MAX_AMOUNT + 1, "currency", "EUR").unwrap_err();
        assert_eq!(too_much.extensions["field"], "amount");
        assert!(sku("sku", "TEE RED").is_err());
        let bad_currency = money("price", &MoneyRequest { amount: 1, currency: "eur".into() }).unwrap_err();
        assert_eq!(bad_currency.extensions["field"], "price.currency");
        let negative = money("price", &MoneyRequest { amount: -1, currency: "EUR".into() }).unwrap_err();
        assert_eq!(negative.extensions["field"], "price.amount");
        assert!(text("reason", Some("x".repeat(MAX_TEXT_CHARS + 1))).is_err());
        assert_eq!(location("location", None).unwrap(), LocationId::main());
        let too_dear = money("price", &MoneyRequest { amount: Money::MAX_PRICE + 1, currency: "EUR".into() });
        assert_eq!(too_dear.unwrap_err().extensions["field"], "price.amount");
        assert_eq!(positive_amount("amount", 0, "currency", "EUR").unwrap_err().extensions["field"], "amount");
        assert_eq!(positive_amount("amount", 1, "currency", "EUR").unwrap().minor(), 1);
    }
}
