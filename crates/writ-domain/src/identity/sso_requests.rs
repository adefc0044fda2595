//! Single sign-on round trips in flight (DESIGN section 14): what Writ keeps between sending a
//! browser to the upstream OpenID provider and the provider's callback, bound to that browser.
//!
//! - **Binding.** The browser gets a cookie holding a fresh 256-bit random id; the row is found
//!   by the id's SHA-256 hash only. A callback without the cookie of the browser that started the
//!   sign-in finds nothing, so a code or `state` carried to another browser signs no one in.
//! - **Sealed.** The `state`, `nonce` and PKCE verifier are kept encrypted (AES-256-GCM) under a
//!   key derived from the cookie's id (a domain-separated SHA-256), so a copy of the database
//!   reveals none of them.
//! - **Once and briefly.** A callback removes the row it reads ([`Identity::take_sso`], one
//!   `DELETE … RETURNING`), so a replayed callback finds nothing; a row lives
//!   [`PENDING_LIFETIME`] and older ones are swept when a new round trip starts.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::Duration;

use super::federation::AuthorizationRequest;
use super::sessions::{hash_secret, new_secret};
use super::{Identity, IdentityResult};
use crate::error::DomainError;
use crate::model::SsoRequest;

/// How long a person has to sign in at the upstream provider and come back.
pub const PENDING_LIFETIME: Duration = Duration::minutes(10);

/// What the callback needs of the round trip it answers.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
    /// The local path to go to once signed in.
    pub return_to: Option<String>,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

impl PendingSignIn {
    /// Whether the callback's `state` is this round trip's, compared in constant time.
    pub fn state_matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.state.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok()
    }
}

#[derive(Serialize, Deserialize)]
struct Secrets {
    state: String,
    nonce: String,
    code_verifier: String,
}

fn key_for(secret: &str) -> Result<LessSafeKey, DomainError> {
    let mut context = digest::Context::new(&digest::SHA256);
    // Domain separation: never the row's key (`hash_secret`) nor a CSRF token.
    context.update(b"writ-sso-seal\0");
    context.update(secret.as_bytes());
    let key = UnboundKey::new(&AES_256_GCM, context.finish().as_ref())
        .map_err(|_| DomainError::Internal("could not make the sealing key".into()))?;
    Ok(LessSafeKey::new(key))
}

fn seal(secret: &str, secrets: &Secrets) -> Result<String, DomainError> {
    let key = key_for(secret)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
    let mut data = serde_json::to_vec(secrets)
        .map_err(|e| DomainError::Internal(format!("sealing a sign-in: {e}")))?;
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .map_err(|_| DomainError::Internal("could not seal a sign-in".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// `None` when the row was not sealed under this secret's key (it cannot happen for a row found
/// by the secret's hash, but a refusal is safer than a panic).
fn open(secret: &str, sealed: &str) -> Option<Secrets> {
    let key = key_for(secret).ok()?;
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let mut data = bytes.split_off(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
    let plain = key.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
    serde_json::from_slice(plain).ok()
}

impl Identity<'_> {
    /// Keeps `request`'s `state`, `nonce` and verifier, and `return_to`, for
    /// [`PENDING_LIFETIME`]: the secret to set in the browser's cookie. Expired round trips of
    /// everyone are swept in the same transaction.
    pub async fn begin_sso(
        &self,
        request: &AuthorizationRequest,
        return_to: Option<&str>,
    ) -> IdentityResult<String> {
        let now = self.clock.now();
        let secret = new_secret()?;
        let sealed = seal(
            &secret,
            &Secrets {
                state: request.state.clone(),
                nonce: request.nonce.clone(),
                code_verifier: request.code_verifier.clone(),
            },
        )?;
        let expires_at = now
            .checked_add(PENDING_LIFETIME)
            .ok_or_else(|| DomainError::Internal("the clock is out of range".into()))?;
        let mut tx = self.store.begin().await?;
        tx.delete_expired_sso_requests(now).await?;
        tx.insert_sso_request(&SsoRequest {
            id_hash: hash_secret(&secret),
            sealed,
            return_to: return_to.map(str::to_owned),
            created_at: now,
            expires_at,
        })
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// The round trip the cookie `secret` started, removed so that it answers one callback;
    /// `None` when there is none (never started here, used already, or expired).
    pub async fn take_sso(&self, secret: &str) -> IdentityResult<Option<PendingSignIn>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let row = tx.take_sso_request(&hash_secret(secret)).await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        if row.expires_at <= now {
            return Ok(None);
        }
        Ok(open(secret, &row.sealed).map(|secrets| PendingSignIn {
            state: secrets.state,
            nonce: secrets.nonce,
            code_verifier: secrets.code_verifier,
            return_to: row.return_to,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_cookie() {
        let secrets = Secrets {
            state: "s".into(),
            nonce: "n".into(),
            code_verifier: "v".into(),
        };
        let sealed = seal("cookie-a", &secrets).unwrap();
        assert!(!sealed.contains('s') || !sealed.contains("\"state\""));
        let opened = open("cookie-a", &sealed).unwrap();
        assert_eq!(
            (opened.state, opened.nonce, opened.code_verifier),
            ("s".into(), "n".into(), "v".into())
        );
        assert!(open("cookie-b", &sealed).is_none());
        assert!(open("cookie-a", "AAAA").is_none());
        assert!(open("cookie-a", "not base64!").is_none());
        let pending = PendingSignIn {
            state: "abc".into(),
            nonce: String::new(),
            code_verifier: String::new(),
            return_to: None,
        };
        assert!(pending.state_matches("abc"));
        assert!(!pending.state_matches("abd"));
        assert!(!pending.state_matches(""));
    }
}
