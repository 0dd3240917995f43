//! Unit enums spelled as text one way: [`named_enum!`] declares the enum with each variant's name once, and
//! derives from that list `as_str`, `ALL`, `NAMES`, `Display`, `FromStr` ([`UnknownName`] for any other text)
//! and serde (the stored events spell them so too). Readers of the enums (the API, the read models) use these,
//! never a `match` or a list of their own.

/// Text that names no variant of a [`named_enum!`] enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {kind}: one of {}", .names.join(", "))]
pub struct UnknownName {
    /// What was being named (`order status`, `role`, ...).
    pub kind: &'static str,
    pub value: String,
    /// Every known name.
    pub names: &'static [&'static str],
}

/// Declares a unit enum whose variants have one text name each (`Variant = "name"`), with `as_str`, `ALL`,
/// `NAMES`, `Display`, `FromStr` and serde all derived from that one list. `kind` names the enum in errors.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            /// Every variant's name, in declaration order.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            /// The variant's name: what events, read models and the API spell.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|variant| variant.as_str() == value).ok_or_else(|| {
                    $crate::names::UnknownName { kind: $kind, value: value.to_owned(), names: &Self::NAMES }
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::ALL
                    .into_iter()
                    .find(|variant| variant.as_str() == text)
                    .ok_or_else(|| ::serde::de::Error::unknown_variant(&text, &Self::NAMES))
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::catalog::ProductStatus;
    use crate::inventory::{AdjustmentReason, ReleaseReason};
    use crate::order::{OrderAction, OrderStatus};
    use crate::Role;

    /// Each name parses back, serializes as itself, and deserializes from itself.
    fn round_trips<T>(all: &[T], names: &[&str])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr + serde::Serialize,
        T: serde::de::DeserializeOwned,
        T::Err: std::fmt::Debug,
    {
        assert_eq!(all.len(), names.len());
        for (value, name) in all.iter().zip(names) {
            assert_eq!(value.to_string(), *name);
            assert_eq!(name.parse::<T>().unwrap(), *value);
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(name));
            assert_eq!(serde_json::from_value::<T>(serde_json::json!(name)).unwrap(), *value);
        }
        assert!("Nope".parse::<T>().is_err());
        assert!(serde_json::from_value::<T>(serde_json::json!("Nope")).is_err());
    }

    #[test]
    fn every_named_enum_is_spelled_one_way() {
        round_trips(&OrderStatus::ALL, &OrderStatus::NAMES);
        round_trips(&OrderAction::ALL, &OrderAction::NAMES);
        round_trips(&ProductStatus::ALL, &ProductStatus::NAMES);
        round_trips(&AdjustmentReason::ALL, &AdjustmentReason::NAMES);
        round_trips(&ReleaseReason::ALL, &ReleaseReason::NAMES);
        round_trips(&Role::ALL, &Role::NAMES);
        assert_eq!(OrderStatus::PartiallyShipped.as_str(), "partially_shipped");
        let error = "root".parse::<Role>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"root\" is not a known role: one of storefront, operations, analyst, auditor, admin"
        );
    }
}
