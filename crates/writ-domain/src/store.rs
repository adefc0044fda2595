//! The storage port: what the domain needs from a database, implemented once per backend in the
//! `writ-store` crate. Writes happen inside a [`StoreTx`] so that a change, its audit record and its
//! outbox events commit together or not at all.

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use crate::audit::{AuditRecord, OutboxEvent};
use crate::directory::{
    AppRoleAssignment, Application, ApplicationKind, ClientSecret, DirectoryObject, Group,
    ObjectKind, PermissionGrant, RoleAssignment, ServicePrincipal, ServicePrincipalKind, User,
    UserKind,
};
use crate::error::DomainError;
use crate::query::{ListQuery, Page};

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
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Start a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// The database answers and its schema is at the version this build expects.
    async fn ready(&self) -> StoreResult<()>;

    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;

    async fn object_kind(&self, id: &str) -> StoreResult<Option<ObjectKind>>;
    async fn directory_object(&self, id: &str) -> StoreResult<Option<DirectoryObject>>;

    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_principal_name(&self, upn: &str) -> StoreResult<Option<User>>;
    /// Users, or only those of one kind (the `microsoft.graph.agentUser` cast).
    async fn list_users(
        &self,
        query: &ListQuery,
        kind: Option<UserKind>,
    ) -> StoreResult<Page<User>>;

    async fn group(&self, id: &str) -> StoreResult<Option<Group>>;
    async fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>>;
    /// Current members (any holder, not ended at `now`).
    async fn list_group_members(
        &self,
        group_id: &str,
        now: OffsetDateTime,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>>;
    async fn list_group_owners(
        &self,
        group_id: &str,
        now: OffsetDateTime,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>>;

    async fn application(&self, id: &str) -> StoreResult<Option<Application>>;
    async fn application_by_app_id(&self, app_id: &str) -> StoreResult<Option<Application>>;
    /// The application one of whose `identifierUris` is `uri` (compared case-insensitively).
    async fn application_by_identifier_uri(&self, uri: &str) -> StoreResult<Option<Application>>;
    async fn list_applications(
        &self,
        query: &ListQuery,
        kind: Option<ApplicationKind>,
    ) -> StoreResult<Page<Application>>;
    async fn service_principal(&self, id: &str) -> StoreResult<Option<ServicePrincipal>>;
    async fn list_service_principals(
        &self,
        query: &ListQuery,
        kind: Option<ServicePrincipalKind>,
    ) -> StoreResult<Page<ServicePrincipal>>;
    /// Sponsors of an object (users and groups).
    async fn sponsors(&self, object_id: &str) -> StoreResult<Vec<DirectoryObject>>;
    /// Owners of an application or service principal.
    async fn object_owners(&self, object_id: &str) -> StoreResult<Vec<DirectoryObject>>;
    /// App role assignments held by a principal (`resource_id: None`) or on one resource,
    /// current at `now`.
    async fn app_role_assignments_of(
        &self,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>>;
    async fn app_role_assignments_to(
        &self,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>>;
    async fn permission_grants(&self, query: &ListQuery) -> StoreResult<Page<PermissionGrant>>;
    async fn permission_grant(&self, id: &str) -> StoreResult<Option<PermissionGrant>>;
    async fn role_assignments(&self, query: &ListQuery) -> StoreResult<Page<RoleAssignment>>;
    async fn role_assignment(&self, id: &str) -> StoreResult<Option<RoleAssignment>>;
    /// App roles a principal holds on a resource now, each with the instant it ends (`None`:
    /// no end): its own assignments and, when `through_groups`, those of the groups it is a
    /// current member of (capped by the membership's end). One entry per assignment path.
    async fn effective_app_roles(
        &self,
        principal_id: &str,
        resource_id: &str,
        now: OffsetDateTime,
        through_groups: bool,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>>;
    async fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> StoreResult<Option<ServicePrincipal>>;
    /// Every password credential of an application or service principal, expired or not.
    async fn password_credentials(&self, owner_id: &str) -> StoreResult<Vec<ClientSecret>>;

    /// Directory roles (template ids) held at the tenant scope at `now`, directly or through a
    /// role-assignable group the principal is a current member of, each with the instant that
    /// path ends (`None`: no end). One entry per path.
    async fn effective_directory_roles(
        &self,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>>;

    async fn idempotent_response(
        &self,
        principal_id: &str,
        route: &str,
        key: &str,
        not_before: OffsetDateTime,
    ) -> StoreResult<Option<IdempotentResponse>>;

    /// Every audit record, oldest first (for tests and the audit issue's readers).
    async fn audit_records(&self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    async fn outbox_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
}

/// One write transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait StoreTx: Send {
    /// Serialize first-start work across replicas (an advisory lock on PostgreSQL; SQLite's
    /// single writer already serializes).
    async fn lock_bootstrap(&mut self) -> StoreResult<()>;
    /// Insert the setting if absent; return the value now stored.
    async fn init_setting(&mut self, key: &str, value: &str) -> StoreResult<String>;

    async fn object_kind(&mut self, id: &str) -> StoreResult<Option<ObjectKind>>;

    async fn user(&mut self, id: &str) -> StoreResult<Option<User>>;
    async fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    /// Removes the user with its memberships, ownerships, role assignments and manager links.
    async fn delete_user(&mut self, id: &str) -> StoreResult<()>;

    async fn group(&mut self, id: &str) -> StoreResult<Option<Group>>;
    async fn insert_group(&mut self, group: &Group) -> StoreResult<()>;
    async fn update_group(&mut self, group: &Group) -> StoreResult<()>;
    async fn delete_group(&mut self, id: &str) -> StoreResult<()>;

    /// Adds a membership held by `holder` (`direct` for `members/$ref`); false if it existed.
    async fn add_group_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<bool>;
    /// Removes the membership held by `holder`; false if there was none.
    async fn remove_group_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        holder: &str,
    ) -> StoreResult<bool>;
    async fn add_group_owner(&mut self, group_id: &str, owner_id: &str) -> StoreResult<bool>;
    async fn remove_group_owner(&mut self, group_id: &str, owner_id: &str) -> StoreResult<bool>;

    async fn application(&mut self, id: &str) -> StoreResult<Option<Application>>;
    async fn application_by_app_id(&mut self, app_id: &str) -> StoreResult<Option<Application>>;
    async fn insert_application(&mut self, app: &Application) -> StoreResult<()>;
    async fn update_application(&mut self, app: &Application) -> StoreResult<()>;
    async fn service_principal(&mut self, id: &str) -> StoreResult<Option<ServicePrincipal>>;
    async fn service_principal_by_app_id(
        &mut self,
        app_id: &str,
    ) -> StoreResult<Option<ServicePrincipal>>;
    async fn insert_service_principal(&mut self, sp: &ServicePrincipal) -> StoreResult<()>;
    async fn update_service_principal(&mut self, sp: &ServicePrincipal) -> StoreResult<()>;
    /// Deletes any directory object with everything that cascades from it.
    async fn delete_object(&mut self, id: &str) -> StoreResult<()>;
    async fn insert_client_secret(&mut self, secret: &ClientSecret) -> StoreResult<()>;
    async fn delete_client_secrets(&mut self, owner_id: &str) -> StoreResult<()>;
    /// Removes one credential; false if the owner has no such key.
    async fn delete_client_secret(&mut self, owner_id: &str, key_id: &str) -> StoreResult<bool>;

    async fn add_sponsor(&mut self, object_id: &str, sponsor_id: &str) -> StoreResult<bool>;
    async fn remove_sponsor(&mut self, object_id: &str, sponsor_id: &str) -> StoreResult<bool>;
    async fn sponsor_ids(&mut self, object_id: &str) -> StoreResult<Vec<String>>;
    /// Objects this principal sponsors.
    async fn sponsored_by(&mut self, sponsor_id: &str) -> StoreResult<Vec<String>>;
    async fn add_object_owner(&mut self, object_id: &str, owner_id: &str) -> StoreResult<bool>;
    async fn remove_object_owner(&mut self, object_id: &str, owner_id: &str) -> StoreResult<bool>;
    /// Agent users whose parent is this agent identity.
    async fn count_agent_users_of(&mut self, agent_identity_id: &str) -> StoreResult<i64>;

    /// Adds an app role assignment; false if this holder already holds it.
    async fn insert_app_role_assignment(
        &mut self,
        assignment: &AppRoleAssignment,
    ) -> StoreResult<bool>;
    async fn app_role_assignment(&mut self, id: &str) -> StoreResult<Option<AppRoleAssignment>>;
    async fn delete_app_role_assignment(&mut self, id: &str) -> StoreResult<bool>;

    async fn insert_permission_grant(&mut self, grant: &PermissionGrant) -> StoreResult<()>;
    async fn update_permission_grant(&mut self, grant: &PermissionGrant) -> StoreResult<()>;
    async fn delete_permission_grant(&mut self, id: &str) -> StoreResult<bool>;

    async fn role_assignment(&mut self, id: &str) -> StoreResult<Option<RoleAssignment>>;
    async fn delete_role_assignment(&mut self, id: &str) -> StoreResult<bool>;

    async fn count_role_holders(&mut self, role_template_id: &str) -> StoreResult<i64>;
    /// Enabled users and service principals holding the role directly at `now`.
    async fn count_enabled_role_holders(
        &mut self,
        role_template_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// Whether the principal holds the role directly at `now`.
    async fn holds_role(
        &mut self,
        principal_id: &str,
        role_template_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Adds a tenant-scope directory role assignment; false if it existed.
    async fn assign_directory_role(
        &mut self,
        id: &str,
        role_template_id: &str,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

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

    async fn append_audit(&mut self, record: &AuditRecord) -> StoreResult<()>;
    async fn enqueue_event(&mut self, event: &OutboxEvent) -> StoreResult<()>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
