//! What every model needs to move rows between PostgreSQL and Rust in bulk, and what `apply` needs to read events.
//!
//! Rows travel in PostgreSQL's binary format, typed. [`load_rows`] reads the rows of a batch's keys into a struct that
//! derives `sqlx::FromRow` (fields named like the columns). [`write_rows!`] writes a whole batch of such structs
//! with one statement: one array parameter per column, turned back into rows by `unnest`. A profile of the
//! rebuild showed that the JSON these used before (`to_jsonb` loads, `jsonb_populate_recordset` writes) cost
//! PostgreSQL more than the inserts themselves: most of it parsing and printing JSON text.

use serde::de::DeserializeOwned;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Encode, FromRow, PgConnection, Type};
use tally_domain::Aggregate;
use tally_store::RecordedEvent;

use crate::error::ProjectionError;

/// Decodes a stored event as the domain event its type names.
pub(super) fn decode<E: DeserializeOwned>(event: &RecordedEvent) -> Result<E, ProjectionError> {
    E::deserialize(&event.data).map_err(|error| ProjectionError::Decode {
        position: event.position,
        event_type: event.event_type.clone(),
        reason: error.to_string(),
    })
}

/// The aggregate id in an event's stream name (`inventory-{sku}` gives the SKU).
pub(super) fn stream_key<A: Aggregate>(event: &RecordedEvent) -> Result<A::Id, ProjectionError> {
    A::id_from_stream(&event.stream_id).ok_or_else(|| ProjectionError::Inconsistent {
        position: event.position,
        reason: format!("stream {} is not a {}* stream", event.stream_id, A::STREAM_PREFIX),
    })
}

/// A stored count or version as a column value.
pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The ceiling of every sum a read model keeps (`sales_*`, `lost_demand_daily`): 2^62 - 1. A sum saturates
/// there instead of failing, so no accepted event, however large, can stop a projection (the bounds on new input
/// keep real figures far below it; events recorded before the bounds may not). Below 2^62, a generated column
/// that subtracts two such sums from a third (`net_revenue_amount = revenue - cancelled - returned`) still fits
/// a `bigint`.
pub(super) const SUM_CEILING: i64 = (1 << 62) - 1;

/// `sum + delta`, held within `0..=SUM_CEILING` (a delta is never negative; clamping keeps even a corrupt one from
/// taking a sum out of range).
pub(super) fn add_capped(sum: &mut i64, delta: i64) {
    *sum = sum.saturating_add(delta).clamp(0, SUM_CEILING);
}

/// The `set` list of an `on conflict ... do update` that adds `excluded` to the row's sums (`t` is the table),
/// each capped at [`SUM_CEILING`] in `numeric`, which cannot overflow, so the update never fails.
pub(super) fn capped_sums(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = least(t.{c}::numeric + excluded.{c}, {SUM_CEILING})::bigint"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An inconsistency at `event`.
pub(super) fn inconsistent(event: &RecordedEvent, reason: impl Into<String>) -> ProjectionError {
    ProjectionError::Inconsistent { position: event.position, reason: reason.into() }
}

/// Runs `sql` (a `select * from ... where key = any($1)`) with `keys`, each once, as one array parameter, and
/// decodes each row. (A batch names the same key once per event: passing the repeats made PostgreSQL look each
/// row up hundreds of times.)
///
/// The statement is not kept prepared: PostgreSQL plans it for each batch's keys. The read-model tables start
/// empty (a new database, a rebuild's fresh copies) and grow fast, and a cached generic plan made while a table
/// was empty (a sequential scan) stayed in use after it held tens of thousands of rows, turning a 0.3 ms row load
/// into 180 ms. The writes keep their prepared plans: an insert's plan does not depend on the table's size.
pub(super) async fn load_rows<T, K>(
    conn: &mut PgConnection,
    sql: &str,
    mut keys: Vec<K>,
) -> Result<Vec<T>, ProjectionError>
where
    K: Ord + Send + 'static,
    Vec<K>: for<'q> Encode<'q, Postgres> + Type<Postgres>,
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(sql).bind(keys).persistent(false).fetch_all(&mut *conn).await?)
}

/// The statement [`write_rows!`] runs: `insert into {table} as t ({columns}) select * from unnest($1, ...)`,
/// then `rest` (an `on conflict` clause, or nothing).
pub(super) fn insert_sql(table: &str, columns: &[&str], rest: &str) -> String {
    let parameters: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
    format!("insert into {table} as t ({}) select * from unnest({}) {rest}", columns.join(", "), parameters.join(", "))
}

/// `write_rows!(conn, "table", rows, [field, ...], "rest")` inserts `rows` (a slice or `Vec` of structs, or of
/// references to them) into `table` with one statement: each named field is a column of that name, sent as one
/// array of every row's value (see [`insert_sql`]); `rest` follows the insert (`on conflict ...`, where `t` is the
/// table). Nothing is sent when `rows` is empty. The field list is the column list, so they cannot drift apart.
macro_rules! write_rows {
    ($conn:expr, $table:literal, $rows:expr, [$($field:ident),+ $(,)?], $rest:expr) => {{
        let rows = &$rows;
        if rows.is_empty() {
            Ok::<(), $crate::error::ProjectionError>(())
        } else {
            let sql = $crate::models::rows::insert_sql($table, &[$(stringify!($field)),+], $rest);
            sqlx::query(&sql)
                $(.bind(rows.iter().map(|row| &row.$field).collect::<Vec<_>>()))+
                .execute(&mut *$conn)
                .await
                .map(drop)
                .map_err($crate::error::ProjectionError::from)
        }
    }};
}
pub(super) use write_rows;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_at_the_ceiling_and_never_go_negative() {
        let mut sum = SUM_CEILING - 1;
        add_capped(&mut sum, 5);
        assert_eq!(sum, SUM_CEILING);
        add_capped(&mut sum, i64::MAX);
        assert_eq!(sum, SUM_CEILING);
        let mut small = 3;
        add_capped(&mut small, i64::MIN);
        assert_eq!(small, 0);
        // Three capped sums subtract without leaving a bigint.
        assert!(0i64.checked_sub(SUM_CEILING).and_then(|d| d.checked_sub(SUM_CEILING)).is_some());
    }

    #[test]
    fn capped_sums_add_in_numeric_under_the_ceiling() {
        assert_eq!(
            capped_sums(&["orders", "units"]),
            format!(
                "orders = least(t.orders::numeric + excluded.orders, {SUM_CEILING})::bigint, \
                 units = least(t.units::numeric + excluded.units, {SUM_CEILING})::bigint"
            )
        );
    }
}
