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
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Expiry is checked below against the injected clock, not the wall clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        const LEEWAY_SECS: i64 = 30;
        let now = now.unix_timestamp();
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
