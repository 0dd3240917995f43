//! Opaque keyset cursors: the sort key of a page's last row, as base64url (no padding, the `base64` crate) of a
//! small JSON document `{"l": list, "k": key}`.
//!
//! Opaque so clients never build or edit them (the key may change shape), and tagged with the list they belong to,
//! so a cursor from the orders list handed to the ledger is refused instead of silently read as another key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The sort key in `cursor`, which must have been made for `list`.
    pub fn decode<K: DeserializeOwned>(list: &str, cursor: &str) -> Result<K, ReadError> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ReadError::InvalidCursor)?;
        let envelope: Envelope<K> = serde_json::from_slice(&bytes).map_err(|_| ReadError::InvalidCursor)?;
        if envelope.l != list {
            return Err(ReadError::InvalidCursor);
        }
        Ok(envelope.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
