//! Typed, parameterised readers over the read-model tables, for the query API and the order workers.
//!
//! The projections crate owns the read-model tables (migrations/0002_read_models.sql), so the SQL that reads them
//! lives here too, next to the code that writes them: a column renamed in a migration breaks this crate's build and
//! tests, not a distant HTTP handler. Every reader takes a `&PgPool`, binds every value, and returns plain rows.
//!
//! Lists are paged with keyset cursors ([`cursor`]), never `OFFSET`: a page is "the next `limit` rows after this
//! key" in a total order that never changes for a row, so a walk over all pages sees every row that existed when
//! it started exactly once, whatever is inserted meanwhile.
//!
//! - [`catalog`] - products.
//! - [`stock`] - inventory totals with their locations, low stock, the stock ledger of a SKU.
//! - [`orders`] - orders with filters, one order with its lines, the order workers' candidates, and counts of
//!   orders (per status, per hour of a day).
//! - [`sales`] - sales per day (all SKUs, one SKU, or per SKU), top products, and lost demand.

pub mod catalog;
pub mod cursor;
pub mod orders;
pub mod sales;
pub mod stock;

pub use cursor::Cursor;

/// Rows per page when the caller names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: u32 = 500;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The cursor was not made by this endpoint (or was tampered with).
    #[error("the cursor is not valid for this list")]
    InvalidCursor,
    /// The read-model database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// One page of a list: its rows and the cursor of the next page (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// How much of a list to read: at most `limit` rows after `cursor` (the first page when `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        PageRequest { limit, cursor: None }
    }

    /// The limit as a SQL bind value, clamped to 1..=[`MAX_LIMIT`] (the API refuses values outside it first).
    pub(crate) fn sql_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_LIMIT))
    }

    /// The decoded key of the cursor, if any.
    pub(crate) fn key<K: serde::de::DeserializeOwned>(&self, list: &str) -> Result<Option<K>, ReadError> {
        self.cursor.as_deref().map(|cursor| Cursor::decode(list, cursor)).transpose()
    }
}

/// `sum(column)` as a bigint that saturates at the bigint bounds instead of failing the query: a sum over many
/// rows can leave a bigint (the sum is numeric, clamped, then cast).
pub(crate) fn saturating_sum(column: &str) -> String {
    format!("greatest(least(sum({column}), {max}), -{max})::bigint", max = i64::MAX)
}

/// Cuts the one extra row a reader fetched (`limit + 1`) and makes the next cursor from the last row kept.
pub(crate) fn paginate<T, K: serde::Serialize>(
    mut rows: Vec<T>,
    request: &PageRequest,
    list: &str,
    key: impl Fn(&T) -> K,
) -> Page<T> {
    let limit = usize::try_from(request.sql_limit()).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| Cursor::encode(list, &key(row)))
    } else {
        None
    };
    Page { items: rows, next_cursor }
}
