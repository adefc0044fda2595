//! The lifecycle capability of the storage port (DESIGN section 17): the instant of the last
//! token issued to each principal (Graph's `signInActivity`), written by the token endpoint with
//! one statement outside any transaction; lifecycle policies; each agent identity's lifecycle
//! record, read set-wise by the sweep.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;
use crate::model::{AgentLifecycleRecord, GovernedAgent, LifecyclePolicy};

#[async_trait]
pub trait LifecycleStore {
    /// Records that a token was issued to the principal at `at`: one `UPDATE` of its
    /// `directory_objects` row, which changes the row only when the stored instant lies in an
    /// earlier second (so it never moves backwards, and a principal taking many tokens a second
    /// is written once a second): the instant is exact to the second. No row changes for an
    /// unknown id.
    async fn record_token_issued(&self, principal_id: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// The instant of the last token issued to the principal, if any.
    async fn last_token_issued(&self, principal_id: &str) -> StoreResult<Option<OffsetDateTime>>;
    /// Every lifecycle policy (at most a few), governing one first: by `priority`, then
    /// creation, then id.
    async fn lifecycle_policies(&self) -> StoreResult<Vec<LifecyclePolicy>>;
    async fn lifecycle_policy(&self, id: &str) -> StoreResult<Option<LifecyclePolicy>>;
    /// Agent identities with what the rules read, ordered by id after `after` (keyset), at most
    /// `limit`: one query for the page (sponsor counts and lifecycle records joined). `ids`
    /// restricts to those agents; `due_by` to agents without a record or whose next check is at
    /// or before it (what a sweep looks at).
    async fn governed_agents(
        &self,
        ids: Option<&[String]>,
        due_by: Option<OffsetDateTime>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<GovernedAgent>>;
    /// The earliest next check of any agent's record.
    async fn next_lifecycle_check(&self) -> StoreResult<Option<OffsetDateTime>>;
}

#[async_trait]
pub trait LifecycleStoreTx: Send {
    async fn count_lifecycle_policies(&mut self) -> StoreResult<i64>;
    async fn insert_lifecycle_policy(&mut self, policy: &LifecyclePolicy) -> StoreResult<()>;
    /// Replaces the policy if it was last modified at `previous` (compare-and-set); whether it did.
    async fn update_lifecycle_policy(
        &mut self,
        policy: &LifecyclePolicy,
        previous: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn delete_lifecycle_policy(&mut self, id: &str) -> StoreResult<bool>;
    /// Writes the agent's lifecycle record if it is still at `previous_version` (`None`: no
    /// record yet): a compare-and-set, so of two sweeps (or a sweep and an `attest`) one writes
    /// and the other finds the record moved. Returns whether it wrote.
    async fn put_agent_lifecycle(
        &mut self,
        record: &AgentLifecycleRecord,
        previous_version: Option<i64>,
    ) -> StoreResult<bool>;
    /// Every agent's record is due for a check at `at` (a policy changed).
    async fn recheck_all_agent_lifecycles(&mut self, at: OffsetDateTime) -> StoreResult<()>;
    /// The agent's record (if any) is due for a check at `at` (a sponsor was removed).
    async fn recheck_agent_lifecycle(
        &mut self,
        agent_id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Disables the agent identity (`accountEnabled = false`) if it is enabled; whether it did.
    async fn disable_agent_identity(&mut self, id: &str) -> StoreResult<bool>;
}
