//! CSV for the analyst endpoints: content negotiation on `Accept`, RFC 4180 records (by the `csv` crate), and the
//! response.
//!
//! **Formula injection.** A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return as a formula, and some of these cells hold what a client wrote (a product's name, a customer id, a
//! reference). Such text fields ([`Cell::Text`]) get a leading `'` (OWASP's advice), which spreadsheets show as
//! text. Fields the server formats ([`Cell::Value`]: numbers, times, ids, days) are written as they are, so a
//! negative delta or amount stays a number. A reader that wants the exact text back drops one leading `'` from
//! a text field that starts with `'=`, `'+`, `'-`, `'@`, `'\t` or `'\r`.
//!
//! A CSV response is one page, with the
//! same limit and cursor semantics as the JSON list: the header row, one record per item, and the next page's
//! cursor in the `Tally-Next-Cursor` header (and a `Link: <...>; rel="next"`), since CSV has no room for it.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The media type of a CSV response.
pub(crate) const TEXT_CSV: &str = "text/csv; charset=utf-8";
/// The header carrying the next page's cursor of a CSV page.
pub(crate) const NEXT_CURSOR_HEADER: &str = "tally-next-cursor";

/// A type that is one CSV record per value.
pub(crate) trait CsvRecord {
    /// The header row's field names.
    const HEADER: &'static [&'static str];
    /// The fields of this record, in header order.
    fn fields(&self) -> Vec<Cell>;
}

/// Whether the request's `Accept` prefers CSV to JSON: `text/csv` is acceptable and ranked above
/// `application/json` (a wildcard never beats an explicit `text/csv`).
pub(crate) fn wants_csv(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()) else { return false };
    let mut csv = 0.0_f32;
    let mut json = 0.0_f32;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|param| param.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/csv" => csv = csv.max(quality),
            "application/json" | "application/*" => json = json.max(quality),
            _ => {}
        }
    }
    csv > 0.0 && csv > json
}

/// One field of a record: text a client wrote (a SKU, a name, a customer id, a reference...), which may be
/// guarded, or a value the server formats (a number, a time, an id, a day), written as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    Text(String),
    Value(String),
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

impl Cell {
    /// The field as written: a text that starts like a formula gets a leading `'`, so a spreadsheet shows it
    /// as text instead of running it. Values are never changed: `-3` in a numeric column stays the number -3.
    fn written(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(text) if text.starts_with(FORMULA_STARTS) => format!("'{text}").into(),
            Cell::Text(text) | Cell::Value(text) => text.as_str().into(),
        }
    }
}

/// A client's text.
pub(crate) fn text(value: &str) -> Cell {
    Cell::Text(value.to_owned())
}

/// A client's text, empty when absent.
pub(crate) fn opt_text(value: &Option<String>) -> Cell {
    Cell::Text(value.clone().unwrap_or_default())
}

/// A number, an id or a day.
pub(crate) fn value(value: impl ToString) -> Cell {
    Cell::Value(value.to_string())
}

/// The CSV document of `items` (`csv` crate: RFC 4180 quoting, CRLF line ends): the header row, then one
/// record per item.
pub(crate) fn document<T: CsvRecord>(items: &[T]) -> Vec<u8> {
    let mut writer = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to memory cannot fail: the errors `csv` reports are the writer's I/O errors.
    let _ = writer.write_record(T::HEADER);
    for item in items {
        let cells = item.fields();
        let _ = writer.write_record(cells.iter().map(|cell| cell.written().into_owned()));
    }
    writer.into_inner().unwrap_or_default()
}

/// A page of `items` as a `text/csv` response; `uri` is the request's, for the `Link` to the next page.
pub(crate) fn page_response<T: CsvRecord>(items: &[T], next_cursor: Option<&str>, uri: &Uri) -> Response {
    let mut response = (StatusCode::OK, document(items)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_CSV));
    if let Some(cursor) = next_cursor {
        if let Ok(value) = HeaderValue::from_str(cursor) {
            headers.insert(NEXT_CURSOR_HEADER, value);
        }
        if let Ok(value) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", next_link(uri, cursor))) {
            headers.insert(header::LINK, value);
        }
    }
    response
}

/// The request's path and query with `cursor=` set to `cursor` (cursors are base64url: no escaping needed).
fn next_link(uri: &Uri, cursor: &str) -> String {
    let mut params: Vec<&str> =
        uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty() && !p.starts_with("cursor=")).collect();
    let cursor_param = format!("cursor={cursor}");
    params.push(&cursor_param);
    format!("{}?{}", uri.path(), params.join("&"))
}

/// A time as a CSV field: RFC 3339 in UTC with `Z`, as the JSON bodies write it.
pub(crate) fn time(value: &chrono::DateTime<chrono::Utc>) -> Cell {
    Cell::Value(value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// An optional time, empty when absent.
pub(crate) fn opt_time(value: &Option<chrono::DateTime<chrono::Utc>>) -> Cell {
    value.as_ref().map_or_else(|| Cell::Value(String::new()), time)
}

/// An optional number or id, empty when absent.
pub(crate) fn opt<T: ToString>(value: &Option<T>) -> Cell {
    Cell::Value(value.as_ref().map(ToString::to_string).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiation_follows_the_accept_header() {
        assert!(!wants_csv(&HeaderMap::new()));
        assert!(wants_csv(&accept("text/csv")));
        assert!(wants_csv(&accept("text/csv, */*;q=0.1")));
        assert!(wants_csv(&accept("application/json;q=0.5, text/csv")));
        assert!(!wants_csv(&accept("application/json, text/csv;q=0.9")));
        assert!(!wants_csv(&accept("*/*")));
        assert!(!wants_csv(&accept("text/csv;q=0")));
    }

    struct Row(Vec<Cell>);

    impl CsvRecord for Row {
        const HEADER: &'static [&'static str] = &["a", "b"];

        fn fields(&self) -> Vec<Cell> {
            self.0.clone()
        }
    }

    fn csv(rows: Vec<Vec<Cell>>) -> String {
        let rows: Vec<Row> = rows.into_iter().map(Row).collect();
        String::from_utf8(document(&rows)).unwrap()
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        let quoted = csv(vec![vec![text("plain"), text("a,b")], vec![text("say \"hi\""), text("two\nlines")]]);
        assert_eq!(quoted, "a,b\r\nplain,\"a,b\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn text_that_starts_like_a_formula_is_guarded_and_numbers_are_not() {
        let rows = vec![
            vec![text("=HYPERLINK(\"http://x\")"), value(-3)],
            vec![text("+1"), value("-2026")],
            vec![text("-A1"), opt(&Some(-5))],
            vec![text("@SUM(A1)"), text("\tx")],
            vec![text("\rx"), text("a=b")],
        ];
        let lines: Vec<String> = csv(rows).split("\r\n").map(str::to_owned).collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",-3");
        assert_eq!(lines[2], "'+1,-2026");
        assert_eq!(lines[3], "'-A1,-5");
        assert_eq!(lines[4], "'@SUM(A1),'\tx");
        assert_eq!(lines[5], "\"'\rx\",a=b");
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_replaces_the_cursor() {
        let uri: Uri = "/v1/orders?status=paid&cursor=old&limit=2".parse().unwrap();
        assert_eq!(next_link(&uri, "new"), "/v1/orders?status=paid&limit=2&cursor=new");
    }
}
