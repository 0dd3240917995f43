//! `Currency` and `Money`: amounts are integer minor units (cents) of one ISO 4217 currency. Never floats.
//!
//! Only the shape of a currency code is checked (three uppercase ASCII letters), not membership of the current ISO
//! 4217 list, which changes over time. The domain never needs a currency's minor-unit exponent: every amount is
//! already in minor units, and converting to a decimal display is the client's concern.
//!
//! Arithmetic is checked: mixing currencies or overflowing `i64` is a typed [`ValueError`], never a panic or a
//! silent wrap. Amounts may be negative (a difference can be); rules such as "a price is not negative" belong to the
//! aggregates.
//!
//! **Bounds.** A unit price is at most [`Money::MAX_PRICE`] minor units (1,000,000,000: ten million in a currency
//! with cents), refused by the catalog above it; any amount a client sends (a payment, a refund) is at most
//! [`Money::MAX_AMOUNT`], the largest order total the bounds allow, refused by [`Money::bounded`]. Like
//! quantities, recorded amounts load whatever they are.

use super::{Quantity, ValueError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 alphabetic currency code such as `EUR`. Serialized as that string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Accepts exactly three uppercase ASCII letters.
    pub fn parse(code: &str) -> Result<Self, ValueError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(ValueError::InvalidCurrency),
        }
    }

    pub fn as_str(&self) -> &str {
        // The bytes are three ASCII letters by construction, hence valid UTF-8.
        std::str::from_utf8(&self.0).expect("a currency code is ascii by construction")
    }
}

impl TryFrom<String> for Currency {
    type Error = ValueError;

    fn try_from(code: String) -> Result<Self, ValueError> {
        Self::parse(&code)
    }
}

impl FromStr for Currency {
    type Err = ValueError;

    fn from_str(code: &str) -> Result<Self, ValueError> {
        Self::parse(code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Currency").field(&self.as_str()).finish()
    }
}

/// An amount of money: `minor` units of `currency`. Serialized as `{"amount": 1999, "currency": "EUR"}`.
///
/// `Display` prints the minor units and the code (`1999 EUR`), never a decimal point: the exponent differs per
/// currency and is the client's concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(rename = "amount")]
    minor: i64,
    currency: Currency,
}

impl Money {
    /// The largest unit price, in minor units: 1,000,000,000.
    pub const MAX_PRICE: i64 = 1_000_000_000;

    /// The largest amount a client may send, in minor units: the largest order total the bounds allow
    /// ([`crate::order::MAX_LINES`] lines of [`Quantity::MAX`] units at [`Money::MAX_PRICE`]),
    /// 250,000,000,000,000,000, about 27 times below `i64::MAX`.
    pub const MAX_AMOUNT: i64 = crate::order::MAX_LINES as i64 * Quantity::MAX as i64 * Self::MAX_PRICE;

    /// Client input: an amount whose size is at most [`Money::MAX_AMOUNT`] minor units.
    pub fn bounded(minor: i64, currency: Currency) -> Result<Self, ValueError> {
        if minor.unsigned_abs() > Self::MAX_AMOUNT.unsigned_abs() {
            return Err(ValueError::AmountTooLarge { max: Self::MAX_AMOUNT });
        }
        Ok(Self::new(minor, currency))
    }

    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The amount in minor units (cents for EUR).
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// `self + other`, refusing another currency and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, ValueError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(ValueError::AmountOverflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self - other`, refusing another currency and overflow. The result may be negative.
    pub fn checked_sub(self, other: Money) -> Result<Money, ValueError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(ValueError::AmountOverflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self * quantity` (a line total from a unit price), refusing overflow.
    pub fn checked_mul(self, quantity: Quantity) -> Result<Money, ValueError> {
        let minor = self.minor.checked_mul(i64::from(quantity.get())).ok_or(ValueError::AmountOverflow)?;
        Ok(Money::new(minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), ValueError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(ValueError::CurrencyMismatch { expected: self.currency, found: other.currency })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap())
    }

    #[test]
    fn a_currency_is_three_uppercase_ascii_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["", "EU", "EURO", "eur", "Eur", "E1R", "ÉUR", "EU "] {
            assert!(matches!(Currency::parse(bad), Err(ValueError::InvalidCurrency)), "{bad:?}");
        }
        assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    }

    #[test]
    fn money_serializes_as_amount_and_currency() {
        let json = serde_json::to_value(eur(1999)).unwrap();
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "EUR"}));
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), eur(1999));
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "euro"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 19.99, "currency": "EUR"}"#).is_err());
        assert_eq!(eur(1999).to_string(), "1999 EUR");
    }

    #[test]
    fn arithmetic_in_one_currency_is_exact() {
        assert_eq!(eur(1999).checked_add(eur(1)), Ok(eur(2000)));
        assert_eq!(eur(10).checked_sub(eur(25)), Ok(eur(-15)));
        assert_eq!(eur(1999).checked_mul(Quantity::new(3).unwrap()), Ok(eur(5997)));
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        assert!(matches!(eur(1).checked_add(usd(1)), Err(ValueError::CurrencyMismatch { .. })));
        assert!(matches!(eur(1).checked_sub(usd(1)), Err(ValueError::CurrencyMismatch { .. })));
    }

    #[test]
    fn client_amounts_are_bounded() {
        let eur_code = Currency::parse("EUR").unwrap();
        assert_eq!(Money::MAX_AMOUNT, 250_000_000_000_000_000);
        assert_eq!(Money::bounded(Money::MAX_AMOUNT, eur_code), Ok(eur(Money::MAX_AMOUNT)));
        assert_eq!(Money::bounded(-1, eur_code), Ok(eur(-1)));
        for too_much in [Money::MAX_AMOUNT + 1, -Money::MAX_AMOUNT - 1, i64::MAX, i64::MIN] {
            assert!(matches!(Money::bounded(too_much, eur_code), Err(ValueError::AmountTooLarge { .. })));
        }
    }

    #[test]
    fn the_largest_order_line_and_total_fit_an_i64() {
        let line = eur(Money::MAX_PRICE).checked_mul(Quantity::new(Quantity::MAX).unwrap()).unwrap();
        let lines = i64::try_from(crate::order::MAX_LINES).unwrap();
        assert_eq!(line.minor().checked_mul(lines), Some(Money::MAX_AMOUNT));
    }

    #[test]
    fn arithmetic_refuses_overflow() {
        assert!(matches!(eur(i64::MAX).checked_add(eur(1)), Err(ValueError::AmountOverflow)));
        assert!(matches!(eur(i64::MIN).checked_sub(eur(1)), Err(ValueError::AmountOverflow)));
        let two = Quantity::new(2).unwrap();
        assert!(matches!(eur(i64::MAX / 2 + 1).checked_mul(two), Err(ValueError::AmountOverflow)));
    }
}
