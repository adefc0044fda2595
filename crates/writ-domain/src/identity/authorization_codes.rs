//! Authorization codes of the `authorize` endpoint (RFC 6749 section 4.1, PKCE RFC 7636, DESIGN
//! section 14): issuing one to a signed-in person, and the rules of the `authorization_code`
//! grant that spends it.
//!
//! - **Codes** are 256-bit random values (aws-lc-rs's system RNG, base64url), stored only as
//!   SHA-256 hashes, bound to the client, the exact redirect URI, the person, the scope, the
//!   OpenID `nonce`, the PKCE challenge, `auth_time` and the session. They live
//!   [`CODE_LIFETIME`] and are spent once.
//! - **PKCE**: only `S256`. The challenge is base64url(SHA-256(verifier)) — the same function
//!   as the stored form of a secret — so checking a verifier is one constant-time comparison of
//!   hashes ([`secrets::verify_client_secret`]). A verifier is 43 to 128 characters of RFC 7636's
//!   unreserved alphabet. A code issued without a challenge refuses any verifier (no downgrade).
//! - **Redemption**, in this order: an unknown code is `invalid_grant`; a code already spent is
//!   reuse — `invalid_grant`, audited, and what the first redemption issued is revoked (the
//!   refresh token family recorded on the code with [`Identity::record_code_refresh_token`]; access
//!   tokens are self-contained JWTs and end at their `exp`); then another client, another
//!   redirect URI, an expired code or a wrong or missing verifier are `invalid_grant`, audited
//!   with the person as target; otherwise the code is spent in one conditional update, so two
//!   concurrent grants issue once.

use time::{Duration, OffsetDateTime};

use super::sessions::{SignInContext, SignedIn, user_event};
use super::{Identity, IdentityResult, Principal};
use crate::error::DomainError;
use crate::model::AuthorizationCode;
use crate::secrets;

/// How long a code may be redeemed after it was issued (Entra: up to 10 minutes; RFC 6749
/// recommends at most 10; a browser hands it over within seconds).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// Expired codes are kept this long (so a late reuse is still recognised), then swept.
pub const KEEP_EXPIRED: Duration = Duration::days(1);
/// RFC 7636 section 4.1: the verifier's length bounds.
pub const VERIFIER_MIN: usize = 43;
pub const VERIFIER_MAX: usize = 128;
/// An S256 challenge: base64url without padding of 32 bytes.
pub const CHALLENGE_LEN: usize = 43;

/// Whether `verifier` is a PKCE code verifier (43–128 of `A-Z a-z 0-9 - . _ ~`).
pub fn is_code_verifier(verifier: &str) -> bool {
    (VERIFIER_MIN..=VERIFIER_MAX).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` can be an S256 challenge (43 base64url characters).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == CHALLENGE_LEN
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The S256 challenge of a verifier (RFC 7636 section 4.2).
pub fn s256(verifier: &str) -> String {
    secrets::hash_client_secret(verifier)
}

/// What the grant presents besides the code.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// Why a known, unspent code is refused (all `invalid_grant` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    OtherClient,
    OtherRedirect,
    Expired,
    VerifierMissing,
    VerifierWrong,
    VerifierUnexpected,
}

impl CodeRefusal {
    pub fn describe(self) -> &'static str {
        match self {
            CodeRefusal::OtherClient => "The code was issued to another client.",
            CodeRefusal::OtherRedirect => {
                "The redirect_uri is not the one the code was issued for."
            }
            CodeRefusal::Expired => "The code has expired.",
            CodeRefusal::VerifierMissing => "The code_verifier is missing.",
            CodeRefusal::VerifierWrong => "The code_verifier does not match the code_challenge.",
            CodeRefusal::VerifierUnexpected => {
                "A code_verifier was sent for a code issued without a code_challenge."
            }
        }
    }
}

/// The rule of a grant on a stored, unspent code at `now`.
pub fn redeem_rule(
    code: &AuthorizationCode,
    presented: &Presented<'_>,
    now: OffsetDateTime,
) -> Result<(), CodeRefusal> {
    if code.client_id != presented.client_id {
        return Err(CodeRefusal::OtherClient);
    }
    if presented.redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(CodeRefusal::OtherRedirect);
    }
    if now >= code.expires_at {
        return Err(CodeRefusal::Expired);
    }
    match (&code.code_challenge, presented.code_verifier) {
        (Some(_), None) => Err(CodeRefusal::VerifierMissing),
        (Some(challenge), Some(verifier)) => {
            if is_code_verifier(verifier) && secrets::verify_client_secret(verifier, challenge) {
                Ok(())
            } else {
                Err(CodeRefusal::VerifierWrong)
            }
        }
        (None, Some(_)) => Err(CodeRefusal::VerifierUnexpected),
        (None, None) => Ok(()),
    }
}

/// What the authorization endpoint binds to a new code.
#[derive(Debug, Clone)]
pub struct CodeRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
}

/// A grant's answer, before the server renders it.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// Issue tokens for `user`; record the refresh token issued on `code_hash`.
    Granted {
        user: Principal,
        scope: String,
        nonce: Option<String>,
        auth_time: OffsetDateTime,
        code_hash: String,
    },
    /// Unknown, or refused for the reason given.
    Invalid(&'static str),
    /// Spent before: `invalid_grant`; `revoke` names the family to revoke, if one was issued.
    Reused { revoke: Option<String> },
}

impl Identity<'_> {
    /// A new code for the signed-in person; the code to send to the redirect URI. Codes expired
    /// before [`KEEP_EXPIRED`] are swept in the same transaction.
    pub async fn issue_authorization_code(
        &self,
        signed_in: &SignedIn,
        request: &CodeRequest<'_>,
    ) -> IdentityResult<String> {
        let now = self.clock.now();
        let expires_at = now.checked_add(CODE_LIFETIME).ok_or_else(|| {
            DomainError::Internal("the authorization code expiry is out of range".into())
        })?;
        let code = secrets::generate_client_secret()?;
        let row = AuthorizationCode {
            code_hash: secrets::hash_client_secret(&code),
            client_id: request.client_id.to_owned(),
            redirect_uri: request.redirect_uri.to_owned(),
            user_id: signed_in.user.id.clone(),
            scope: request.scope.to_owned(),
            nonce: request.nonce.map(str::to_owned),
            code_challenge: request.code_challenge.map(str::to_owned),
            auth_time: signed_in.session.auth_time,
            session_hash: Some(signed_in.session.id_hash.clone()),
            created_at: now,
            expires_at,
            redeemed_at: None,
            token_family: None,
        };
        let mut tx = self.store.begin().await?;
        if let Some(before) = now.checked_sub(KEEP_EXPIRED) {
            tx.delete_expired_authorization_codes(before).await?;
        }
        tx.insert_authorization_code(&row).await?;
        tx.commit().await?;
        Ok(code)
    }

    /// The `authorization_code` grant's rules on `code` (the client was authenticated, or is
    /// public, by the caller). Audited: success, refusal of a known code, and reuse.
    pub async fn redeem_authorization_code(
        &self,
        code: &str,
        presented: &Presented<'_>,
        context: &SignInContext,
    ) -> IdentityResult<CodeRedemption> {
        let now = self.clock.now();
        let hash = secrets::hash_client_secret(code);
        let Some(stored) = self.store.authorization_code(&hash).await? else {
            return Ok(CodeRedemption::Invalid(
                "The authorization code is not valid.",
            ));
        };
        let user = self.store.user(&stored.user_id).await?.map(Principal::from);
        let audit = |activity: &str, reason: Option<&str>| {
            user.as_ref().map(|user| {
                let mut record = user_event(user, now, activity, "Update", context)
                    .detail("clientId", stored.client_id.clone());
                if let Some(reason) = reason {
                    record = record.detail("reason", reason.to_owned());
                }
                record
            })
        };
        if stored.redeemed_at.is_some() {
            // RFC 6749 section 4.1.2: revoke what the first redemption issued (its refresh token
            // family; the access token is a JWT and ends at its `exp`), in the audit's
            // transaction.
            let mut tx = self.store.begin().await?;
            let mut revoked = 0;
            if let Some(family) = &stored.token_family {
                revoked = tx.revoke_refresh_family(family, now).await?;
            }
            if let Some(record) = audit("Authorization code reuse detected", None) {
                let record = match &stored.token_family {
                    Some(family) => record
                        .detail("familyId", family.clone())
                        .detail("refreshTokensRevoked", revoked.to_string()),
                    None => record,
                };
                tx.append_audit(&record).await?;
            }
            tx.commit().await?;
            return Ok(CodeRedemption::Reused {
                revoke: stored.token_family,
            });
        }
        if let Err(refusal) = redeem_rule(&stored, presented, now) {
            if let Some(record) = audit("Authorization code refused", Some(refusal.describe())) {
                let mut tx = self.store.begin().await?;
                tx.append_audit(&record).await?;
                tx.commit().await?;
            }
            return Ok(CodeRedemption::Invalid(refusal.describe()));
        }
        let Some(enabled) = user.as_ref().filter(|u| u.enabled).cloned() else {
            return Ok(CodeRedemption::Invalid(
                "The user of this code no longer exists or is disabled.",
            ));
        };
        let mut tx = self.store.begin().await?;
        if !tx.spend_authorization_code(&hash, now).await? {
            // Another grant spent it between the read and this update: that is reuse too.
            if let Some(record) = audit("Authorization code reuse detected", None) {
                tx.append_audit(&record).await?;
            }
            tx.commit().await?;
            return Ok(CodeRedemption::Reused { revoke: None });
        }
        tx.append_audit(
            &user_event(
                &enabled,
                now,
                "Authorization code redeemed",
                "Update",
                context,
            )
            .detail("clientId", stored.client_id.clone())
            .detail("scope", stored.scope.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(CodeRedemption::Granted {
            user: enabled,
            scope: stored.scope,
            nonce: stored.nonce,
            auth_time: stored.auth_time,
            code_hash: hash,
        })
    }

    /// Records on a redeemed code the refresh token family its grant started (found from the
    /// refresh token handed out), so that a reuse of the code revokes it.
    pub async fn record_code_refresh_token(
        &self,
        code_hash: &str,
        refresh_token: &str,
    ) -> IdentityResult<()> {
        let mut tx = self.store.begin().await?;
        let hash = super::user_tokens::refresh_token_hash(refresh_token);
        if let Some(token) = tx.refresh_token_by_hash(&hash).await? {
            tx.set_authorization_code_family(code_hash, &token.family_id)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn code(challenge: Option<&str>) -> AuthorizationCode {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        AuthorizationCode {
            code_hash: "h".into(),
            client_id: "c".into(),
            redirect_uri: "http://localhost:1234".into(),
            user_id: "u".into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: challenge.map(str::to_owned),
            auth_time: t0,
            session_hash: None,
            created_at: t0,
            expires_at: t0 + CODE_LIFETIME,
            redeemed_at: None,
            token_family: None,
        }
    }

    fn presented<'a>(verifier: Option<&'a str>) -> Presented<'a> {
        Presented {
            client_id: "c",
            redirect_uri: Some("http://localhost:1234"),
            code_verifier: verifier,
        }
    }

    #[test]
    fn s256_is_rfc_7636_appendix_b() {
        assert_eq!(
            s256(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_s256_challenge(&s256(VERIFIER)));
        assert!(is_code_verifier(VERIFIER));
        assert!(!is_code_verifier(&"a".repeat(42)));
        assert!(is_code_verifier(&"a".repeat(128)));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_s256_challenge("plain-text"));
        assert!(!is_s256_challenge(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn redemption_rules() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let challenge = s256(VERIFIER);
        let pkce = code(Some(&challenge));
        assert_eq!(redeem_rule(&pkce, &presented(Some(VERIFIER)), t0), Ok(()));
        // Still valid one microsecond before the end; not at the end.
        let just_before = t0 + CODE_LIFETIME - Duration::microseconds(1);
        assert_eq!(
            redeem_rule(&pkce, &presented(Some(VERIFIER)), just_before),
            Ok(())
        );
        assert_eq!(
            redeem_rule(&pkce, &presented(Some(VERIFIER)), t0 + CODE_LIFETIME),
            Err(CodeRefusal::Expired)
        );
        assert_eq!(
            redeem_rule(&pkce, &presented(None), t0),
            Err(CodeRefusal::VerifierMissing)
        );
        let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            redeem_rule(&pkce, &presented(Some(wrong)), t0),
            Err(CodeRefusal::VerifierWrong)
        );
        // The challenge itself is not a verifier of itself.
        assert_eq!(
            redeem_rule(&pkce, &presented(Some(&challenge)), t0),
            Err(CodeRefusal::VerifierWrong)
        );
        let other_client = Presented {
            client_id: "d",
            ..presented(Some(VERIFIER))
        };
        assert_eq!(
            redeem_rule(&pkce, &other_client, t0),
            Err(CodeRefusal::OtherClient)
        );
        for uri in [
            None,
            Some("http://localhost:1235"),
            Some("http://localhost:1234/"),
        ] {
            let other = Presented {
                redirect_uri: uri,
                ..presented(Some(VERIFIER))
            };
            assert_eq!(
                redeem_rule(&pkce, &other, t0),
                Err(CodeRefusal::OtherRedirect)
            );
        }
        let plain = code(None);
        assert_eq!(redeem_rule(&plain, &presented(None), t0), Ok(()));
        assert_eq!(
            redeem_rule(&plain, &presented(Some(VERIFIER)), t0),
            Err(CodeRefusal::VerifierUnexpected)
        );
    }
}
