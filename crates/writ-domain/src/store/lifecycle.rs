//! The lifecycle capability of the storage port (DESIGN section 17): the instant of the last
//! token issued to each principal (Graph's `signInActivity`), written by the token endpoint with
//! one statement outside any transaction.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

#[async_trait]
pub trait LifecycleStore {
    /// Records that a token was issued to the principal at `at`: one `UPDATE` of its
    /// `directory_objects` row, never moving the instant backwards (two replicas issuing at once
    /// keep the later). No row changes for an unknown id.
    async fn record_token_issued(&self, principal_id: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// The instant of the last token issued to the principal, if any.
    async fn last_token_issued(&self, principal_id: &str) -> StoreResult<Option<OffsetDateTime>>;
}
