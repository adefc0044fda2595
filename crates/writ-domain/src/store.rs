//! The storage port: what the domain needs from a database, implemented once per backend in the
//! `writ-store` crate. Writes happen inside a [`StoreTx`] so that a change, its audit record and its
//! outbox events commit together or not at all.
//!
//! The port is split by capability: [`DirectoryStore`], [`EntitlementStore`], [`JobStore`] (jobs
//! and the way to the delivery queues) and [`AuditStore`], each with its `…Tx` counterpart, and
//! the delivery queues themselves ([`WebhookStore`], [`EmailStore`], [`CalloutQueueStore`]), and
//! [`CallerStore`] (an API call's caller, a client's token, one statement each), in the modules
//! below. The port names the model and nothing of the services. [`Store`] and [`StoreTx`] compose them as supertraits and keep only what belongs to no
//! one capability (the backend, readiness, settings, idempotency keys, `begin` and `commit`).
//! Supertraits rather than a struct of trait objects because one transaction must span every
//! capability (a change, its audit record, its job and its events commit together), which a
//! struct of separate objects cannot share; and because callers keep holding `Arc<dyn Store>`
//! and `Box<dyn StoreTx>` and calling the same methods unchanged. A rule that needs one
//! capability takes it alone (`&dyn DirectoryStore`, or generically `S: DirectoryStore + ?Sized`,
//! which `dyn Store` satisfies), so it can be unit-tested against a fake of that one trait.

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use crate::error::DomainError;
use crate::model::{
    AccessPackage, AppRoleAssignment, Application, ApplicationKind, ApprovalStageRecord,
    Assignment, AssignmentPolicy, AssignmentRequest, AttemptRecord, AuditLink, AuditRecord,
    AuditScope, AuthorizationCode, BrowserSession, Catalog, CatalogResource, ChainHead,
    ChainedAudit, ClaimedCallout, ClaimedDelivery, ClaimedEmail, ClaimedJob, ClientSecret,
    ConnectedOrganization, CustomExtension, DeviceCode, DeviceCodeState, DirectoryObject,
    EmRoleAssignment, EmailDelivery, Group, HeldGrant, NewJob, ObjectIdentity, ObjectKind,
    OutboxEvent, PackageRoleScope, PermissionGrant, QueuedJob, Recipient, RefreshToken,
    RequestState, ResourceRequest, ResourceRole, ResourceScope, RoleAssignment, ServicePrincipal,
    ServicePrincipalKind, SponsorHandover, SsoRequest, Subject, User, UserKind, WebhookDelivery,
    WebhookEndpoint,
};
use crate::query::{ListQuery, Page};

mod audit;
mod callers;
mod deliveries;
mod directory;
mod entitlement;
#[cfg(test)]
pub(crate) mod fake;
mod jobs;
mod lifecycle;
mod risk;
mod sessions;
mod user_tokens;

pub use audit::{AuditStore, AuditStoreTx};
pub use callers::{CallerStore, ClientRecord, PrincipalRecord};
pub use deliveries::{CalloutQueueStore, EmailStore, WebhookStore};
pub use directory::{DirectoryStore, DirectoryStoreTx};
pub use entitlement::{AddBlocker, EntitlementStore, EntitlementStoreTx, SponsoredAgent};
pub use jobs::{JobStore, JobStoreTx};
pub use lifecycle::{LifecycleStore, LifecycleStoreTx};
pub use risk::{RiskStore, RiskStoreTx};
pub use sessions::{SessionStore, SessionStoreTx};
pub use user_tokens::UserTokenStoreTx;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule of the schema was violated; the payload names the constraint.
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// A referenced row does not exist.
    #[error("foreign key violated: {0}")]
    ForeignKey(String),
    /// The query options could not be applied (unknown property, bad syntax, stale skiptoken).
    #[error("{0}")]
    InvalidQuery(String),
    /// The database could not be reached in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unique(what) => {
                DomainError::Conflict(format!("an object with the same {what} already exists"))
            }
            StoreError::ForeignKey(what) => {
                DomainError::invalid(format!("a referenced object does not exist ({what})"))
            }
            StoreError::InvalidQuery(message) => DomainError::invalid(message),
            StoreError::Unavailable(detail) => DomainError::Unavailable(detail),
            StoreError::Other(detail) => DomainError::Internal(detail),
        }
    }
}

/// Which side of a request or assignment a principal is on, for `filterByCurrentUser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Target,
    /// The requestor of a request; for an assignment, the requestor of the request that created it.
    Requestor,
    /// The target or the requestor.
    TargetOrRequestor,
    /// The requestor of a request whose target is someone else.
    RequestorForOther,
    /// The manager of the target (`users.manager`).
    TargetManager,
    /// A sponsor or owner of an agent target, by DESIGN section 5's resolver: an agent identity's
    /// sponsors and owners, an agent user's sponsors and its parent agent identity's; a sponsor
    /// group counts through its members current at `at`. Only an enabled human user is one.
    TargetSponsorOrOwner {
        at: OffsetDateTime,
    },
    /// An approver of the stage in progress of a request pending approval (requests only).
    Approver,
}

/// A response remembered for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    pub body_hash: String,
    /// `None` while the first request is still being processed.
    pub status: Option<u16>,
    pub response_body: Option<String>,
}

/// Reads outside a transaction, and the way into one.
#[async_trait]
pub trait Store:
    DirectoryStore
    + EntitlementStore
    + JobStore
    + AuditStore
    + SessionStore
    + RiskStore
    + LifecycleStore
    + CallerStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// This process's signal of changed assignment requests, which every commit that updates a
    /// request wakes (`crate::request_waiter`).
    fn request_changes(&self) -> crate::request_waiter::RequestChanges;
    /// Start a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// The database answers and its schema is at the version this build expects.
    async fn ready(&self) -> StoreResult<()>;
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn idempotent_response(
        &self,
        principal_id: &str,
        route: &str,
        key: &str,
        not_before: OffsetDateTime,
    ) -> StoreResult<Option<IdempotentResponse>>;
}

/// One write transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait StoreTx:
    DirectoryStoreTx
    + EntitlementStoreTx
    + JobStoreTx
    + AuditStoreTx
    + SessionStoreTx
    + UserTokenStoreTx
    + RiskStoreTx
    + LifecycleStoreTx
    + Send
{
    /// Serialize first-start work across replicas (an advisory lock on PostgreSQL; SQLite's
    /// single writer already serializes).
    async fn lock_bootstrap(&mut self) -> StoreResult<()>;
    /// Insert the setting if absent; return the value now stored.
    async fn init_setting(&mut self, key: &str, value: &str) -> StoreResult<String>;
    async fn reserve_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
        body_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn complete_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
        status: u16,
        response_body: &str,
    ) -> StoreResult<()>;
    async fn release_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
    ) -> StoreResult<()>;
    /// Inserts or replaces a setting.
    async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
