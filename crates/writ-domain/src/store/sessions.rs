//! The sessions capability of the storage port: browser sessions and device authorizations
//! (DESIGN section 14). Secrets are only ever named by their SHA-256 hashes here.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// Browser sessions and device authorizations, read.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn browser_session(&self, id_hash: &str) -> StoreResult<Option<BrowserSession>>;
    async fn device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCode>>;
    async fn device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceCode>>;
    async fn authorization_code(&self, code_hash: &str) -> StoreResult<Option<AuthorizationCode>>;
}

/// Browser sessions and device authorizations, written in the transaction of their audit
/// record.
#[async_trait]
pub trait SessionStoreTx: Send {
    async fn insert_browser_session(&mut self, session: &BrowserSession) -> StoreResult<()>;
    async fn touch_browser_session(&mut self, id_hash: &str, at: OffsetDateTime)
    -> StoreResult<()>;
    /// Counts one wrong user code against the session; the new count.
    async fn count_code_failure(&mut self, id_hash: &str) -> StoreResult<i64>;
    /// `false` when there was no such session.
    async fn delete_browser_session(&mut self, id_hash: &str) -> StoreResult<bool>;
    /// Ends every browser session of a user (signed out everywhere); how many there were.
    async fn delete_user_browser_sessions(&mut self, user_id: &str) -> StoreResult<u64>;
    /// Removes the sessions idle since before `idle_before` or made before `created_before`.
    async fn delete_stale_browser_sessions(
        &mut self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64>;
    async fn insert_device_code(&mut self, code: &DeviceCode) -> StoreResult<()>;
    /// Moves a code from `from` to `to`, recording who decided and when; `false` when the code
    /// was no longer in `from` (another request moved it first).
    async fn move_device_code(
        &mut self,
        device_code_hash: &str,
        from: DeviceCodeState,
        to: DeviceCodeState,
        decided: Option<(&str, OffsetDateTime, OffsetDateTime)>,
    ) -> StoreResult<bool>;
    /// Records a poll at `at` and the interval from now on.
    async fn record_device_poll(
        &mut self,
        device_code_hash: &str,
        at: OffsetDateTime,
        interval_secs: i64,
    ) -> StoreResult<()>;
    /// Removes the codes that expired before `before`.
    async fn delete_expired_device_codes(&mut self, before: OffsetDateTime) -> StoreResult<u64>;
    async fn insert_authorization_code(&mut self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Marks the code redeemed at `at`; `false` when it already was (another grant spent it).
    async fn spend_authorization_code(
        &mut self,
        code_hash: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Records the refresh token family issued from the code (revoked if the code is reused).
    async fn set_authorization_code_family(
        &mut self,
        code_hash: &str,
        token_family: &str,
    ) -> StoreResult<()>;
    /// Removes the codes that expired before `before`.
    async fn delete_expired_authorization_codes(
        &mut self,
        before: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// A pending single sign-on round trip (`sso_requests`).
    async fn insert_sso_request(&mut self, request: &SsoRequest) -> StoreResult<()>;
    /// Removes and returns the pending round trip `id_hash`, so that it is used once.
    async fn take_sso_request(&mut self, id_hash: &str) -> StoreResult<Option<SsoRequest>>;
    /// Removes the round trips that expired before `before`.
    async fn delete_expired_sso_requests(&mut self, before: OffsetDateTime) -> StoreResult<u64>;
}
