//! `Quantity`: a positive whole number of units, as requested, reserved, shipped or returned.
//!
//! Zero is not a quantity: a command that would move nothing is not a command. Stock levels, which can be zero,
//! are plain `u64` counts in the aggregate states.
//!
//! **Bound.** New input is at most [`Quantity::MAX`] units (1,000,000) per line, receipt or adjustment:
//! [`Quantity::bounded`] is the constructor for client input, and the deciders refuse a larger quantity on every
//! command a client originates. The type itself holds any positive `u32`, and deserializes one: events recorded
//! before the bound existed are facts and must still load, and quantities derived from recorded ones (what is left
//! to ship, what is still held) are built with [`Quantity::new`].

use super::ValueError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A positive number of units (1 to `u32::MAX`). Serialized as a plain JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity a command may carry (per order line, receipt, adjustment): 1,000,000 units. With
    /// [`Money::MAX_PRICE`](super::Money::MAX_PRICE) and the order's line limit, every line and order total fits
    /// an `i64` of minor units many times over.
    pub const MAX: u32 = 1_000_000;

    /// Client input: `units` from 1 to [`Quantity::MAX`].
    pub fn bounded(units: u64) -> Result<Self, ValueError> {
        match u32::try_from(units) {
            Ok(0) => Err(ValueError::ZeroQuantity),
            Ok(units) if units <= Self::MAX => Ok(Self(units)),
            _ => Err(ValueError::QuantityTooLarge { max: Self::MAX }),
        }
    }

    /// Whether the quantity is within the bound on new input ([`Quantity::MAX`]).
    pub const fn is_within_bound(self) -> bool {
        self.0 <= Self::MAX
    }

    /// Wraps `units`, refusing zero. Any `u32`: for recorded and derived quantities (see the module doc).
    pub fn new(units: u32) -> Result<Self, ValueError> {
        if units == 0 {
            Err(ValueError::ZeroQuantity)
        } else {
            Ok(Self(units))
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self + other`, refusing overflow.
    pub fn checked_add(self, other: Quantity) -> Result<Quantity, ValueError> {
        self.0.checked_add(other.0).map(Self).ok_or(ValueError::QuantityOverflow)
    }

    /// `self - other`, refusing a result that is not positive.
    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, ValueError> {
        match self.0.checked_sub(other.0) {
            Some(units) if units > 0 => Ok(Self(units)),
            _ => Err(ValueError::QuantityUnderflow),
        }
    }
}

impl TryFrom<u32> for Quantity {
    type Error = ValueError;

    fn try_from(units: u32) -> Result<Self, ValueError> {
        Self::new(units)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> u32 {
        quantity.0
    }
}

impl From<Quantity> for u64 {
    fn from(quantity: Quantity) -> u64 {
        u64::from(quantity.0)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qty(units: u32) -> Quantity {
        Quantity::new(units).unwrap()
    }

    #[test]
    fn a_quantity_is_positive() {
        assert_eq!(qty(1).get(), 1);
        assert_eq!(qty(u32::MAX).get(), u32::MAX);
        assert!(matches!(Quantity::new(0), Err(ValueError::ZeroQuantity)));
    }

    #[test]
    fn client_input_is_bounded_by_max() {
        assert_eq!(Quantity::bounded(1), Ok(qty(1)));
        assert_eq!(Quantity::bounded(1_000_000), Ok(qty(Quantity::MAX)));
        assert!(qty(Quantity::MAX).is_within_bound());
        assert!(!qty(Quantity::MAX + 1).is_within_bound());
        assert!(matches!(Quantity::bounded(0), Err(ValueError::ZeroQuantity)));
        for too_many in [1_000_001, u64::from(u32::MAX), u64::MAX] {
            assert!(matches!(Quantity::bounded(too_many), Err(ValueError::QuantityTooLarge { max: 1_000_000 })));
        }
    }

    #[test]
    fn a_recorded_quantity_beyond_the_bound_still_deserializes() {
        assert_eq!(serde_json::from_str::<Quantity>("4294967295").unwrap(), qty(u32::MAX));
    }

    #[test]
    fn adding_refuses_overflow() {
        assert_eq!(qty(2).checked_add(qty(3)), Ok(qty(5)));
        assert!(matches!(qty(u32::MAX).checked_add(qty(1)), Err(ValueError::QuantityOverflow)));
    }

    #[test]
    fn subtracting_refuses_a_result_that_is_not_positive() {
        assert_eq!(qty(5).checked_sub(qty(3)), Ok(qty(2)));
        assert!(matches!(qty(3).checked_sub(qty(3)), Err(ValueError::QuantityUnderflow)));
        assert!(matches!(qty(3).checked_sub(qty(4)), Err(ValueError::QuantityUnderflow)));
    }

    #[test]
    fn a_quantity_is_a_plain_json_number_and_zero_does_not_deserialize() {
        assert_eq!(serde_json::to_string(&qty(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<Quantity>("7").unwrap(), qty(7));
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert!(serde_json::from_str::<Quantity>("1.5").is_err());
    }
}
