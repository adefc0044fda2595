//! Outbound HTTP (DESIGN section 2, `outbound.allow_hosts`): the one HTTP client Writ calls other
//! servers with (webhooks; Graph custom-extension callouts obey the same rules), and the address
//! policy it enforces.
//!
//! The policy refuses private, loopback, link-local, unspecified, broadcast, multicast and
//! reserved addresses (IPv4 and IPv6) unless the URL's host name, or an address or CIDR range
//! covering the address, is listed. IPv6 forms that reach an IPv4 address count as that address
//! (IPv4-mapped, IPv4-translated, NAT64 `64:ff9b::/96`); those whose IPv4 destination cannot be
//! checked here are refused outright (IPv4-compatible `::a.b.c.d`, local-use NAT64
//! `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`). It is applied to the addresses the
//! connection will actually use: a host name is resolved by [`CheckedResolver`], which hands the
//! connector only the addresses that passed, so a DNS answer that changes between a check and
//! the connect (rebinding) cannot slip through; an IP-literal URL is checked directly, since the
//! connector does not resolve it. Redirects are never followed and proxies are never used (a
//! proxy would connect on our behalf to an address we did not check).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The allow-list of `outbound.allow_hosts`: host names (exact, case-insensitive) and addresses
/// or CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    hosts: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

/// Why an address may not be called unless listed, or `None` for a public address.
fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64.0.0/10 is carrier-grade NAT: private in all but name.
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("multicast or broadcast")
    } else if a >= 240 {
        Some("reserved (240.0.0.0/4)")
    } else if a == 198 && (b == 18 || b == 19) {
        // 198.18.0.0/15 is for benchmarking interconnects, typically lab networks.
        Some("reserved for benchmarking (198.18.0.0/15)")
    } else if a == 192 && b == 0 && c == 0 {
        // 192.0.0.0/24: IETF protocol assignments (e.g. 192.0.0.170, NAT64 discovery).
        Some("reserved (192.0.0.0/24)")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for, where the network translates it to that IPv4
/// address: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`) and the NAT64
/// well-known prefix (`64:ff9b::/96`, RFC 6052). Such an address is as restricted as the IPv4
/// address it embeds, and an allow-list entry for that IPv4 address allows it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let [.., a, b, c, d] = ip.octets();
    let low = Ipv4Addr::new(a, b, c, d);
    match ip.segments() {
        [0, 0, 0, 0, 0xffff, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        _ => None,
    }
}

fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return restricted_v4(v4);
    }
    let segments = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_unique_local() || (segments[0] & 0xffc0) == 0xfec0 {
        // fec0::/10 (site-local) is deprecated but still private where it is used.
        Some("private")
    } else if ip.is_unicast_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast or broadcast")
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // ::a.b.c.d (IPv4-compatible) is deprecated (RFC 4291) and some stacks still route it
        // to the IPv4 address; nothing public uses it.
        Some("IPv4-compatible (deprecated)")
    } else if segments[..3] == [0x64, 0xff9b, 1] {
        // 64:ff9b:1::/48 is local-use NAT64 (RFC 8215): the embedding is the network's own
        // choice, so which IPv4 address it reaches cannot be told.
        Some("local-use NAT64 (64:ff9b:1::/48)")
    } else if segments[0] == 0x2002 {
        // 6to4 (deprecated, RFC 7526): relays deliver to the embedded IPv4 address. Refused
        // whatever it embeds rather than trusting relays to honour our checks.
        Some("6to4 (2002::/16, deprecated)")
    } else if segments[..2] == [0x2001, 0] {
        // Teredo (2001::/32) also tunnels to an embedded (obfuscated) IPv4 address.
        Some("Teredo (2001::/32)")
    } else {
        None
    }
}

fn parse_network(entry: &str) -> Option<Result<(IpAddr, u8), String>> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let ip: IpAddr = address
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    Some(match prefix {
        None => Ok((ip, max)),
        Some(p) => match p.parse::<u8>() {
            Ok(bits) if bits <= max => Ok((ip, bits)),
            _ => Err(format!(
                "outbound.allow_hosts: '{entry}' has an invalid prefix length"
            )),
        },
    })
}

fn contains((network, bits): (IpAddr, u8), ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl OutboundPolicy {
    /// Reads the allow-list; an entry that looks like an address but is not valid is an error.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            match parse_network(entry) {
                Some(network) => policy.networks.push(network?),
                None if entry.contains('/') => {
                    return Err(format!(
                        "outbound.allow_hosts: '{entry}' is neither a host name nor a CIDR range"
                    ));
                }
                None => policy
                    .hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase()),
            }
        }
        Ok(policy)
    }

    /// Whether `host` (as written in the URL) may be called at `ip`; the reason when not.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        let Some(kind) = restricted(ip) else {
            return Ok(());
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let unmapped = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        if self.hosts.contains(&host)
            || self
                .networks
                .iter()
                .any(|n| contains(*n, ip) || contains(*n, unmapped))
        {
            return Ok(());
        }
        Err(format!(
            "the address {ip} of {host} is {kind}; list the host or address in \
             outbound.allow_hosts (WRIT_OUTBOUND_ALLOW_HOSTS) to allow it"
        ))
    }
}

/// The error a [`CheckedResolver`] fails with when every address of a host was refused;
/// found again in the client's error chain by [`refusal`].
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves host names and keeps only the addresses the policy allows: the connector then
/// connects to exactly what was checked.
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut allowed: Vec<SocketAddr> = Vec::new();
            let mut reason = None;
            for address in found {
                match policy.check(&host, address.ip()) {
                    Ok(()) => allowed.push(address),
                    Err(why) => {
                        reason.get_or_insert(why);
                    }
                }
            }
            if allowed.is_empty() {
                let reason = reason.unwrap_or_else(|| format!("{host} has no address"));
                return Err(Box::new(Refused(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// How long an outbound call may take.
#[derive(Debug, Clone, Copy)]
pub struct OutboundTimeouts {
    pub connect: Duration,
    /// The whole request, from connect to the end of the response headers.
    pub request: Duration,
}

impl Default for OutboundTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(15),
        }
    }
}

/// An HTTP client bound to the policy: checked resolution, no redirects, no proxy, timeouts.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy, timeouts: OutboundTimeouts) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .dns_resolver(CheckedResolver {
                policy: policy.clone(),
            })
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent(concat!("Writ/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the outbound HTTP client: {e}"))?;
        Ok(Self { client, policy })
    }

    /// A GET to `url`, under the same address policy as [`OutboundClient::post`].
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        let parsed = self.checked(url)?;
        Ok(self.client.get(parsed))
    }

    /// `url` parsed, its host checked when it is an IP literal (a name is checked when the
    /// resolver answers).
    fn checked(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| OutboundError::Failed(format!("invalid URL: {e}")))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| OutboundError::Failed("the URL has no host".into()))?;
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal {
            self.policy
                .check(host, ip)
                .map_err(OutboundError::Refused)?;
        }
        Ok(parsed)
    }

    /// A POST to `url` if the policy allows an IP-literal host (host names are checked when
    /// they are resolved).
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        let parsed = self.checked(url)?;
        Ok(self.client.post(parsed))
    }
}

/// Why an outbound call did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The policy refused the address: permanent until the configuration changes.
    Refused(String),
    /// Anything else: connection, TLS, timeout, DNS.
    Failed(String),
}

impl OutboundError {
    /// Classifies a client error, finding a [`Refused`] from the resolver in its chain.
    pub fn from_reqwest(error: &reqwest::Error) -> Self {
        let mut parts = vec![if error.is_timeout() {
            "timed out".to_owned()
        } else if error.is_connect() {
            "could not connect".to_owned()
        } else {
            "the request failed".to_owned()
        }];
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return OutboundError::Refused(refused.0.clone());
            }
            let text = cause.to_string();
            if parts.last() != Some(&text) {
                parts.push(text);
            }
            source = cause.source();
        }
        OutboundError::Failed(parts.join(": "))
    }
}

/// Checks a configured outbound URL: `http` or `https`, with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = crate::redact::url_for_log(url);
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{shown}' is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("'{shown}' must be an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{shown}' has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "'{}' must not carry credentials; sign with the secret instead",
            parsed.host_str().unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn restricted_ranges_are_refused_unless_listed() {
        let empty = OutboundPolicy::default();
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                empty.check("h", ip(address)).is_err(),
                "{address} should be refused"
            );
        }
        for address in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(empty.check("h", ip(address)).is_ok(), "{address} is public");
        }
        let reason = empty.check("localhost", ip("127.0.0.1")).unwrap_err();
        assert!(reason.contains("loopback") && reason.contains("outbound.allow_hosts"));
    }

    #[test]
    fn embedded_ipv4_and_reserved_ranges_are_refused() {
        let empty = OutboundPolicy::default();
        for address in [
            // IPv4-compatible (deprecated): refused whatever it embeds.
            "::127.0.0.1",
            "::10.0.0.1",
            "::93.184.216.34",
            // NAT64 (well-known prefix) of a restricted IPv4 address.
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.1.2.3",
            "64:ff9b::169.254.169.254",
            // Local-use NAT64 (RFC 8215): the embedding is the network's own.
            "64:ff9b:1::a00:1",
            "64:ff9b:1:2::5db8:d822",
            // 6to4 (deprecated, RFC 7526), whatever it embeds.
            "2002:7f00:1::1",
            "2002:5db8:d822::1",
            // Teredo.
            "2001:0:4136:e378::1",
            // IPv4-translated (RFC 2765).
            "::ffff:0:127.0.0.1",
            // Reserved and benchmarking IPv4.
            "240.0.0.1",
            "250.1.2.3",
            "198.18.0.1",
            "198.19.255.254",
            "::ffff:198.18.0.1",
            "64:ff9b::198.18.0.1",
            // Site-local IPv6 (deprecated, private in effect).
            "fec0::1",
        ] {
            assert!(
                empty.check("h", ip(address)).is_err(),
                "{address} should be refused"
            );
        }
        // NAT64 of a public IPv4 address is how IPv6-only networks reach IPv4 hosts.
        for address in ["64:ff9b::93.184.216.34", "198.20.0.1", "239.255.255.255"] {
            let outcome = empty.check("h", ip(address));
            assert_eq!(
                outcome.is_ok(),
                address != "239.255.255.255",
                "{address}: {outcome:?}"
            );
        }
        // A listed IPv4 range also allows its NAT64 form.
        let policy = OutboundPolicy::parse(&["10.0.0.0/8".into()]).unwrap();
        assert!(policy.check("x", ip("64:ff9b::10.1.2.3")).is_ok());
    }

    #[test]
    fn hosts_addresses_and_ranges_allow() {
        let policy = OutboundPolicy::parse(&[
            "127.0.0.1".into(),
            "10.0.0.0/8".into(),
            "Hooks.Internal.".into(),
            "fd00::/8".into(),
        ])
        .unwrap();
        assert!(policy.check("127.0.0.1", ip("127.0.0.1")).is_ok());
        assert!(policy.check("x", ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check("x", ip("127.0.0.2")).is_err());
        assert!(policy.check("x", ip("10.200.1.1")).is_ok());
        assert!(policy.check("x", ip("11.0.0.1")).is_ok(), "public anyway");
        assert!(policy.check("hooks.internal", ip("192.168.0.9")).is_ok());
        assert!(policy.check("other.internal", ip("192.168.0.9")).is_err());
        assert!(policy.check("x", ip("fd12::1")).is_ok());
        assert!(policy.check("x", ip("fe80::1")).is_err());
        assert!(OutboundPolicy::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(OutboundPolicy::parse(&["not a/range".into()]).is_err());
    }

    #[test]
    fn urls_must_be_http_without_credentials() {
        assert!(check_url("https://hooks.example.org/writ").is_ok());
        assert!(check_url("http://127.0.0.1:9000/").is_ok());
        assert!(check_url("ftp://example.org/").is_err());
        assert!(check_url("not a url").is_err());
        let err = check_url("https://user:pw@example.org/").unwrap_err();
        assert!(!err.contains("pw"));
    }
}
