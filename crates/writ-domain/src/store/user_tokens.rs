//! The user-token capability of the storage port: people's refresh tokens (issue, rotate,
//! revoke, sweep). Every method runs inside a transaction, because a rotation (the old token
//! marked used, the new one written) and a reuse detection (the family revoked, the audit
//! record) must each commit as one.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

#[async_trait]
pub trait UserTokenStoreTx: Send {
    async fn insert_refresh_token(&mut self, token: &RefreshToken) -> StoreResult<()>;
    /// The token whose hash this is, whatever its state.
    async fn refresh_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>>;
    /// Marks a token used at `now` if it is neither used nor revoked; `false` when another
    /// rotation got there first (the caller treats it as reuse).
    async fn mark_refresh_token_used(&mut self, id: &str, now: OffsetDateTime)
    -> StoreResult<bool>;
    /// Revokes every live token of a family; returns how many.
    async fn revoke_refresh_family(
        &mut self,
        family_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Revokes every live token of a user; returns how many.
    async fn revoke_user_refresh_tokens(
        &mut self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Deletes up to `limit` tokens that can no longer be redeemed (expired, or revoked);
    /// returns how many.
    async fn sweep_refresh_tokens(&mut self, now: OffsetDateTime, limit: u32) -> StoreResult<u64>;
}
