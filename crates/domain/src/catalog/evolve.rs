//! The catalog's evolve: applies a recorded product event to the product state. Checks nothing, never fails.

use super::{Product, ProductDetails, ProductEvent, ProductStatus};

/// Applies one recorded fact. An event that cannot follow the current state (which `decide` never produces) leaves
/// the state as it is.
pub fn evolve(state: Product, event: &ProductEvent) -> Product {
    match (state, event) {
        (Product::Unregistered, ProductEvent::ProductRegistered { sku, name, price }) => {
            Product::Registered(ProductDetails {
                sku: sku.clone(),
                name: name.clone(),
                price: *price,
                status: ProductStatus::Active,
            })
        }
        (Product::Registered(details), ProductEvent::ProductRepriced { price, .. }) => {
            Product::Registered(ProductDetails { price: *price, ..details })
        }
        (Product::Registered(details), ProductEvent::ProductDiscontinued {}) => {
            Product::Registered(ProductDetails { status: ProductStatus::Discontinued, ..details })
        }
        (state, _) => state,
    }
}
