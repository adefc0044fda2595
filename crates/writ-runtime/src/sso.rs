//! The client of the upstream OpenID provider single sign-on goes through (DESIGN section 14,
//! `WRIT_SSO_*`): its discovery document and JWKS, fetched and cached; the authorization request
//! (code + PKCE S256 + `state` + `nonce`, whose values the caller keeps for the callback); the
//! code exchange at its token endpoint; and the strict validation of its id token. What comes out
//! is the domain's [`UpstreamClaims`], which `writ_domain::identity::federation` links to a user.
//!
//! Outbound calls use the [`OutboundClient`] and its address policy, with the issuer's host added
//! to the allow-list: the issuer is an administrator's explicit setting, so a provider on a
//! loopback or private address (a local Keycloak, the tests' fake) is allowed, while endpoints the
//! discovery document names on other hosts still pass the ordinary policy. Every answer is read
//! with a size cap. Time comes from the injected clock.

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;
use writ_domain::clock::Clock;
pub use writ_domain::identity::federation::{AuthorizationRequest, UpstreamError};
use writ_domain::identity::federation::{UpstreamClaims, UpstreamProvider};
use writ_domain::secrets;

use crate::outbound::{OutboundClient, OutboundError, OutboundPolicy, OutboundTimeouts};

/// The largest discovery document, JWKS or token response read.
const MAX_BODY: usize = 256 * 1024;
/// How long the discovery document and the JWKS are used before being fetched again.
const CACHE_FOR: Duration = Duration::hours(1);
/// At most one JWKS fetch per this interval because of an unknown `kid` (a token naming keys
/// that do not exist must not make Writ hammer the provider).
const JWKS_REFETCH_INTERVAL: Duration = Duration::seconds(60);
/// The clock difference tolerated on `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);
/// The longest id token read.
const MAX_ID_TOKEN: usize = 16 * 1024;

/// The upstream provider as configured (`WRIT_SSO_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// `WRIT_SSO_ISSUER`, exactly as the provider's `iss` (no trailing slash added or removed).
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client at the provider (PKCE alone).
    pub client_secret: Option<String>,
    /// Always includes `openid`.
    pub scopes: Vec<String>,
    /// The button text's name: "Sign in with {display_name}".
    pub display_name: String,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("scopes", &self.scopes)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl From<OutboundError> for UpstreamError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Refused(reason) | OutboundError::Failed(reason) => {
                Self::Unreachable(reason)
            }
        }
    }
}

/// The fields of the discovery document Writ uses.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Debug, Default)]
struct Cache {
    discovery: Option<(Discovery, OffsetDateTime)>,
    /// The usable keys by `kid` (`""` for a key without one), and when they were fetched.
    keys: Option<(Vec<(String, Jwk)>, OffsetDateTime)>,
    /// The last fetch caused by an unknown `kid`.
    last_miss_fetch: Option<OffsetDateTime>,
}

/// The upstream provider's client. Cheap to clone; the caches are shared.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    config: Arc<UpstreamConfig>,
    http: OutboundClient,
    clock: Arc<dyn Clock>,
    cache: Arc<Mutex<Cache>>,
}

/// The algorithms an upstream id token may be signed with: asymmetric only (a shared-secret
/// HMAC would let anyone holding the client secret mint tokens).
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Checks `WRIT_SSO_ISSUER`: `https://`, or `http://` on a loopback address; no query or
/// fragment.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(issuer)
        .map_err(|e| format!("sso.issuer '{issuer}' is not a URL: {e}"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "sso.issuer '{issuer}' must not have a query or fragment"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("sso.issuer must not carry credentials".into());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("sso.issuer '{issuer}' has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "sso.issuer '{issuer}' must be an https:// URL (http:// only on a loopback address)"
        )),
    }
}

/// The issuer's host name, the default of the button's "Sign in with …".
pub fn issuer_host(issuer: &str) -> Option<String> {
    reqwest::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

impl UpstreamClient {
    /// The client for `config`; `allow_hosts` is `outbound.allow_hosts`, to which the issuer's
    /// host is added.
    pub fn new(
        config: UpstreamConfig,
        allow_hosts: &[String],
        timeouts: OutboundTimeouts,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        check_issuer(&config.issuer)?;
        let host = reqwest::Url::parse(&config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| format!("sso.issuer '{}' has no host", config.issuer))?;
        let mut hosts = allow_hosts.to_vec();
        hosts.push(host);
        let http = OutboundClient::new(OutboundPolicy::parse(&hosts)?, timeouts)?;
        Ok(Self {
            config: Arc::new(config),
            http,
            clock,
            cache: Arc::new(Mutex::new(Cache::default())),
        })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    async fn get_json(&self, url: &str, what: &'static str) -> Result<Value, UpstreamError> {
        let response = self
            .http
            .get(url)?
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::from(OutboundError::from_reqwest(&e.without_url())))?;
        let status = response.status();
        let body = read_capped(response).await?;
        if !status.is_success() {
            return Err(UpstreamError::ProviderError(format!(
                "{what}: HTTP {}",
                status.as_u16()
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::BadDocument(what, format!("not JSON: {e}")))
    }

    async fn discovery(&self) -> Result<Discovery, UpstreamError> {
        let now = self.clock.now();
        if let Some((doc, at)) = &self.cache.lock().await.discovery
            && fresh(*at, now)
        {
            return Ok(doc.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let value = self.get_json(&url, "discovery document").await?;
        let doc: Discovery = serde_json::from_value(value)
            .map_err(|e| UpstreamError::BadDocument("discovery document", e.to_string()))?;
        // OpenID Connect Discovery 1.0 section 4.3: the issuer must be exactly the one asked.
        if doc.issuer != self.config.issuer {
            return Err(UpstreamError::BadDocument(
                "discovery document",
                format!(
                    "its issuer '{}' differs from the configured '{}'",
                    doc.issuer, self.config.issuer
                ),
            ));
        }
        for (name, url) in [
            ("authorization_endpoint", &doc.authorization_endpoint),
            ("token_endpoint", &doc.token_endpoint),
            ("jwks_uri", &doc.jwks_uri),
        ] {
            check_endpoint(url, &self.config.issuer).map_err(|why| {
                UpstreamError::BadDocument("discovery document", format!("{name}: {why}"))
            })?;
        }
        self.cache.lock().await.discovery = Some((doc.clone(), now));
        Ok(doc)
    }

    async fn fetch_keys(&self) -> Result<Vec<(String, Jwk)>, UpstreamError> {
        let doc = self.discovery().await?;
        let value = self.get_json(&doc.jwks_uri, "JWKS").await?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(UpstreamError::BadDocument("JWKS", "no 'keys' array".into()));
        };
        // Keys Writ cannot use (encryption keys, unknown types) are skipped, not fatal.
        let keys = entries
            .iter()
            .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
            .filter(|jwk| {
                !matches!(
                    jwk.common.public_key_use,
                    Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
                )
            })
            .map(|jwk| (jwk.common.key_id.clone().unwrap_or_default(), jwk))
            .collect();
        Ok(keys)
    }

    /// The key for `kid`: from the cache, else fetched (a miss refetches at most once per
    /// [`JWKS_REFETCH_INTERVAL`]).
    async fn key(&self, kid: &str) -> Result<Jwk, UpstreamError> {
        let now = self.clock.now();
        let cached = {
            let cache = self.cache.lock().await;
            cache
                .keys
                .as_ref()
                .and_then(|(keys, at)| fresh(*at, now).then(|| find_key(keys, kid)).flatten())
        };
        if let Some(key) = cached {
            return Ok(key);
        }
        {
            let mut cache = self.cache.lock().await;
            let have_fresh = cache.keys.as_ref().is_some_and(|(_, at)| fresh(*at, now));
            if have_fresh {
                // A miss on a fresh set: refetch only if the last miss-fetch is old enough.
                let recent = cache
                    .last_miss_fetch
                    .is_some_and(|at| now < at.saturating_add(JWKS_REFETCH_INTERVAL));
                if recent {
                    return Err(UpstreamError::UnknownKey);
                }
                cache.last_miss_fetch = Some(now);
            }
        }
        let keys = self.fetch_keys().await?;
        let found = find_key(&keys, kid);
        self.cache.lock().await.keys = Some((keys, now));
        found.ok_or(UpstreamError::UnknownKey)
    }

    /// The authorization request for a sign-in: where to send the browser, and the values to
    /// keep (in the server-side session) for the callback. `redirect_uri` is Writ's callback as
    /// registered at the provider (`{public URL}/signin/sso/callback`).
    pub async fn authorization_request(
        &self,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<AuthorizationRequest, UpstreamError> {
        let doc = self.discovery().await?;
        let random = || {
            secrets::generate_client_secret()
                .map_err(|_| UpstreamError::Unreachable("the system random source failed".into()))
        };
        let (state, nonce, code_verifier) = (random()?, random()?, random()?);
        // S256 (RFC 7636 section 4.2): base64url of the verifier's SHA-256, without padding,
        // which is exactly the stored form of a client secret.
        let challenge = secrets::hash_client_secret(&code_verifier);
        let mut url = reqwest::Url::parse(&doc.authorization_endpoint).map_err(|e| {
            UpstreamError::BadDocument("discovery document", format!("authorization_endpoint: {e}"))
        })?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &self.config.scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 256) {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(AuthorizationRequest {
            url: url.into(),
            state,
            nonce,
            code_verifier,
        })
    }

    /// Exchanges the callback's `code` at the provider's token endpoint; the raw id token.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, UpstreamError> {
        let doc = self.discovery().await?;
        // Built in a block so that the (not `Send`) serializer is gone before the await.
        let (request, form) = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", code_verifier);
            let mut request = self
                .http
                .post(&doc.token_endpoint)?
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json");
            // client_secret_basic unless the provider lists only client_secret_post.
            let post_secret = doc
                .token_endpoint_auth_methods_supported
                .as_ref()
                .is_some_and(|m| {
                    m.iter().any(|m| m == "client_secret_post")
                        && !m.iter().any(|m| m == "client_secret_basic")
                });
            match &self.config.client_secret {
                Some(secret) if !post_secret => {
                    // RFC 6749 section 2.3.1: each part form-encoded before Basic.
                    let encode =
                        |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                    request =
                        request.basic_auth(encode(&self.config.client_id), Some(encode(secret)));
                }
                Some(secret) => {
                    form.append_pair("client_id", &self.config.client_id)
                        .append_pair("client_secret", secret);
                }
                None => {
                    form.append_pair("client_id", &self.config.client_id);
                }
            }
            (request, form.finish())
        };
        let response = request
            .body(form)
            .send()
            .await
            .map_err(|e| UpstreamError::from(OutboundError::from_reqwest(&e.without_url())))?;
        let status = response.status();
        let body = read_capped(response).await?;
        let value: Value = serde_json::from_slice(&body).map_err(|_| {
            UpstreamError::ProviderError(format!("token endpoint: HTTP {}", status.as_u16()))
        })?;
        if !status.is_success() {
            let error = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            let shown: String = error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(UpstreamError::ProviderError(format!(
                "token endpoint: {shown}"
            )));
        }
        value
            .get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(UpstreamError::NoIdToken)
    }

    /// Validates an upstream id token strictly: signature from the provider's JWKS (asymmetric
    /// algorithms only), `iss` exactly the configured issuer, `aud` containing the client id
    /// (and `azp` the client id when there are several audiences, or when present), `exp`,
    /// `nbf` and `iat` against the injected clock with [`CLOCK_SKEW`], `nonce` equal to the one
    /// sent, and a `sub`.
    pub async fn validate_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<UpstreamClaims, UpstreamError> {
        if id_token.len() > MAX_ID_TOKEN {
            return Err(UpstreamError::Malformed("too long".into()));
        }
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| UpstreamError::Malformed(e.to_string()))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(UpstreamError::AlgorithmNotAllowed(format!(
                "{:?}",
                header.alg
            )));
        }
        let jwk = self.key(header.kid.as_deref().unwrap_or_default()).await?;
        if let Some(alg) = jwk.common.key_algorithm
            && key_algorithm(header.alg) != Some(alg)
        {
            return Err(UpstreamError::BadSignature);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| UpstreamError::UnknownKey)?;
        // The library checks the signature (and that the key's family fits the algorithm); the
        // claims are checked below against the injected clock, not the system's.
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => UpstreamError::BadSignature,
                _ => UpstreamError::Malformed(e.to_string()),
            })?;
        check_claims(&self.config, data.claims, nonce, self.clock.now())
    }

    /// The callback's work: the code exchanged, the id token validated against `nonce`.
    pub async fn complete(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamClaims, UpstreamError> {
        let id_token = self
            .exchange_code(code, redirect_uri, code_verifier)
            .await?;
        self.validate_id_token(&id_token, nonce).await
    }
}

#[async_trait::async_trait]
impl UpstreamProvider for UpstreamClient {
    fn display_name(&self) -> &str {
        &self.config.display_name
    }

    async fn authorization_request(
        &self,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<AuthorizationRequest, UpstreamError> {
        UpstreamClient::authorization_request(self, redirect_uri, login_hint).await
    }

    async fn complete(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamClaims, UpstreamError> {
        UpstreamClient::complete(self, code, redirect_uri, code_verifier, nonce).await
    }
}

fn fresh(fetched: OffsetDateTime, now: OffsetDateTime) -> bool {
    now >= fetched && now < fetched.saturating_add(CACHE_FOR)
}

fn find_key(keys: &[(String, Jwk)], kid: &str) -> Option<Jwk> {
    if kid.is_empty() {
        // No `kid`: usable only when the provider publishes a single key.
        return match keys {
            [(_, only)] => Some(only.clone()),
            _ => None,
        };
    }
    keys.iter()
        .find(|(id, _)| id == kid)
        .map(|(_, jwk)| jwk.clone())
}

fn key_algorithm(alg: Algorithm) -> Option<KeyAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        _ => return None,
    })
}

/// An endpoint of the discovery document: `https://`, or `http://` only when the issuer itself
/// is plain http on a loopback address (a local provider).
fn check_endpoint(url: &str, issuer: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if issuer.starts_with("http://") => Ok(()),
        other => Err(format!("scheme '{other}' is not https")),
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| UpstreamError::from(OutboundError::from_reqwest(&e.without_url())))?
    {
        if body.len().saturating_add(chunk.len()) > MAX_BODY {
            return Err(UpstreamError::ProviderError(format!(
                "the answer is larger than {MAX_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A NumericDate claim (seconds since the epoch, RFC 7519) as an instant, bounded to what
/// `time` represents; fractional seconds are truncated.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<OffsetDateTime>, UpstreamError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.trunc() as i64)
        })
        .ok_or_else(|| UpstreamError::Malformed(format!("'{name}' is not a number")))?;
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(Some)
        .map_err(|_| UpstreamError::Malformed(format!("'{name}' is out of range")))
}

/// The claim checks of [`UpstreamClient::validate_id_token`], after the signature.
fn check_claims(
    config: &UpstreamConfig,
    claims: Map<String, Value>,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<UpstreamClaims, UpstreamError> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(UpstreamError::MissingClaim("iss"))?;
    if issuer != config.issuer {
        let shown: String = issuer.chars().take(200).collect();
        return Err(UpstreamError::WrongIssuer(shown));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(UpstreamError::MissingClaim("aud")),
    };
    if !audiences.iter().any(|a| *a == config.client_id) {
        return Err(UpstreamError::WrongAudience);
    }
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != config.client_id => return Err(UpstreamError::WrongAuthorizedParty),
        None if audiences.len() > 1 => return Err(UpstreamError::WrongAuthorizedParty),
        _ => {}
    }
    let exp = numeric_date(&claims, "exp")?.ok_or(UpstreamError::MissingClaim("exp"))?;
    if exp.saturating_add(CLOCK_SKEW) <= now {
        return Err(UpstreamError::Expired);
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && nbf > now.saturating_add(CLOCK_SKEW)
    {
        return Err(UpstreamError::NotYetValid);
    }
    let iat = numeric_date(&claims, "iat")?.ok_or(UpstreamError::MissingClaim("iat"))?;
    if iat > now.saturating_add(CLOCK_SKEW) {
        return Err(UpstreamError::IssuedInFuture);
    }
    let sent = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or(UpstreamError::WrongNonce)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), nonce.as_bytes()).is_err()
    {
        return Err(UpstreamError::WrongNonce);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(UpstreamError::MissingClaim("sub"))?
        .to_owned();
    Ok(UpstreamClaims {
        issuer: config.issuer.clone(),
        subject,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UpstreamConfig {
        UpstreamConfig {
            issuer: "https://idp.example".into(),
            client_id: "writ".into(),
            client_secret: Some("s".into()),
            scopes: vec!["openid".into()],
            display_name: "IdP".into(),
        }
    }

    fn claims(overrides: Value) -> Map<String, Value> {
        let mut base = serde_json::json!({
            "iss": "https://idp.example", "aud": "writ", "sub": "u1", "nonce": "n",
            "exp": 2_000, "iat": 1_000,
        });
        if let (Some(base), Value::Object(o)) = (base.as_object_mut(), overrides) {
            for (k, v) in o {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    base.insert(k, v);
                }
            }
        }
        match base {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn each_claim_rule_refuses_with_its_own_error() {
        let c = config();
        let ok = |o: Value, now: i64| check_claims(&c, claims(o), "n", at(now));
        assert!(ok(serde_json::json!({}), 1_500).is_ok());
        let cases = [
            (
                serde_json::json!({"iss": "https://evil"}),
                1_500,
                UpstreamError::WrongIssuer("https://evil".into()),
            ),
            (
                serde_json::json!({"iss": "https://idp.example/"}),
                1_500,
                UpstreamError::WrongIssuer("https://idp.example/".into()),
            ),
            (
                serde_json::json!({"aud": "other"}),
                1_500,
                UpstreamError::WrongAudience,
            ),
            (
                serde_json::json!({"aud": ["writ", "other"]}),
                1_500,
                UpstreamError::WrongAuthorizedParty,
            ),
            (
                serde_json::json!({"aud": ["writ", "other"], "azp": "other"}),
                1_500,
                UpstreamError::WrongAuthorizedParty,
            ),
            (
                serde_json::json!({"exp": 1_000}),
                1_121,
                UpstreamError::Expired,
            ),
            (
                serde_json::json!({"nbf": 1_700}),
                1_500,
                UpstreamError::NotYetValid,
            ),
            (
                serde_json::json!({"iat": 1_700}),
                1_500,
                UpstreamError::IssuedInFuture,
            ),
            (
                serde_json::json!({"nonce": "m"}),
                1_500,
                UpstreamError::WrongNonce,
            ),
            (
                serde_json::json!({"nonce": null}),
                1_500,
                UpstreamError::WrongNonce,
            ),
            (
                serde_json::json!({"sub": null}),
                1_500,
                UpstreamError::MissingClaim("sub"),
            ),
            (
                serde_json::json!({"exp": null}),
                1_500,
                UpstreamError::MissingClaim("exp"),
            ),
            (
                serde_json::json!({"exp": "soon"}),
                1_500,
                UpstreamError::Malformed("'exp' is not a number".into()),
            ),
            (
                serde_json::json!({"exp": 1e300}),
                1_500,
                UpstreamError::Malformed("'exp' is not a number".into()),
            ),
            (
                serde_json::json!({"exp": i64::MAX}),
                1_500,
                UpstreamError::Malformed("'exp' is out of range".into()),
            ),
        ];
        for (overrides, now, expected) in cases {
            assert_eq!(ok(overrides.clone(), now), Err(expected), "{overrides}");
        }
        // Within the skew: accepted.
        assert!(ok(serde_json::json!({"exp": 1_000}), 1_119).is_ok());
        assert!(
            ok(
                serde_json::json!({"aud": ["writ", "other"], "azp": "writ"}),
                1_500
            )
            .is_ok()
        );
    }

    #[test]
    fn issuers_must_be_https_except_on_loopback() {
        assert!(check_issuer("https://login.example.org/realms/staff").is_ok());
        assert!(check_issuer("http://127.0.0.1:8081").is_ok());
        assert!(check_issuer("http://[::1]:8081/x").is_ok());
        assert!(check_issuer("http://localhost:8081").is_ok());
        assert!(check_issuer("http://idp.example").is_err());
        assert!(check_issuer("ftp://idp.example").is_err());
        assert!(check_issuer("https://idp.example?x=1").is_err());
        assert!(check_issuer("https://u:p@idp.example").is_err());
        assert!(check_issuer("idp.example").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("\"s\""), "{shown}");
    }
}
