//! The entitlement-management capability of the storage port: catalogs, packages, policies,
//! requests, assignments, approval stages, callouts.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// Entitlement management's reads: catalogs, resources, packages, policies, connected
/// organizations, custom extensions and callouts, requests, assignments and their approvals.
#[async_trait]
pub trait EntitlementStore: Send + Sync {
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
    /// The packages that grant one resource role — the role `role_origin_id` of the resource
    /// `resource_origin_id` of `origin_system`, in any catalog — each with its policies (a
    /// package without one is left out), hidden packages included, by package name then id.
    /// Access evaluation's actionable denial.
    async fn packages_granting(
        &self,
        origin_system: &str,
        resource_origin_id: &str,
        role_origin_id: &str,
    ) -> StoreResult<Vec<(AccessPackage, Vec<AssignmentPolicy>)>>;
    /// Every policy that lets targets request for themselves (`enableTargetsToSelfAddAccess`).
    async fn self_requestable_policies(&self) -> StoreResult<Vec<AssignmentPolicy>>;
    /// Packages this package is incompatible with (`outgoing`) or that are incompatible with it.
    async fn incompatible_packages(
        &self,
        package_id: &str,
        outgoing: bool,
    ) -> StoreResult<Vec<AccessPackage>>;
    async fn incompatible_groups(&self, package_id: &str) -> StoreResult<Vec<Group>>;
    async fn policies_of_package(&self, package_id: &str) -> StoreResult<Vec<AssignmentPolicy>>;
    /// The package with this id and its policies (by id), in one read: what a `userAdd`
    /// chooses its policy from (issue 20).
    async fn package_with_policies(
        &self,
        id: &str,
    ) -> StoreResult<Option<(AccessPackage, Vec<AssignmentPolicy>)>>;
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
    /// The user (first) or service principal with this id as a subject, with its risk state
    /// (an agent's; `None` when it has none), in one read: a request's target (issue 20).
    async fn principal_subject(
        &self,
        id: &str,
    ) -> StoreResult<Option<(Subject, Option<crate::model::RiskState>)>>;
    /// [`principal_subject`](Self::principal_subject)'s subjects (without their risk states)
    /// for many ids at once, those that exist, in no particular order: a batch of deliveries'
    /// targets (issue 20, part Q). The SQL store reads them in one statement; this default, one
    /// by one.
    async fn principal_subjects(&self, ids: &[String]) -> StoreResult<Vec<Subject>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.principal_subject(id).await?.map(|(s, _)| s));
        }
        Ok(out)
    }
    /// The assignments with these ids (those that exist), for a batch of jobs.
    async fn assignments_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Assignment>>;
    /// The assignments of a target that have not ended.
    async fn active_assignments_of(&self, target_id: &str) -> StoreResult<Vec<Assignment>>;

    // The portal's agents pages (part A of issue 17).

    /// The agents (agent identities and agent users) `person_id` sponsors or owns at `now`, by
    /// DESIGN section 5's resolver (as [`Party::TargetSponsorOrOwner`]): sorted by name then
    /// id, `limit` of them from `offset`. Only an enabled human user sponsors. For My agents.
    async fn sponsored_agents(
        &self,
        person_id: &str,
        now: OffsetDateTime,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<SponsoredAgent>>;
    /// The assignments of the targets `ids`: the live ones (not expired) soonest end first, or
    /// (`live` false) the ended ones newest first; at most `limit`. For My agents and the agent
    /// page, one query for a page of agents.
    async fn assignments_of_targets(
        &self,
        ids: &[String],
        live: bool,
        limit: u32,
    ) -> StoreResult<Vec<Assignment>>;
    /// The requests of the targets `ids`: the open ones (submitted, pending approval, scheduled,
    /// delivering) oldest first, or (`open` false) the completed ones newest first; at most
    /// `limit`. For My agents and the agent page.
    async fn requests_of_targets(
        &self,
        ids: &[String],
        open: bool,
        limit: u32,
    ) -> StoreResult<Vec<AssignmentRequest>>;
    /// Every policy that lets on-behalf requestors add access
    /// (`enableOnBehalfRequestorsToAddAccess`), for the portal's request page.
    async fn on_behalf_requestable_policies(&self) -> StoreResult<Vec<AssignmentPolicy>>;
    /// The requests with these ids (those that exist): the portal's decision history reads the
    /// requests of a page of decided stages at once.
    async fn assignment_requests_by_ids(
        &self,
        ids: &[String],
    ) -> StoreResult<Vec<AssignmentRequest>>;
    /// The approval stages of these requests, by request and in stage order: the portal's
    /// approvals inbox reads a page's stages at once.
    async fn approval_stages_of_requests(
        &self,
        request_ids: &[String],
    ) -> StoreResult<Vec<ApprovalStageRecord>>;
    /// At most `top` stages decided by `reviewer_id`, newest decision first (then by id
    /// descending), after `before` (the decision instant and id of the previous page's last):
    /// the portal's history of my decisions.
    async fn stages_decided_by(
        &self,
        reviewer_id: &str,
        top: u32,
        before: Option<(OffsetDateTime, String)>,
    ) -> StoreResult<Vec<ApprovalStageRecord>>;
}

/// Why a new add of a package for a target is refused, in this order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddBlocker {
    /// The target holds an access package incompatible with this one either way (a live
    /// assignment): its display name.
    IncompatiblePackage(String),
    /// The target is a member of a group incompatible with this package: its display name.
    IncompatibleGroup(String),
    /// An add request still in progress: its id.
    OpenRequest(String),
    /// An assignment that has not ended: its id.
    Assignment(String),
}

/// The refusal a requestor reads (a `400` naming what blocks the add).
impl std::fmt::Display for AddBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IncompatiblePackage(name) => write!(
                f,
                "the target holds access package '{name}', which is incompatible with this one"
            ),
            Self::IncompatibleGroup(name) => write!(
                f,
                "the target is a member of group '{name}', which is incompatible with this access package"
            ),
            Self::OpenRequest(open) => write!(
                f,
                "an open request ({open}) exists for this target and access package"
            ),
            Self::Assignment(held) => write!(
                f,
                "the target already has an assignment of this access package ({held}); extend it instead"
            ),
        }
    }
}

/// An agent a person sponsors or owns, as My agents lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SponsoredAgent {
    pub id: String,
    pub display_name: String,
    /// An agent user (else an agent identity).
    pub is_agent_user: bool,
    /// The blueprint's name (an agent user's: its parent agent identity's), if it exists.
    pub blueprint: Option<String>,
    pub created_date_time: OffsetDateTime,
}

/// Entitlement management's writes, including the set-wise writes of an expiry batch.
#[async_trait]
pub trait EntitlementStoreTx: Send {
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
    /// Inserts several assignments (a batch of deliveries): the SQL store writes them in one
    /// statement; this default, one by one.
    async fn insert_assignments(&mut self, assignments: &[Assignment]) -> StoreResult<()> {
        for assignment in assignments {
            self.insert_assignment(assignment).await?;
        }
        Ok(())
    }
    /// [`update_assignment_request`](Self::update_assignment_request) for several requests,
    /// each stored only if it is still in its `expected` state; returns how many were. The SQL
    /// store writes them in one statement; this default, one by one.
    async fn update_assignment_requests(
        &mut self,
        requests: &[(AssignmentRequest, RequestState)],
    ) -> StoreResult<u64> {
        let mut updated = 0;
        for (request, expected) in requests {
            if self.update_assignment_request(request, *expected).await? {
                updated += 1;
            }
        }
        Ok(updated)
    }
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
    /// What stops a new add of this package for this target at `now`, in one statement (a
    /// request's checks, issue 20), the first of: a live assignment of a package incompatible
    /// with it either way (the lowest assignment id); a current membership of an incompatible
    /// group (the lowest group id); an add request still in progress
    /// ([`Self::open_request_for`]); the assignment that has not ended
    /// ([`Self::active_assignment_for`]). The incompatibility branches start from an empty
    /// index range for a package that has none.
    async fn add_blocker(
        &mut self,
        target_id: &str,
        package_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AddBlocker>>;
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
}
