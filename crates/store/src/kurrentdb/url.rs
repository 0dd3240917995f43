//! Connection strings: which URLs select the KurrentDB adapter, how they become the client's `ClientSettings`,
//! and how they are shown without their password.
//!
//! `EVENT_STORE_URL` picks the event store by scheme. The KurrentDB client itself parses `esdb://`,
//! `esdb+discover://`, `kurrentdb://` and `kurrentdb+discover://` (and its short aliases `kurrent://`, `kdb://`),
//! with the same query parameters (`tls=false`, `nodePreference=leader`, `defaultDeadline=...`), so every accepted
//! string is handed to the client unchanged; the scheme is only checked here first, so a `postgres://` URL passed
//! by mistake fails with a clear message instead of the client's "Unknown URL scheme". A `+discover` scheme means
//! the host is a DNS name whose records list the cluster's nodes; a plain scheme takes one host or a comma
//! separated list of gossip seeds (`esdb://node1:2113,node2:2113,node3:2113`).
//!
//! Connection strings carry credentials (`esdb://admin:changeit@host:2113`): every message and span built from one
//! uses [`redact`], and the client's own parse errors (which echo the whole string) never reach a log unredacted.

use kurrentdb::ClientSettings;

use super::error::KurrentDbError;

/// The schemes Tally documents for `EVENT_STORE_URL`, then the client's short aliases.
pub const SCHEMES: [&str; 8] =
    ["esdb", "esdb+discover", "kurrentdb", "kurrentdb+discover", "kurrent", "kurrent+discover", "kdb", "kdb+discover"];

/// Whether `url` names a KurrentDB / EventStoreDB cluster (so the caller should use this adapter).
pub fn is_kurrentdb_url(url: &str) -> bool {
    scheme(url).is_some_and(|scheme| SCHEMES.contains(&scheme.as_str()))
}

/// The scheme of `url`, lowercased (URL schemes are case-insensitive).
fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.trim().split_once("://")?;
    Some(scheme.to_ascii_lowercase())
}

/// Parses a connection string into the client's settings.
pub(crate) fn client_settings(url: &str) -> Result<ClientSettings, KurrentDbError> {
    let url = url.trim();
    if !is_kurrentdb_url(url) {
        let reason = format!("the scheme must be one of {}", SCHEMES[..4].join("://, ") + "://");
        return Err(KurrentDbError::InvalidUrl { url: redact(url), reason });
    }
    // The client only knows lowercase schemes; the rest of the string is passed as given.
    let (scheme, rest) = url.split_once("://").unwrap_or((url, ""));
    let normalized = format!("{}://{rest}", scheme.to_ascii_lowercase());
    normalized.parse::<ClientSettings>().map_err(|error| KurrentDbError::InvalidUrl {
        url: redact(url),
        reason: hide_password(url, &error.to_string()),
    })
}

/// `url` with the password of its user info replaced by `***` (`esdb://admin:***@host:2113`).
pub fn redact(url: &str) -> String {
    match password_span(url) {
        Some((start, end)) => format!("{}***{}", &url[..start], &url[end..]),
        None => url.to_owned(),
    }
}

/// `text` with every occurrence of `url`'s password replaced by `***`.
fn hide_password(url: &str, text: &str) -> String {
    match password_span(url) {
        Some((start, end)) if end > start => text.replace(&url[start..end], "***"),
        _ => text.to_owned(),
    }
}

/// The byte range of the password in `scheme://user:password@hosts...`, if there is one.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let authority_len = url[authority_start..].find(['/', '?', '#']).unwrap_or(url.len() - authority_start);
    let authority = &url[authority_start..authority_start + authority_len];
    // The last '@' ends the user info: a password may itself contain '@' only when percent-encoded, but be
    // generous and hide everything up to the last one.
    let user_info_len = authority.rfind('@')?;
    let colon = authority[..user_info_len].find(':')?;
    Some((authority_start + colon + 1, authority_start + user_info_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_schemes_select_kurrentdb() {
        for url in [
            "esdb://localhost:2113?tls=false",
            "esdb+discover://cluster.example.com:2113",
            "kurrentdb://admin:changeit@localhost:2113",
            "kurrentdb+discover://cluster.example.com",
            "ESDB://LOCALHOST:2113",
            "kdb://localhost",
        ] {
            assert!(is_kurrentdb_url(url), "{url}");
        }
        for url in ["postgres://localhost/tally", "postgresql://x", "esdb:/localhost", "localhost:2113", "", "http://x"]
        {
            assert!(!is_kurrentdb_url(url), "{url}");
        }
    }

    #[test]
    fn every_scheme_parses_into_client_settings() {
        for scheme in ["esdb", "kurrentdb", "kurrent", "kdb"] {
            let single = client_settings(&format!("{scheme}://localhost:2113?tls=false")).expect("parses");
            assert!(!single.is_dns_discovery_enabled());
            assert!(!single.is_secure_mode_enabled());
            let discover = client_settings(&format!("{scheme}+discover://cluster.example.com:2113")).expect("parses");
            assert!(discover.is_dns_discovery_enabled());
            assert!(discover.is_secure_mode_enabled(), "TLS is on unless tls=false");
        }
        let upper = client_settings("KurrentDB://localhost:2113?tls=false").expect("a scheme in any case");
        assert!(!upper.is_secure_mode_enabled());
    }

    #[test]
    fn gossip_seeds_and_credentials_are_the_clients_business() {
        let cluster = client_settings("esdb://node1:2113,node2:2113,node3:2113?nodePreference=leader")
            .expect("gossip seeds parse");
        assert_eq!(cluster.hosts().len(), 3);
        let user = client_settings("kurrentdb://admin:changeit@localhost:2113").expect("credentials parse");
        assert!(user.default_authenticated_user().is_some());
    }

    #[test]
    fn other_urls_are_refused_with_the_accepted_schemes() {
        let refused = client_settings("postgres://tally:secret@localhost/tally").expect_err("not KurrentDB");
        let message = refused.to_string();
        assert!(message.contains("esdb://") && message.contains("kurrentdb+discover://"), "{message}");
        assert!(!message.contains("secret"), "the password never shows: {message}");
        assert!(client_settings("esdb://").is_err(), "a host is required");
        assert!(client_settings("esdb://localhost:2113?tls=maybe").is_err(), "bad parameters are refused");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("esdb://admin:changeit@localhost:2113?tls=false"),
            "esdb://admin:***@localhost:2113?tls=false"
        );
        assert_eq!(redact("kurrentdb+discover://u:p%40ss@cluster:2113"), "kurrentdb+discover://u:***@cluster:2113");
        assert_eq!(redact("esdb://admin@localhost:2113"), "esdb://admin@localhost:2113", "no password");
        assert_eq!(redact("esdb://localhost:2113/?x=a:b@c"), "esdb://localhost:2113/?x=a:b@c", "'@' in the query");
        assert_eq!(redact("not a url"), "not a url");
        let error = client_settings("esdb://admin:hunter2@localhost:notaport").expect_err("a bad port");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
