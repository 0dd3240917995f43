//! Standard Webhooks 1.0 signatures (<https://www.standardwebhooks.com>), as its specification writes them.
//!
//! A subscription's signing secret is `whsec_` followed by the base64 of random bytes; the key is those bytes.
//! Each delivery carries `webhook-id` (here the event id), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`. While a rotated secret
//! is still valid, the header holds one signature per secret, separated by spaces; a receiver accepts a delivery
//! when any of them verifies with a secret it knows.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a secret's text starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// The version tag of a signature.
const VERSION: &str = "v1";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// Why a text is not a signing secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a signing secret starts with `whsec_`")]
    Prefix,
    #[error("a signing secret is `whsec_` and base64 of 24 to 64 bytes")]
    Encoding,
}

/// Why a delivery's signature does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the timestamp is further than the tolerance from now")]
    Timestamp,
    #[error("no signature in the header verifies with the secret")]
    Signature,
}

/// A subscription's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl SigningSecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = vec![0; SECRET_BYTES];
        getrandom::fill(&mut key)?;
        Ok(SigningSecret { key })
    }

    /// A secret from its text, `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Encoding)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Encoding);
        }
        Ok(SigningSecret { key })
    }

    /// The secret's text, `whsec_<base64>`: shown once to the subscriber, stored to sign.
    pub fn text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("{VERSION},{}", STANDARD.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac
    }

    /// Verifies a delivery as a receiver does: its timestamp within `tolerance_secs` of `now` (Unix seconds), and
    /// one of the header's `v1` signatures made with this secret (compared in constant time).
    pub fn verify(
        &self,
        header: &str,
        id: &str,
        timestamp: i64,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), VerifyError> {
        if (now - timestamp).abs() > tolerance_secs {
            return Err(VerifyError::Timestamp);
        }
        let verifies = header.split(' ').filter_map(|signature| signature.split_once(',')).any(|(version, value)| {
            version == VERSION
                && STANDARD.decode(value).is_ok_and(|tag| self.mac(id, timestamp, body).verify_slice(&tag).is_ok())
        });
        if verifies {
            Ok(())
        } else {
            Err(VerifyError::Signature)
        }
    }
}

/// The `webhook-signature` header of a delivery signed with every secret in `secrets` (the current one, and a
/// rotated one while it is still valid), separated by spaces.
pub fn signature_header(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|secret| secret.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its reference libraries' tests).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_the_specifications_example_as_it_says() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, TIMESTAMP, BODY), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(secret.text(), SECRET);
    }

    #[test]
    fn a_receiver_verifies_any_of_the_signatures_within_the_tolerance() {
        let current = SigningSecret::generate().unwrap();
        let rotated = SigningSecret::parse(SECRET).unwrap();
        let header = signature_header(&[current.clone(), rotated.clone()], ID, TIMESTAMP, BODY);
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&current, &rotated] {
            assert_eq!(secret.verify(&header, ID, TIMESTAMP, BODY, TIMESTAMP + 299, 300), Ok(()));
        }
        let stranger = SigningSecret::generate().unwrap();
        assert_eq!(stranger.verify(&header, ID, TIMESTAMP, BODY, TIMESTAMP, 300), Err(VerifyError::Signature));
        assert_eq!(current.verify(&header, ID, TIMESTAMP, b"{}", TIMESTAMP, 300), Err(VerifyError::Signature));
        assert_eq!(current.verify(&header, "other", TIMESTAMP, BODY, TIMESTAMP, 300), Err(VerifyError::Signature));
        assert_eq!(current.verify(&header, ID, TIMESTAMP, BODY, TIMESTAMP + 301, 300), Err(VerifyError::Timestamp));
        let v2 = header.replace("v1,", "v2,");
        assert_eq!(current.verify(&v2, ID, TIMESTAMP, BODY, TIMESTAMP, 300), Err(VerifyError::Signature));
    }

    #[test]
    fn secrets_are_whsec_and_24_to_64_bytes() {
        let secret = SigningSecret::generate().unwrap();
        assert!(secret.text().starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&secret.text()), Ok(secret.clone()));
        assert_ne!(secret, SigningSecret::generate().unwrap());
        assert_eq!(format!("{secret:?}"), "SigningSecret(***)", "never in a log");
        assert_eq!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(SecretError::Prefix));
        assert_eq!(SigningSecret::parse("whsec_not base64!"), Err(SecretError::Encoding));
        assert_eq!(SigningSecret::parse("whsec_c2hvcnQ="), Err(SecretError::Encoding), "5 bytes");
    }
}
