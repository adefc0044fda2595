//! Browser sessions (DESIGN section 14): how one is made when a person signs in, checked at every
//! use, and ended; the CSRF tokens tied to it; and the audit records of signing in and out.
//!
//! - **The id** is a 256-bit random value (aws-lc-rs's system RNG), base64url in the browser's
//!   cookie; the database holds only its SHA-256 hash, so a copy of the database signs no one in.
//! - **Lifetime**: a session ends when it was not used for [`SessionPolicy::idle`] (default
//!   `PT8H`) or was made [`SessionPolicy::absolute`] ago (default `PT24H`), whichever comes first;
//!   when its user is disabled or deleted (checked on every use, not at the next sign-in); and
//!   when its user signs out. Ended sessions are deleted, not flagged.
//! - **CSRF**: every state-changing form carries [`csrf_token`] of the session id (or, on the
//!   sign-in form, of a pre-session cookie's random value): a domain-separated SHA-256 of the
//!   secret, so the token a page shows reveals neither the cookie nor the hash the row is found
//!   by, and another site, which cannot read the cookie, cannot make it. Compared in constant
//!   time.
//! - **Audit**: every sign-in (success or failure), sign-out and session ended because its user
//!   was disabled is a record (category `UserManagement`, target the user).

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

use super::{Identity, IdentityResult, Principal};
use crate::audit::{Actor, AuditRecord};
use crate::error::DomainResult;
use crate::model::BrowserSession;
use crate::secrets;

/// The default idle limit of a session.
pub const DEFAULT_IDLE: Duration = Duration::hours(8);
/// The default absolute limit of a session.
pub const DEFAULT_ABSOLUTE: Duration = Duration::hours(24);
/// The shortest limit a setting may give (either).
pub const MIN_LIFETIME: Duration = Duration::minutes(1);
/// The longest limit a setting may give (either).
pub const MAX_LIFETIME: Duration = Duration::days(30);
/// Wrong user codes one session may enter at `/devicelogin` before it is refused.
pub const MAX_CODE_FAILURES_PER_SESSION: i64 = 5;

/// The audit category of sign-in records.
pub const AUDIT_CATEGORY: &str = super::SIGN_IN_AUDIT_CATEGORY;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: DEFAULT_IDLE,
            absolute: DEFAULT_ABSOLUTE,
        }
    }
}

impl SessionPolicy {
    /// A policy within the bounds (each limit from a minute to 30 days; idle no longer than
    /// absolute), or why not.
    pub fn new(idle: Duration, absolute: Duration) -> Result<Self, String> {
        for (name, value) in [("idle", idle), ("absolute", absolute)] {
            if value < MIN_LIFETIME || value > MAX_LIFETIME {
                return Err(format!(
                    "the session {name} lifetime must be between PT1M and P30D"
                ));
            }
        }
        if idle > absolute {
            return Err("the session idle lifetime must not exceed the absolute lifetime".into());
        }
        Ok(Self { idle, absolute })
    }
}

/// Whether a session may still be used at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    Live,
    /// Not used for the idle limit.
    Idle,
    /// Older than the absolute limit.
    Expired,
}

/// The rule of the two limits. An instant out of range counts as ended.
pub fn check(session: &BrowserSession, policy: SessionPolicy, now: OffsetDateTime) -> SessionCheck {
    match session.created_at.checked_add(policy.absolute) {
        Some(end) if now < end => {}
        _ => return SessionCheck::Expired,
    }
    match session.last_seen_at.checked_add(policy.idle) {
        Some(end) if now < end => SessionCheck::Live,
        _ => SessionCheck::Idle,
    }
}

/// A fresh session id (or pre-session value): 256 random bits, base64url.
pub fn new_secret() -> DomainResult<String> {
    secrets::generate_client_secret()
}

/// The stored form of a session id.
pub fn hash_secret(secret: &str) -> String {
    secrets::hash_client_secret(secret)
}

/// The CSRF token of forms shown to the holder of `secret` (a session id or pre-session value).
pub fn csrf_token(secret: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    // Domain separation: never equal to the row's key, `hash_secret(secret)`.
    context.update(b"writ-csrf\0");
    context.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(context.finish().as_ref())
}

/// Whether `presented` is the CSRF token of `secret`, compared in constant time.
pub fn csrf_matches(secret: &str, presented: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(
        csrf_token(secret).as_bytes(),
        presented.as_bytes(),
    )
    .is_ok()
}

/// Where a sign-in event came from, for its audit record.
#[derive(Debug, Clone, Default)]
pub struct SignInContext {
    pub request_id: Option<String>,
    /// The client address (as the sign-in limiter saw it).
    pub address: Option<String>,
}

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: BrowserSession,
    pub user: Principal,
}

fn user_actor(user: &Principal) -> Actor {
    Actor {
        kind: "user".into(),
        id: Some(user.id.clone()),
        display_name: Some(user.display_name.clone()),
        login_name: Some(user.login_name.clone()),
    }
}

/// A record of a sign-in event by `user`, the user also its target.
pub fn user_event(
    user: &Principal,
    now: OffsetDateTime,
    activity: &str,
    operation: &str,
    context: &SignInContext,
) -> AuditRecord {
    let mut record = AuditRecord::success(
        user_actor(user),
        now,
        AUDIT_CATEGORY,
        activity,
        operation,
        context.request_id.as_deref(),
    )
    .target(&user.id, "User", Some(&user.display_name), Vec::new());
    if let Some(address) = &context.address {
        record = record.detail("ipAddress", address.clone());
    }
    record
}

impl Identity<'_> {
    /// Signs `user` in (the password was checked): a new session, its id to set in the cookie.
    /// Stale sessions of everyone are swept in the same transaction.
    pub async fn start_session(
        &self,
        user: &Principal,
        policy: SessionPolicy,
        method: &str,
        context: &SignInContext,
    ) -> IdentityResult<String> {
        let now = self.clock.now();
        let secret = new_secret()?;
        let session = BrowserSession {
            id_hash: hash_secret(&secret),
            user_id: user.id.clone(),
            auth_time: now,
            created_at: now,
            last_seen_at: now,
            code_failures: 0,
        };
        let mut tx = self.store.begin().await?;
        if let (Some(idle_before), Some(created_before)) = (
            now.checked_sub(policy.idle),
            now.checked_sub(policy.absolute),
        ) {
            tx.delete_stale_browser_sessions(idle_before, created_before)
                .await?;
        }
        tx.insert_browser_session(&session).await?;
        tx.append_audit(
            &user_event(user, now, "Sign-in", "Add", context)
                .detail("authenticationMethod", method),
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// A refused sign-in, audited: against the user when the name is one, else the name as
    /// typed.
    pub async fn audit_sign_in_failure(
        &self,
        username: &str,
        reason: &str,
        method: &str,
        context: &SignInContext,
    ) -> IdentityResult<()> {
        let now = self.clock.now();
        let user = self
            .store
            .user_by_principal_name(username)
            .await?
            .map(Principal::from);
        let mut record = match &user {
            Some(user) => user_event(user, now, "Sign-in", "Add", context),
            None => {
                let actor = Actor {
                    kind: "user".into(),
                    id: None,
                    display_name: None,
                    login_name: Some(username.chars().take(256).collect()),
                };
                let mut record = AuditRecord::success(
                    actor,
                    now,
                    AUDIT_CATEGORY,
                    "Sign-in",
                    "Add",
                    context.request_id.as_deref(),
                );
                if let Some(address) = &context.address {
                    record = record.detail("ipAddress", address.clone());
                }
                record
            }
        };
        record.result = "failure".into();
        record.result_reason = Some(reason.to_owned());
        record = record.detail("authenticationMethod", method);
        let mut tx = self.store.begin().await?;
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session whose id is `secret`, touched (its idle limit restarts), with its user.
    /// `None` when there is none, it has ended, or its user is disabled or deleted; a session
    /// found ended is deleted now (and audited when its user was disabled).
    pub async fn session(
        &self,
        secret: &str,
        policy: SessionPolicy,
    ) -> IdentityResult<Option<SignedIn>> {
        let now = self.clock.now();
        let id_hash = hash_secret(secret);
        let Some(session) = self.store.browser_session(&id_hash).await? else {
            return Ok(None);
        };
        let user = self
            .store
            .user(&session.user_id)
            .await?
            .map(Principal::from)
            .filter(|u| u.enabled);
        let mut tx = self.store.begin().await?;
        match (check(&session, policy, now), user) {
            (SessionCheck::Live, Some(user)) => {
                tx.touch_browser_session(&id_hash, now).await?;
                tx.commit().await?;
                Ok(Some(SignedIn {
                    session: BrowserSession {
                        last_seen_at: now,
                        ..session
                    },
                    user,
                }))
            }
            (SessionCheck::Live, None) => {
                if tx.delete_browser_session(&id_hash).await?
                    && let Some(user) = self.store.user(&session.user_id).await?
                {
                    let user = Principal::from(user);
                    let mut record =
                        user_event(&user, now, "Sign-out", "Delete", &SignInContext::default());
                    // Ended by a rule, not by the person.
                    record.initiated_by = Actor::system();
                    record.result_reason = Some("The user account is disabled.".into());
                    tx.append_audit(&record).await?;
                }
                tx.commit().await?;
                Ok(None)
            }
            _ => {
                tx.delete_browser_session(&id_hash).await?;
                tx.commit().await?;
                Ok(None)
            }
        }
    }

    /// Ends the session `signed_in` (the user signed out); audited.
    pub async fn end_session(
        &self,
        signed_in: &SignedIn,
        context: &SignInContext,
    ) -> IdentityResult<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx
            .delete_browser_session(&signed_in.session.id_hash)
            .await?
        {
            tx.append_audit(&user_event(
                &signed_in.user,
                now,
                "Sign-out",
                "Delete",
                context,
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts a wrong user code against the session; whether it may still try.
    pub async fn count_code_failure(&self, session: &BrowserSession) -> IdentityResult<bool> {
        let mut tx = self.store.begin().await?;
        let failures = tx.count_code_failure(&session.id_hash).await?;
        tx.commit().await?;
        Ok(failures < MAX_CODE_FAILURES_PER_SESSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created: OffsetDateTime, seen: OffsetDateTime) -> BrowserSession {
        BrowserSession {
            id_hash: "h".into(),
            user_id: "u".into(),
            auth_time: created,
            created_at: created,
            last_seen_at: seen,
            code_failures: 0,
        }
    }

    #[test]
    fn idle_and_absolute_limits() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let policy = SessionPolicy::default();
        assert_eq!(check(&session(t0, t0), policy, t0), SessionCheck::Live);
        let almost_idle = t0 + Duration::hours(8) - Duration::seconds(1);
        assert_eq!(
            check(&session(t0, t0), policy, almost_idle),
            SessionCheck::Live
        );
        assert_eq!(
            check(&session(t0, t0), policy, t0 + Duration::hours(8)),
            SessionCheck::Idle
        );
        // Used every hour, it still ends at 24 hours.
        let seen = t0 + Duration::hours(23) + Duration::minutes(30);
        assert_eq!(
            check(&session(t0, seen), policy, t0 + Duration::hours(24)),
            SessionCheck::Expired
        );
        assert_eq!(
            check(
                &session(t0, seen),
                policy,
                t0 + Duration::hours(23) + Duration::minutes(59)
            ),
            SessionCheck::Live
        );
    }

    #[test]
    fn policy_bounds() {
        assert!(SessionPolicy::new(Duration::hours(8), Duration::hours(24)).is_ok());
        assert!(SessionPolicy::new(Duration::seconds(59), Duration::hours(24)).is_err());
        assert!(SessionPolicy::new(Duration::hours(8), Duration::days(31)).is_err());
        assert!(SessionPolicy::new(Duration::hours(25), Duration::hours(24)).is_err());
    }

    #[test]
    fn csrf_tokens_are_tied_to_their_secret() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(csrf_matches(&a, &csrf_token(&a)));
        assert!(!csrf_matches(&a, &csrf_token(&b)));
        assert!(!csrf_matches(&a, ""));
        // The token is not the row's key.
        assert_ne!(csrf_token(&a), hash_secret(&a));
    }
}
