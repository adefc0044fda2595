//! The rules for what an application may register as an OAuth client (Graph's `publicClient`,
//! `spa` and `web`): which redirect URIs are acceptable for which kind of client, and the bounds.
//! Matching a requested `redirect_uri` against the registrations is `identity::oauth_clients`.
//!
//! Limits are Entra's documented ones ("Redirect URI (reply URL) restrictions and limitations"):
//! at most 256 redirect URIs on an application (all kinds together) and 256 characters each; no
//! wildcards. `homePageUrl` and `logoutUrl` take the same length bound.

use std::collections::HashSet;

use crate::error::{DomainError, DomainResult};

use super::ClientRegistration;

/// Entra's limit on the redirect URIs of an application signing in work accounts.
pub const MAX_REDIRECT_URIS: usize = 256;
/// Entra's limit on the length of one redirect URI.
pub const MAX_REDIRECT_URI_LENGTH: usize = 256;

/// Which registration a redirect URI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `publicClient`: native and command-line apps; custom schemes and loopback `http`.
    PublicClient,
    /// `spa`: single-page apps (public clients).
    Spa,
    /// `web`: confidential clients.
    Web,
}

impl RedirectKind {
    /// The Graph property holding this kind's redirect URIs, for messages.
    pub fn property(self) -> &'static str {
        match self {
            RedirectKind::PublicClient => "publicClient.redirectUris",
            RedirectKind::Spa => "spa.redirectUris",
            RedirectKind::Web => "web.redirectUris",
        }
    }

    /// A redirect of this kind makes the client public (no client authentication expected).
    pub fn is_public(self) -> bool {
        matches!(self, RedirectKind::PublicClient | RedirectKind::Spa)
    }
}

/// Whether `host` (as written in a URI's authority, IPv6 in brackets) is one of the loopback
/// names RFC 8252 §7.3 lets a native app listen on with any port.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Schemes no registration may use, whatever the kind: they run or read locally in a browser.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

/// Checks one absolute URI registered under `property`; `custom_schemes`: whether a scheme
/// other than `http(s)` is allowed (native apps only).
fn check_uri(uri: &str, property: &str, custom_schemes: bool) -> DomainResult<()> {
    let invalid = |why: &str| DomainError::invalid(format!("{property}: '{uri}' {why}"));
    if uri.is_empty() || uri.len() > MAX_REDIRECT_URI_LENGTH {
        return Err(DomainError::invalid(format!(
            "{property}: each URI has 1 to {MAX_REDIRECT_URI_LENGTH} characters"
        )));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace or control characters"));
    }
    if uri.contains('#') {
        return Err(invalid("has a fragment, which a redirect URI may not have"));
    }
    if uri.contains('*') {
        return Err(invalid("contains a wildcard, which Entra and Writ refuse"));
    }
    let parsed = url::Url::parse(uri).map_err(|_| invalid("is not an absolute URI"))?;
    let scheme = parsed.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(invalid("uses a scheme no redirect URI may use"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "carries user information, which a redirect URI may not",
        ));
    }
    match scheme {
        "https" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid("has no host"));
            }
        }
        "http" => {
            // The raw authority, not `url`'s normalised host: `http://LOCALHOST` is not what a
            // native app's redirect will carry, and exact matching compares the raw text.
            let host = raw_host(uri).unwrap_or_default();
            if !is_loopback_host(host) {
                return Err(invalid(
                    "uses http: only https is allowed, except on the loopback addresses http://localhost, http://127.0.0.1 and http://[::1]",
                ));
            }
        }
        _ if custom_schemes => {}
        _ => {
            return Err(invalid(
                "uses a custom scheme: only publicClient (native apps) may, spa and web need https (or loopback http)",
            ));
        }
    }
    Ok(())
}

/// The host of an `http://` or `https://` URI as written (without port), or `None` if the text
/// has no such authority.
pub fn raw_host(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        return authority.get(..=close);
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

/// Checks an application's client registrations: URIs valid for their kind, at most
/// [`MAX_REDIRECT_URIS`] in all, no URI registered twice (within a kind or across kinds, so that
/// a redirect names one kind of client), `homePageUrl` and `logoutUrl` absolute web URLs.
pub fn check_registration(clients: &ClientRegistration) -> DomainResult<()> {
    let kinds = [
        (
            RedirectKind::PublicClient,
            &clients.public_client_redirect_uris,
        ),
        (RedirectKind::Spa, &clients.spa_redirect_uris),
        (RedirectKind::Web, &clients.web.redirect_uris),
    ];
    let total: usize = kinds.iter().map(|(_, uris)| uris.len()).sum();
    if total > MAX_REDIRECT_URIS {
        return Err(DomainError::invalid(format!(
            "an application has at most {MAX_REDIRECT_URIS} redirect URIs (publicClient, spa and web together)"
        )));
    }
    let mut seen = HashSet::new();
    for (kind, uris) in kinds {
        for uri in uris {
            check_uri(uri, kind.property(), kind == RedirectKind::PublicClient)?;
            if !seen.insert(uri.as_str()) {
                return Err(DomainError::invalid(format!(
                    "{}: '{uri}' is registered twice (redirect URIs are unique across publicClient, spa and web)",
                    kind.property()
                )));
            }
        }
    }
    if let Some(url) = &clients.web.logout_url {
        check_uri(url, "web.logoutUrl", false)?;
    }
    if let Some(url) = &clients.web.home_page_url {
        check_uri(url, "web.homePageUrl", false)?;
    }
    if clients.web.enable_access_token_issuance || clients.web.enable_id_token_issuance {
        return Err(DomainError::Invalid {
            code: "notSupported",
            message: "web.implicitGrantSettings: Writ does not issue tokens through the implicit flow; use the authorization code flow with PKCE".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::WebRegistration;

    fn public(uris: &[&str]) -> ClientRegistration {
        ClientRegistration {
            public_client_redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            ..ClientRegistration::default()
        }
    }

    fn web(uris: &[&str]) -> ClientRegistration {
        ClientRegistration {
            web: WebRegistration {
                redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
                ..WebRegistration::default()
            },
            ..ClientRegistration::default()
        }
    }

    #[test]
    fn accepts_https_loopback_http_and_native_schemes() {
        assert!(check_registration(&web(&["https://app.example/cb?x=1"])).is_ok());
        for uri in [
            "http://localhost",
            "http://localhost:8400/cb",
            "http://127.0.0.1",
            "http://[::1]:3000/",
        ] {
            assert!(check_registration(&web(&[uri])).is_ok(), "{uri}");
        }
        assert!(
            check_registration(&public(&[
                "msalb4c5e0f2-0000-4000-8000-000000000000://auth"
            ]))
            .is_ok()
        );
    }

    #[test]
    fn refuses_invalid_forms() {
        for uri in [
            "",
            "/relative",
            "https://app.example/cb#frag",
            "http://app.example/cb",
            "http://LOCALHOST/cb",
            "http://localhost.evil.example/",
            "https://*.example/cb",
            "https://user:pw@app.example/cb",
            "https://app.example/a b",
            "javascript:alert(1)",
            "myapp://auth",
        ] {
            assert!(check_registration(&web(&[uri])).is_err(), "{uri}");
        }
        assert!(check_registration(&public(&["javascript://x"])).is_err());
        let long = format!(
            "https://app.example/{}",
            "a".repeat(MAX_REDIRECT_URI_LENGTH)
        );
        assert!(check_registration(&web(&[&long])).is_err());
    }

    #[test]
    fn bounds_count_and_refuses_duplicates() {
        let many: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("https://app.example/{i}"))
            .collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_registration(&web(&refs)).is_err());
        assert!(check_registration(&web(&refs[..MAX_REDIRECT_URIS])).is_ok());
        assert!(check_registration(&web(&["https://a.example/", "https://a.example/"])).is_err());
        let mut both = web(&["https://a.example/"]);
        both.spa_redirect_uris = vec!["https://a.example/".into()];
        assert!(check_registration(&both).is_err());
    }

    #[test]
    fn implicit_grant_is_not_supported() {
        let mut clients = web(&[]);
        clients.web.enable_id_token_issuance = true;
        assert!(check_registration(&clients).is_err());
    }

    #[test]
    fn raw_host_reads_the_authority_as_written() {
        assert_eq!(raw_host("http://localhost:80/x"), Some("localhost"));
        assert_eq!(raw_host("http://[::1]:80/x"), Some("[::1]"));
        assert_eq!(raw_host("http://localhost?x"), Some("localhost"));
        assert_eq!(raw_host("http://u@localhost/"), Some("u@localhost"));
        assert_eq!(raw_host("myapp://x"), None);
    }
}
