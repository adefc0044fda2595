//! Writ as its own token issuer: the signing key (generated and stored, or read from a file),
//! JWT issuance and validation, and the published JWKS. ES256 via aws-lc-rs, the one crypto
//! backend of the build.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The settings key under which a generated signing key is stored (PKCS#8 DER, base64).
pub const SIGNING_KEY_SETTING: &str = "signing_key_es256_pkcs8";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key: {0}")]
    Invalid(String),
}

/// A fresh P-256 key as base64 PKCS#8, the form stored in the database.
pub fn generate_signing_key() -> Result<String, KeyError> {
    let document =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError::Invalid("key generation failed".into()))?;
    Ok(STANDARD.encode(document.as_ref()))
}

/// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) file's contents into DER.
pub fn pkcs8_from_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    if !pem.contains("BEGIN PRIVATE KEY") {
        return Err(KeyError::Invalid(
            "expected a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) holding a P-256 key".into(),
        ));
    }
    STANDARD
        .decode(body)
        .map_err(|e| KeyError::Invalid(format!("PEM body is not base64: {e}")))
}

/// Claims of every token Writ issues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub oid: String,
    pub tid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// `app` or `user`.
    pub idtyp: String,
    pub azp: String,
    pub appid: String,
    pub ver: String,
    pub uti: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub wids: Vec<String>,
    /// App role values held on the token's audience (resource tokens only).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub roles: Vec<String>,
    /// The delegated scopes of a person's token (space-separated); never on an app's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scp: Option<String>,
}

/// Claims of an OpenID Connect id token (Entra's v2 shape). Never accepted as an access token:
/// its `aud` is the client, not Writ.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTokenClaims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub oid: String,
    pub tid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub ver: String,
    pub preferred_username: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
}

/// What an id token says, as `writ_domain::identity::user_tokens` decided it.
pub use writ_domain::identity::user_tokens::IdTokenContent;

/// What a token is issued for and carries, as `writ_domain::identity::claims` decided it.
pub use writ_domain::identity::TokenContent as Subject;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwk: serde_json::Value,
    issuer: String,
    audience: String,
    tenant_id: String,
    lifetime: Duration,
    /// Tokens whose signature, issuer and audience were verified, by the SHA-256 of their bytes.
    verified: VerifiedTokens,
}

/// How many verified tokens are remembered at most (a few MiB at most).
const VERIFIED_TOKENS: usize = 16_384;

/// The claims of tokens whose signature, issuer and audience have been verified, keyed by the
/// SHA-256 of the token's exact bytes. An ES256 verification was ~14 % of the CPU of an
/// authenticated request at 5,000/s (`docs/benchmarks.md`), and a client sends one token many
/// times. What is remembered cannot change while this service lives (its key, issuer and
/// audience are fixed), so a hit is what verifying again would find; the checks against `now`
/// (expiry, not-before) and the tenant run on every call. A principal disabled or confirmed
/// compromised since is refused where every request reads its caller, not here.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>);

impl VerifiedTokens {
    fn key(token: &str) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        key
    }

    fn get(&self, key: &[u8; 32]) -> Option<Claims> {
        self.0.lock().ok()?.get(key).cloned()
    }

    /// Remembers `claims`; when full, forgets the tokens expired at `now`, or else all of them.
    fn put(&self, key: [u8; 32], claims: &Claims, now: i64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= VERIFIED_TOKENS {
            map.retain(|_, kept| kept.exp > now);
            if map.len() >= VERIFIED_TOKENS {
                map.clear();
            }
        }
        map.insert(key, claims.clone());
    }
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys stay out of logs.
        f.debug_struct("TokenService")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// `pkcs8` is the DER of a P-256 private key.
    pub fn new(
        pkcs8: &[u8],
        public_url: &str,
        tenant_id: &str,
        lifetime: Duration,
    ) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|e| KeyError::Invalid(format!("not a P-256 PKCS#8 key: {e}")))?;
        let point = pair.public_key().as_ref();
        // An uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let (x, y) = match (point.first(), point.get(1..33), point.get(33..65)) {
            (Some(4), Some(x), Some(y)) => (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)),
            _ => return Err(KeyError::Invalid("unexpected public key encoding".into())),
        };
        // RFC 7638 thumbprint: the required members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD
            .encode(digest::digest(&digest::SHA256, thumbprint_input.as_bytes()).as_ref());
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "use": "sig", "alg": "ES256",
        });
        Ok(Self {
            encoding: EncodingKey::from_ec_der(pkcs8),
            decoding,
            kid,
            jwk,
            issuer: format!("{public_url}/{tenant_id}/v2.0"),
            audience: public_url.to_owned(),
            tenant_id: tenant_id.to_owned(),
            lifetime,
            verified: VerifiedTokens::default(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }

    /// A token for Writ's own API or a resource application; returns it with its lifetime in
    /// seconds.
    pub fn issue(
        &self,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<(String, i64), TokenError> {
        let iat = now.unix_timestamp();
        // Saturating: lifetimes are bounded by the configuration, and a token can never outlive
        // the representable instants anyway.
        let mut exp = now.saturating_add(subject.lifetime);
        if let Some(cap) = subject.not_after
            && cap < exp
        {
            exp = cap;
        }
        let claims = Claims {
            aud: subject
                .audience
                .clone()
                .unwrap_or_else(|| self.audience.clone()),
            iss: self.issuer.clone(),
            sub: subject.object_id.clone(),
            oid: subject.object_id.clone(),
            tid: self.tenant_id.clone(),
            iat,
            nbf: iat,
            exp: exp.unix_timestamp(),
            idtyp: if subject.is_user { "user" } else { "app" }.into(),
            azp: subject.client_id.clone(),
            appid: subject.client_id.clone(),
            ver: "2.0".into(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
            upn: subject.upn.clone(),
            preferred_username: subject.upn.clone(),
            name: Some(subject.display_name.clone()),
            wids: subject.wids.clone(),
            roles: subject.roles.clone(),
            scp: subject.scp.clone(),
        };
        Ok((self.sign(&claims)?, (exp - now).whole_seconds().max(0)))
    }

    /// A person's id token for the client named in `content`.
    pub fn issue_id_token(
        &self,
        content: &IdTokenContent,
        now: OffsetDateTime,
    ) -> Result<String, TokenError> {
        let iat = now.unix_timestamp();
        let claims = IdTokenClaims {
            aud: content.audience.clone(),
            iss: self.issuer.clone(),
            sub: content.subject.clone(),
            oid: content.object_id.clone(),
            tid: self.tenant_id.clone(),
            iat,
            nbf: iat,
            exp: now.saturating_add(content.lifetime).unix_timestamp(),
            auth_time: content.auth_time.unix_timestamp(),
            ver: "2.0".into(),
            preferred_username: content.preferred_username.clone(),
            name: content.name.clone(),
            email: content.email.clone(),
            nonce: content.nonce.clone(),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(format!("signing failed: {e}")))
    }

    /// Signs arbitrary claims with the current key (also used by tests to forge edge cases).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(format!("signing failed: {e}")))
    }

    /// Checks signature, issuer, audience, tenant and lifetime against `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        let now = now.unix_timestamp();
        let key = VerifiedTokens::key(token);
        let claims = match self.verified.get(&key) {
            Some(claims) => claims,
            None => {
                let mut validation = Validation::new(Algorithm::ES256);
                validation.set_audience(&[&self.audience]);
                validation.set_issuer(&[&self.issuer]);
                validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
                // Expiry is checked below against the injected clock, not the wall clock.
                validation.validate_exp = false;
                validation.validate_nbf = false;
                let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
                    .map_err(|e| TokenError::Invalid(e.to_string()))?;
                self.verified.put(key, &data.claims, now);
                data.claims
            }
        };
        const LEEWAY_SECS: i64 = 30;
        // Saturating: the claims are numbers from the token, whatever they are.
        if claims.exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.saturating_sub(LEEWAY_SECS) > now {
            return Err(TokenError::Invalid("the token is not yet valid".into()));
        }
        if claims.tid != self.tenant_id {
            return Err(TokenError::Invalid(
                "the token was issued for another tenant".into(),
            ));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "8d6f0d8e-4c1a-4d0e-9a57-3f6d1c2b7e10";

    fn new_service() -> TokenService {
        let pkcs8 = STANDARD.decode(generate_signing_key().unwrap()).unwrap();
        TokenService::new(&pkcs8, "https://writ.example", TENANT, Duration::hours(1)).unwrap()
    }

    fn claims(service: &TokenService, issued: i64, uti: &str) -> Claims {
        Claims {
            aud: service.audience().to_owned(),
            iss: service.issuer().to_owned(),
            sub: "agent".into(),
            oid: "agent".into(),
            tid: TENANT.into(),
            iat: issued,
            nbf: issued,
            exp: issued + 3_600,
            idtyp: "app".into(),
            azp: "client".into(),
            appid: "client".into(),
            ver: "2.0".into(),
            uti: uti.into(),
            upn: None,
            preferred_username: None,
            name: None,
            wids: Vec::new(),
            roles: Vec::new(),
            scp: None,
        }
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn a_remembered_token_is_still_checked_against_the_clock() {
        let service = new_service();
        let issued = 1_800_000_000;
        let token = service.sign(&claims(&service, issued, "one")).unwrap();
        let first = service.verify(&token, at(issued + 10)).unwrap();
        // The second verification is answered from memory, with the same claims.
        assert_eq!(service.verify(&token, at(issued + 20)).unwrap(), first);
        assert_eq!(service.verified.0.lock().unwrap().len(), 1);
        // Remembered or not, an expired token is refused, and one not yet valid too.
        assert!(matches!(
            service.verify(&token, at(issued + 3_600 + 31)),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            service.verify(&token, at(issued - 31)),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn a_changed_token_is_verified_not_remembered() {
        let service = new_service();
        let issued = 1_800_000_000;
        let token = service.sign(&claims(&service, issued, "one")).unwrap();
        service.verify(&token, at(issued)).unwrap();
        // The same claims under a forged signature: other bytes, so verified, and refused.
        let (unsigned, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        assert!(matches!(
            service.verify(&forged, at(issued)),
            Err(TokenError::Invalid(_))
        ));
        // Another service's token (another key) is refused even with this service's claims.
        let other = new_service();
        let foreign = other.sign(&claims(&service, issued, "one")).unwrap();
        assert!(service.verify(&foreign, at(issued)).is_err());
        assert_eq!(service.verified.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn memory_of_verified_tokens_is_bounded() {
        let service = new_service();
        let issued = 1_800_000_000;
        let expired = claims(&service, issued - 7_200, "old");
        service.verified.put([1; 32], &expired, issued);
        for n in 0..VERIFIED_TOKENS {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(n as u64 + 10).to_be_bytes());
            service
                .verified
                .put(key, &claims(&service, issued, "live"), issued);
        }
        let map = service.verified.0.lock().unwrap();
        assert!(map.len() <= VERIFIED_TOKENS, "{}", map.len());
        assert!(!map.contains_key(&[1; 32]), "the expired token went first");
    }
}
