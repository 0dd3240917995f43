//! Pricing an order from the catalog: the unit price of every requested line comes from the product's state.

use super::{CatalogError, Product, ProductStatus};
use crate::order::OrderLine;
use crate::values::{Quantity, Sku};

/// Prices the requested `(sku, quantity)` lines, in their order, with the current catalog prices.
///
/// `lookup` gives the product state of a SKU (`None`, or [`Product::Unregistered`], for a product that does not
/// exist). Refuses an unknown product, a discontinued product, and lines whose prices are in different currencies
/// (an order has one currency). Whether the lines are acceptable as an order (at least one, no duplicate SKU) is
/// the order's rule, checked when it is placed.
pub fn price_lines<'a, F>(requested: &[(Sku, Quantity)], mut lookup: F) -> Result<Vec<OrderLine>, CatalogError>
where
    F: FnMut(&Sku) -> Option<&'a Product>,
{
    let mut lines: Vec<OrderLine> = Vec::with_capacity(requested.len());
    for (sku, quantity) in requested {
        let Some(details) = lookup(sku).and_then(Product::details) else {
            return Err(CatalogError::UnknownProduct { sku: sku.clone() });
        };
        if details.status() == ProductStatus::Discontinued {
            return Err(CatalogError::Discontinued { sku: sku.clone() });
        }
        let unit_price = details.price();
        if let Some(first) = lines.first() {
            let expected = first.unit_price.currency();
            if unit_price.currency() != expected {
                return Err(CatalogError::MixedCurrencies { sku: sku.clone(), expected, found: unit_price.currency() });
            }
        }
        lines.push(OrderLine { sku: sku.clone(), quantity: *quantity, unit_price });
    }
    Ok(lines)
}
