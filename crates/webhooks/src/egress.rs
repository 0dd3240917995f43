//! Which targets a webhook may be delivered to.
//!
//! A subscription names a URL and Tally POSTs to it from inside the shop's network: without a policy, anyone who
//! may subscribe could make Tally call its own admin ports, a database on the private network, or the cloud's
//! metadata service (server-side request forgery). So a target must be `http` or `https`, carry no credentials,
//! and every address its host resolves to must be public. Loopback, private, shared (CGNAT), link-local and
//! metadata addresses are allowed only when the operator says so (`--webhook-allow-private`, for tests and
//! private networks); addresses nobody can deliver to (unspecified, multicast, broadcast, reserved) never are.
//!
//! A caller checks a target when a subscription is made and again before every delivery, and connects to exactly
//! the addresses [`EgressPolicy::resolve`] vetted, so a name that later resolves elsewhere (DNS rebinding) is
//! refused too (the sender's HTTP client resolves names through [`EgressPolicy::resolve_host`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// The longest target URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Why a target is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EgressError {
    #[error("the target is not a URL: {0}")]
    Malformed(String),
    #[error("the target must be an http or https URL")]
    Scheme,
    #[error("the target must not carry credentials (user or password in the URL)")]
    Credentials,
    #[error("the target must not have a fragment (`#...`): it is never sent")]
    Fragment,
    #[error("the target URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the target's host does not resolve: {0}")]
    Unresolved(String),
    #[error("the target resolves to {address}, a {class} address; webhooks are delivered to public addresses only unless the server allows private ones (--webhook-allow-private)")]
    Private { address: IpAddr, class: &'static str },
    #[error("the target resolves to {address}, a {class} address, which nothing can be delivered to")]
    Unusable { address: IpAddr, class: &'static str },
}

/// Where webhooks may go.
#[derive(Debug, Clone, Copy, Default)]
pub struct EgressPolicy {
    /// Loopback, private, shared, link-local and metadata addresses allowed too.
    pub allow_private: bool,
}

/// What kind of address an IP address is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressKind {
    Public,
    /// Reachable only inside a host or a private network; the name says which.
    Private(&'static str),
    /// Not an address one can deliver to.
    Unusable(&'static str),
}

impl EgressPolicy {
    /// `text` as a target URL, if its form is acceptable (its addresses are checked by [`EgressPolicy::resolve`]).
    pub fn parse_url(&self, text: &str) -> Result<Url, EgressError> {
        if text.len() > MAX_URL_LEN {
            return Err(EgressError::TooLong);
        }
        let url = Url::parse(text).map_err(|error| EgressError::Malformed(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(EgressError::Fragment);
        }
        if url.host().is_none() {
            return Err(EgressError::Malformed("no host".to_owned()));
        }
        Ok(url)
    }

    /// Whether a delivery may connect to `address`.
    pub fn check_address(&self, address: IpAddr) -> Result<(), EgressError> {
        match kind(address) {
            AddressKind::Public => Ok(()),
            AddressKind::Private(_) if self.allow_private => Ok(()),
            AddressKind::Private(class) => Err(EgressError::Private { address, class }),
            AddressKind::Unusable(class) => Err(EgressError::Unusable { address, class }),
        }
    }

    /// The addresses `url`'s host resolves to, every one of them allowed: the delivery connects to exactly these.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, EgressError> {
        let host = url.host_str().ok_or_else(|| EgressError::Malformed("no host".to_owned()))?;
        let port = url.port_or_known_default().ok_or(EgressError::Scheme)?;
        // An IPv6 literal comes bracketed in a URL; the resolver wants it bare.
        self.resolve_host(host.trim_start_matches('[').trim_end_matches(']'), port).await
    }

    /// The addresses `host` resolves to (with `port`), every one of them allowed.
    pub async fn resolve_host(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| EgressError::Unresolved(error.to_string()))?
            .collect();
        if addresses.is_empty() {
            return Err(EgressError::Unresolved(format!("{host} has no address")));
        }
        for address in &addresses {
            self.check_address(address.ip())?;
        }
        Ok(addresses)
    }
}

fn kind(address: IpAddr) -> AddressKind {
    match address {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => kind_v6(v6),
    }
}

fn kind_v4(address: Ipv4Addr) -> AddressKind {
    let [a, b, c, _] = address.octets();
    if address == Ipv4Addr::new(169, 254, 169, 254) {
        AddressKind::Private("cloud metadata")
    } else if address.is_loopback() {
        AddressKind::Private("loopback")
    } else if address.is_private() {
        AddressKind::Private("private")
    } else if address.is_link_local() {
        AddressKind::Private("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        AddressKind::Private("shared (carrier-grade NAT)")
    } else if a == 192 && b == 0 && c == 0 {
        AddressKind::Private("IETF protocol assignment")
    } else if a == 0 {
        AddressKind::Unusable("unspecified (\"this network\")")
    } else if address.is_broadcast() {
        AddressKind::Unusable("broadcast")
    } else if address.is_multicast() {
        AddressKind::Unusable("multicast")
    } else if a >= 240 {
        AddressKind::Unusable("reserved")
    } else if address.is_documentation() {
        AddressKind::Unusable("documentation")
    } else if a == 198 && (b == 18 || b == 19) {
        AddressKind::Unusable("benchmarking")
    } else {
        AddressKind::Public
    }
}

fn kind_v6(address: Ipv6Addr) -> AddressKind {
    let segments = address.segments();
    // An IPv4 address written as IPv6 (mapped `::ffff:a.b.c.d`, or NAT64 `64:ff9b::a.b.c.d`) is that address.
    if let Some(v4) = address.to_ipv4_mapped() {
        return kind_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, high, low] = segments;
        return kind_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
    }
    if address == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddressKind::Private("cloud metadata")
    } else if address.is_loopback() {
        AddressKind::Private("loopback")
    } else if address.is_unspecified() {
        AddressKind::Unusable("unspecified")
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        AddressKind::Private("unique local (private)")
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        AddressKind::Private("link-local")
    } else if address.is_multicast() {
        AddressKind::Unusable("multicast")
    } else if segments[0] == 0x2001 && segments[1] == 0xdb8 {
        AddressKind::Unusable("documentation")
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // The deprecated IPv4-compatible form `::a.b.c.d`: no public host has one.
        AddressKind::Unusable("IPv4-compatible (deprecated)")
    } else if segments[..3] == [0x64, 0xff9b, 1] {
        // Local-use NAT64 (RFC 8215): translated inside this network.
        AddressKind::Private("local-use NAT64")
    } else {
        AddressKind::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: EgressPolicy, address: &str) -> Option<EgressError> {
        policy.check_address(address.parse().unwrap()).err()
    }

    #[test]
    fn only_public_addresses_unless_private_ones_are_allowed() {
        let strict = EgressPolicy::default();
        let open = EgressPolicy { allow_private: true };
        for public in ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert_eq!(refused(strict, public), None, "{public}");
        }
        for (private, class) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("192.0.0.8", "IETF protocol assignment"),
            ("::1", "loopback"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fd12:3456::1", "unique local (private)"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b:1::808:808", "local-use NAT64"),
        ] {
            let address: IpAddr = private.parse().unwrap();
            assert_eq!(refused(strict, private), Some(EgressError::Private { address, class }), "{private}");
            assert_eq!(refused(open, private), None, "{private} with --webhook-allow-private");
        }
        for unusable in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "ff02::1",
            "2001:db8::1",
            "::7f00:1",
        ] {
            assert!(matches!(refused(open, unusable), Some(EgressError::Unusable { .. })), "{unusable}");
        }
        assert_eq!(refused(strict, "172.32.0.1"), None, "just outside 172.16/12");
        assert_eq!(refused(strict, "100.128.0.1"), None, "just outside 100.64/10");
    }

    #[test]
    fn a_target_is_an_http_url_without_credentials_or_fragment() {
        let policy = EgressPolicy::default();
        assert!(policy.parse_url("https://hooks.example.com/tally?x=1").is_ok());
        assert!(policy.parse_url("http://[2606:4700::1]:8443/in").is_ok());
        assert_eq!(policy.parse_url("ftp://example.com/"), Err(EgressError::Scheme));
        assert_eq!(policy.parse_url("file:///etc/passwd"), Err(EgressError::Scheme));
        assert_eq!(policy.parse_url("https://user:pw@example.com/"), Err(EgressError::Credentials));
        assert_eq!(policy.parse_url("https://example.com/#top"), Err(EgressError::Fragment));
        assert!(matches!(policy.parse_url("not a url"), Err(EgressError::Malformed(_))));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(policy.parse_url(&long), Err(EgressError::TooLong));
    }

    #[tokio::test]
    async fn resolution_checks_every_address_the_delivery_would_use() {
        let strict = EgressPolicy::default();
        let url = strict.parse_url("http://localhost:9/hook").unwrap();
        assert!(matches!(strict.resolve(&url).await, Err(EgressError::Private { class: "loopback", .. })));
        let url = strict.parse_url("http://[::ffff:10.0.0.1]/hook").unwrap();
        assert!(matches!(strict.resolve(&url).await, Err(EgressError::Private { class: "private", .. })));
        let open = EgressPolicy { allow_private: true };
        let url = open.parse_url("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(open.resolve(&url).await.unwrap(), vec!["127.0.0.1:9".parse().unwrap()]);
    }
}
