//! User operations: create, read, update, delete, list, and the `manager` link.

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{Actor, AuditRecord};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};
use crate::secrets;
use crate::store::{StoreResult, StoreTx};

use super::{Directory, ObjectIdentity, ObjectKind, RequestContext, User};

const CATEGORY: &str = "UserManagement";
/// How far up a manager chain we walk to refuse cycles; deeper chains are refused outright.
const MAX_MANAGER_CHAIN: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct PasswordProfile {
    pub password: Option<String>,
    pub force_change_password_next_sign_in: Option<bool>,
}

/// The writable properties of a user, each tri-state so one type serves create and PATCH.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub display_name: Patch<String>,
    pub user_principal_name: Patch<String>,
    pub mail_nickname: Patch<String>,
    pub account_enabled: Patch<bool>,
    pub password_profile: Patch<PasswordProfile>,
    pub given_name: Patch<String>,
    pub surname: Patch<String>,
    pub mail: Patch<String>,
    pub job_title: Patch<String>,
    pub department: Patch<String>,
    pub office_location: Patch<String>,
    pub mobile_phone: Patch<String>,
    pub business_phones: Patch<Vec<String>>,
    pub employee_id: Patch<String>,
    pub company_name: Patch<String>,
    pub usage_location: Patch<String>,
    pub preferred_language: Patch<String>,
    pub user_type: Patch<String>,
    /// `Some(AgentUser)` for `microsoft.graph.agentUser`.
    pub kind: Option<super::UserKind>,
    /// For agent users: the parent agent identity's object id (required, immutable).
    pub identity_parent_id: Patch<String>,
    /// Object ids from `sponsors@odata.bind`.
    pub sponsor_ids: Vec<String>,
    /// `identities`: replaces the whole collection (`null` empties it), as Graph does.
    pub identities: Patch<Vec<ObjectIdentity>>,
}

/// How many upstream accounts one user may have.
pub const MAX_IDENTITIES: usize = 10;
/// `signInType` of an upstream OpenID provider's account, the one kind Writ stores.
pub const FEDERATED: &str = "federated";

/// Checks an `identities` collection and gives it in canonical form (`signInType` spelled
/// `federated`). Only federated identities are stored: the local password is the user's own
/// `userPrincipalName` and `passwordProfile`, not an identity row.
pub fn check_identities(identities: Vec<ObjectIdentity>) -> DomainResult<Vec<ObjectIdentity>> {
    if identities.len() > MAX_IDENTITIES {
        return Err(DomainError::invalid(format!(
            "property 'identities' holds at most {MAX_IDENTITIES} identities"
        )));
    }
    let mut checked: Vec<ObjectIdentity> = Vec::with_capacity(identities.len());
    for identity in identities {
        if !identity.sign_in_type.eq_ignore_ascii_case(FEDERATED) {
            return Err(DomainError::invalid(
                if identity
                    .sign_in_type
                    .eq_ignore_ascii_case("userPrincipalName")
                {
                    "identities: the userPrincipalName sign-in is the user's own userPrincipalName \
                 and password; Writ stores only 'federated' identities"
                        .to_owned()
                } else {
                    format!(
                        "'{}' is not a valid value for property 'identities.signInType' (federated)",
                        identity.sign_in_type
                    )
                },
            ));
        }
        check_length(&identity.issuer, "identities.issuer", 512)?;
        if identity.issuer.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(
                "property 'identities.issuer' may not contain spaces",
            ));
        }
        // OpenID Connect Core 1.0 section 2: `sub` is at most 255 ASCII characters.
        check_length(
            &identity.issuer_assigned_id,
            "identities.issuerAssignedId",
            255,
        )?;
        if checked.iter().any(|c| {
            c.issuer == identity.issuer && c.issuer_assigned_id == identity.issuer_assigned_id
        }) {
            return Err(DomainError::invalid(
                "property 'identities' lists the same issuer and issuerAssignedId twice",
            ));
        }
        checked.push(ObjectIdentity {
            sign_in_type: FEDERATED.to_owned(),
            ..identity
        });
    }
    Ok(checked)
}

/// Graph's message for an upstream account already linked to another user.
pub(crate) fn duplicate_identity() -> DomainError {
    DomainError::invalid(
        "Another object with the same value for property identities already exists.",
    )
}

/// The identities of a create or PATCH, checked; `None` when the body left them out.
fn identities_input(
    patch: Patch<Vec<ObjectIdentity>>,
    kind: super::UserKind,
) -> DomainResult<Option<Vec<ObjectIdentity>>> {
    let identities = match patch {
        Patch::Absent => return Ok(None),
        Patch::Null => Vec::new(),
        Patch::Value(identities) => identities,
    };
    if kind == super::UserKind::AgentUser && !identities.is_empty() {
        return Err(DomainError::invalid(
            "agent users have no identities: they authenticate through their parent agent identity",
        ));
    }
    check_identities(identities).map(Some)
}

fn required<T>(field: Patch<T>, name: &str) -> DomainResult<T> {
    match field {
        Patch::Value(v) => Ok(v),
        _ => Err(DomainError::invalid(format!(
            "property '{name}' is required"
        ))),
    }
}

fn not_null<T>(field: Patch<T>, name: &str) -> DomainResult<Option<T>> {
    match field {
        Patch::Absent => Ok(None),
        Patch::Null => Err(DomainError::invalid(format!(
            "property '{name}' cannot be null"
        ))),
        Patch::Value(v) => Ok(Some(v)),
    }
}

pub(crate) fn check_length(value: &str, name: &str, max: usize) -> DomainResult<()> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(format!(
            "property '{name}' cannot be empty"
        )));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(format!(
            "property '{name}' is longer than {max} characters"
        )));
    }
    crate::text::check_single_line(value, name)
}

/// `alias@domain`, with no spaces and one `@`, as Entra requires of a UPN.
pub(crate) fn check_user_principal_name(upn: &str) -> DomainResult<()> {
    check_length(upn, "userPrincipalName", 113)?;
    let mut parts = upn.split('@');
    let valid = match (parts.next(), parts.next(), parts.next()) {
        (Some(alias), Some(domain), None) => {
            !alias.is_empty()
                && !domain.is_empty()
                && !upn.chars().any(char::is_whitespace)
                && !alias.starts_with('.')
                && !alias.ends_with('.')
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "property 'userPrincipalName' must have the form alias@domain",
        ))
    }
}

pub(crate) fn check_mail_nickname(nickname: &str) -> DomainResult<()> {
    check_length(nickname, "mailNickname", 64)?;
    if nickname
        .chars()
        .any(|c| c.is_whitespace() || "@()\\[]\";:<>,".contains(c) || !c.is_ascii())
    {
        return Err(DomainError::invalid(
            "property 'mailNickname' may not contain spaces, non-ASCII or any of @()\\[]\";:<>,",
        ));
    }
    Ok(())
}

fn canonical_user_type(text: &str) -> DomainResult<String> {
    match text.to_ascii_lowercase().as_str() {
        "member" => Ok("Member".into()),
        "guest" => Ok("Guest".into()),
        _ => Err(DomainError::invalid(format!(
            "'{text}' is not a valid value for property 'userType' (Member, Guest)"
        ))),
    }
}

fn check_usage_location(code: &str) -> DomainResult<()> {
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "property 'usageLocation' must be a two-letter country code",
        ))
    }
}

fn duplicate_upn() -> DomainError {
    DomainError::invalid(
        "Another object with the same value for property userPrincipalName already exists.",
    )
}

/// Applies the optional (nullable) properties shared by create and update; returns the names of
/// those that were set.
fn apply_optional(user: &mut User, input: &mut UserInput) -> DomainResult<Vec<String>> {
    let mut changed = Vec::new();
    let optional: [(&mut Patch<String>, &mut Option<String>, &str, usize); 11] = [
        (&mut input.given_name, &mut user.given_name, "givenName", 64),
        (&mut input.surname, &mut user.surname, "surname", 64),
        (&mut input.mail, &mut user.mail, "mail", 256),
        (&mut input.job_title, &mut user.job_title, "jobTitle", 128),
        (
            &mut input.department,
            &mut user.department,
            "department",
            64,
        ),
        (
            &mut input.office_location,
            &mut user.office_location,
            "officeLocation",
            128,
        ),
        (
            &mut input.mobile_phone,
            &mut user.mobile_phone,
            "mobilePhone",
            64,
        ),
        (
            &mut input.employee_id,
            &mut user.employee_id,
            "employeeId",
            16,
        ),
        (
            &mut input.company_name,
            &mut user.company_name,
            "companyName",
            64,
        ),
        (
            &mut input.usage_location,
            &mut user.usage_location,
            "usageLocation",
            2,
        ),
        (
            &mut input.preferred_language,
            &mut user.preferred_language,
            "preferredLanguage",
            16,
        ),
    ];
    for (patch, field, name, max) in optional {
        let patch = std::mem::take(patch);
        if let Patch::Value(v) = &patch {
            check_length(v, name, max)?;
            if name == "usageLocation" {
                check_usage_location(v)?;
            }
        }
        if !patch.is_absent() {
            changed.push(name.to_owned());
        }
        patch.apply_to(field);
    }
    match std::mem::take(&mut input.business_phones) {
        Patch::Absent => {}
        Patch::Null => {
            user.business_phones.clear();
            changed.push("businessPhones".into());
        }
        Patch::Value(phones) => {
            if phones.len() > 1 {
                return Err(DomainError::invalid(
                    "property 'businessPhones' holds at most one number",
                ));
            }
            user.business_phones = phones;
            changed.push("businessPhones".into());
        }
    }
    if let Some(user_type) = not_null(std::mem::take(&mut input.user_type), "userType")? {
        user.user_type = canonical_user_type(&user_type)?;
        changed.push("userType".into());
    }
    Ok(changed)
}

fn audit_user(
    caller: &Caller,
    ctx: &RequestContext,
    now: time::OffsetDateTime,
    activity: &str,
    operation: &str,
    user: &User,
    changed: Vec<String>,
) -> AuditRecord {
    let mut record = AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(&user.id, "User", Some(&user.display_name), changed);
    if let Some(target) = record.target_resources.last_mut() {
        target.user_principal_name = Some(user.user_principal_name.clone());
    }
    record.on_behalf_of(&user.id, "User", Some(&user.display_name))
}

impl Directory {
    pub async fn create_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: UserInput,
    ) -> DomainResult<User> {
        caller.require_directory_write()?;
        let display_name = required(std::mem::take(&mut input.display_name), "displayName")?;
        check_length(&display_name, "displayName", 256)?;
        let upn = required(
            std::mem::take(&mut input.user_principal_name),
            "userPrincipalName",
        )?;
        check_user_principal_name(&upn)?;
        let mail_nickname = required(std::mem::take(&mut input.mail_nickname), "mailNickname")?;
        check_mail_nickname(&mail_nickname)?;
        let account_enabled =
            required(std::mem::take(&mut input.account_enabled), "accountEnabled")?;
        let kind = input.kind.unwrap_or(super::UserKind::User);
        let (password_hash, force_change) = match kind {
            super::UserKind::User => {
                if !input.identity_parent_id.is_absent() {
                    return Err(DomainError::invalid(
                        "identityParentId is a property of agent users (microsoft.graph.agentUser)",
                    ));
                }
                let profile = required(
                    std::mem::take(&mut input.password_profile),
                    "passwordProfile",
                )?;
                let password = profile.password.ok_or_else(|| {
                    DomainError::invalid("property 'passwordProfile.password' is required")
                })?;
                secrets::check_password_policy(&password)?;
                (
                    Some(secrets::hash_password(&password)?),
                    profile.force_change_password_next_sign_in.unwrap_or(false),
                )
            }
            super::UserKind::AgentUser => {
                if !input.password_profile.is_absent() {
                    return Err(DomainError::invalid(
                        "agent users have no password: they authenticate through their parent agent identity",
                    ));
                }
                (None, false)
            }
        };
        let identity_parent_id = match (kind, std::mem::take(&mut input.identity_parent_id)) {
            (super::UserKind::AgentUser, Patch::Value(parent)) => {
                Some(crate::ids::parse_guid(&parent).ok_or_else(|| {
                    DomainError::invalid(format!("identityParentId '{parent}' is not a GUID"))
                })?)
            }
            (super::UserKind::AgentUser, _) => {
                return Err(DomainError::invalid(
                    "property 'identityParentId' (the parent agent identity) is required",
                ));
            }
            _ => None,
        };
        let now = self.clock.now();
        let mut user = User {
            id: new_object_id(),
            kind,
            identity_parent_id: identity_parent_id.clone(),
            display_name,
            user_principal_name: upn,
            mail_nickname,
            account_enabled,
            given_name: None,
            surname: None,
            mail: None,
            job_title: None,
            department: None,
            office_location: None,
            mobile_phone: None,
            business_phones: Vec::new(),
            employee_id: None,
            company_name: None,
            usage_location: None,
            preferred_language: None,
            user_type: "Member".into(),
            created_date_time: now,
            manager_id: None,
            password_hash,
            force_change_password_next_sign_in: force_change,
            identities: Vec::new(),
        };
        apply_optional(&mut user, &mut input)?;
        let identities = identities_input(std::mem::take(&mut input.identities), kind)?;

        let mut tx = self.store.begin().await?;
        if self
            .store
            .user_by_principal_name(&user.user_principal_name)
            .await?
            .is_some()
        {
            return Err(duplicate_upn());
        }
        if let Some(parent) = &identity_parent_id {
            match tx.service_principal(parent).await? {
                Some(sp) if sp.is_agent() => {}
                _ => {
                    return Err(DomainError::invalid(format!(
                        "identityParentId '{parent}' is not an agent identity"
                    )));
                }
            }
            if tx.count_agent_users_of(parent).await? > 0 {
                return Err(DomainError::Conflict(format!(
                    "agent identity '{parent}' already has an agent user"
                )));
            }
        }
        super::apps::check_sponsors(tx.as_mut(), &input.sponsor_ids).await?;
        tx.insert_user(&user).await.map_err(|e| match e {
            crate::store::StoreError::Unique(_) => duplicate_upn(),
            other => other.into(),
        })?;
        for sponsor in &input.sponsor_ids {
            tx.add_sponsor(&user.id, sponsor).await?;
        }
        if let Some(identities) = identities.filter(|i| !i.is_empty()) {
            tx.replace_user_identities(&user.id, &identities)
                .await
                .map_err(|e| match e {
                    crate::store::StoreError::Unique(_) => duplicate_identity(),
                    other => other.into(),
                })?;
            user.identities = identities;
        }
        let activity = match kind {
            super::UserKind::User => "Add user",
            super::UserKind::AgentUser => "Add agent user",
        };
        tx.append_audit(&audit_user(
            caller,
            ctx,
            now,
            activity,
            "Add",
            &user,
            Vec::new(),
        ))
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get_user(&self, caller: &Caller, id: &str) -> DomainResult<User> {
        caller.require_visible("user", id)?;
        self.store
            .user(id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", id))
    }

    pub async fn list_users(
        &self,
        caller: &Caller,
        query: &ListQuery,
        kind: Option<super::UserKind>,
    ) -> DomainResult<Page<User>> {
        caller.require_directory_list("users")?;
        Ok(self.store.list_users(query, kind).await?)
    }

    pub async fn update_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: UserInput,
    ) -> DomainResult<()> {
        caller.require_visible("user", id)?;
        caller.require_directory_write()?;
        let mut tx = self.store.begin().await?;
        let mut user = tx
            .user(id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", id))?;
        match std::mem::take(&mut input.identity_parent_id) {
            Patch::Absent => {}
            Patch::Value(v) if Some(v.as_str()) == user.identity_parent_id.as_deref() => {}
            _ => return Err(DomainError::invalid("identityParentId is immutable")),
        }
        if !input.sponsor_ids.is_empty() {
            return Err(DomainError::invalid(
                "sponsors are changed with sponsors/$ref",
            ));
        }
        if user.kind == super::UserKind::AgentUser && !input.password_profile.is_absent() {
            return Err(DomainError::invalid(
                "agent users have no password: they authenticate through their parent agent identity",
            ));
        }
        let mut changed = Vec::new();
        let mut password_changed = false;
        let mut disabling = false;
        if let Some(name) = not_null(std::mem::take(&mut input.display_name), "displayName")? {
            check_length(&name, "displayName", 256)?;
            user.display_name = name;
            changed.push("displayName".to_owned());
        }
        if let Some(upn) = not_null(
            std::mem::take(&mut input.user_principal_name),
            "userPrincipalName",
        )? {
            check_user_principal_name(&upn)?;
            if !upn.eq_ignore_ascii_case(&user.user_principal_name)
                && self.store.user_by_principal_name(&upn).await?.is_some()
            {
                return Err(duplicate_upn());
            }
            user.user_principal_name = upn;
            changed.push("userPrincipalName".to_owned());
        }
        if let Some(nickname) = not_null(std::mem::take(&mut input.mail_nickname), "mailNickname")?
        {
            check_mail_nickname(&nickname)?;
            user.mail_nickname = nickname;
            changed.push("mailNickname".to_owned());
        }
        if let Some(enabled) =
            not_null(std::mem::take(&mut input.account_enabled), "accountEnabled")?
        {
            if !enabled && user.account_enabled {
                super::deletion::guard_last_admin(tx.as_mut(), id, self.clock.now()).await?;
                disabling = true;
            }
            user.account_enabled = enabled;
            changed.push("accountEnabled".to_owned());
        }
        if let Some(profile) = not_null(
            std::mem::take(&mut input.password_profile),
            "passwordProfile",
        )? {
            if let Some(password) = profile.password {
                password_changed = true;
                secrets::check_password_policy(&password)?;
                user.password_hash = Some(secrets::hash_password(&password)?);
            }
            if let Some(force) = profile.force_change_password_next_sign_in {
                user.force_change_password_next_sign_in = force;
            }
            changed.push("passwordProfile".to_owned());
        }
        changed.extend(apply_optional(&mut user, &mut input)?);
        let identities = identities_input(std::mem::take(&mut input.identities), user.kind)?;
        if identities.is_some() {
            changed.push("identities".to_owned());
        }
        if changed.is_empty() {
            return Ok(());
        }
        tx.update_user(&user).await.map_err(|e| match e {
            crate::store::StoreError::Unique(_) => duplicate_upn(),
            other => other.into(),
        })?;
        if let Some(identities) = identities {
            tx.replace_user_identities(&user.id, &identities)
                .await
                .map_err(|e| match e {
                    crate::store::StoreError::Unique(_) => duplicate_identity(),
                    other => other.into(),
                })?;
        }
        let now = self.clock.now();
        // A disabled account or a new password ends every sign-in (DESIGN section 14).
        if !user.account_enabled || password_changed {
            revoke_user_sign_ins(tx.as_mut(), &user.id, now).await?;
        }
        // A sponsor disabled hands its sponsorships over at once (DESIGN section 17).
        if disabling {
            super::succession::hand_over(
                tx.as_mut(),
                caller,
                ctx,
                now,
                &super::succession::Departing {
                    id: &user.id,
                    kind: "User",
                    display_name: &user.display_name,
                    manager_id: user.manager_id.as_deref(),
                    why: super::succession::Departure::Disabled,
                },
            )
            .await?;
        }
        tx.append_audit(&audit_user(
            caller,
            ctx,
            now,
            "Update user",
            "Update",
            &user,
            changed,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_user(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("user", id)?;
        caller.require_directory_write()?;
        if caller.id == id {
            return Err(DomainError::invalid("a user cannot delete itself"));
        }
        let mut tx = self.store.begin().await?;
        let user = tx
            .user(id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", id))?;
        let now = self.clock.now();
        super::deletion::guard_last_admin(tx.as_mut(), id, now).await?;
        super::deletion::release_sponsorships(
            tx.as_mut(),
            caller,
            ctx,
            now,
            (id, "User", &user.display_name),
            user.manager_id.as_deref(),
        )
        .await?;
        crate::entitlement::remove_from_policies(tx.as_mut(), caller, ctx, now, id).await?;
        crate::entitlement::end_assignments_of(tx.as_mut(), caller, ctx, now, id).await?;
        tx.delete_user(id).await?;
        tx.append_audit(&audit_user(
            caller,
            ctx,
            now,
            "Delete user",
            "Delete",
            &user,
            Vec::new(),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `GET /users/{id}/manager`.
    /// Graph's `revokeSignInSessions`: ends every sign-in of the user (its refresh tokens; its
    /// sessions once they exist). The user themself or a user administrator (Global
    /// Administrator, who makes every other user change) may; audited.
    pub async fn revoke_sign_in_sessions(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("user", id)?;
        if caller.id != id {
            caller.require_directory_write()?;
        }
        let mut tx = self.store.begin().await?;
        let user = tx
            .user(id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", id))?;
        let now = self.clock.now();
        let revoked = revoke_user_sign_ins(tx.as_mut(), id, now).await?;
        tx.append_audit(
            &audit_user(
                caller,
                ctx,
                now,
                "Revoke sign-in sessions",
                "Update",
                &user,
                Vec::new(),
            )
            .detail("revokedRefreshTokens", revoked.refresh_tokens.to_string())
            .detail("endedBrowserSessions", revoked.browser_sessions.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_manager(&self, caller: &Caller, id: &str) -> DomainResult<User> {
        let user = self.get_user(caller, id).await?;
        let manager_id = user
            .manager_id
            .ok_or_else(|| DomainError::not_found("manager of user", id))?;
        caller.require_visible("user", &manager_id)?;
        self.store
            .user(&manager_id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", manager_id))
    }

    /// `PUT /users/{id}/manager/$ref` (`Some`) and `DELETE …/manager/$ref` (`None`).
    pub async fn set_manager(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        manager_id: Option<&str>,
    ) -> DomainResult<()> {
        caller.require_visible("user", id)?;
        caller.require_directory_write()?;
        let mut tx = self.store.begin().await?;
        let mut user = tx
            .user(id)
            .await?
            .ok_or_else(|| DomainError::not_found("user", id))?;
        if let Some(manager_id) = manager_id {
            if manager_id == id {
                return Err(DomainError::invalid("a user cannot be its own manager"));
            }
            match tx.object_kind(manager_id).await? {
                Some(ObjectKind::User) => {}
                Some(_) => {
                    return Err(DomainError::invalid(format!(
                        "manager '{manager_id}' is not a user"
                    )));
                }
                None => {
                    return Err(DomainError::invalid(format!(
                        "the referenced object '{manager_id}' does not exist"
                    )));
                }
            }
            // Refuse a cycle: walk up from the new manager; finding `id` means a loop.
            let mut cursor = Some(manager_id.to_owned());
            let mut steps = 0;
            while let Some(current) = cursor {
                if current == id {
                    return Err(DomainError::invalid("the manager chain would form a cycle"));
                }
                steps += 1;
                if steps > MAX_MANAGER_CHAIN {
                    return Err(DomainError::invalid("the manager chain is too long"));
                }
                cursor = tx.user(&current).await?.and_then(|u| u.manager_id);
            }
        } else if user.manager_id.is_none() {
            return Err(DomainError::not_found("manager of user", id));
        }
        user.manager_id = manager_id.map(str::to_owned);
        tx.update_user(&user).await?;
        let now = self.clock.now();
        let mut record = audit_user(
            caller,
            ctx,
            now,
            if manager_id.is_some() {
                "Set user manager"
            } else {
                "Remove user manager"
            },
            "Update",
            &user,
            vec!["manager".into()],
        );
        if let Some(manager_id) = manager_id {
            record = record.detail("managerId", manager_id);
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends every way a user is signed in: its browser sessions and its refresh tokens, now. Runs in
/// the caller's transaction; returns how many of each it ended. It lives here, beside the user
/// changes that call it, because the identity rules read users: there it would close an import
/// cycle.
pub async fn revoke_user_sign_ins(
    tx: &mut dyn StoreTx,
    user_id: &str,
    now: time::OffsetDateTime,
) -> StoreResult<EndedSignIns> {
    Ok(EndedSignIns {
        browser_sessions: tx.delete_user_browser_sessions(user_id).await?,
        refresh_tokens: tx.revoke_user_refresh_tokens(user_id, now).await?,
    })
}

/// What [`revoke_user_sign_ins`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedSignIns {
    pub browser_sessions: u64,
    pub refresh_tokens: u64,
}
