//! Tokens for people (DESIGN section 14): what every user grant (password, device code,
//! authorization code, refresh) answers, decided once here — the delegated scopes an access
//! token carries (`scp`), the `id_token`'s content and pairwise `sub`, `client_info`, and the
//! refresh tokens (issued on `offline_access`, stored hashed, rotated on every use, a family
//! revoked when a rotated one comes back, all of a user's revoked when the user is disabled,
//! deleted, changes password or signs out everywhere). The HTTP crate signs and renders.
//!
//! Decisions where Entra leaves room:
//! - `sub` is pairwise, as Entra's: base64url(SHA-256(`{tid}:{client_id}:{oid}`)), so two
//!   applications cannot correlate a person by `sub`; `oid` is the stable id across them.
//! - Writ's API is one resource whose delegated scopes are [`WRIT_API_SCOPES`]: asking for it
//!   (`.default`) grants them all, because Writ authorizes every call from the database (the
//!   person's own roles), never from `scp`. A resource application's token carries the enabled
//!   `oauth2PermissionScopes` values it defines. `openid`, `profile`, `email` and
//!   `offline_access` are OpenID scopes, never in `scp`.
//! - A refresh token slides: each rotation lasts the configured lifetime from its use, but no
//!   family outlives [`REFRESH_FAMILY_MAX_LIFETIME`] from its sign-in: then the person signs in
//!   again.
//! - A refresh grant may ask for a subset of the scopes granted at sign-in, never more.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::directory::User;
use crate::error::DomainError;
use crate::model::{Actor, AuditRecord, PermissionScope, RefreshToken};
use crate::{ids, secrets};

/// The OpenID scopes: they shape the id token and the refresh token, never `scp`.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The delegated scopes of Writ's own API, all granted by its `.default`.
pub const WRIT_API_SCOPES: [&str; 2] = [
    "Directory.AccessAsUser.All",
    "EntitlementManagement.ReadWrite.All",
];

/// No refresh token family outlives this from its sign-in, however often it is rotated.
pub const REFRESH_FAMILY_MAX_LIFETIME: Duration = Duration::days(365);
/// The bounds of `WRIT_REFRESH_TOKEN_LIFETIME` (the sliding lifetime).
pub const MIN_REFRESH_TOKEN_LIFETIME: Duration = Duration::minutes(5);
pub const MAX_REFRESH_TOKEN_LIFETIME: Duration = REFRESH_FAMILY_MAX_LIFETIME;
/// The default sliding lifetime (`P90D`, Entra's).
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::days(90);
/// The longest refresh token value accepted (Writ's are 43 characters).
pub const MAX_REFRESH_TOKEN_CHARS: usize = 512;
/// How many dead refresh tokens one sign-in sweeps away (bounded work per pass).
pub const SWEEP_PER_SIGN_IN: u32 = 100;

/// Sign-ins and refresh token reuse are audited under Entra's `Authentication` category, apart
/// from the changes administrators make to users (`UserManagement`).
const CATEGORY: &str = super::SIGN_IN_AUDIT_CATEGORY;

/// The scopes a request names, split into OpenID scopes and the rest (resource scopes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedScopes {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
    /// The resource scopes as given (e.g. `https://graph.microsoft.com/.default`).
    pub resource: Vec<String>,
}

impl RequestedScopes {
    pub fn parse(scope: Option<&str>) -> Self {
        let mut out = Self::default();
        for s in scope.unwrap_or_default().split_whitespace() {
            match s.to_ascii_lowercase().as_str() {
                "openid" => out.openid = true,
                "profile" => out.profile = true,
                "email" => out.email = true,
                "offline_access" => out.offline_access = true,
                _ if !out.resource.iter().any(|r| r == s) => out.resource.push(s.to_owned()),
                _ => {}
            }
        }
        out
    }

    /// The scope string answered (and stored with a refresh token): the resource scopes as
    /// asked, then the OpenID scopes granted.
    pub fn granted(&self) -> String {
        let mut parts: Vec<&str> = self.resource.iter().map(String::as_str).collect();
        for (asked, name) in [
            (self.openid, "openid"),
            (self.profile, "profile"),
            (self.email, "email"),
            (self.offline_access, "offline_access"),
        ] {
            if asked {
                parts.push(name);
            }
        }
        parts.join(" ")
    }
}

/// The scope a refresh grant asks for, checked against what the sign-in granted: absent means
/// the same; a subset narrows; anything beyond is `invalid_scope`.
pub fn narrowed_scope(granted: &str, requested: Option<&str>) -> IdentityResult<String> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(granted.to_owned());
    };
    let held: Vec<String> = granted
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(extra) = requested
        .split_whitespace()
        .find(|s| !held.contains(&s.to_ascii_lowercase()))
    {
        return Err(IdentityError::InvalidScope(format!(
            "The scope '{extra}' was not granted at sign-in: a refresh token may narrow its scopes, never widen them."
        )));
    }
    Ok(RequestedScopes::parse(Some(requested)).granted())
}

/// The `scp` of a person's access token: Writ's API scopes, or the enabled delegated scopes a
/// resource application defines; `None` when there are none.
pub fn delegated_scopes(for_writ: bool, defined: &[PermissionScope]) -> Option<String> {
    let scopes: Vec<&str> = if for_writ {
        WRIT_API_SCOPES.to_vec()
    } else {
        defined
            .iter()
            .filter(|s| s.is_enabled)
            .filter_map(|s| s.value.as_deref())
            .collect()
    };
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// Entra-style pairwise subject: one person has a different `sub` per application.
pub fn pairwise_subject(tenant_id: &str, client_id: &str, object_id: &str) -> String {
    let input = format!(
        "{}:{}:{}",
        tenant_id.to_ascii_lowercase(),
        client_id.to_ascii_lowercase(),
        object_id.to_ascii_lowercase()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// `client_info`: base64url of `{"uid": oid, "utid": tid}`, which MSAL builds its account from.
pub fn client_info(object_id: &str, tenant_id: &str) -> String {
    let json = serde_json::json!({ "uid": object_id, "utid": tenant_id });
    URL_SAFE_NO_PAD.encode(json.to_string().as_bytes())
}

/// What an `id_token` says (the HTTP crate adds `iss`, `tid`, `iat`, `nbf`, `exp`, `ver`).
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenContent {
    /// The client id (`aud`).
    pub audience: String,
    /// Pairwise (see [`pairwise_subject`]).
    pub subject: String,
    pub object_id: String,
    pub preferred_username: String,
    pub name: String,
    pub email: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: OffsetDateTime,
    pub lifetime: Duration,
}

/// The id token of `user` for `client_id`.
pub fn id_token_content(
    user: &User,
    client_id: &str,
    tenant_id: &str,
    nonce: Option<&str>,
    auth_time: OffsetDateTime,
    lifetime: Duration,
) -> IdTokenContent {
    IdTokenContent {
        audience: client_id.to_owned(),
        subject: pairwise_subject(tenant_id, client_id, &user.id),
        object_id: user.id.clone(),
        preferred_username: user.user_principal_name.clone(),
        name: user.display_name.clone(),
        email: user.mail.clone(),
        nonce: nonce.map(str::to_owned),
        auth_time,
        lifetime,
    }
}

/// The claims of `/oidc/userinfo` (Entra's shape), for the person and the client of the token.
pub fn userinfo(user: &User, client_id: &str, tenant_id: &str) -> serde_json::Value {
    let mut out = serde_json::json!({
        "sub": pairwise_subject(tenant_id, client_id, &user.id),
        "oid": user.id,
        "name": user.display_name,
        "preferred_username": user.user_principal_name,
    });
    if let Some(map) = out.as_object_mut() {
        for (key, value) in [
            ("given_name", &user.given_name),
            ("family_name", &user.surname),
            ("email", &user.mail),
        ] {
            if let Some(value) = value {
                map.insert(key.into(), value.clone().into());
            }
        }
    }
    out
}

/// The SHA-256 under which a refresh token value is stored and looked up.
pub fn refresh_token_hash(value: &str) -> String {
    secrets::hash_client_secret(value)
}

/// A fresh refresh token: the value handed out once (256 random bits) and the row stored.
pub fn new_refresh_token(
    family: Option<&RefreshToken>,
    user_id: &str,
    client_id: &str,
    scope: &str,
    auth_time: OffsetDateTime,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(String, RefreshToken), DomainError> {
    let value = secrets::generate_client_secret()?;
    let (family_id, family_expires_at) = match family {
        Some(previous) => (previous.family_id.clone(), previous.family_expires_at),
        None => (
            ids::new_object_id(),
            now.checked_add(REFRESH_FAMILY_MAX_LIFETIME)
                .ok_or_else(|| DomainError::Internal("refresh token end out of range".into()))?,
        ),
    };
    let sliding = now
        .checked_add(lifetime)
        .ok_or_else(|| DomainError::Internal("refresh token end out of range".into()))?;
    let token = RefreshToken {
        id: ids::new_object_id(),
        token_hash: refresh_token_hash(&value),
        family_id,
        client_id: client_id.to_owned(),
        user_id: user_id.to_owned(),
        scope: scope.to_owned(),
        auth_time,
        created_at: now,
        last_used_at: None,
        expires_at: sliding.min(family_expires_at),
        family_expires_at,
        used_at: None,
        revoked_at: None,
    };
    Ok((value, token))
}

/// What presenting a stored refresh token means now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// It may be redeemed (rotated).
    Redeemable,
    /// It was rotated already: someone replays it, so the family is revoked.
    Reused,
    /// Revoked, expired or another client's: `invalid_grant`, nothing else changes.
    Refused(&'static str),
}

/// Judges a presented refresh token (its hash matched a stored row) for `client_id` at `now`.
pub fn judge(token: &RefreshToken, client_id: &str, now: OffsetDateTime) -> Presented {
    if !token.client_id.eq_ignore_ascii_case(client_id) {
        return Presented::Refused("The refresh token was issued to another client.");
    }
    if token.revoked_at.is_some() {
        return Presented::Refused("The refresh token has been revoked.");
    }
    if token.used_at.is_some() {
        return Presented::Reused;
    }
    if now >= token.expires_at || now >= token.family_expires_at {
        return Presented::Refused("The refresh token has expired.");
    }
    Presented::Redeemable
}

// Ending a user's sign-ins is the directory's (a disabled account, a new password,
// `revokeSignInSessions`); kept reachable here, where the tokens it ends are issued.
pub use crate::directory::users::{EndedSignIns, revoke_user_sign_ins};

/// A redeemed refresh token: the person (still enabled), what the family granted, and the
/// rotated token's value.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub principal: Principal,
    /// The scope of this grant (the family's, or the narrower one asked).
    pub scope: String,
    pub auth_time: OffsetDateTime,
    pub refresh_token: String,
}

/// A person who just signed in, for [`Identity::record_sign_in`].
#[derive(Debug, Clone, Copy)]
pub struct SignedIn<'a> {
    pub user: &'a User,
    pub client_id: &'a str,
    /// `password`, `deviceCode`, `authorizationCode`.
    pub method: &'a str,
    /// The scope to start a refresh token family with (`offline_access` was asked), if any.
    pub offline_scope: Option<&'a str>,
    pub auth_time: OffsetDateTime,
}

fn invalid_grant(reason: &str) -> IdentityError {
    IdentityError::InvalidGrant(reason.to_owned())
}

fn sign_in_audit(
    user: &User,
    now: OffsetDateTime,
    activity: &str,
    request_id: Option<&str>,
) -> AuditRecord {
    let actor = Actor {
        kind: "user".into(),
        id: Some(user.id.clone()),
        display_name: Some(user.display_name.clone()),
        login_name: Some(user.user_principal_name.clone()),
    };
    let mut record = AuditRecord::success(actor, now, CATEGORY, activity, "Update", request_id)
        .target(&user.id, "User", Some(&user.display_name), Vec::new());
    if let Some(target) = record.target_resources.last_mut() {
        target.user_principal_name = Some(user.user_principal_name.clone());
    }
    record
}

impl Identity<'_> {
    /// The user a person's grant is for, as stored now (it must exist and be enabled).
    pub async fn signed_in_user(&self, user_id: &str) -> IdentityResult<User> {
        match self.store.user(user_id).await? {
            Some(user) if user.account_enabled => Ok(user),
            Some(_) => Err(IdentityError::AccountDisabled),
            None => Err(IdentityError::PrincipalGone(
                crate::authz::PrincipalKind::User,
            )),
        }
    }

    /// The `scp` of a person's token for `audience`.
    pub async fn delegated_scopes(
        &self,
        audience: &super::Audience,
    ) -> IdentityResult<Option<String>> {
        match audience {
            super::Audience::Writ => Ok(delegated_scopes(true, &[])),
            super::Audience::Resource(resource) => {
                let defined = self
                    .store
                    .application_by_app_id(&resource.app_id)
                    .await?
                    .map(|a| a.oauth2_permission_scopes)
                    .unwrap_or_default();
                Ok(delegated_scopes(false, &defined))
            }
        }
    }

    /// A person signed in (`method`: `password`, `deviceCode`, `authorizationCode`): the audit
    /// record, and a new refresh token family when `offline_access` was asked (its value is
    /// returned); dead refresh tokens are swept in the same transaction, a bounded number.
    pub async fn record_sign_in(
        &self,
        signed_in: SignedIn<'_>,
        refresh_lifetime: Duration,
        request_id: Option<&str>,
    ) -> IdentityResult<Option<String>> {
        let SignedIn {
            user,
            client_id,
            method,
            offline_scope,
            auth_time,
        } = signed_in;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let refresh = match offline_scope {
            Some(scope) => {
                let (value, row) = new_refresh_token(
                    None,
                    &user.id,
                    client_id,
                    scope,
                    auth_time,
                    now,
                    refresh_lifetime,
                )?;
                tx.insert_refresh_token(&row).await?;
                Some(value)
            }
            None => None,
        };
        tx.sweep_refresh_tokens(now, SWEEP_PER_SIGN_IN).await?;
        tx.append_audit(
            &sign_in_audit(user, now, "Sign-in", request_id)
                .detail("clientId", client_id)
                .detail("method", method)
                .detail(
                    "refreshToken",
                    if refresh.is_some() { "issued" } else { "none" },
                ),
        )
        .await?;
        tx.commit().await?;
        Ok(refresh)
    }

    /// A refused sign-in of an existing user (wrong password, disabled account): a `Sign-in`
    /// record with result `failure` and the reason. Attempts on names that are no user leave
    /// nothing (there is no one to file them under, and the sign-in limiter bounds them).
    pub async fn record_failed_sign_in(
        &self,
        user_principal_name: &str,
        method: &str,
        reason: &IdentityError,
        request_id: Option<&str>,
    ) -> IdentityResult<()> {
        let Some(user) = self
            .store
            .user_by_principal_name(user_principal_name)
            .await?
        else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut record = sign_in_audit(&user, now, "Sign-in", request_id).detail("method", method);
        record.result = "failure".into();
        record.result_reason = Some(reason.to_string());
        let mut tx = self.store.begin().await?;
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `refresh_token` grant: the presented token must be this client's, live and never
    /// used; it is rotated (marked used, a new one of the same family written) in one
    /// transaction. A rotated one presented again revokes its whole family, audited. The
    /// scope's resource is resolved before the rotation commits, so that a resource gone since
    /// the sign-in refuses the grant without spending the token.
    pub async fn redeem_refresh_token(
        &self,
        presented: &str,
        client_id: &str,
        requested_scope: Option<&str>,
        refresh_lifetime: Duration,
        public_url: &str,
        request_id: Option<&str>,
    ) -> IdentityResult<Redeemed> {
        if presented.chars().count() > MAX_REFRESH_TOKEN_CHARS {
            return Err(invalid_grant("The refresh token is not valid."));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(stored) = tx
            .refresh_token_by_hash(&refresh_token_hash(presented))
            .await?
        else {
            return Err(invalid_grant("The refresh token is not valid."));
        };
        let mut reused = false;
        match judge(&stored, client_id, now) {
            Presented::Refused(reason) => return Err(invalid_grant(reason)),
            Presented::Reused => reused = true,
            Presented::Redeemable => {
                // Another redemption may have rotated it since it was read.
                if !tx.mark_refresh_token_used(&stored.id, now).await? {
                    reused = true;
                }
            }
        }
        let user = tx.user(&stored.user_id).await?;
        if reused {
            let revoked = tx.revoke_refresh_family(&stored.family_id, now).await?;
            if let Some(user) = &user {
                let mut record =
                    sign_in_audit(user, now, "Refresh token reuse detected", request_id)
                        .detail("clientId", &stored.client_id)
                        .detail("familyId", &stored.family_id)
                        .detail("revokedTokens", revoked.to_string());
                record.result = "failure".into();
                record.result_reason = Some(
                    "a rotated refresh token was presented again: its family was revoked".into(),
                );
                tx.append_audit(&record).await?;
            }
            tx.commit().await?;
            return Err(invalid_grant(
                "The refresh token was already used: every token of this sign-in is revoked.",
            ));
        }
        let user = match user {
            Some(user) if user.account_enabled => user,
            _ => {
                // The user was disabled or deleted since: nothing of this family is valid.
                tx.revoke_refresh_family(&stored.family_id, now).await?;
                tx.commit().await?;
                return Err(invalid_grant(
                    "The user account is disabled or no longer exists.",
                ));
            }
        };
        let scope = narrowed_scope(&stored.scope, requested_scope)?;
        self.resolve_audience(Some(&scope), false, public_url)
            .await?;
        let (value, rotated) = new_refresh_token(
            Some(&stored),
            &user.id,
            &stored.client_id,
            &stored.scope,
            stored.auth_time,
            now,
            refresh_lifetime,
        )?;
        tx.insert_refresh_token(&rotated).await?;
        tx.commit().await?;
        Ok(Redeemed {
            principal: Principal::from(user),
            scope,
            auth_time: stored.auth_time,
            refresh_token: value,
        })
    }

    /// The client of a refresh grant. A client that presents a secret must authenticate with
    /// it; one that presents none must be public: Writ's public client, or an application
    /// without client secrets (one with secrets is confidential and must use one).
    pub async fn refresh_grant_client(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> IdentityResult<String> {
        if let Some(secret) = client_secret {
            return Ok(self
                .authenticate_client(client_id, secret)
                .await?
                .login_name);
        }
        if client_id.eq_ignore_ascii_case(super::WRIT_PUBLIC_CLIENT_ID) {
            return Ok(super::WRIT_PUBLIC_CLIENT_ID.to_owned());
        }
        let id = ids::parse_guid(client_id).ok_or(IdentityError::InvalidClient)?;
        let Some(app) = self.store.application_by_app_id(&id).await? else {
            return Err(IdentityError::InvalidClient);
        };
        if !self.store.password_credentials(&app.id).await?.is_empty() {
            return Err(IdentityError::InvalidClient);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fake::FakeDirectory;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn scopes_split_openid_from_resource_and_render_granted() {
        let s = RequestedScopes::parse(Some(
            "https://graph.microsoft.com/.default openid  profile OFFLINE_ACCESS openid",
        ));
        assert!(s.openid && s.profile && s.offline_access && !s.email);
        assert_eq!(s.resource, vec!["https://graph.microsoft.com/.default"]);
        assert_eq!(
            s.granted(),
            "https://graph.microsoft.com/.default openid profile offline_access"
        );
        assert_eq!(RequestedScopes::parse(None), RequestedScopes::default());
    }

    #[test]
    fn refresh_scope_narrows_never_widens() {
        let granted = "api://x/.default openid profile offline_access";
        assert_eq!(narrowed_scope(granted, None).unwrap(), granted);
        assert_eq!(
            narrowed_scope(granted, Some("API://X/.default openid")).unwrap(),
            "API://X/.default openid"
        );
        assert!(matches!(
            narrowed_scope(granted, Some("api://x/.default email")),
            Err(IdentityError::InvalidScope(_))
        ));
        assert!(matches!(
            narrowed_scope(granted, Some("api://y/.default")),
            Err(IdentityError::InvalidScope(_))
        ));
    }

    #[test]
    fn scp_is_writ_bundle_or_resource_enabled_scopes() {
        assert_eq!(
            delegated_scopes(true, &[]).unwrap(),
            "Directory.AccessAsUser.All EntitlementManagement.ReadWrite.All"
        );
        let scope = |value: &str, enabled: bool| PermissionScope {
            id: value.into(),
            admin_consent_description: None,
            admin_consent_display_name: None,
            is_enabled: enabled,
            kind: None,
            user_consent_description: None,
            user_consent_display_name: None,
            value: Some(value.into()),
        };
        assert_eq!(
            delegated_scopes(false, &[scope("Orders.Read", true), scope("Old", false)]).unwrap(),
            "Orders.Read"
        );
        assert_eq!(delegated_scopes(false, &[]), None);
    }

    #[test]
    fn sub_is_pairwise_and_client_info_decodes() {
        let a = pairwise_subject("t", "client-a", "oid");
        assert_ne!(a, pairwise_subject("t", "client-b", "oid"));
        assert_eq!(a, pairwise_subject("T", "CLIENT-A", "OID"));
        assert_eq!(a.len(), 43);
        let decoded = URL_SAFE_NO_PAD.decode(client_info("oid", "tid")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(v, serde_json::json!({"uid": "oid", "utid": "tid"}));
    }

    #[test]
    fn id_token_and_userinfo_describe_the_person() {
        let mut user = FakeDirectory::person("u1");
        user.given_name = Some("Ada".into());
        let id = id_token_content(&user, "c", "t", Some("n-1"), at(0), Duration::hours(1));
        assert_eq!(id.audience, "c");
        assert_eq!(id.subject, pairwise_subject("t", "c", "u1"));
        assert_eq!(id.nonce.as_deref(), Some("n-1"));
        assert_eq!(id.email.as_deref(), Some("u1@example.org"));
        let info = userinfo(&user, "c", "t");
        assert_eq!(info["sub"], id.subject.as_str());
        assert_eq!(info["given_name"], "Ada");
        assert!(info.get("family_name").is_none());
    }

    #[test]
    fn refresh_tokens_slide_under_the_family_cap() {
        let (value, first) =
            new_refresh_token(None, "u", "c", "s", at(0), at(0), Duration::days(90)).unwrap();
        assert_eq!(value.len(), 43);
        assert_eq!(first.token_hash, refresh_token_hash(&value));
        assert_eq!(first.expires_at, at(0) + Duration::days(90));
        assert_eq!(first.family_expires_at, at(0) + REFRESH_FAMILY_MAX_LIFETIME);
        let late = at(0) + Duration::days(300);
        let (_, rotated) =
            new_refresh_token(Some(&first), "u", "c", "s", at(0), late, Duration::days(90))
                .unwrap();
        assert_eq!(rotated.family_id, first.family_id);
        assert_eq!(rotated.expires_at, first.family_expires_at);
    }

    #[test]
    fn judge_orders_client_revocation_reuse_and_expiry() {
        let (_, t) =
            new_refresh_token(None, "u", "c", "s", at(0), at(0), Duration::days(1)).unwrap();
        assert_eq!(judge(&t, "C", at(10)), Presented::Redeemable);
        assert!(matches!(judge(&t, "other", at(10)), Presented::Refused(_)));
        assert!(matches!(
            judge(&t, "c", at(0) + Duration::days(1)),
            Presented::Refused(_)
        ));
        let used = RefreshToken {
            used_at: Some(at(5)),
            ..t.clone()
        };
        assert_eq!(judge(&used, "c", at(10)), Presented::Reused);
        let revoked = RefreshToken {
            revoked_at: Some(at(5)),
            ..used
        };
        assert!(matches!(
            judge(&revoked, "c", at(10)),
            Presented::Refused(_)
        ));
    }
}
