//! The device authorization grant (RFC 8628, DESIGN section 14): issuing a device code and its
//! user code, finding a pending code from what a person typed at `/devicelogin`, recording the
//! person's decision, and answering each poll of the token endpoint.
//!
//! - **Codes.** The device code is a 256-bit random value; the user code is 8 letters from
//!   RFC 8628's consonant alphabet `BCDFGHJKLMNPQRSTVWXZ` (no vowels, so no words; no `I`/`O`
//!   to confuse with digits), about 34.6 bits, shown as `WDJB-MJHT` and compared without case,
//!   spaces or dashes. Both are stored only as SHA-256 hashes. A user code is guessable in
//!   principle, so `/devicelogin` bounds wrong codes per session ([`super::sessions`]) and per
//!   address (the server's limiter), and a code lives at most [`MAX_LIFETIME`].
//! - **Polls.** In this order: a code that is unknown, for another client or already spent is
//!   `invalid_grant`; one past its expiry `expired_token`; a poll sooner than the interval after
//!   the last one `slow_down`, and the interval grows by 5 s for this and every later poll
//!   (RFC 8628 section 3.5); then `authorization_pending`, `access_denied`, or, once approved,
//!   the tokens — once: the code is spent in the same step, so a second poll is `invalid_grant`.
//! - **Clients.** Only public clients may use the flow; until applications carry
//!   `isFallbackPublicClient`, that is Writ's own command-line client ([`device_flow_client`]).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};

use super::sessions::{SignInContext, SignedIn, user_event};
use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::error::{DomainError, DomainResult};
use crate::model::{DeviceCode, DeviceCodeState};
use crate::secrets;
use crate::store::StoreError;

/// RFC 8628 section 6.1's alphabet for user codes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const USER_CODE_LENGTH: usize = 8;
/// The default life of a device code (`expires_in`).
pub const DEFAULT_LIFETIME: Duration = Duration::minutes(15);
/// The longest life a setting may give a device code.
pub const MAX_LIFETIME: Duration = Duration::minutes(30);
/// The shortest life a setting may give a device code.
pub const MIN_LIFETIME: Duration = Duration::minutes(1);
/// The default least seconds between polls (`interval`).
pub const DEFAULT_INTERVAL_SECS: i64 = 5;
/// The largest interval, set or grown by `slow_down`.
pub const MAX_INTERVAL_SECS: i64 = 300;
/// How much `slow_down` adds to the interval.
pub const SLOW_DOWN_STEP_SECS: i64 = 5;
/// Expired codes are kept this long (so late polls still read `expired_token`), then swept.
pub const KEEP_EXPIRED: Duration = Duration::days(1);

/// The settings of the device flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFlowPolicy {
    pub lifetime: Duration,
    pub interval_secs: i64,
}

impl Default for DeviceFlowPolicy {
    fn default() -> Self {
        Self {
            lifetime: DEFAULT_LIFETIME,
            interval_secs: DEFAULT_INTERVAL_SECS,
        }
    }
}

impl DeviceFlowPolicy {
    /// A policy within the bounds (lifetime PT1M to PT30M, interval 1 to 300 s), or why not.
    pub fn new(lifetime: Duration, interval_secs: i64) -> Result<Self, String> {
        if lifetime < MIN_LIFETIME || lifetime > MAX_LIFETIME {
            return Err("the device code lifetime must be between PT1M and PT30M".into());
        }
        if !(1..=MAX_INTERVAL_SECS).contains(&interval_secs) {
            return Err(format!(
                "the device code polling interval must be between 1 and {MAX_INTERVAL_SECS} seconds"
            ));
        }
        Ok(Self {
            lifetime,
            interval_secs,
        })
    }
}

/// A fresh user code, normalized (8 letters, no separator).
pub fn generate_user_code() -> DomainResult<String> {
    let rng = SystemRandom::new();
    let mut code = String::with_capacity(USER_CODE_LENGTH);
    let mut bytes = [0u8; 32];
    while code.len() < USER_CODE_LENGTH {
        rng.fill(&mut bytes)
            .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
        // Rejection sampling: 240 = 12 × 20, so every letter is equally likely.
        for byte in bytes.iter().filter(|b| **b < 240) {
            if code.len() == USER_CODE_LENGTH {
                break;
            }
            if let Some(letter) = USER_CODE_ALPHABET.get(usize::from(*byte % 20)) {
                code.push(char::from(*letter));
            }
        }
    }
    Ok(code)
}

/// What a person typed, as stored: upper case without spaces or dashes; `None` when it cannot
/// be a user code (wrong length or a letter outside the alphabet).
pub fn normalize_user_code(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// A normalized user code as shown: two groups of four (`WDJB-MJHT`).
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head}-{tail}"),
        _ => code.to_owned(),
    }
}

/// The stored form of a normalized user code.
pub fn hash_user_code(code: &str) -> String {
    secrets::hash_client_secret(code)
}

/// A client allowed to use the device flow, and the name shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClient {
    pub client_id: String,
    pub display_name: String,
}

/// Which clients may use the device flow: public clients, that is applications with
/// `isFallbackPublicClient` (Writ's command-line client is one), as Entra requires. A
/// confidential application is refused as not public; an unknown id is an unknown client.
pub async fn device_flow_client(
    identity: &Identity<'_>,
    client_id: &str,
) -> IdentityResult<DeviceClient> {
    let client = identity.oauth_client(client_id).await?;
    if !client.is_public(None) {
        return Err(IdentityError::NotPublicClient);
    }
    Ok(DeviceClient {
        client_id: client.client_id().to_owned(),
        display_name: client.application.display_name.clone(),
    })
}

/// What the device receives from `devicecode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As shown (`WDJB-MJHT`).
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A poll's answer, before the server renders it.
#[derive(Debug, Clone, PartialEq)]
pub enum DevicePoll {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: polled sooner than the interval (now grown).
    SlowDown,
    /// `expired_token`.
    Expired,
    /// `access_denied`.
    Denied,
    /// `invalid_grant`: unknown, another client's, spent, or its user is gone or disabled.
    Invalid,
    /// The tokens for `user`, with the scope the device asked for.
    Granted {
        user: Principal,
        scope: String,
        auth_time: OffsetDateTime,
    },
}

/// What a poll on a stored code does.
#[derive(Debug, Clone, PartialEq)]
pub enum PollStep {
    /// Answer this (never [`DevicePoll::Granted`]).
    Answer(DevicePoll),
    /// The code is approved and polled in time by its client: spend it and issue the tokens.
    Spend,
}

/// The rule of a poll on a stored code: what to do, and the interval to record when the poll is
/// to be recorded.
pub fn poll_rule(
    code: &DeviceCode,
    client_id: &str,
    now: OffsetDateTime,
) -> (PollStep, Option<i64>) {
    if code.client_id != client_id || code.state == DeviceCodeState::Spent {
        return (PollStep::Answer(DevicePoll::Invalid), None);
    }
    if now >= code.expires_at {
        return (PollStep::Answer(DevicePoll::Expired), None);
    }
    let too_soon = code.last_polled_at.is_some_and(|last| {
        last.checked_add(Duration::seconds(code.interval_secs))
            .is_none_or(|next| now < next)
    });
    if too_soon {
        let grown = code
            .interval_secs
            .checked_add(SLOW_DOWN_STEP_SECS)
            .unwrap_or(MAX_INTERVAL_SECS)
            .min(MAX_INTERVAL_SECS);
        return (PollStep::Answer(DevicePoll::SlowDown), Some(grown));
    }
    let step = match code.state {
        DeviceCodeState::Pending => PollStep::Answer(DevicePoll::Pending),
        DeviceCodeState::Denied => PollStep::Answer(DevicePoll::Denied),
        DeviceCodeState::Approved => PollStep::Spend,
        // Answered above.
        DeviceCodeState::Spent => PollStep::Answer(DevicePoll::Invalid),
    };
    (step, Some(code.interval_secs))
}

impl Identity<'_> {
    /// `devicecode`: a new device authorization for `client` and `scope` (checked by the
    /// caller). Expired codes older than [`KEEP_EXPIRED`] are swept in the same transaction.
    pub async fn start_device_authorization(
        &self,
        client: &DeviceClient,
        scope: &str,
        policy: DeviceFlowPolicy,
    ) -> IdentityResult<DeviceAuthorization> {
        let now = self.clock.now();
        let expires_at = now.checked_add(policy.lifetime).ok_or_else(|| {
            DomainError::Internal("the device code expiry is out of range".into())
        })?;
        // A user code equal to a live one is drawn again (one chance in 25 billion per code).
        for _ in 0..4 {
            let device_code = secrets::generate_client_secret()?;
            let user_code = generate_user_code()?;
            let row = DeviceCode {
                device_code_hash: secrets::hash_client_secret(&device_code),
                user_code_hash: hash_user_code(&user_code),
                client_id: client.client_id.clone(),
                scope: scope.to_owned(),
                created_at: now,
                expires_at,
                interval_secs: policy.interval_secs,
                last_polled_at: None,
                state: DeviceCodeState::Pending,
                user_id: None,
                auth_time: None,
                decided_at: None,
            };
            let mut tx = self.store.begin().await?;
            if let Some(before) = now.checked_sub(KEEP_EXPIRED) {
                tx.delete_expired_device_codes(before).await?;
            }
            match tx.insert_device_code(&row).await {
                Ok(()) => {}
                Err(StoreError::Unique(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            tx.commit().await?;
            return Ok(DeviceAuthorization {
                device_code,
                user_code: display_user_code(&user_code),
                expires_in: policy.lifetime.whole_seconds(),
                interval: policy.interval_secs,
            });
        }
        Err(DomainError::Internal("no free user code could be drawn".into()).into())
    }

    /// The pending, unexpired device authorization a person's typed code names, if any.
    pub async fn pending_device_code(&self, typed: &str) -> IdentityResult<Option<DeviceCode>> {
        let now = self.clock.now();
        let Some(code) = normalize_user_code(typed) else {
            return Ok(None);
        };
        Ok(self
            .store
            .device_code_by_user_code(&hash_user_code(&code))
            .await?
            .filter(|c| c.state == DeviceCodeState::Pending && now < c.expires_at))
    }

    /// The person's decision on a pending code; `false` when the code was no longer pending or
    /// has expired. Audited.
    pub async fn decide_device_code(
        &self,
        code: &DeviceCode,
        signed_in: &SignedIn,
        approve: bool,
        context: &SignInContext,
    ) -> IdentityResult<bool> {
        let now = self.clock.now();
        if now >= code.expires_at {
            return Ok(false);
        }
        let to = if approve {
            DeviceCodeState::Approved
        } else {
            DeviceCodeState::Denied
        };
        let mut tx = self.store.begin().await?;
        let moved = tx
            .move_device_code(
                &code.device_code_hash,
                DeviceCodeState::Pending,
                to,
                Some((&signed_in.user.id, signed_in.session.auth_time, now)),
            )
            .await?;
        if !moved {
            return Ok(false);
        }
        let activity = if approve {
            "Device code sign-in approved"
        } else {
            "Device code sign-in denied"
        };
        tx.append_audit(
            &user_event(&signed_in.user, now, activity, "Update", context)
                .detail("clientId", code.client_id.clone())
                .detail("scope", code.scope.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A poll of the token endpoint with `device_code` by `client_id`.
    pub async fn poll_device_code(
        &self,
        device_code: &str,
        client_id: &str,
    ) -> IdentityResult<DevicePoll> {
        let now = self.clock.now();
        let hash = secrets::hash_client_secret(device_code);
        let Some(code) = self.store.device_code(&hash).await? else {
            return Ok(DevicePoll::Invalid);
        };
        let (step, record) = poll_rule(&code, client_id, now);
        let mut tx = self.store.begin().await?;
        if let Some(interval) = record {
            tx.record_device_poll(&hash, now, interval).await?;
        }
        if let PollStep::Answer(answer) = step {
            tx.commit().await?;
            return Ok(answer);
        }
        // Approved and polled in time by its client: spend it in this transaction, so that only
        // one poll wins.
        let spent = tx
            .move_device_code(
                &hash,
                DeviceCodeState::Approved,
                DeviceCodeState::Spent,
                None,
            )
            .await?;
        tx.commit().await?;
        if !spent {
            return Ok(DevicePoll::Invalid);
        }
        let user = match &code.user_id {
            Some(id) => self.store.user(id).await?.map(Principal::from),
            None => None,
        };
        match (user, code.auth_time) {
            (Some(user), Some(auth_time)) if user.enabled => Ok(DevicePoll::Granted {
                user,
                scope: code.scope,
                auth_time,
            }),
            _ => Ok(DevicePoll::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(state: DeviceCodeState, last: Option<OffsetDateTime>) -> DeviceCode {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        DeviceCode {
            device_code_hash: "d".into(),
            user_code_hash: "u".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            created_at: t0,
            expires_at: t0 + Duration::minutes(15),
            interval_secs: 5,
            last_polled_at: last,
            state,
            user_id: None,
            auth_time: None,
            decided_at: None,
        }
    }

    #[test]
    fn user_codes_are_eight_unambiguous_letters() {
        for _ in 0..200 {
            let code = generate_user_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            assert!(!code.contains(['A', 'E', 'I', 'O', 'U', '0', '1']));
            assert_eq!(normalize_user_code(&display_user_code(&code)), Some(code));
        }
        assert_eq!(display_user_code("WDJBMJHT"), "WDJB-MJHT");
        assert_eq!(
            normalize_user_code(" wdjb-mjht "),
            Some("WDJBMJHT".to_owned())
        );
        assert_eq!(normalize_user_code("wd jb mj ht"), Some("WDJBMJHT".into()));
        assert_eq!(normalize_user_code("WDJB-MJH"), None);
        assert_eq!(normalize_user_code("WDJB-MJHA"), None);
        assert_eq!(normalize_user_code("WDJB-MJHTT"), None);
        assert_eq!(normalize_user_code(&"B".repeat(100)), None);
        assert_eq!(normalize_user_code("ŴDJB-MJHT"), None);
    }

    fn answer(poll: DevicePoll) -> PollStep {
        PollStep::Answer(poll)
    }

    #[test]
    fn polls_follow_rfc_8628() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let approved = code(DeviceCodeState::Approved, None);
        assert_eq!(poll_rule(&approved, "c", t0), (PollStep::Spend, Some(5)));
        // Another client's poll never spends it; nor one after expiry.
        assert_eq!(
            poll_rule(&approved, "x", t0),
            (answer(DevicePoll::Invalid), None)
        );
        assert_eq!(
            poll_rule(&approved, "c", t0 + Duration::minutes(15)),
            (answer(DevicePoll::Expired), None)
        );
        let pending = code(DeviceCodeState::Pending, None);
        assert_eq!(
            poll_rule(&pending, "c", t0),
            (answer(DevicePoll::Pending), Some(5))
        );
        assert_eq!(
            poll_rule(&pending, "x", t0),
            (answer(DevicePoll::Invalid), None)
        );
        let polled = code(DeviceCodeState::Pending, Some(t0));
        assert_eq!(
            poll_rule(&polled, "c", t0 + Duration::seconds(4)),
            (answer(DevicePoll::SlowDown), Some(10))
        );
        assert_eq!(
            poll_rule(&polled, "c", t0 + Duration::seconds(5)),
            (answer(DevicePoll::Pending), Some(5))
        );
        assert_eq!(
            poll_rule(&polled, "c", t0 + Duration::minutes(15)),
            (answer(DevicePoll::Expired), None)
        );
        let denied = code(DeviceCodeState::Denied, None);
        assert_eq!(
            poll_rule(&denied, "c", t0),
            (answer(DevicePoll::Denied), Some(5))
        );
        let spent = code(DeviceCodeState::Spent, None);
        assert_eq!(
            poll_rule(&spent, "c", t0),
            (answer(DevicePoll::Invalid), None)
        );
        let mut slow = code(DeviceCodeState::Pending, Some(t0));
        slow.interval_secs = MAX_INTERVAL_SECS;
        assert_eq!(
            poll_rule(&slow, "c", t0 + Duration::seconds(1)),
            (answer(DevicePoll::SlowDown), Some(MAX_INTERVAL_SECS))
        );
    }

    #[test]
    fn policy_bounds() {
        assert!(DeviceFlowPolicy::new(Duration::seconds(900), 5).is_ok());
        assert!(DeviceFlowPolicy::new(Duration::seconds(30), 5).is_err());
        assert!(DeviceFlowPolicy::new(Duration::hours(1), 5).is_err());
        assert!(DeviceFlowPolicy::new(Duration::seconds(900), 0).is_err());
        assert!(DeviceFlowPolicy::new(Duration::seconds(900), 301).is_err());
    }
}
