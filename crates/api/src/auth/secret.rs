//! The API key secret: its format, and the hash that is all Tally keeps of it.
//!
//! A key reads `tally_` + 32 random base62 characters + a 6-character base62 checksum, like GitHub's prefixed
//! tokens: the prefix lets secret scanners recognise a leaked Tally key, the checksum lets them (and Tally) tell
//! a real key from a look-alike without asking the server. 32 base62 characters carry 190 random bits, from the
//! operating system's generator.
//!
//! Only SHA-256 of the whole key is stored. A slow password hash would protect low-entropy passwords; a 190-bit
//! random secret cannot be guessed from its hash, and a fast hash keeps authentication at microseconds (a hash
//! and a map lookup per request).

use sha2::{Digest, Sha256};

/// What every key starts with.
pub const PREFIX: &str = "tally_";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-256 of a whole key: what `api_key_secrets` holds.
pub type SecretHash = [u8; 32];

/// A newly made key: shown to its owner once, then forgotten.
#[derive(Clone)]
pub struct NewSecret {
    pub secret: String,
    pub hash: SecretHash,
    /// The last four characters, for people to tell keys apart (as Stripe shows them).
    pub hint: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret").field("hint", &self.hint).finish_non_exhaustive()
    }
}

/// Makes a new key from the operating system's random generator.
pub fn generate() -> Result<NewSecret, getrandom::Error> {
    let mut random = String::with_capacity(RANDOM_CHARS);
    let mut bytes = [0u8; 64];
    while random.len() < RANDOM_CHARS {
        getrandom::fill(&mut bytes)?;
        // Rejection sampling: bytes of 248 and above would make the low digits likelier.
        for byte in bytes.iter().filter(|byte| **byte < 248) {
            if random.len() == RANDOM_CHARS {
                break;
            }
            random.push(char::from(BASE62[usize::from(*byte % 62)]));
        }
    }
    let secret = format!("{PREFIX}{random}{}", checksum(&random));
    let hint = secret[secret.len() - 4..].to_owned();
    Ok(NewSecret { hash: hash(&secret), hint, secret })
}

/// The hash of `presented` if it has the shape of a key and its checksum is right; `None` for anything else.
pub fn parse(presented: &str) -> Option<SecretHash> {
    let body = presented.strip_prefix(PREFIX)?;
    if body.len() != RANDOM_CHARS + CHECKSUM_CHARS || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (random, sum) = body.split_at(RANDOM_CHARS);
    (checksum(random) == sum).then(|| hash(presented))
}

fn hash(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// The first four bytes of SHA-256 of the random part, in six base62 digits.
fn checksum(random: &str) -> String {
    let digest = Sha256::digest(random.as_bytes());
    let mut value = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 digits are ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_has_the_prefix_the_length_and_a_valid_checksum() {
        let key = generate().unwrap();
        assert!(key.secret.starts_with("tally_"));
        assert_eq!(key.secret.len(), PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS);
        assert_eq!(parse(&key.secret), Some(key.hash));
        assert!(key.secret.ends_with(&key.hint));
        assert_ne!(generate().unwrap().secret, key.secret);
    }

    #[test]
    fn a_changed_character_a_wrong_prefix_or_length_is_not_a_key() {
        let key = generate().unwrap().secret;
        let mut changed = key.clone().into_bytes();
        changed[10] = if changed[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse(std::str::from_utf8(&changed).unwrap()), None, "the checksum catches a typo");
        assert_eq!(parse(&key.replacen("tally_", "tallx_", 1)), None);
        assert_eq!(parse(&key[..key.len() - 1]), None);
        assert_eq!(parse(&format!("{key}0")), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse(&format!("tally_{}", "é".repeat(19))), None);
    }

    #[test]
    fn the_debug_form_shows_no_secret() {
        let key = generate().unwrap();
        assert!(!format!("{key:?}").contains(&key.secret));
    }
}
