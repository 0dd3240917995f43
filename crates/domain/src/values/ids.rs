//! Identifiers: validated text ids (`Sku`, `LocationId`, `CustomerId`) and UUID ids (`OrderId`, `ShipmentId`,
//! `ReturnId`).
//!
//! The text ids share their boilerplate through `text_id!` and the UUID ids through `uuid_id!`; each macro only
//! writes the conversions (`parse`, `FromStr`, `Display`, serde) around one validation rule stated at its use.

use super::ValueError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Defines a `String` newtype whose every value passes `$valid` and has `1..=$max` characters.
/// Deserialization goes through the same check (`try_from = "String"`).
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, max_chars = $max:expr, valid_char = $valid:expr, error = $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Validates `value` and wraps it.
            pub fn parse(value: &str) -> Result<Self, ValueError> {
                Self::try_from(value.to_owned())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(value: String) -> Result<Self, ValueError> {
                let valid_char: fn(char) -> bool = $valid;
                let chars = value.chars().count();
                if (1..=Self::MAX_CHARS).contains(&chars) && value.chars().all(valid_char) {
                    Ok(Self(value))
                } else {
                    Err(ValueError::$error)
                }
            }
        }

        impl FromStr for $name {
            type Err = ValueError;

            fn from_str(value: &str) -> Result<Self, ValueError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Defines a `Uuid` newtype. Any UUID is accepted; new ids are made by the caller, never by the domain.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, error = $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the textual form of a UUID (hyphenated, simple, urn or braced).
            pub fn parse(value: &str) -> Result<Self, ValueError> {
                Uuid::parse_str(value).map(Self).map_err(|_| ValueError::$error)
            }
        }

        impl FromStr for $name {
            type Err = ValueError;

            fn from_str(value: &str) -> Result<Self, ValueError> {
                Self::parse(value)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

/// The characters allowed in a SKU or a location id: `A-Z a-z 0-9 . _ -`.
fn is_code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

text_id!(
    /// A stock keeping unit: 1 to 64 characters of `A-Z a-z 0-9 . _ -` (e.g. `TEE-RED-M`).
    Sku,
    max_chars = 64,
    valid_char = is_code_char,
    error = InvalidSku
);

text_id!(
    /// A stock location (warehouse, shop floor): 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    LocationId,
    max_chars = 64,
    valid_char = is_code_char,
    error = InvalidLocationId
);

text_id!(
    /// The storefront's id for a customer: 1 to 128 characters, none of them a control character.
    CustomerId,
    max_chars = 128,
    valid_char = |c| !c.is_control(),
    error = InvalidCustomerId
);

impl LocationId {
    /// The location used when a client names none: `main`.
    pub fn main() -> Self {
        Self("main".to_owned())
    }
}

impl Default for LocationId {
    fn default() -> Self {
        Self::main()
    }
}

uuid_id!(
    /// An order's id (`order-{uuid}` stream). The client may choose it; otherwise the command side makes one.
    OrderId,
    error = InvalidOrderId
);

uuid_id!(
    /// A shipment's id, chosen by the command side when it dispatches a shipment.
    ShipmentId,
    error = InvalidShipmentId
);

uuid_id!(
    /// A received return's id, chosen by the command side (it uses the id of the order's `ReturnReceived` event), so
    /// restocking the return on each SKU is done once per return however often it is repeated.
    ReturnId,
    error = InvalidReturnId
);

uuid_id!(
    /// An API key's id (`apikey-{uuid}` stream): public, unlike the key's secret.
    ApiKeyId,
    error = InvalidApiKeyId
);

uuid_id!(
    /// A webhook subscription's id (`webhook-{uuid}` stream), chosen by the command side.
    WebhookId,
    error = InvalidWebhookId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_accepts_its_charset_up_to_64_characters() {
        assert_eq!(Sku::parse("TEE-RED-M").unwrap().as_str(), "TEE-RED-M");
        assert!(Sku::parse("a.b_c-D9").is_ok());
        assert!(Sku::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn a_sku_refuses_empty_long_and_foreign_characters() {
        for bad in ["", " ", "TEE RED", "TEE/RED", "tée", &"x".repeat(65)] {
            assert!(matches!(Sku::parse(bad), Err(ValueError::InvalidSku)), "{bad:?}");
        }
    }

    #[test]
    fn a_location_id_has_the_sku_rules_and_defaults_to_main() {
        assert_eq!(LocationId::default(), LocationId::parse("main").unwrap());
        assert!(matches!(LocationId::parse("a b"), Err(ValueError::InvalidLocationId)));
        assert!(matches!(LocationId::parse(""), Err(ValueError::InvalidLocationId)));
        assert!(matches!(LocationId::parse(&"l".repeat(65)), Err(ValueError::InvalidLocationId)));
    }

    #[test]
    fn a_customer_id_allows_any_printable_text_up_to_128_characters() {
        assert!(CustomerId::parse("cus-42").is_ok());
        assert!(CustomerId::parse("Zoë Müller <zoe@example.com>").is_ok());
        assert!(CustomerId::parse(&"é".repeat(128)).is_ok());
        for bad in ["", "tab\there", "line\nbreak", &"c".repeat(129)] {
            assert!(matches!(CustomerId::parse(bad), Err(ValueError::InvalidCustomerId)), "{bad:?}");
        }
    }

    #[test]
    fn text_ids_validate_when_deserialized() {
        let sku: Sku = serde_json::from_str("\"TEE-RED-M\"").unwrap();
        assert_eq!(serde_json::to_string(&sku).unwrap(), "\"TEE-RED-M\"");
        assert!(serde_json::from_str::<Sku>("\"TEE RED\"").is_err());
        assert!(serde_json::from_str::<LocationId>("\"\"").is_err());
        assert!(serde_json::from_str::<CustomerId>("\"a\\u0000b\"").is_err());
    }

    #[test]
    fn uuid_ids_parse_display_and_serialize_as_plain_uuids() {
        let text = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
        let id = OrderId::parse(text).unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<OrderId>(&format!("\"{text}\"")).unwrap(), id);
        assert!(matches!(OrderId::parse("0193"), Err(ValueError::InvalidOrderId)));
        assert!(matches!(ShipmentId::parse("nope"), Err(ValueError::InvalidShipmentId)));
        assert!(serde_json::from_str::<ShipmentId>("\"nope\"").is_err());
        assert!(matches!(ReturnId::parse("nope"), Err(ValueError::InvalidReturnId)));
    }
}
