//! The caller capability of the storage port: what authenticating a request or a client needs,
//! read in one statement (issue 20: every API call and every token used to take four or five
//! round trips for it). Nothing is cached: each call reads the database as it is now, so a
//! disabled principal, a compromised agent or a removed role is refused at its next call on every
//! replica.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;
use crate::model::{PrincipalKind, RiskState};

/// A user or service principal as the identity rules need it, with everything a request of it
/// depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalRecord {
    pub id: String,
    pub kind: PrincipalKind,
    /// An agent user or agent identity.
    pub is_agent: bool,
    pub display_name: String,
    /// `userPrincipalName` for users, `appId` for service principals.
    pub login_name: String,
    pub enabled: bool,
    /// Its risk row's state, if it has one (only agents do).
    pub risk_state: Option<RiskState>,
    /// Each path by which it holds a directory role at `/` now (its own assignment, or a current
    /// direct membership of a role-assignable group), with the instant the path ends; the same
    /// rows as `DirectoryStore::effective_directory_roles`.
    pub directory_role_paths: Vec<(String, Option<OffsetDateTime>)>,
    /// Its catalog roles `(role, catalog)` when it is a user (empty for service principals),
    /// as `EntitlementStore::em_roles_of` lists them.
    pub catalog_roles: Vec<(String, Option<String>)>,
}

/// What `client_credentials` needs about the `appId` a client names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientRecord {
    /// The object id of the application with this `appId`, if there is one.
    pub application_id: Option<String>,
    /// The service principal with this `appId` (the application's, or an agent identity), with
    /// its risk state and directory role paths; no catalog roles.
    pub principal: Option<PrincipalRecord>,
    /// The client secrets of the owner: the application if there is one, else the service
    /// principal.
    pub secrets: Vec<ClientSecret>,
}

#[async_trait]
pub trait CallerStore: Send + Sync {
    /// The user (`kind` = user) or service principal with this object id, read in one statement
    /// with its risk state, its directory role paths at `now` and, for a user, its catalog roles.
    async fn caller_record(
        &self,
        kind: PrincipalKind,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PrincipalRecord>>;

    /// Everything about `app_id` that `client_credentials` decides on, in one statement.
    async fn client_record(&self, app_id: &str, now: OffsetDateTime) -> StoreResult<ClientRecord>;
}
