//! The catalog: one `product` aggregate per SKU (stream `product-{sku}`), and order-line pricing from it.
//!
//! Rules (all in [`decide`]):
//! - a product is registered once, with a name (trimmed, 1 to [`PRODUCT_NAME_MAX_CHARS`] characters) and a price
//!   that is not negative;
//! - repricing keeps the product's currency: a product sold in EUR stays in EUR (a currency change is a new SKU),
//!   so order totals and sales figures never mix currencies for one product. Repricing to the current price is a
//!   no-op (no event), so a retried request records nothing twice;
//! - an unregistered or discontinued product cannot be repriced or discontinued; discontinuing is final.
//!
//! [`price_lines`] prices an order's requested lines from product states: prices come from the catalog, never
//! from the client.

mod decide;
mod evolve;
mod pricing;
#[cfg(test)]
mod tests;

pub use decide::decide;
pub use evolve::evolve;
pub use pricing::price_lines;

use crate::aggregate::{Aggregate, Event};
use crate::names::named_enum;
use crate::values::{Currency, Money, Sku};
use serde::{Deserialize, Serialize};

/// The longest product name accepted, in characters (after trimming).
pub const PRODUCT_NAME_MAX_CHARS: usize = 200;

/// The state of one `product-{sku}` stream. Serialized as `null` before registration, else as its details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Product {
    #[default]
    Unregistered,
    Registered(ProductDetails),
}

/// A registered product as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductDetails {
    sku: Sku,
    name: String,
    price: Money,
    status: ProductStatus,
}

impl ProductDetails {
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn price(&self) -> Money {
        self.price
    }

    pub fn status(&self) -> ProductStatus {
        self.status
    }
}

impl Product {
    /// The details of a registered product (active or discontinued).
    pub fn details(&self) -> Option<&ProductDetails> {
        match self {
            Product::Unregistered => None,
            Product::Registered(details) => Some(details),
        }
    }
}

named_enum! {
    /// Whether a product is sold: discontinuing is final.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ProductStatus ("product status") {
        Active = "active",
        Discontinued = "discontinued",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    RegisterProduct { sku: Sku, name: String, price: Money },
    RepriceProduct { price: Money },
    DiscontinueProduct,
}

/// The catalog's stored events. The SKU is in the stream name (`product-{sku}`) and, for convenience, in the
/// first event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProductEvent {
    /// `name` is stored trimmed.
    ProductRegistered {
        sku: Sku,
        name: String,
        price: Money,
    },
    ProductRepriced {
        previous_price: Money,
        price: Money,
    },
    ProductDiscontinued {},
}

impl Event for ProductEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ProductEvent::ProductRegistered { .. } => "ProductRegistered",
            ProductEvent::ProductRepriced { .. } => "ProductRepriced",
            ProductEvent::ProductDiscontinued {} => "ProductDiscontinued",
        }
    }

    fn schema_version(&self) -> u16 {
        match self {
            ProductEvent::ProductRegistered { .. }
            | ProductEvent::ProductRepriced { .. }
            | ProductEvent::ProductDiscontinued {} => 1,
        }
    }
}

/// Why the catalog refused a command, or could not price an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("product {sku} is already registered")]
    AlreadyRegistered { sku: Sku },
    #[error("product is not registered")]
    NotRegistered,
    #[error("product {sku} is discontinued")]
    Discontinued { sku: Sku },
    #[error("product name must not be empty")]
    EmptyName,
    #[error("product name must be at most {max} characters")]
    NameTooLong { max: usize },
    #[error("product name must not contain control characters")]
    ControlCharacterInName,
    #[error("price must not be negative")]
    NegativePrice,
    #[error("price must be at most {max} minor units")]
    PriceTooHigh { max: i64 },
    #[error("repricing must keep the currency {current}, not {requested}")]
    CurrencyChange { current: Currency, requested: Currency },
    #[error("unknown product {sku}")]
    UnknownProduct { sku: Sku },
    #[error("order lines mix currencies: {expected} and {found} (product {sku})")]
    MixedCurrencies { sku: Sku, expected: Currency, found: Currency },
}

impl Aggregate for Product {
    const STREAM_PREFIX: &'static str = "product-";
    type Id = Sku;
    type State = Product;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = CatalogError;

    fn decide(state: &Product, command: ProductCommand) -> Result<Vec<ProductEvent>, CatalogError> {
        decide(state, command)
    }

    fn evolve(state: Product, event: &ProductEvent) -> Product {
        evolve(state, event)
    }
}
