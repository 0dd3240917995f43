//! Opaque keyset cursors: the sort key of a page's last row, as base64url (no padding) of a small JSON document
//! `{"l": list, "k": key}`.
//!
//! Opaque so clients never build or edit them (the key may change shape), and tagged with the list they belong to,
//! so a cursor from the orders list handed to the ledger is refused instead of silently read as another key.
//! base64url is written by hand here (a dozen lines) rather than adding a dependency for it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ReadError;

/// Encodes and decodes cursors.
#[derive(Debug, Clone, Copy)]
pub struct Cursor;

#[derive(Serialize, Deserialize)]
struct Envelope<K> {
    l: String,
    k: K,
}

impl Cursor {
    /// The cursor that continues `list` after the row with sort key `key`.
    pub fn encode<K: Serialize>(list: &str, key: &K) -> String {
        let envelope = Envelope { l: list.to_owned(), k: key };
        let json = serde_json::to_vec(&envelope).unwrap_or_default();
        encode_base64url(&json)
    }

    /// The sort key in `cursor`, which must have been made for `list`.
    pub fn decode<K: DeserializeOwned>(list: &str, cursor: &str) -> Result<K, ReadError> {
        let bytes = decode_base64url(cursor).ok_or(ReadError::InvalidCursor)?;
        let envelope: Envelope<K> = serde_json::from_slice(&bytes).map_err(|_| ReadError::InvalidCursor)?;
        if envelope.l != list {
            return Err(ReadError::InvalidCursor);
        }
        Ok(envelope.k)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let sextets: Vec<u32> =
        text.bytes().map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)).collect::<Option<_>>()?;
    if sextets.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &s)| n | (s << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push(((n >> (16 - 8 * i)) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
            let text = encode_base64url(&bytes);
            assert!(text.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{text}");
            assert_eq!(decode_base64url(&text), Some(bytes));
        }
    }

    #[test]
    fn a_cursor_belongs_to_its_list() {
        let cursor = Cursor::encode("orders", &("2026-11-21T12:00:00Z", 7));
        let key: (String, i64) = Cursor::decode("orders", &cursor).expect("decodes");
        assert_eq!(key, ("2026-11-21T12:00:00Z".to_owned(), 7));
        assert!(matches!(Cursor::decode::<(String, i64)>("ledger", &cursor), Err(ReadError::InvalidCursor)));
        assert!(matches!(Cursor::decode::<(String, i64)>("orders", "not*base64"), Err(ReadError::InvalidCursor)));
        assert!(matches!(Cursor::decode::<(String, i64)>("orders", "e30"), Err(ReadError::InvalidCursor)));
    }
}
