//! The storage port: what the domain needs from a database, implemented once per backend in the
//! `writ-store` crate. Writes happen inside a [`StoreTx`] so that a change, its audit record and its
//! outbox events commit together or not at all.

use async_trait::async_trait;
use thiserror::Error;
use time::OffsetDateTime;

use crate::error::DomainError;
use crate::model::{
    AccessPackage, AppRoleAssignment, Application, ApplicationKind, ApprovalStageRecord,
    Assignment, AssignmentPolicy, AssignmentRequest, AuditLink, AuditRecord, AuditScope, Catalog,
    CatalogResource, ChainHead, ChainedAudit, ClaimedJob, ClientSecret, ConnectedOrganization,
    CustomExtension, DirectoryObject, EmRoleAssignment, Group, HeldGrant, NewJob, ObjectKind,
    OutboxEvent, PackageRoleScope, PermissionGrant, QueuedJob, Recipient, RequestState,
    ResourceRequest, ResourceRole, ResourceScope, RoleAssignment, ServicePrincipal,
    ServicePrincipalKind, Subject, User, UserKind,
};
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
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Start a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// The database answers and its schema is at the version this build expects.
    async fn ready(&self) -> StoreResult<()>;
    /// The webhook deliveries' storage (a port of its own: see `webhooks`), on the same database.
    fn webhooks(&self) -> &dyn crate::webhooks::WebhookStore;
    /// The custom extension callouts' queue (claimed, retried and dead-lettered like webhooks).
    fn callout_queue(&self) -> &dyn crate::entitlement::CalloutQueueStore;
    /// The email deliveries' storage (a port of its own: see `email`), on the same database.
    fn email(&self) -> &dyn crate::email::EmailStore;

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
    /// Delegated grants in force at `now`.
    async fn permission_grants(
        &self,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> StoreResult<Page<PermissionGrant>>;
    async fn permission_grant(&self, id: &str) -> StoreResult<Option<PermissionGrant>>;
    /// Directory role assignments in force at `now`.
    async fn role_assignments(
        &self,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> StoreResult<Page<RoleAssignment>>;
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

    // ----- entitlement management -----

    async fn catalog(&self, id: &str) -> StoreResult<Option<Catalog>>;
    /// Catalogs; `visible_to` restricts them to those the principal holds a catalog role in.
    async fn list_catalogs(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<Catalog>>;
    async fn catalog_resource(&self, id: &str) -> StoreResult<Option<CatalogResource>>;
    async fn list_catalog_resources(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<CatalogResource>>;
    async fn resource_roles_of(&self, resource_id: &str) -> StoreResult<Vec<ResourceRole>>;
    async fn resource_scopes_of(&self, resource_id: &str) -> StoreResult<Vec<ResourceScope>>;
    async fn resource_role(&self, id: &str) -> StoreResult<Option<ResourceRole>>;
    async fn resource_scope(&self, id: &str) -> StoreResult<Option<ResourceScope>>;
    async fn list_resource_roles(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<ResourceRole>>;
    async fn list_resource_scopes(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<ResourceScope>>;
    async fn list_resource_requests(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<ResourceRequest>>;
    async fn access_package(&self, id: &str) -> StoreResult<Option<AccessPackage>>;
    /// Packages, of one catalog or all; `visible_to` as for catalogs.
    async fn list_access_packages(
        &self,
        query: &ListQuery,
        catalog_id: Option<&str>,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<AccessPackage>>;
    async fn package_role_scopes(&self, package_id: &str) -> StoreResult<Vec<PackageRoleScope>>;
    async fn assignment_policy(&self, id: &str) -> StoreResult<Option<AssignmentPolicy>>;
    async fn connected_organization(&self, id: &str) -> StoreResult<Option<ConnectedOrganization>>;
    async fn list_connected_organizations(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<ConnectedOrganization>>;
    async fn connected_organization_sponsors(
        &self,
        id: &str,
        internal: bool,
    ) -> StoreResult<Vec<DirectoryObject>>;
    async fn custom_extension(&self, id: &str) -> StoreResult<Option<CustomExtension>>;
    async fn custom_extensions_of(&self, catalog_id: &str) -> StoreResult<Vec<CustomExtension>>;
    /// A custom extension callout by its stage-instance id.
    async fn callout(&self, id: &str) -> StoreResult<Option<crate::model::Callout>>;
    /// The callouts of the requests and assignments `holder_ids`, oldest first.
    async fn callouts_of(&self, holder_ids: &[String]) -> StoreResult<Vec<crate::model::Callout>>;
    /// Every policy that lets targets request for themselves (`enableTargetsToSelfAddAccess`).
    async fn self_requestable_policies(&self) -> StoreResult<Vec<AssignmentPolicy>>;
    /// Whether the principal is a current member of the group (any holder).
    async fn is_group_member(
        &self,
        group_id: &str,
        member_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Packages this package is incompatible with (`outgoing`) or that are incompatible with it.
    async fn incompatible_packages(
        &self,
        package_id: &str,
        outgoing: bool,
    ) -> StoreResult<Vec<AccessPackage>>;
    async fn incompatible_groups(&self, package_id: &str) -> StoreResult<Vec<Group>>;
    async fn policies_of_package(&self, package_id: &str) -> StoreResult<Vec<AssignmentPolicy>>;
    /// Policies; `visible_to` as for catalogs.
    async fn list_policies(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<AssignmentPolicy>>;
    async fn em_role_assignment(&self, id: &str) -> StoreResult<Option<EmRoleAssignment>>;
    /// Assignments; `catalogs_of` restricts to catalogs where that principal may read them.
    async fn list_em_role_assignments(
        &self,
        query: &ListQuery,
        catalogs_of: Option<&str>,
    ) -> StoreResult<Page<EmRoleAssignment>>;
    /// (role definition id, catalog id) of every entitlement-management role the principal holds.
    async fn em_roles_of(&self, principal_id: &str) -> StoreResult<Vec<(String, Option<String>)>>;

    /// Every audit record, oldest first (for tests and the audit issue's readers).
    async fn audit_records(&self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    async fn audit_record(&self, id: &str) -> StoreResult<Option<AuditRecord>>;
    /// `auditLogs/directoryAudits`: a page of the records within `scope`.
    async fn list_audit_records(
        &self,
        query: &ListQuery,
        scope: &AuditScope,
    ) -> StoreResult<Page<AuditRecord>>;
    /// The audit chain's head row.
    async fn audit_chain_head(&self) -> StoreResult<ChainHead>;
    /// Linked records in chain order (sequence number, then id), after `(seq, id)`.
    async fn chained_audits(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<ChainedAudit>>;
    /// How many records are not linked yet.
    async fn unchained_audit_count(&self) -> StoreResult<i64>;
    async fn outbox_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// When a worker next has something to do: the earliest due time of a job that is not
    /// parked, or the end of its lease when it is leased past that.
    async fn assignment_request(&self, id: &str) -> StoreResult<Option<AssignmentRequest>>;
    /// Requests, or (`visible_to`) those in catalogs where the principal holds a role, or
    /// (`party`) those the principal is the target or the requestor of.
    async fn list_assignment_requests(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
        party: Option<(Party, &str)>,
    ) -> StoreResult<Page<AssignmentRequest>>;
    async fn assignment(&self, id: &str) -> StoreResult<Option<Assignment>>;
    /// The approval stages of a request, in order.
    async fn approval_stages(&self, request_id: &str) -> StoreResult<Vec<ApprovalStageRecord>>;
    async fn list_assignments(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
        party: Option<(Party, &str)>,
    ) -> StoreResult<Page<Assignment>>;
    /// Live assignments of `package_id` whose target also holds a live assignment of one of
    /// `other_package_ids` (Graph's `additionalAccess`).
    async fn list_additional_access(
        &self,
        query: &ListQuery,
        package_id: &str,
        other_package_ids: &[String],
    ) -> StoreResult<Page<Assignment>>;
    /// The requests that have approval stages, of one side (`party`) of which the principal is,
    /// as the rows of `accessPackageAssignmentApprovals` (filterable on `id` only).
    async fn list_approvals(
        &self,
        query: &ListQuery,
        party: (Party, &str),
    ) -> StoreResult<Page<AssignmentRequest>>;
    /// `accessPackageSubject`s: the users and service principals that exist and have been the
    /// target or the requestor of an assignment request.
    async fn list_subjects(&self, query: &ListQuery) -> StoreResult<Page<Subject>>;
    async fn subject(&self, id: &str) -> StoreResult<Option<Subject>>;
    /// The assignments with these ids (those that exist), for a batch of jobs.
    async fn assignments_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Assignment>>;
    /// (id, displayName) of the users and service principals with these ids.
    async fn principal_names(&self, ids: &[String]) -> StoreResult<Vec<(String, String)>>;
    /// (object id, recipient) for each enabled human user among the sponsors of one of `ids`,
    /// as DESIGN section 5 resolves them: an agent identity's (a service principal's) sponsors
    /// and owners; an agent user's sponsors and its parent agent identity's; a user's sponsors;
    /// groups among them expanded to their members at `now`. The one resolver of the recipients
    /// of a target's notices and of `targetAgentIdentitySponsorsOrOwners` approvers.
    async fn human_sponsors_of(
        &self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Recipient)>>;
    /// The assignments of a target that have not ended.
    async fn active_assignments_of(&self, target_id: &str) -> StoreResult<Vec<Assignment>>;
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// The queued and parked jobs about one request or assignment, oldest due first.
    async fn jobs_about(&self, subject_id: &str) -> StoreResult<Vec<QueuedJob>>;
    /// Every job (queued, leased or parked) in id order unless `$orderby` says otherwise;
    /// `$filter` on `id`, `state`, `kind`, `subjectId`, `attempts`, `leaseOwner` and the instants.
    async fn list_jobs(&self, query: &ListQuery) -> StoreResult<Page<QueuedJob>>;
    /// One job by id.
    async fn job(&self, id: &str) -> StoreResult<Option<QueuedJob>>;
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
    /// Adds an ownership held by `holder` (`direct` for `owners/$ref`); false if it existed.
    async fn add_group_owner(
        &mut self,
        group_id: &str,
        owner_id: &str,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<bool>;
    /// Removes the ownership held by `holder`; false if there was none.
    async fn remove_group_owner(
        &mut self,
        group_id: &str,
        owner_id: &str,
        holder: &str,
    ) -> StoreResult<bool>;

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

    /// Adds a delegated grant; false if its (non-direct) holder already holds the same grant.
    async fn insert_permission_grant(&mut self, grant: &PermissionGrant) -> StoreResult<bool>;
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
    /// Adds a directory role assignment; false if its holder already holds this role.
    async fn assign_directory_role(&mut self, assignment: &RoleAssignment) -> StoreResult<bool>;

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

    // ----- entitlement management -----

    async fn catalog(&mut self, id: &str) -> StoreResult<Option<Catalog>>;
    /// The built-in General catalog, if it exists.
    async fn general_catalog(&mut self) -> StoreResult<Option<Catalog>>;
    async fn insert_catalog(&mut self, catalog: &Catalog) -> StoreResult<()>;
    async fn update_catalog(&mut self, catalog: &Catalog) -> StoreResult<()>;
    async fn delete_catalog(&mut self, id: &str) -> StoreResult<()>;
    async fn count_packages_in_catalog(&mut self, catalog_id: &str) -> StoreResult<i64>;
    async fn catalog_resource_by_origin(
        &mut self,
        catalog_id: &str,
        origin_system: &str,
        origin_id: &str,
    ) -> StoreResult<Option<CatalogResource>>;
    async fn insert_catalog_resource(&mut self, resource: &CatalogResource) -> StoreResult<()>;
    /// Resources, in any catalog, whose origin is this directory object.
    async fn catalog_resources_with_origin(
        &mut self,
        origin_id: &str,
    ) -> StoreResult<Vec<CatalogResource>>;
    async fn update_catalog_resource(&mut self, resource: &CatalogResource) -> StoreResult<()>;
    async fn delete_catalog_resource(&mut self, id: &str) -> StoreResult<()>;
    async fn resource_roles_of(&mut self, resource_id: &str) -> StoreResult<Vec<ResourceRole>>;
    async fn upsert_resource_role(&mut self, role: &ResourceRole) -> StoreResult<()>;
    async fn delete_resource_role(&mut self, id: &str) -> StoreResult<()>;
    async fn insert_resource_scope(&mut self, scope: &ResourceScope) -> StoreResult<()>;
    /// Whether any package grants a role of this resource (or this role, for a role id).
    async fn resource_in_use(&mut self, resource_id: &str) -> StoreResult<bool>;
    async fn role_in_use(&mut self, role_id: &str) -> StoreResult<bool>;
    async fn insert_resource_request(&mut self, request: &ResourceRequest) -> StoreResult<()>;
    async fn access_package(&mut self, id: &str) -> StoreResult<Option<AccessPackage>>;
    async fn insert_access_package(&mut self, package: &AccessPackage) -> StoreResult<()>;
    async fn update_access_package(&mut self, package: &AccessPackage) -> StoreResult<()>;
    async fn delete_access_package(&mut self, id: &str) -> StoreResult<()>;
    /// Adds a role scope; false if the package already grants it.
    async fn insert_package_role_scope(
        &mut self,
        role_scope: &PackageRoleScope,
    ) -> StoreResult<bool>;
    async fn delete_package_role_scope(&mut self, package_id: &str, id: &str) -> StoreResult<bool>;
    /// Adds an assignment; false if the principal already holds that role at that scope.
    async fn insert_em_role_assignment(
        &mut self,
        assignment: &EmRoleAssignment,
    ) -> StoreResult<bool>;
    async fn em_role_assignment(&mut self, id: &str) -> StoreResult<Option<EmRoleAssignment>>;
    async fn delete_em_role_assignment(&mut self, id: &str) -> StoreResult<bool>;
    /// Adds (`add`) or removes a package's incompatibility with another package or a group;
    /// whether anything changed.
    async fn change_incompatibility(
        &mut self,
        package_id: &str,
        other_id: &str,
        with_group: bool,
        add: bool,
    ) -> StoreResult<bool>;
    async fn save_connected_organization(
        &mut self,
        organization: &ConnectedOrganization,
        insert: bool,
    ) -> StoreResult<()>;
    async fn delete_connected_organization(&mut self, id: &str) -> StoreResult<()>;
    async fn change_connected_organization_sponsor(
        &mut self,
        id: &str,
        sponsor_id: &str,
        internal: bool,
        add: bool,
    ) -> StoreResult<bool>;
    async fn save_custom_extension(
        &mut self,
        extension: &CustomExtension,
        insert: bool,
    ) -> StoreResult<()>;
    async fn delete_custom_extension(&mut self, id: &str) -> StoreResult<()>;
    async fn insert_callout(&mut self, callout: &crate::model::Callout) -> StoreResult<()>;
    /// Moves a callout's callback from `from` to `to` (compare-and-set), recording the detail
    /// and the instant; `false` when it was not in `from`.
    async fn set_callout_callback(
        &mut self,
        id: &str,
        from: crate::model::CallbackState,
        to: crate::model::CallbackState,
        detail: Option<&str>,
        at: time::OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Whether an assignment policy names this object (a principal, a connected organization,
    /// a custom extension).
    async fn referenced_by_policy(&mut self, id: &str) -> StoreResult<bool>;
    /// Inserts or replaces a setting.
    async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;
    /// Inserts a policy with the ids of the principals its subject sets name.
    async fn insert_policy(
        &mut self,
        policy: &AssignmentPolicy,
        subjects: &[String],
    ) -> StoreResult<()>;
    async fn update_policy(
        &mut self,
        policy: &AssignmentPolicy,
        subjects: &[String],
    ) -> StoreResult<()>;
    async fn delete_policy(&mut self, id: &str) -> StoreResult<()>;
    /// Policies whose subject sets name this principal.
    async fn policies_naming(&mut self, object_id: &str) -> StoreResult<Vec<AssignmentPolicy>>;
    /// Whether the principal owns the group, application or service principal at `now`
    /// (directly, or by a group ownership an access package delivered and that has not ended).
    async fn owns(
        &mut self,
        owner_id: &str,
        object_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    async fn append_audit(&mut self, record: &AuditRecord) -> StoreResult<()>;
    /// The audit chain's head row, as this transaction sees it.
    async fn audit_chain_head(&mut self) -> StoreResult<ChainHead>;
    /// The oldest committed records not linked yet (by activity time, then id).
    async fn unchained_audits(&mut self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// Moves the chain head from `from` to `to` if it is still at `from` (compare-and-set);
    /// `false` when another chainer moved it first.
    async fn advance_audit_chain(&mut self, from: &ChainHead, to: &ChainHead) -> StoreResult<bool>;
    /// Writes the links of records that have none.
    async fn seal_audits(&mut self, links: &[AuditLink]) -> StoreResult<()>;
    async fn enqueue_event(&mut self, event: &OutboxEvent) -> StoreResult<()>;

    async fn insert_assignment_request(&mut self, request: &AssignmentRequest) -> StoreResult<()>;
    /// Stores the request's new state if it is still in `expected`; `false` when another
    /// transaction moved it first.
    async fn update_assignment_request(
        &mut self,
        request: &AssignmentRequest,
        expected: RequestState,
    ) -> StoreResult<bool>;
    /// The id of an add request still in progress for this target and package.
    async fn open_request_for(
        &mut self,
        target_id: &str,
        package_id: &str,
    ) -> StoreResult<Option<String>>;
    async fn insert_assignment(&mut self, assignment: &Assignment) -> StoreResult<()>;
    /// Stores the assignment's new version if the stored one still has `expected`'s state and
    /// end (an extension moves the end without changing the state, so an expiry read before it
    /// must not pass); `false` when another transaction changed it first.
    async fn update_assignment(
        &mut self,
        assignment: &Assignment,
        expected: &Assignment,
    ) -> StoreResult<bool>;
    /// The extension (`userUpdate`/`adminUpdate`) of this assignment still in progress.
    async fn open_update_for(
        &mut self,
        assignment_id: &str,
    ) -> StoreResult<Option<AssignmentRequest>>;
    /// Moves the end of every grant `holder` holds (an extension); returns how many rows.
    async fn set_grant_ends(
        &mut self,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<u64>;
    /// The target's assignment of this package that has not ended.
    async fn active_assignment_for(
        &mut self,
        target_id: &str,
        package_id: &str,
    ) -> StoreResult<Option<Assignment>>;
    async fn insert_approval_stage(&mut self, stage: &ApprovalStageRecord) -> StoreResult<()>;
    /// Stores the stage's new state if its status is still `expected_status` (its escalation
    /// record excepted: see [`Self::escalate_approval_stage`]).
    async fn update_approval_stage(
        &mut self,
        stage: &ApprovalStageRecord,
        expected_status: &str,
    ) -> StoreResult<bool>;
    /// Records that the stage escalated at `at` to these approvers (`used_fallback`: the fallback
    /// escalation approvers), if it is still `InProgress` and has not escalated before; `false`
    /// otherwise. A later [`Self::update_approval_stage`] leaves this record alone.
    async fn escalate_approval_stage(
        &mut self,
        stage_id: &str,
        approver_ids: &[String],
        used_fallback: bool,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Whether a package has an assignment that has not ended or an add request in progress.
    async fn package_in_use(&mut self, package_id: &str) -> StoreResult<bool>;
    /// The target's assignments that have not ended.
    async fn live_assignments_of(&mut self, target_id: &str) -> StoreResult<Vec<Assignment>>;
    /// The target's add requests still in progress.
    async fn open_requests_of(&mut self, target_id: &str) -> StoreResult<Vec<AssignmentRequest>>;
    /// Deletes every grant `holder` holds (memberships, ownerships, app role assignments,
    /// delegated grants, directory roles); grants other holders hold stay.
    async fn release_grants(&mut self, holder: &str) -> StoreResult<u64>;
    /// Every grant `holder` holds, whatever its end: what a delivery applied, read back.
    async fn grants_held(&mut self, holder: &str) -> StoreResult<Vec<HeldGrant>>;
    /// Deletes one grant `holder` holds; false if it held none such.
    async fn release_grant(&mut self, holder: &str, grant: &HeldGrant) -> StoreResult<bool>;
    /// Ids of the package's assignments that have not ended.
    async fn live_assignment_ids_of_package(
        &mut self,
        package_id: &str,
    ) -> StoreResult<Vec<String>>;

    // ----- set-wise writes of a batch (an expiry storm) -----

    /// Records the listed assignments that have not ended and are due at `now` as expired (status
    /// `Expired`, at their end); returns the ids changed.
    async fn expire_due_assignments(
        &mut self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<String>>;
    /// Deletes every grant these holders hold.
    async fn release_grants_of(&mut self, holders: &[String]) -> StoreResult<u64>;
    /// The extensions still in progress of these assignments.
    async fn open_updates_for_many(
        &mut self,
        assignment_ids: &[String],
    ) -> StoreResult<Vec<AssignmentRequest>>;
    async fn insert_assignment_requests(
        &mut self,
        requests: &[AssignmentRequest],
    ) -> StoreResult<()>;
    async fn append_audits(&mut self, records: &[AuditRecord]) -> StoreResult<()>;
    async fn enqueue_events(&mut self, events: &[OutboxEvent]) -> StoreResult<()>;
    /// Deletes the jobs `worker` still holds the leases of; returns how many.
    async fn complete_jobs(&mut self, ids: &[String], worker: &str) -> StoreResult<u64>;

    /// Writes a job unless one with the same dedupe key is queued; `false` when it was.
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool>;
    /// Leases up to `limit` jobs due at `now` that are neither parked nor leased by a live
    /// lease, to `worker` until `lease_until`, counting the attempt. Jobs another transaction
    /// is claiming are skipped, not waited for.
    async fn claim_jobs(
        &mut self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;
    /// Deletes a job `worker` still holds the lease of; `false` when the lease was lost.
    async fn complete_job(&mut self, id: &str, worker: &str) -> StoreResult<bool>;
    /// Releases the lease and makes the job due again at `due_at`, keeping the error.
    async fn retry_job(
        &mut self,
        id: &str,
        worker: &str,
        due_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool>;
    /// Stops retrying a job: it stays, with its error, until reprocessed.
    async fn park_job(
        &mut self,
        id: &str,
        worker: &str,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool>;
    /// Makes the parked jobs about a subject due again with a fresh attempt count: at their own
    /// due time, which has passed (a handler may read it), or at `now` if that is earlier.
    async fn unpark_jobs(&mut self, subject_id: &str, now: OffsetDateTime) -> StoreResult<u64>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
