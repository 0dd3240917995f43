//! The catalog's decider: every rule about registering, repricing and discontinuing a product.

use super::PRODUCT_NAME_MAX_CHARS;
use super::{CatalogError, Product, ProductCommand, ProductDetails, ProductEvent, ProductStatus};
use crate::values::{Money, Sku};

/// Accepts a catalog command with the events it causes, or refuses it with the rule it breaks.
pub fn decide(state: &Product, command: ProductCommand) -> Result<Vec<ProductEvent>, CatalogError> {
    match command {
        ProductCommand::RegisterProduct { sku, name, price } => register(state, sku, &name, price),
        ProductCommand::RepriceProduct { price } => reprice(active(state)?, price),
        ProductCommand::DiscontinueProduct => {
            active(state)?;
            Ok(vec![ProductEvent::ProductDiscontinued {}])
        }
    }
}

fn register(state: &Product, sku: Sku, name: &str, price: Money) -> Result<Vec<ProductEvent>, CatalogError> {
    if let Product::Registered(details) = state {
        return Err(CatalogError::AlreadyRegistered { sku: details.sku.clone() });
    }
    let name = valid_name(name)?;
    valid_price(price)?;
    Ok(vec![ProductEvent::ProductRegistered { sku, name, price }])
}

fn reprice(product: &ProductDetails, price: Money) -> Result<Vec<ProductEvent>, CatalogError> {
    if price.currency() != product.price.currency() {
        return Err(CatalogError::CurrencyChange { current: product.price.currency(), requested: price.currency() });
    }
    valid_price(price)?;
    if price == product.price {
        return Ok(Vec::new());
    }
    Ok(vec![ProductEvent::ProductRepriced { previous_price: product.price, price }])
}

/// The product's details if it is registered and still active.
fn active(state: &Product) -> Result<&ProductDetails, CatalogError> {
    match state {
        Product::Unregistered => Err(CatalogError::NotRegistered),
        Product::Registered(details) if details.status == ProductStatus::Discontinued => {
            Err(CatalogError::Discontinued { sku: details.sku.clone() })
        }
        Product::Registered(details) => Ok(details),
    }
}

/// A price from zero to [`Money::MAX_PRICE`] minor units.
fn valid_price(price: Money) -> Result<(), CatalogError> {
    if price.is_negative() {
        return Err(CatalogError::NegativePrice);
    }
    if price.minor() > Money::MAX_PRICE {
        return Err(CatalogError::PriceTooHigh { max: Money::MAX_PRICE });
    }
    Ok(())
}

/// The name trimmed, if it is not empty, not too long and free of control characters (NUL among them).
fn valid_name(name: &str) -> Result<String, CatalogError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CatalogError::EmptyName);
    }
    if name.chars().count() > PRODUCT_NAME_MAX_CHARS {
        return Err(CatalogError::NameTooLong { max: PRODUCT_NAME_MAX_CHARS });
    }
    if name.chars().any(char::is_control) {
        return Err(CatalogError::ControlCharacterInName);
    }
    Ok(name.to_owned())
}
