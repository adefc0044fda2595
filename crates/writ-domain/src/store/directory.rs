//! The directory capability of the storage port: users, groups, applications, service principals
//! and the grants they hold.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// The directory's reads: users, groups, applications, service principals, their links
/// (members, owners, sponsors) and the grants they hold.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn object_kind(&self, id: &str) -> StoreResult<Option<ObjectKind>>;
    async fn directory_object(&self, id: &str) -> StoreResult<Option<DirectoryObject>>;
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_principal_name(&self, upn: &str) -> StoreResult<Option<User>>;
    /// The user an upstream account is linked to through `identities` (exact match).
    async fn user_by_identity(
        &self,
        issuer: &str,
        issuer_assigned_id: &str,
    ) -> StoreResult<Option<User>>;
    /// Up to `limit` users whose `mail` equals `mail`, ignoring case.
    async fn users_by_mail(&self, mail: &str, limit: u32) -> StoreResult<Vec<User>>;
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
    /// Whether the principal is a current member of the group (any holder).
    async fn is_group_member(
        &self,
        group_id: &str,
        member_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Whether the principal is a current owner of the group (any holder) at `now`: access
    /// evaluation's `owner` action.
    async fn is_group_owner(
        &self,
        group_id: &str,
        owner_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// The delegated grants in force at `now` on the API `resource_id` that reach
    /// `principal_id`: its own (`Principal`) and those for every user (`AllPrincipals`). Access
    /// evaluation's `granted` action.
    async fn permission_grants_reaching(
        &self,
        principal_id: &str,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<PermissionGrant>>;
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
    /// Agent identities, blueprints and agent users with no sponsor, by id: `query.top` of them
    /// after the id in `query.skiptoken`, with the whole count when `query.count`.
    async fn agents_without_sponsors(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>>;
}

/// The directory's writes and the reads a write transaction needs.
#[async_trait]
pub trait DirectoryStoreTx: Send {
    async fn object_kind(&mut self, id: &str) -> StoreResult<Option<ObjectKind>>;
    async fn user(&mut self, id: &str) -> StoreResult<Option<User>>;
    async fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    /// Replaces the user's `identities` collection; an account linked to another user fails
    /// with [`StoreError::Unique`].
    async fn replace_user_identities(
        &mut self,
        user_id: &str,
        identities: &[ObjectIdentity],
    ) -> StoreResult<()>;
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
    /// [`add_group_member`](Self::add_group_member) for several memberships (a batch of
    /// deliveries), each `(group, member, holder, ends_at)`. The SQL store adds them in one
    /// statement; this default, one by one.
    async fn add_group_members(
        &mut self,
        memberships: &[(String, String, String, Option<OffsetDateTime>)],
    ) -> StoreResult<()> {
        for (group_id, member_id, holder, ends_at) in memberships {
            self.add_group_member(group_id, member_id, holder, *ends_at)
                .await?;
        }
        Ok(())
    }
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
    /// Sponsor succession, set-wise (the same few statements whatever the number of objects):
    /// for every object `from` sponsors, adds `heir` as a sponsor where it is not one already
    /// (and is not the object itself), then removes `from` everywhere. One entry per object, by
    /// object id.
    async fn hand_over_sponsorships(
        &mut self,
        from: &str,
        heir: Option<&str>,
    ) -> StoreResult<Vec<SponsorHandover>>;
    /// [`DirectoryStore::human_sponsors_of`] as this transaction sees the directory.
    async fn human_sponsors_in_tx(
        &mut self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Recipient)>>;
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
    /// Whether the principal owns the group, application or service principal at `now`
    /// (directly, or by a group ownership an access package delivered and that has not ended).
    async fn owns(
        &mut self,
        owner_id: &str,
        object_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}
