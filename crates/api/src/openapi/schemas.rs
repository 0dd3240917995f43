//! The domain's value types and named enums as schemas of the document, for the API's types that keep them as
//! text (`sku: String`, `status: String`) and point at them with `#[schema(value_type = schemas::Sku)]` (or
//! `("sku" = schemas::Sku, Path, ...)` for a parameter).
//!
//! - Value types: each schema states the rule of the domain's constructor (`Sku::parse`: 1 to 64 characters of
//!   `A-Z a-z 0-9 . _ -`), so a value the document allows is one the domain accepts.
//! - Named enums (`named_enum!`): the names come from the enum's own `NAMES`, so the document lists exactly what
//!   the API answers and accepts.

use serde_json::json;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// Every schema of this module, by name: the document holds them all, so a parameter may name one
/// (`("sku" = schemas::Sku, Path)`), which utoipa does not collect by itself.
pub(crate) fn all() -> Vec<(String, RefOr<Schema>)> {
    use utoipa::ToSchema;
    fn entry<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        entry::<OrderStatus>(),
        entry::<OrderAction>(),
        entry::<ProductStatus>(),
        entry::<Role>(),
        entry::<AdjustmentReason>(),
        entry::<ReleaseReason>(),
        entry::<Sku>(),
        entry::<LocationId>(),
        entry::<CustomerId>(),
        entry::<Currency>(),
        entry::<crate::problem::ProblemKindName>(),
    ]
}

/// Declares a schema component named `$schema` whose values are the names of the domain enum `$enum`.
macro_rules! names_schema {
    ($(#[$doc:meta])* $schema:ident = $enum:ty) => {
        $(#[$doc])*
        pub(crate) struct $schema;

        impl utoipa::PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                super::schema(json!({ "type": "string", "enum": <$enum>::NAMES }))
            }
        }

        impl utoipa::ToSchema for $schema {}
    };
}

names_schema! {
    /// Where an order stands.
    OrderStatus = tally_domain::order::OrderStatus
}
names_schema! {
    /// What a command tried to do to an order (the `action` of an `invalid-transition` problem).
    OrderAction = tally_domain::order::OrderAction
}
names_schema! {
    /// Whether a product can be ordered.
    ProductStatus = tally_domain::catalog::ProductStatus
}
names_schema! {
    /// An API key's role.
    Role = tally_domain::Role
}
names_schema! {
    /// Why stock was adjusted.
    AdjustmentReason = tally_domain::inventory::AdjustmentReason
}
names_schema! {
    /// Why a reservation was released.
    ReleaseReason = tally_domain::inventory::ReleaseReason
}

/// Declares a schema component named `$schema` whose JSON is `$json`.
macro_rules! value_schema {
    ($(#[$doc:meta])* $schema:ident = $json:expr) => {
        $(#[$doc])*
        pub(crate) struct $schema;

        impl utoipa::PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                super::schema($json)
            }
        }

        impl utoipa::ToSchema for $schema {}
    };
}

value_schema! {
    /// `Sku::parse`.
    Sku = json!({
        "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "example": "TEE-RED-M",
        "description": "A stock keeping unit: 1 to 64 characters of `A-Z a-z 0-9 . _ -`."
    })
}
value_schema! {
    /// `LocationId::parse`.
    LocationId = json!({
        "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "example": "main",
        "description": "A stock location (warehouse, shop floor): 1 to 64 characters of `A-Z a-z 0-9 . _ -`."
    })
}
value_schema! {
    /// `CustomerId::parse`.
    CustomerId = json!({
        "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        "example": "cust-42",
        "description": "The storefront's id for a customer: 1 to 128 characters, none of them a control character."
    })
}
value_schema! {
    /// `Currency::parse`.
    Currency = json!({
        "type": "string", "pattern": "^[A-Z]{3}$", "example": "EUR",
        "description": "An ISO 4217 code: three upper-case letters."
    })
}
