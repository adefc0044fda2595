//! Reading requests and assignments: by id, as lists filtered by the caller's view, the
//! caller's own, and the objects they relate to.

use super::rule;

use crate::entitlement::Entitlement;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{Assignment, AssignmentPolicy, AssignmentRequest, PrincipalKind, Subject};
use crate::query::{ListQuery, Page};

impl Entitlement {
    pub async fn get_assignment_request(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<AssignmentRequest> {
        let not_found = || DomainError::not_found("accessPackageAssignmentRequest", id);
        let request = self
            .store
            .assignment_request(id)
            .await?
            .ok_or_else(not_found)?;
        if caller.catalog_rights(&request.catalog_id).read
            || request.target_id == caller.id
            || request.requestor_id == caller.id
            || self
                .speaks_for_target(caller, &request.target_id, request.target_kind)
                .await?
        {
            Ok(request)
        } else {
            Err(not_found())
        }
    }

    /// Whether the caller is the target's manager or (DESIGN section 5's resolver) among its
    /// sponsors and owners: the parties `filterByCurrentUser(on='targetManager' |
    /// 'targetAgentIdentitySponsorOrOwner')` lists requests and assignments for, who may then
    /// read each of them too.
    pub(super) async fn speaks_for_target(
        &self,
        caller: &Caller,
        target_id: &str,
        target_kind: PrincipalKind,
    ) -> DomainResult<bool> {
        if target_kind == PrincipalKind::User
            && let Some(user) = self.store.user(target_id).await?
            && user.manager_id.as_deref() == Some(caller.id.as_str())
        {
            return Ok(true);
        }
        self.sponsors_or_owns(caller, target_id, self.clock.now())
            .await
    }

    pub async fn list_assignment_requests(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentRequest>> {
        let restriction = self.list_restriction(caller, "assignment requests")?;
        Ok(self
            .store
            .list_assignment_requests(query, restriction.as_deref(), None)
            .await?)
    }

    pub async fn get_assignment(&self, caller: &Caller, id: &str) -> DomainResult<Assignment> {
        let not_found = || DomainError::not_found("accessPackageAssignment", id);
        let assignment = self.store.assignment(id).await?.ok_or_else(not_found)?;
        if self.may_see_assignment(caller, &assignment).await? {
            Ok(assignment)
        } else {
            Err(not_found())
        }
    }

    /// Whether the caller may see an assignment (DESIGN section 3): its catalog's readers, its
    /// target, and the target's manager, sponsors and owners.
    pub(super) async fn may_see_assignment(
        &self,
        caller: &Caller,
        assignment: &Assignment,
    ) -> DomainResult<bool> {
        Ok(caller.catalog_rights(&assignment.catalog_id).read
            || assignment.target_id == caller.id
            || self
                .speaks_for_target(caller, &assignment.target_id, assignment.target_kind)
                .await?)
    }

    /// The assignment a `userUpdate` or `userRemove` names; `400` when there is none, or when the
    /// caller may not see it, alike (no existence oracle; the `admin*` types refuse a caller
    /// without the catalog's rights outright). Besides those who may read it, an on-behalf
    /// requestor its policy names for its target sees it: the policy shares it with them.
    pub(in crate::entitlement) async fn visible_assignment(
        &self,
        caller: &Caller,
        assignment_id: &str,
    ) -> DomainResult<Assignment> {
        let missing = || rule(format!("assignment '{assignment_id}' does not exist"));
        let assignment = self
            .store
            .assignment(assignment_id)
            .await?
            .ok_or_else(missing)?;
        if self.may_see_assignment(caller, &assignment).await? {
            return Ok(assignment);
        }
        let (Some(policy), Some(target)) = (
            self.store.assignment_policy(&assignment.policy_id).await?,
            self.subject(&assignment.target_id).await?,
        ) else {
            return Err(missing());
        };
        if self.may_act_on_behalf(caller, &target, &policy).await? {
            Ok(assignment)
        } else {
            Err(missing())
        }
    }

    pub async fn list_assignments(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        let restriction = self.list_restriction(caller, "assignments")?;
        Ok(self
            .store
            .list_assignments(query, restriction.as_deref(), None)
            .await?)
    }

    /// `GET …/assignments/additionalAccess(accessPackageId=…, incompatibleAccessPackageId=…)`:
    /// the package's live assignments whose targets also hold the other package (or, without
    /// it, any package incompatible with this one) — the holders to review when packages are
    /// made incompatible after the fact.
    pub async fn additional_access(
        &self,
        caller: &Caller,
        package_id: &str,
        other_package_id: Option<&str>,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        let package = self
            .store
            .access_package(package_id)
            .await?
            .filter(|p| caller.catalog_rights(&p.catalog_id).read)
            .ok_or_else(|| DomainError::not_found("accessPackage", package_id))?;
        let others: Vec<String> = match other_package_id {
            Some(other) => {
                // Whether the targets hold the other package is the other catalog's to tell.
                self.store
                    .access_package(other)
                    .await?
                    .filter(|p| caller.catalog_rights(&p.catalog_id).read)
                    .ok_or_else(|| DomainError::not_found("accessPackage", other))?;
                vec![other.to_owned()]
            }
            None => {
                let mut ids: Vec<String> = self
                    .store
                    .incompatible_packages(&package.id, true)
                    .await?
                    .into_iter()
                    .chain(self.store.incompatible_packages(&package.id, false).await?)
                    .map(|p| p.id)
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            }
        };
        if others.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_skiptoken: None,
                count: query.count.then_some(0),
            });
        }
        Ok(self
            .store
            .list_additional_access(query, &package.id, &others)
            .await?)
    }

    /// `…/assignmentRequests/filterByCurrentUser(on=…)` and `…/assignments/filterByCurrentUser(on=…)`
    /// for `target` and `createdBy`: the caller's own, whatever its catalog rights.
    pub async fn list_own_requests(
        &self,
        caller: &Caller,
        party: crate::store::Party,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentRequest>> {
        Ok(self
            .store
            .list_assignment_requests(query, None, Some((party, &caller.id)))
            .await?)
    }

    pub async fn list_own_assignments(
        &self,
        caller: &Caller,
        party: crate::store::Party,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        Ok(self
            .store
            .list_assignments(query, None, Some((party, &caller.id)))
            .await?)
    }

    /// The package, policy, subject or assignment a request or assignment names, for
    /// `$expand`: the caller was already allowed to see the object that names it.
    pub async fn related_package(
        &self,
        id: &str,
    ) -> DomainResult<Option<crate::entitlement::AccessPackage>> {
        Ok(self.store.access_package(id).await?)
    }

    pub async fn related_policy(&self, id: &str) -> DomainResult<Option<AssignmentPolicy>> {
        Ok(self.store.assignment_policy(id).await?)
    }

    pub async fn related_subject(&self, id: &str) -> DomainResult<Option<Subject>> {
        self.subject(id).await
    }

    pub async fn related_assignment(&self, id: &str) -> DomainResult<Option<Assignment>> {
        Ok(self.store.assignment(id).await?)
    }
}
