//! The address of the client a request comes from (DESIGN section 14, `trusted_proxies` /
//! `WRIT_TRUSTED_PROXIES`): the TCP peer, or, when the peer is a trusted proxy, the rightmost
//! address in `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Why the rightmost untrusted hop: each proxy appends the address it received the request
//! from, so the hops to the right of the first untrusted one were written by proxies we trust,
//! and everything to its left was written by the client (and may be invented). With no trusted
//! proxies (the default) the header is never read, so a client cannot choose its own address.
//!
//! Likewise whether the browser's request came over https ([`is_https`], the [`Https`]
//! extractor): always when Writ speaks TLS itself, else only when a trusted proxy says so in
//! `X-Forwarded-Proto`. Session cookies are `__Host-` and `Secure` only then.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// At most this many hops are read from the right of `X-Forwarded-For`: a chain of proxies is
/// short, and the header must not cost more than that to read.
const MAX_HOPS: usize = 32;

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads `trusted_proxies` entries: `10.0.0.0/8`, `fd00::/8`, or a single address.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let network = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "trusted_proxies: '{entry}' is neither an IP address nor a CIDR range \
                         (e.g. 10.0.0.0/8)"
                    )
                })?;
            networks.push(network.trunc());
        }
        Ok(Self(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(&ip))
    }
}

/// One `X-Forwarded-For` hop: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address: `peer` unless it is a trusted proxy, else the rightmost hop of
/// `X-Forwarded-For` that is not a trusted proxy. A hop that is not an address ends the walk
/// at the last address known (a trusted proxy's). `None` without a peer (an in-process call).
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let mut client = peer?.to_canonical();
    if !trusted.trusts(client) {
        return Some(client);
    }
    // Several header lines form one list, in order.
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let hops = lines.iter().rev().flat_map(|line| line.rsplit(','));
    for text in hops.take(MAX_HOPS) {
        match hop(text) {
            Some(ip) => {
                client = ip;
                if !trusted.trusts(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    Some(client)
}

/// Whether the request reached the first proxy over https, from the TCP peer's
/// `X-Forwarded-Proto`: believed only from a trusted proxy. Its first value counts (a chain of
/// proxies that append lists the client-facing hop first); proxies should set, not append, it.
pub fn forwarded_https(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> bool {
    let Some(peer) = peer else {
        return false;
    };
    if !trusted.trusts(peer.to_canonical()) {
        return false;
    }
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether the browser's request came over https: Writ's own TLS (`own_tls`), or a trusted
/// proxy's `X-Forwarded-Proto: https` ([`forwarded_https`]).
pub fn is_https(
    own_tls: bool,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> bool {
    own_tls || forwarded_https(peer, headers, trusted)
}

/// Extractor: `Https(true)` when the request came over https ([`is_https`] with the server's
/// settings and the connection's peer). Never rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Https(pub bool);

impl axum::extract::FromRequestParts<crate::state::AppState> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(is_https(
            state.settings.tls,
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        map
    }

    #[test]
    fn the_rightmost_untrusted_hop_from_a_trusted_peer() {
        let trusted =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "fd00::1".into(), " ".into()]).unwrap();
        let client = |peer: &str, lines: &[&str]| {
            client_address(Some(ip(peer)), &headers(lines), &trusted).unwrap()
        };
        // Untrusted peers: the header is ignored.
        assert_eq!(client("203.0.113.9", &["1.2.3.4"]), ip("203.0.113.9"));
        // A trusted peer: the first untrusted hop from the right.
        assert_eq!(
            client("10.0.0.1", &["6.6.6.6, 198.51.100.7, 10.2.3.4"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            client("10.0.0.1", &["6.6.6.6", "198.51.100.7:5555", "10.2.3.4"]),
            ip("198.51.100.7")
        );
        assert_eq!(client("fd00::1", &["[2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(
            client("::ffff:10.0.0.1", &["::ffff:198.51.100.7"]),
            ip("198.51.100.7")
        );
        // No header, an unparsable hop, or only trusted hops.
        assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &["junk, 10.0.0.2"]), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.1", &["10.0.0.3, 10.0.0.2"]), ip("10.0.0.3"));
        // No proxies configured: never read.
        let none = TrustedProxies::default();
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), &headers(&["1.2.3.4"]), &none),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(client_address(None, &headers(&["1.2.3.4"]), &trusted), None);
    }

    #[test]
    fn entries_are_addresses_or_ranges() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).is_ok());
        let error = TrustedProxies::parse(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(error.contains("trusted_proxies") && error.contains("10.0.0.0/33"));
        assert!(TrustedProxies::parse(&["proxy.internal".into()]).is_err());
        let long: String = (0..1000)
            .map(|i| format!("10.0.{}.{}, ", i / 250, i % 250))
            .collect();
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        // A long chain of trusted hops is read only so far.
        assert!(client_address(Some(ip("10.0.0.1")), &headers(&[&long]), &trusted).is_some());
    }

    #[test]
    fn https_is_own_tls_or_a_trusted_proxys_forwarded_proto() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let proto = |value: &str| {
            let mut map = HeaderMap::new();
            map.insert("x-forwarded-proto", HeaderValue::from_str(value).unwrap());
            map
        };
        let https = |own_tls: bool, peer: Option<&str>, headers: &HeaderMap| {
            is_https(own_tls, peer.map(ip), headers, &trusted)
        };
        // Writ's own TLS: always, whatever a header says.
        assert!(https(true, Some("203.0.113.9"), &HeaderMap::new()));
        assert!(https(true, None, &proto("http")));
        // Plain HTTP: only a trusted proxy is believed.
        assert!(!https(false, Some("203.0.113.9"), &proto("https")));
        assert!(https(false, Some("10.0.0.1"), &proto("https")));
        assert!(https(false, Some("::ffff:10.0.0.1"), &proto("HTTPS")));
        assert!(https(false, Some("10.0.0.1"), &proto(" https , http")));
        assert!(!https(false, Some("10.0.0.1"), &proto("http, https")));
        assert!(!https(false, Some("10.0.0.1"), &proto("http")));
        assert!(!https(false, Some("10.0.0.1"), &HeaderMap::new()));
        assert!(!https(false, None, &proto("https")));
        // No proxies configured: never read.
        assert!(!is_https(
            false,
            Some(ip("10.0.0.1")),
            &proto("https"),
            &TrustedProxies::default()
        ));
    }
}
