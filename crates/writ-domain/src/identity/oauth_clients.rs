//! Applications as OAuth clients of the authorization endpoints (`authorize`, `devicecode`,
//! `logout`): [`Identity::oauth_client`] resolves a `client_id` to what those endpoints need
//! ([`OAuthClient`]), and [`match_redirect_uri`] decides whether a requested `redirect_uri` is
//! one the application registered. What may be registered is `directory::client_uris`.
//!
//! Matching is exact (DESIGN section 14): the requested text equals a registered URI character
//! for character, with one exception from RFC 8252 §7.3: a registered loopback `http` URI
//! (`http://localhost`, `http://127.0.0.1`, `http://[::1]`) matches the same URI with any port,
//! because a native app listens on a port the operating system gives it. Nothing else: no prefix
//! match, no case folding, no decoding of percent-escapes, no added query, no trailing-slash
//! equivalence, and `localhost` and `127.0.0.1` are different hosts.

use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::directory::client_uris::{RedirectKind, is_loopback_host};
use crate::directory::{Application, ClientRegistration};
use crate::ids;

/// A redirect URI that matched: the kind of its registration and the URI as requested (the one
/// to redirect to, port included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRedirect {
    pub kind: RedirectKind,
    pub uri: String,
}

/// An application as a client of the authorization endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    pub application: Application,
    /// Its enabled service principal: what tokens name as the client.
    pub service_principal: Principal,
    /// It holds at least one client secret (current or not): it can authenticate, so it may
    /// act as a confidential client.
    pub has_credentials: bool,
}

impl OAuthClient {
    /// The `client_id` (`appId`).
    pub fn client_id(&self) -> &str {
        &self.application.app_id
    }

    /// Its registrations (redirect URIs by kind, `web.logoutUrl`).
    pub fn registration(&self) -> &ClientRegistration {
        &self.application.clients
    }

    /// `web.logoutUrl`, if registered.
    pub fn logout_url(&self) -> Option<&str> {
        self.application.clients.web.logout_url.as_deref()
    }

    /// Whether the requested redirect URI is registered, and under which kind.
    pub fn redirect(&self, requested: &str) -> Option<MatchedRedirect> {
        match_redirect_uri(requested, &self.application.clients)
    }

    /// Whether the client is public for a flow using this redirect (`None`: a flow without
    /// one, e.g. device code): `isFallbackPublicClient`, or a `publicClient`/`spa` redirect.
    /// A public client is never asked to authenticate (PKCE protects its codes instead).
    pub fn is_public(&self, redirect: Option<&MatchedRedirect>) -> bool {
        self.application.is_fallback_public_client || redirect.is_some_and(|r| r.kind.is_public())
    }
}

/// Whether `requested` equals a registered redirect URI, by the exact rule of this module; the
/// first match in the order `publicClient`, `spa`, `web` (a URI is registered under one kind
/// only, `directory::client_uris` sees to it).
pub fn match_redirect_uri(
    requested: &str,
    clients: &ClientRegistration,
) -> Option<MatchedRedirect> {
    if requested.contains('#') {
        return None;
    }
    let kinds = [
        (
            RedirectKind::PublicClient,
            &clients.public_client_redirect_uris,
        ),
        (RedirectKind::Spa, &clients.spa_redirect_uris),
        (RedirectKind::Web, &clients.web.redirect_uris),
    ];
    kinds.into_iter().find_map(|(kind, registered)| {
        registered
            .iter()
            .any(|uri| redirect_matches(requested, uri))
            .then(|| MatchedRedirect {
                kind,
                uri: requested.to_owned(),
            })
    })
}

/// One registered URI against the requested one: equal text, or both loopback `http` on the
/// same host with the same path and query, whatever their ports.
pub fn redirect_matches(requested: &str, registered: &str) -> bool {
    if requested == registered {
        return true;
    }
    match (loopback_parts(requested), loopback_parts(registered)) {
        (Some((req_host, req_rest)), Some((reg_host, reg_rest))) => {
            req_host == reg_host && req_rest == reg_rest
        }
        _ => false,
    }
}

/// `http://{loopback host}[:{port}]{rest}` split into host and rest, or `None` if the text is not
/// a loopback `http` URI written that way (a port must be 1 to 65535 in decimal digits; user
/// information, another host or another scheme is not loopback).
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let after = uri.strip_prefix("http://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (host, port) = if let Some(close) = authority
        .strip_prefix('[')
        .and_then(|_| authority.find(']'))
    {
        let (host, tail) = authority.split_at(close.checked_add(1)?);
        (host, tail)
    } else {
        match authority.find(':') {
            Some(colon) => authority.split_at(colon),
            None => (authority, ""),
        }
    };
    if !is_loopback_host(host) {
        return None;
    }
    if let Some(digits) = port.strip_prefix(':') {
        let valid = !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid {
            return None;
        }
    } else if !port.is_empty() {
        return None;
    }
    Some((host, rest))
}

impl Identity<'_> {
    /// The application a `client_id` names, as a client of the authorization endpoints: an
    /// unknown id, an agent identity or a blueprint is `InvalidClient` (they do not sign people
    /// in); an application without an enabled service principal is `UnauthorizedClient`.
    pub async fn oauth_client(&self, client_id: &str) -> IdentityResult<OAuthClient> {
        let client_id = ids::parse_guid(client_id).ok_or(IdentityError::InvalidClient)?;
        let application = self
            .store
            .application_by_app_id(&client_id)
            .await?
            .filter(|app| app.kind == crate::directory::ApplicationKind::Application)
            .ok_or(IdentityError::InvalidClient)?;
        let service_principal = self
            .store
            .service_principal_by_app_id(&client_id)
            .await?
            .filter(|sp| sp.account_enabled)
            .map(Principal::from)
            .ok_or(IdentityError::UnauthorizedClient)?;
        let has_credentials = !self
            .store
            .password_credentials(&application.id)
            .await?
            .is_empty();
        Ok(OAuthClient {
            application,
            service_principal,
            has_credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::WebRegistration;

    fn registered(public: &[&str], spa: &[&str], web: &[&str]) -> ClientRegistration {
        let own = |v: &[&str]| v.iter().map(|u| (*u).to_owned()).collect();
        ClientRegistration {
            public_client_redirect_uris: own(public),
            spa_redirect_uris: own(spa),
            web: WebRegistration {
                redirect_uris: own(web),
                ..WebRegistration::default()
            },
        }
    }

    fn kind_of(requested: &str, clients: &ClientRegistration) -> Option<RedirectKind> {
        match_redirect_uri(requested, clients).map(|m| m.kind)
    }

    #[test]
    fn exact_text_matches_and_names_the_kind() {
        let c = registered(
            &["msal0000://auth"],
            &["https://spa.example/"],
            &["https://web.example/cb"],
        );
        assert_eq!(
            kind_of("msal0000://auth", &c),
            Some(RedirectKind::PublicClient)
        );
        assert_eq!(kind_of("https://spa.example/", &c), Some(RedirectKind::Spa));
        assert_eq!(
            kind_of("https://web.example/cb", &c),
            Some(RedirectKind::Web)
        );
        let matched = match_redirect_uri("https://web.example/cb", &c);
        assert_eq!(
            matched.map(|m| m.uri).as_deref(),
            Some("https://web.example/cb")
        );
    }

    #[test]
    fn nothing_but_exact_text_for_non_loopback() {
        let c = registered(&[], &[], &["https://web.example/cb"]);
        for requested in [
            "https://web.example/cb/",
            "https://web.example/c",
            "https://web.example/cb/more",
            "https://web.example/CB",
            "https://WEB.example/cb",
            "https://web.example/cb?x=1",
            "https://web.example/cb#x",
            "https://web.example:443/cb",
            "https://web.example:8443/cb",
            "https://user@web.example/cb",
            "https://web.example/%63b",
            "http://web.example/cb",
        ] {
            assert_eq!(kind_of(requested, &c), None, "{requested}");
        }
    }

    #[test]
    fn loopback_matches_any_port_only() {
        let c = registered(&["http://localhost", "http://127.0.0.1/cb"], &[], &[]);
        for requested in [
            "http://localhost",
            "http://localhost:1",
            "http://localhost:53123",
            "http://localhost:65535",
            "http://127.0.0.1:8400/cb",
            "http://127.0.0.1/cb",
        ] {
            assert_eq!(
                kind_of(requested, &c),
                Some(RedirectKind::PublicClient),
                "{requested}"
            );
        }
        for requested in [
            "http://localhost:0",
            "http://localhost:65536",
            "http://localhost:",
            "http://localhost:8x",
            "http://localhost:+80",
            "http://localhost:8400/",
            "http://localhost/",
            "http://localhost?x=1",
            "http://localhost:8400#x",
            "https://localhost:8400",
            "http://127.0.0.1:8400",
            "http://127.0.0.1:8400/cb/",
            "http://127.0.0.1:8400/CB",
            "http://[::1]:8400/cb",
            "http://LOCALHOST:8400",
            "http://localhost.evil.example:8400",
            "http://localhost@evil.example",
            "http://evil@localhost:8400",
            "http://localhost:8400@evil.example",
        ] {
            assert_eq!(kind_of(requested, &c), None, "{requested}");
        }
    }

    #[test]
    fn ipv6_loopback_matches_any_port() {
        let c = registered(&[], &[], &["http://[::1]/cb"]);
        assert_eq!(kind_of("http://[::1]:9000/cb", &c), Some(RedirectKind::Web));
        assert_eq!(kind_of("http://[::1]/cb", &c), Some(RedirectKind::Web));
        assert_eq!(kind_of("http://[::1]:/cb", &c), None);
        assert_eq!(kind_of("http://[::2]:9000/cb", &c), None);
    }

    #[test]
    fn loopback_registration_with_port_matches_other_ports() {
        let c = registered(&["http://localhost:3000/auth"], &[], &[]);
        assert!(kind_of("http://localhost:4000/auth", &c).is_some());
        assert!(kind_of("http://localhost/auth", &c).is_some());
        assert!(kind_of("http://localhost:4000/auth%2F", &c).is_none());
    }

    #[test]
    fn public_when_fallback_or_public_redirect() {
        let mut app = Application::new(
            "o".into(),
            "a".into(),
            "n".into(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        app.clients = registered(
            &["http://localhost"],
            &["https://spa.example/"],
            &["https://w.example/"],
        );
        let sp = crate::directory::ServicePrincipal::new(
            "s".into(),
            "a".into(),
            "n".into(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let client = OAuthClient {
            application: app,
            service_principal: Principal::from(sp),
            has_credentials: true,
        };
        let web = client.redirect("https://w.example/");
        let spa = client.redirect("https://spa.example/");
        let native = client.redirect("http://localhost:5000");
        assert!(!client.is_public(web.as_ref()));
        assert!(client.is_public(spa.as_ref()));
        assert!(client.is_public(native.as_ref()));
        assert!(!client.is_public(None));
        let mut fallback = client.clone();
        fallback.application.is_fallback_public_client = true;
        assert!(fallback.is_public(None));
        assert!(fallback.is_public(web.as_ref()));
    }
}
