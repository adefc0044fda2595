//! Group operations: create, read, update, delete, list, members and owners.

use time::OffsetDateTime;

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{Actor, AuditRecord};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};

use super::{Directory, DirectoryObject, Group, ObjectKind, RequestContext};

const CATEGORY: &str = "GroupManagement";
/// The holder name of memberships added with `members/$ref`; packages hold theirs by assignment.
pub const DIRECT_HOLDER: &str = "direct";
/// Entra's limit on references in one create request.
const MAX_BINDS_PER_REQUEST: usize = 20;

/// The writable properties of a group, tri-state for create and PATCH.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub mail_nickname: Patch<String>,
    pub mail_enabled: Patch<bool>,
    pub security_enabled: Patch<bool>,
    pub group_types: Patch<Vec<String>>,
    pub visibility: Patch<String>,
    pub is_assignable_to_role: Patch<bool>,
    /// Object ids from `members@odata.bind` (create only).
    pub member_ids: Vec<String>,
    /// Object ids from `owners@odata.bind` (create only).
    pub owner_ids: Vec<String>,
}

fn required<T>(field: Patch<T>, name: &str) -> DomainResult<T> {
    match field {
        Patch::Value(v) => Ok(v),
        _ => Err(DomainError::invalid(format!(
            "property '{name}' is required"
        ))),
    }
}

fn check_display_name(name: &str) -> DomainResult<()> {
    crate::text::check_display_name(name, "displayName")
}

fn check_mail_nickname(nickname: &str) -> DomainResult<()> {
    if nickname.is_empty()
        || nickname.len() > 64
        || nickname
            .chars()
            .any(|c| c.is_whitespace() || "@()\\[]\";:<>,".contains(c) || !c.is_ascii())
    {
        return Err(DomainError::invalid(
            "property 'mailNickname' must be 1 to 64 ASCII characters without spaces or @()\\[]\";:<>,",
        ));
    }
    crate::text::check_single_line(nickname, "mailNickname")
}

fn canonical_visibility(text: &str) -> DomainResult<String> {
    match text.to_ascii_lowercase().as_str() {
        "public" => Ok("Public".into()),
        "private" => Ok("Private".into()),
        "hiddenmembership" => Ok("HiddenMembership".into()),
        _ => Err(DomainError::invalid(format!(
            "'{text}' is not a valid value for property 'visibility' (Public, Private, HiddenMembership)"
        ))),
    }
}

fn canonical_group_types(types: Vec<String>) -> DomainResult<Vec<String>> {
    let mut out = Vec::new();
    for t in types {
        match t.to_ascii_lowercase().as_str() {
            "unified" => out.push("Unified".to_owned()),
            "dynamicmembership" => {
                return Err(DomainError::Invalid {
                    code: "notSupported",
                    message: "groupTypes 'DynamicMembership' is not supported by Writ".into(),
                });
            }
            _ => {
                return Err(DomainError::invalid(format!(
                    "'{t}' is not a valid value for property 'groupTypes' (Unified)"
                )));
            }
        }
    }
    out.dedup();
    Ok(out)
}

fn audit_group(
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    activity: &str,
    operation: &str,
    group: &Group,
    changed: Vec<String>,
) -> AuditRecord {
    AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(&group.id, "Group", Some(&group.display_name), changed)
}

/// A reference that must name an existing object of one of the allowed kinds.
async fn check_reference(
    tx: &mut dyn crate::store::StoreTx,
    id: &str,
    allowed: &[ObjectKind],
    what: &str,
) -> DomainResult<ObjectKind> {
    match tx.object_kind(id).await? {
        Some(kind) if allowed.contains(&kind) => Ok(kind),
        Some(kind) => Err(DomainError::invalid(format!(
            "a {} cannot be added as {what}",
            kind.as_str()
        ))),
        None => Err(DomainError::invalid(format!(
            "the referenced object '{id}' does not exist"
        ))),
    }
}

const MEMBER_KINDS: &[ObjectKind] = &[
    ObjectKind::User,
    ObjectKind::Group,
    ObjectKind::ServicePrincipal,
];
const OWNER_KINDS: &[ObjectKind] = &[ObjectKind::User, ObjectKind::ServicePrincipal];

impl Directory {
    pub async fn create_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: GroupInput,
    ) -> DomainResult<Group> {
        caller.require_directory_write()?;
        let display_name = required(std::mem::take(&mut input.display_name), "displayName")?;
        check_display_name(&display_name)?;
        let mail_nickname = required(std::mem::take(&mut input.mail_nickname), "mailNickname")?;
        check_mail_nickname(&mail_nickname)?;
        let mail_enabled = required(std::mem::take(&mut input.mail_enabled), "mailEnabled")?;
        let security_enabled = required(
            std::mem::take(&mut input.security_enabled),
            "securityEnabled",
        )?;
        let group_types = match std::mem::take(&mut input.group_types) {
            Patch::Value(types) => canonical_group_types(types)?,
            _ => Vec::new(),
        };
        let visibility = match std::mem::take(&mut input.visibility) {
            Patch::Value(v) => Some(canonical_visibility(&v)?),
            _ => None,
        };
        let description = match std::mem::take(&mut input.description) {
            Patch::Value(d) if d.chars().count() > 1024 => {
                return Err(DomainError::invalid(
                    "property 'description' is longer than 1024 characters",
                ));
            }
            Patch::Value(d) => Some(d),
            _ => None,
        };
        if input.member_ids.len() + input.owner_ids.len() > MAX_BINDS_PER_REQUEST {
            return Err(DomainError::invalid(format!(
                "at most {MAX_BINDS_PER_REQUEST} members and owners can be bound when creating a group"
            )));
        }
        let now = self.clock.now();
        let group = Group {
            id: new_object_id(),
            display_name,
            description,
            mail_nickname,
            mail_enabled,
            security_enabled,
            group_types,
            mail: None,
            visibility,
            is_assignable_to_role: matches!(input.is_assignable_to_role, Patch::Value(true)),
            created_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_group(&group).await?;
        for member in &input.member_ids {
            check_reference(tx.as_mut(), member, MEMBER_KINDS, "a group member").await?;
            tx.add_group_member(&group.id, member, DIRECT_HOLDER, None)
                .await?;
        }
        for owner in &input.owner_ids {
            check_reference(tx.as_mut(), owner, OWNER_KINDS, "a group owner").await?;
            tx.add_group_owner(&group.id, owner, DIRECT_HOLDER, None)
                .await?;
        }
        let mut record = audit_group(caller, ctx, now, "Add group", "Add", &group, Vec::new());
        for member in &input.member_ids {
            record = record.detail("memberAdded", member.clone());
        }
        for owner in &input.owner_ids {
            record = record.detail("ownerAdded", owner.clone());
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn get_group(&self, caller: &Caller, id: &str) -> DomainResult<Group> {
        caller.require_visible("group", id)?;
        self.store
            .group(id)
            .await?
            .ok_or_else(|| DomainError::not_found("group", id))
    }

    pub async fn list_groups(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<Group>> {
        caller.require_directory_list("groups")?;
        Ok(self.store.list_groups(query).await?)
    }

    pub async fn update_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: GroupInput,
    ) -> DomainResult<()> {
        caller.require_visible("group", id)?;
        caller.require_directory_write()?;
        let mut tx = self.store.begin().await?;
        let mut group = tx
            .group(id)
            .await?
            .ok_or_else(|| DomainError::not_found("group", id))?;
        let mut changed = Vec::new();
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'displayName' cannot be null",
                ));
            }
            Patch::Value(name) => {
                check_display_name(&name)?;
                group.display_name = name;
                changed.push("displayName".to_owned());
            }
        }
        match std::mem::take(&mut input.mail_nickname) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'mailNickname' cannot be null",
                ));
            }
            Patch::Value(nickname) => {
                check_mail_nickname(&nickname)?;
                group.mail_nickname = nickname;
                changed.push("mailNickname".to_owned());
            }
        }
        let description = std::mem::take(&mut input.description);
        if !description.is_absent() {
            if let Patch::Value(d) = &description
                && d.chars().count() > 1024
            {
                return Err(DomainError::invalid(
                    "property 'description' is longer than 1024 characters",
                ));
            }
            description.apply_to(&mut group.description);
            changed.push("description".to_owned());
        }
        match std::mem::take(&mut input.visibility) {
            Patch::Absent => {}
            Patch::Null => {
                group.visibility = None;
                changed.push("visibility".to_owned());
            }
            Patch::Value(v) => {
                group.visibility = Some(canonical_visibility(&v)?);
                changed.push("visibility".to_owned());
            }
        }
        match std::mem::take(&mut input.security_enabled) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'securityEnabled' cannot be null",
                ));
            }
            Patch::Value(v) => {
                group.security_enabled = v;
                changed.push("securityEnabled".to_owned());
            }
        }
        match std::mem::take(&mut input.mail_enabled) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'mailEnabled' cannot be null",
                ));
            }
            Patch::Value(v) => {
                group.mail_enabled = v;
                changed.push("mailEnabled".to_owned());
            }
        }
        if !input.group_types.is_absent() {
            return Err(DomainError::invalid(
                "property 'groupTypes' cannot be changed after creation",
            ));
        }
        if !input.is_assignable_to_role.is_absent() {
            return Err(DomainError::invalid(
                "property 'isAssignableToRole' cannot be changed after creation",
            ));
        }
        if changed.is_empty() {
            return Ok(());
        }
        tx.update_group(&group).await?;
        let now = self.clock.now();
        tx.append_audit(&audit_group(
            caller,
            ctx,
            now,
            "Update group",
            "Update",
            &group,
            changed,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_group(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("group", id)?;
        caller.require_directory_write()?;
        let mut tx = self.store.begin().await?;
        let group = tx
            .group(id)
            .await?
            .ok_or_else(|| DomainError::not_found("group", id))?;
        let now = self.clock.now();
        super::deletion::release_sponsorships(
            tx.as_mut(),
            caller,
            ctx,
            now,
            (id, "Group", &group.display_name),
            None,
        )
        .await?;
        crate::entitlement::remove_from_policies(tx.as_mut(), caller, ctx, now, id).await?;
        crate::entitlement::release_catalog_resources(tx.as_mut(), caller, ctx, now, id).await?;
        tx.delete_group(id).await?;
        tx.append_audit(&audit_group(
            caller,
            ctx,
            now,
            "Delete group",
            "Delete",
            &group,
            Vec::new(),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_group_members(
        &self,
        caller: &Caller,
        group_id: &str,
        query: &ListQuery,
    ) -> DomainResult<Page<DirectoryObject>> {
        self.get_group(caller, group_id).await?;
        caller.require_directory_list("group members")?;
        let now = self.clock.now();
        Ok(self.store.list_group_members(group_id, now, query).await?)
    }

    pub async fn list_group_owners(
        &self,
        caller: &Caller,
        group_id: &str,
        query: &ListQuery,
    ) -> DomainResult<Page<DirectoryObject>> {
        self.get_group(caller, group_id).await?;
        caller.require_directory_list("group owners")?;
        let now = self.clock.now();
        Ok(self.store.list_group_owners(group_id, now, query).await?)
    }

    /// `POST /groups/{id}/members/$ref` (`add`) or `DELETE /groups/{id}/members/{member}/$ref`.
    pub async fn change_group_member(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_id: &str,
        member_id: &str,
        add: bool,
    ) -> DomainResult<()> {
        self.change_group_link(caller, ctx, group_id, member_id, add, false)
            .await
    }

    /// `POST /groups/{id}/owners/$ref` (`add`) or `DELETE /groups/{id}/owners/{owner}/$ref`.
    pub async fn change_group_owner(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_id: &str,
        owner_id: &str,
        add: bool,
    ) -> DomainResult<()> {
        self.change_group_link(caller, ctx, group_id, owner_id, add, true)
            .await
    }

    async fn change_group_link(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        group_id: &str,
        object_id: &str,
        add: bool,
        owner: bool,
    ) -> DomainResult<()> {
        caller.require_visible("group", group_id)?;
        caller.require_directory_write()?;
        let relation = if owner { "owners" } else { "members" };
        let mut tx = self.store.begin().await?;
        let group = tx
            .group(group_id)
            .await?
            .ok_or_else(|| DomainError::not_found("group", group_id))?;
        let kind = if add {
            let allowed = if owner { OWNER_KINDS } else { MEMBER_KINDS };
            let what = if owner {
                "a group owner"
            } else {
                "a group member"
            };
            let kind = check_reference(tx.as_mut(), object_id, allowed, what).await?;
            if !owner && object_id == group_id {
                return Err(DomainError::invalid("a group cannot be a member of itself"));
            }
            let inserted = if owner {
                tx.add_group_owner(group_id, object_id, DIRECT_HOLDER, None)
                    .await?
            } else {
                tx.add_group_member(group_id, object_id, DIRECT_HOLDER, None)
                    .await?
            };
            if !inserted {
                return Err(DomainError::invalid(format!(
                    "One or more added object references already exist for the following modified properties: '{relation}'."
                )));
            }
            kind
        } else {
            let kind = tx.object_kind(object_id).await?;
            let removed = if owner {
                tx.remove_group_owner(group_id, object_id, DIRECT_HOLDER)
                    .await?
            } else {
                tx.remove_group_member(group_id, object_id, DIRECT_HOLDER)
                    .await?
            };
            if !removed {
                // Held only through an access package: say so, rather than that it is absent.
                let now = self.clock.now();
                let held = if owner {
                    tx.owns(object_id, group_id, now).await?
                } else {
                    self.store.is_group_member(group_id, object_id, now).await?
                };
                if held {
                    return Err(DomainError::Conflict(format!(
                        "the {} is held through an access package assignment; remove that assignment instead",
                        if owner { "ownership" } else { "membership" }
                    )));
                }
                return Err(DomainError::not_found(
                    if owner { "group owner" } else { "group member" },
                    object_id,
                ));
            }
            kind.unwrap_or(ObjectKind::User)
        };
        let now = self.clock.now();
        let (activity, operation) = match (add, owner) {
            (true, false) => ("Add member to group", "Assign"),
            (false, false) => ("Remove member from group", "Unassign"),
            (true, true) => ("Add owner to group", "Assign"),
            (false, true) => ("Remove owner from group", "Unassign"),
        };
        let record = audit_group(
            caller,
            ctx,
            now,
            activity,
            operation,
            &group,
            vec![relation.to_owned()],
        )
        .on_behalf_of(object_id, kind.audit_type(), None);
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }
}
