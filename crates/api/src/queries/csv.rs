//! CSV for the analyst endpoints: content negotiation on `Accept`, RFC 4180 records, and the response.
//!
//! Written by hand (quoting is a few lines) rather than adding a dependency. A CSV response is one page, with the
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
    fn fields(&self) -> Vec<String>;
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

/// One field, quoted when it holds a comma, a quote, or a line break (quotes doubled), as RFC 4180 says.
pub(crate) fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// The CSV document of `items`: the header row, then one record per item, each line ended by CRLF.
pub(crate) fn document<T: CsvRecord>(items: &[T]) -> String {
    let mut out = String::new();
    push_record(&mut out, T::HEADER.iter().map(|name| (*name).to_owned()));
    for item in items {
        push_record(&mut out, item.fields());
    }
    out
}

fn push_record(out: &mut String, fields: impl IntoIterator<Item = String>) {
    let mut first = true;
    for field in fields {
        if !first {
            out.push(',');
        }
        out.push_str(&escape(&field));
        first = false;
    }
    out.push_str("\r\n");
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
pub(crate) fn time(value: &chrono::DateTime<chrono::Utc>) -> String {
    value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// An optional value as a CSV field (empty when absent).
pub(crate) fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
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

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b"), "\"a,b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_replaces_the_cursor() {
        let uri: Uri = "/v1/orders?status=paid&cursor=old&limit=2".parse().unwrap();
        assert_eq!(next_link(&uri, "new"), "/v1/orders?status=paid&limit=2&cursor=new");
    }
}
