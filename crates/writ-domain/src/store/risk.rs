//! The agent-risk capability of the storage port (`riskyAgents`, DESIGN section 17): one row per
//! agent with a confirmed or dismissed risk, read on every request of an agent.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;
use crate::model::{RiskState, RiskyAgent};

#[async_trait]
pub trait RiskStore {
    /// The agent's risk, with its current name and `isEnabled`/`isDeleted`.
    async fn risky_agent(&self, id: &str) -> StoreResult<Option<RiskyAgent>>;
    /// `GET /identityProtection/riskyAgents`: the agents with a risk state, paged.
    async fn list_risky_agents(&self, query: &ListQuery) -> StoreResult<Page<RiskyAgent>>;
    /// The risk state of the principal, if it has one: one primary-key read, made for every
    /// request and token of an agent.
    async fn agent_risk_state(&self, id: &str) -> StoreResult<Option<RiskState>>;
}

#[async_trait]
pub trait RiskStoreTx: Send {
    /// Writes the agent's risk row if its state is still `previous` (`None`: no row yet), and
    /// says whether it did: a compare-and-set, so of two concurrent decisions on one agent the
    /// second finds the state moved and records nothing. `isEnabled`/`isDeleted` are not stored.
    async fn put_agent_risk(
        &mut self,
        risk: &RiskyAgent,
        previous: Option<RiskState>,
    ) -> StoreResult<bool>;
}
