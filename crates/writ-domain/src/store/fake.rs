//! A small in-memory [`DirectoryStore`] for unit tests of the domain's directory rules (tests
//! only): users, group memberships with their ends, and the human sponsors a target resolves to.
//! Every other read fails with "not faked", so a rule that starts reading more than its test
//! set up fails loudly rather than passing on an empty answer.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

// The port's imports are `store.rs`'s.
use super::*;

/// Runs a future on this thread without a runtime: the fake never waits, so the first poll
/// finishes it, and a rule that waits on something else fails its test rather than hanging it.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the future waited on something other than the fake"),
    }
}

fn not_faked<T>(what: &str) -> StoreResult<T> {
    Err(StoreError::Other(format!("{what} is not faked")))
}

/// The directory as a handful of vectors.
#[derive(Debug, Default)]
pub(crate) struct FakeDirectory {
    pub users: Vec<User>,
    /// (group id, member, end of the membership: `None` for none).
    pub memberships: Vec<(String, DirectoryObject, Option<OffsetDateTime>)>,
    /// (target id, human sponsor) as the real store's resolver answers for that target.
    pub human_sponsors: Vec<(String, Recipient)>,
}

impl FakeDirectory {
    /// An enabled human member user with a mailbox.
    pub(crate) fn person(id: &str) -> User {
        User {
            id: id.to_owned(),
            kind: UserKind::User,
            identity_parent_id: None,
            display_name: id.to_owned(),
            user_principal_name: format!("{id}@example.org"),
            mail_nickname: id.to_owned(),
            account_enabled: true,
            given_name: None,
            surname: None,
            mail: Some(format!("{id}@example.org")),
            job_title: None,
            department: None,
            office_location: None,
            mobile_phone: None,
            business_phones: Vec::new(),
            employee_id: None,
            company_name: None,
            usage_location: None,
            preferred_language: None,
            user_type: "Member".to_owned(),
            created_date_time: OffsetDateTime::UNIX_EPOCH,
            manager_id: None,
            password_hash: None,
            force_change_password_next_sign_in: false,
            identities: Vec::new(),
        }
    }

    /// Adds a membership of `group_id` for the user `member_id` (which must be in `users`),
    /// ending at `ends_at`.
    pub(crate) fn add_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        ends_at: Option<OffsetDateTime>,
    ) {
        if let Some(user) = self.users.iter().find(|u| u.id == member_id) {
            let member = DirectoryObject::User(user.clone());
            self.memberships
                .push((group_id.to_owned(), member, ends_at));
        }
    }

    fn current_members(&self, group_id: &str, now: OffsetDateTime) -> Vec<DirectoryObject> {
        self.memberships
            .iter()
            .filter(|(g, _, ends)| g == group_id && ends.is_none_or(|end| end > now))
            .map(|(_, member, _)| member.clone())
            .collect()
    }
}

#[async_trait]
impl DirectoryStore for FakeDirectory {
    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        Ok(self.users.iter().find(|u| u.id == id).cloned())
    }

    async fn list_group_members(
        &self,
        group_id: &str,
        now: OffsetDateTime,
        _query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        Ok(Page {
            items: self.current_members(group_id, now),
            next_skiptoken: None,
            count: None,
        })
    }

    async fn is_group_member(
        &self,
        group_id: &str,
        member_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(self
            .current_members(group_id, now)
            .iter()
            .any(|m| m.id() == member_id))
    }

    async fn human_sponsors_of(
        &self,
        ids: &[String],
        _now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Recipient)>> {
        Ok(self
            .human_sponsors
            .iter()
            .filter(|(target, _)| ids.contains(target))
            .cloned()
            .collect())
    }

    async fn object_kind(&self, _id: &str) -> StoreResult<Option<ObjectKind>> {
        not_faked("object_kind")
    }

    async fn directory_object(&self, _id: &str) -> StoreResult<Option<DirectoryObject>> {
        not_faked("directory_object")
    }

    async fn user_by_principal_name(&self, _upn: &str) -> StoreResult<Option<User>> {
        not_faked("user_by_principal_name")
    }

    async fn user_by_identity(
        &self,
        _issuer: &str,
        _issuer_assigned_id: &str,
    ) -> StoreResult<Option<User>> {
        not_faked("user_by_identity")
    }

    async fn users_by_mail(&self, _mail: &str, _limit: u32) -> StoreResult<Vec<User>> {
        not_faked("users_by_mail")
    }

    async fn list_users(
        &self,
        _query: &ListQuery,
        _kind: Option<UserKind>,
    ) -> StoreResult<Page<User>> {
        not_faked("list_users")
    }

    async fn group(&self, _id: &str) -> StoreResult<Option<Group>> {
        not_faked("group")
    }

    async fn list_groups(&self, _query: &ListQuery) -> StoreResult<Page<Group>> {
        not_faked("list_groups")
    }

    async fn list_group_owners(
        &self,
        _group_id: &str,
        _now: OffsetDateTime,
        _query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        not_faked("list_group_owners")
    }

    async fn application(&self, _id: &str) -> StoreResult<Option<Application>> {
        not_faked("application")
    }

    async fn application_by_app_id(&self, _app_id: &str) -> StoreResult<Option<Application>> {
        not_faked("application_by_app_id")
    }

    async fn application_by_identifier_uri(&self, _uri: &str) -> StoreResult<Option<Application>> {
        not_faked("application_by_identifier_uri")
    }

    async fn list_applications(
        &self,
        _query: &ListQuery,
        _kind: Option<ApplicationKind>,
    ) -> StoreResult<Page<Application>> {
        not_faked("list_applications")
    }

    async fn service_principal(&self, _id: &str) -> StoreResult<Option<ServicePrincipal>> {
        not_faked("service_principal")
    }

    async fn list_service_principals(
        &self,
        _query: &ListQuery,
        _kind: Option<ServicePrincipalKind>,
    ) -> StoreResult<Page<ServicePrincipal>> {
        not_faked("list_service_principals")
    }

    async fn agents_without_sponsors(
        &self,
        _query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        not_faked("agents_without_sponsors")
    }

    async fn sponsors(&self, _object_id: &str) -> StoreResult<Vec<DirectoryObject>> {
        not_faked("sponsors")
    }

    async fn object_owners(&self, _object_id: &str) -> StoreResult<Vec<DirectoryObject>> {
        not_faked("object_owners")
    }

    async fn app_role_assignments_of(
        &self,
        _principal_id: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>> {
        not_faked("app_role_assignments_of")
    }

    async fn app_role_assignments_to(
        &self,
        _resource_id: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>> {
        not_faked("app_role_assignments_to")
    }

    async fn permission_grants(
        &self,
        _query: &ListQuery,
        _now: OffsetDateTime,
    ) -> StoreResult<Page<PermissionGrant>> {
        not_faked("permission_grants")
    }

    async fn permission_grant(&self, _id: &str) -> StoreResult<Option<PermissionGrant>> {
        not_faked("permission_grant")
    }

    async fn role_assignments(
        &self,
        _query: &ListQuery,
        _now: OffsetDateTime,
    ) -> StoreResult<Page<RoleAssignment>> {
        not_faked("role_assignments")
    }

    async fn role_assignment(&self, _id: &str) -> StoreResult<Option<RoleAssignment>> {
        not_faked("role_assignment")
    }

    async fn effective_app_roles(
        &self,
        _principal_id: &str,
        _resource_id: &str,
        _now: OffsetDateTime,
        _through_groups: bool,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>> {
        not_faked("effective_app_roles")
    }

    async fn service_principal_by_app_id(
        &self,
        _app_id: &str,
    ) -> StoreResult<Option<ServicePrincipal>> {
        not_faked("service_principal_by_app_id")
    }

    async fn password_credentials(&self, _owner_id: &str) -> StoreResult<Vec<ClientSecret>> {
        not_faked("password_credentials")
    }

    async fn effective_directory_roles(
        &self,
        _principal_id: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>> {
        not_faked("effective_directory_roles")
    }

    async fn principal_names(&self, _ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        not_faked("principal_names")
    }

    async fn is_group_owner(
        &self,
        _group_id: &str,
        _owner_id: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<bool> {
        not_faked("is_group_owner")
    }

    async fn permission_grants_reaching(
        &self,
        _principal_id: &str,
        _resource_id: &str,
        _now: OffsetDateTime,
    ) -> StoreResult<Vec<PermissionGrant>> {
        not_faked("permission_grants_reaching")
    }
}
