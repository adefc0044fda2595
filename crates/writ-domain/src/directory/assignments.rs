//! Direct grants by administrators: app role assignments, delegated permission grants
//! (`oauth2PermissionGrants`) and directory role assignments, with the anti-escalation rule that
//! an agent never holds a privileged directory role.

use crate::authz::{Caller, roles};
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_object_id, parse_guid};
use crate::model::{Actor, AuditRecord};
use crate::query::{ListQuery, Page};

use super::{
    AppRoleAssignment, Directory, DirectoryObject, ObjectKind, PermissionGrant, RequestContext,
    RoleAssignment, UserKind,
};

/// The default app role: access to the application without a specific role.
pub const DEFAULT_APP_ROLE_ID: &str = "00000000-0000-0000-0000-000000000000";
/// The holder of grants made directly by administrators.
pub const DIRECT_HOLDER: &str = "direct";

/// A grant an access package delivered changes only with its assignment (`409` otherwise), so
/// that the assignment's record stays the truth about the access it gives.
fn require_direct(holder: &str, what: &str) -> DomainResult<()> {
    if holder == DIRECT_HOLDER {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "this {what} was delivered by an access package; remove the package assignment instead"
        )))
    }
}

#[derive(Debug, Clone)]
pub struct AppRoleAssignmentInput {
    pub principal_id: String,
    pub resource_id: String,
    pub app_role_id: String,
}

#[derive(Debug, Clone)]
pub struct PermissionGrantInput {
    pub client_id: String,
    pub consent_type: String,
    pub principal_id: Option<String>,
    pub resource_id: String,
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct RoleAssignmentInput {
    pub principal_id: String,
    pub role_definition_id: String,
    pub directory_scope_id: String,
}

fn guid(value: &str, name: &str) -> DomainResult<String> {
    parse_guid(value).ok_or_else(|| DomainError::invalid(format!("{name} '{value}' is not a GUID")))
}

/// Whether a principal is an agent (agent identity or agent user).
fn is_agent(object: &DirectoryObject) -> bool {
    match object {
        DirectoryObject::ServicePrincipal(sp) => sp.is_agent(),
        DirectoryObject::User(u) => u.kind == UserKind::AgentUser,
        _ => false,
    }
}

impl Directory {
    // ----- app role assignments -----

    pub async fn assign_app_role(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AppRoleAssignmentInput,
    ) -> DomainResult<AppRoleAssignment> {
        caller.require_directory_write()?;
        let principal_id = guid(&input.principal_id, "principalId")?;
        let resource_id = guid(&input.resource_id, "resourceId")?;
        let app_role_id = guid(&input.app_role_id, "appRoleId")?;
        let now = self.clock.now();
        let principal = self
            .store
            .directory_object(&principal_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(format!("principal '{principal_id}' does not exist"))
            })?;
        let member_type = match &principal {
            DirectoryObject::User(_) | DirectoryObject::Group(_) => "User",
            DirectoryObject::ServicePrincipal(_) => "Application",
            DirectoryObject::Application(_) => {
                return Err(DomainError::invalid(
                    "app roles are assigned to users, groups and service principals, not applications",
                ));
            }
        };
        let resource = self
            .store
            .service_principal(&resource_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "resource service principal '{resource_id}' does not exist"
                ))
            })?;
        if app_role_id != DEFAULT_APP_ROLE_ID {
            let application = self
                .store
                .application_by_app_id(&resource.app_id)
                .await?
                .ok_or_else(|| DomainError::invalid("the resource defines no app roles"))?;
            let role = application
                .app_roles
                .iter()
                .find(|r| r.id == app_role_id)
                .ok_or_else(|| {
                    DomainError::invalid(format!(
                        "app role '{app_role_id}' is not defined by the resource '{}'",
                        resource.display_name
                    ))
                })?;
            if !role.is_enabled {
                return Err(DomainError::invalid(format!(
                    "app role '{app_role_id}' is disabled"
                )));
            }
            if !role.allowed_member_types.iter().any(|t| t == member_type) {
                return Err(DomainError::invalid(format!(
                    "app role '{app_role_id}' cannot be assigned to a {} (allowedMemberTypes: {})",
                    if member_type == "User" {
                        "user or group"
                    } else {
                        "service principal"
                    },
                    role.allowed_member_types.join(", ")
                )));
            }
        }
        let assignment = AppRoleAssignment {
            id: new_object_id(),
            app_role_id,
            principal_id: principal_id.clone(),
            principal_type: match principal {
                DirectoryObject::User(_) => "User",
                DirectoryObject::Group(_) => "Group",
                _ => "ServicePrincipal",
            }
            .into(),
            principal_display_name: match &principal {
                DirectoryObject::User(u) => u.display_name.clone(),
                DirectoryObject::Group(g) => g.display_name.clone(),
                DirectoryObject::ServicePrincipal(sp) => sp.display_name.clone(),
                DirectoryObject::Application(a) => a.display_name.clone(),
            },
            resource_id: resource_id.clone(),
            resource_display_name: resource.display_name.clone(),
            holder: DIRECT_HOLDER.into(),
            ends_at: None,
            created_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        if !tx.insert_app_role_assignment(&assignment).await? {
            return Err(DomainError::invalid(
                "Permission being assigned already exists on the object",
            ));
        }
        let record = AuditRecord::success(
            Actor::from(caller),
            now,
            "ApplicationManagement",
            "Add app role assignment",
            "Assign",
            ctx.request_id.as_deref(),
        )
        .target(
            &resource_id,
            "ServicePrincipal",
            Some(&resource.display_name),
            vec!["appRoleAssignedTo".into()],
        )
        .target(
            &principal_id,
            &assignment.principal_type,
            Some(&assignment.principal_display_name),
            Vec::new(),
        )
        .detail("appRoleId", assignment.app_role_id.clone())
        .on_behalf_of(&principal_id, &assignment.principal_type, None);
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(assignment)
    }

    /// Assignments held by a principal (`appRoleAssignments`).
    pub async fn app_role_assignments_of(
        &self,
        caller: &Caller,
        principal_id: &str,
    ) -> DomainResult<Vec<AppRoleAssignment>> {
        caller.require_visible("directoryObject", principal_id)?;
        if self.store.object_kind(principal_id).await?.is_none() {
            return Err(DomainError::not_found("directoryObject", principal_id));
        }
        Ok(self
            .store
            .app_role_assignments_of(principal_id, self.clock.now())
            .await?)
    }

    /// Assignments granted on a resource (`appRoleAssignedTo`).
    pub async fn app_role_assignments_to(
        &self,
        caller: &Caller,
        resource_id: &str,
    ) -> DomainResult<Vec<AppRoleAssignment>> {
        self.get_service_principal(caller, resource_id).await?;
        caller.require_directory_list("appRoleAssignedTo")?;
        Ok(self
            .store
            .app_role_assignments_to(resource_id, self.clock.now())
            .await?)
    }

    /// Removes a direct assignment, addressed through its principal or its resource (`via`).
    pub async fn remove_app_role_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        via: &str,
        assignment_id: &str,
    ) -> DomainResult<()> {
        caller.require_visible("directoryObject", via)?;
        caller.require_directory_write()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let assignment = tx
            .app_role_assignment(assignment_id)
            .await?
            .filter(|a| a.principal_id == via || a.resource_id == via)
            .ok_or_else(|| DomainError::not_found("appRoleAssignment", assignment_id))?;
        require_direct(&assignment.holder, "app role assignment")?;
        tx.delete_app_role_assignment(assignment_id).await?;
        let record = AuditRecord::success(
            Actor::from(caller),
            now,
            "ApplicationManagement",
            "Remove app role assignment",
            "Unassign",
            ctx.request_id.as_deref(),
        )
        .target(
            &assignment.resource_id,
            "ServicePrincipal",
            Some(&assignment.resource_display_name),
            vec!["appRoleAssignedTo".into()],
        )
        .target(
            &assignment.principal_id,
            &assignment.principal_type,
            Some(&assignment.principal_display_name),
            Vec::new(),
        )
        .detail("appRoleId", assignment.app_role_id.clone())
        .on_behalf_of(&assignment.principal_id, &assignment.principal_type, None);
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- delegated permission grants -----

    pub async fn create_permission_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: PermissionGrantInput,
    ) -> DomainResult<PermissionGrant> {
        caller.require_directory_write()?;
        let client_id = guid(&input.client_id, "clientId")?;
        let resource_id = guid(&input.resource_id, "resourceId")?;
        let consent_type = match input.consent_type.to_ascii_lowercase().as_str() {
            "allprincipals" => "AllPrincipals",
            "principal" => "Principal",
            _ => {
                return Err(DomainError::invalid(format!(
                    "'{}' is not a valid consentType (AllPrincipals, Principal)",
                    input.consent_type
                )));
            }
        };
        let principal_id = match (consent_type, &input.principal_id) {
            ("AllPrincipals", None) => None,
            ("AllPrincipals", Some(_)) => {
                return Err(DomainError::invalid(
                    "principalId must be null when consentType is AllPrincipals",
                ));
            }
            (_, Some(p)) => {
                let p = guid(p, "principalId")?;
                match self.store.directory_object(&p).await? {
                    Some(DirectoryObject::User(_)) => Some(p),
                    _ => {
                        return Err(DomainError::invalid(format!(
                            "principalId '{p}' is not a user"
                        )));
                    }
                }
            }
            (_, None) => {
                return Err(DomainError::invalid(
                    "principalId is required when consentType is Principal",
                ));
            }
        };
        let client = self
            .store
            .service_principal(&client_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "client service principal '{client_id}' does not exist"
                ))
            })?;
        let resource = self
            .store
            .service_principal(&resource_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "resource service principal '{resource_id}' does not exist"
                ))
            })?;
        let scope = self
            .check_scope_values(&resource.app_id, &input.scope)
            .await?;
        let now = self.clock.now();
        let grant = PermissionGrant {
            id: new_object_id(),
            client_id: client.id.clone(),
            consent_type: consent_type.into(),
            principal_id,
            resource_id: resource.id.clone(),
            scope,
            holder: DIRECT_HOLDER.into(),
            ends_at: None,
            created_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_permission_grant(&grant).await?;
        tx.append_audit(
            &AuditRecord::success(
                Actor::from(caller),
                now,
                "ApplicationManagement",
                "Add delegated permission grant",
                "Add",
                ctx.request_id.as_deref(),
            )
            .target(
                &client.id,
                "ServicePrincipal",
                Some(&client.display_name),
                vec!["oauth2PermissionGrants".into()],
            )
            .target(
                &resource.id,
                "ServicePrincipal",
                Some(&resource.display_name),
                Vec::new(),
            )
            .detail("scope", grant.scope.clone())
            .on_behalf_of(grant_subject(&grant).0, grant_subject(&grant).1, None),
        )
        .await?;
        tx.commit().await?;
        Ok(grant)
    }

    /// Scope values must be delegated permissions the resource defines; returns them normalized.
    async fn check_scope_values(&self, resource_app_id: &str, scope: &str) -> DomainResult<String> {
        let defined = self
            .store
            .application_by_app_id(resource_app_id)
            .await?
            .map(|a| a.oauth2_permission_scopes)
            .unwrap_or_default();
        let mut values: Vec<String> = Vec::new();
        for value in scope.split_whitespace() {
            let found = defined
                .iter()
                .filter(|s| s.is_enabled)
                .find_map(|s| s.value.clone().filter(|v| v.eq_ignore_ascii_case(value)))
                .ok_or_else(|| {
                    DomainError::invalid(format!(
                        "scope '{value}' is not a delegated permission of the resource"
                    ))
                })?;
            if !values.contains(&found) {
                values.push(found);
            }
        }
        if values.is_empty() {
            return Err(DomainError::invalid(
                "property 'scope' must name at least one delegated permission",
            ));
        }
        Ok(values.join(" "))
    }

    pub async fn list_permission_grants(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<PermissionGrant>> {
        caller.require_directory_list("oauth2PermissionGrants")?;
        Ok(self
            .store
            .permission_grants(query, self.clock.now())
            .await?)
    }

    pub async fn get_permission_grant(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<PermissionGrant> {
        if !caller.can_read_directory() {
            return Err(DomainError::not_found("oAuth2PermissionGrant", id));
        }
        self.store
            .permission_grant(id)
            .await?
            .ok_or_else(|| DomainError::not_found("oAuth2PermissionGrant", id))
    }

    pub async fn update_permission_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        scope: String,
    ) -> DomainResult<()> {
        let mut grant = self.get_permission_grant(caller, id).await?;
        caller.require_directory_write()?;
        require_direct(&grant.holder, "delegated permission grant")?;
        let resource = self
            .store
            .service_principal(&grant.resource_id)
            .await?
            .ok_or_else(|| DomainError::not_found("servicePrincipal", grant.resource_id.clone()))?;
        grant.scope = self.check_scope_values(&resource.app_id, &scope).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.update_permission_grant(&grant).await?;
        tx.append_audit(
            &AuditRecord::success(
                Actor::from(caller),
                now,
                "ApplicationManagement",
                "Update delegated permission grant",
                "Update",
                ctx.request_id.as_deref(),
            )
            .target(
                &grant.client_id,
                "ServicePrincipal",
                None,
                vec!["scope".into()],
            )
            .detail("scope", grant.scope.clone())
            .on_behalf_of(grant_subject(&grant).0, grant_subject(&grant).1, None),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_permission_grant(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let grant = self.get_permission_grant(caller, id).await?;
        caller.require_directory_write()?;
        require_direct(&grant.holder, "delegated permission grant")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.delete_permission_grant(id).await?;
        tx.append_audit(
            &AuditRecord::success(
                Actor::from(caller),
                now,
                "ApplicationManagement",
                "Remove delegated permission grant",
                "Delete",
                ctx.request_id.as_deref(),
            )
            .target(
                &grant.client_id,
                "ServicePrincipal",
                None,
                vec!["oauth2PermissionGrants".into()],
            )
            .detail("scope", grant.scope.clone())
            .on_behalf_of(grant_subject(&grant).0, grant_subject(&grant).1, None),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- directory roles -----

    pub async fn list_role_assignments(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<RoleAssignment>> {
        caller.require_directory_list("roleAssignments")?;
        Ok(self.store.role_assignments(query, self.clock.now()).await?)
    }

    pub async fn get_role_assignment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<RoleAssignment> {
        let found = self
            .store
            .role_assignment(id)
            .await?
            .ok_or_else(|| DomainError::not_found("unifiedRoleAssignment", id))?;
        if caller.can_read_directory() || found.principal_id == caller.id {
            Ok(found)
        } else {
            Err(DomainError::not_found("unifiedRoleAssignment", id))
        }
    }

    pub async fn create_role_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: RoleAssignmentInput,
    ) -> DomainResult<RoleAssignment> {
        caller.require_directory_write()?;
        let role_id = guid(&input.role_definition_id, "roleDefinitionId")?;
        let (_, role_name, _, privileged) = roles::definition(&role_id).ok_or_else(|| {
            DomainError::invalid(format!(
                "roleDefinitionId '{role_id}' is not a directory role of Writ"
            ))
        })?;
        if input.directory_scope_id != "/" {
            return Err(DomainError::Invalid {
                code: "notSupported",
                message: "directoryScopeId must be '/': Writ assigns directory roles tenant-wide"
                    .into(),
            });
        }
        let principal_id = guid(&input.principal_id, "principalId")?;
        let principal = self
            .store
            .directory_object(&principal_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(format!("principal '{principal_id}' does not exist"))
            })?;
        match &principal {
            DirectoryObject::Group(g) if !g.is_assignable_to_role => {
                return Err(DomainError::invalid(
                    "a group receives directory roles only if it was created with isAssignableToRole true",
                ));
            }
            DirectoryObject::Application(_) => {
                return Err(DomainError::invalid(
                    "directory roles are assigned to service principals, not applications",
                ));
            }
            _ => {}
        }
        if privileged && is_agent(&principal) {
            return Err(DomainError::invalid(format!(
                "an agent never receives a privileged directory role ('{role_name}')"
            )));
        }
        let now = self.clock.now();
        let assignment = RoleAssignment {
            id: new_object_id(),
            role_definition_id: role_id.clone(),
            principal_id: principal_id.clone(),
            directory_scope_id: "/".into(),
            holder: DIRECT_HOLDER.into(),
            created_date_time: now,
            ends_at: None,
        };
        let mut tx = self.store.begin().await?;
        if !tx.assign_directory_role(&assignment).await? {
            return Err(DomainError::Conflict(format!(
                "the principal already holds '{role_name}'"
            )));
        }
        let kind = match principal {
            DirectoryObject::User(_) => ObjectKind::User,
            DirectoryObject::Group(_) => ObjectKind::Group,
            _ => ObjectKind::ServicePrincipal,
        };
        tx.append_audit(
            &AuditRecord::success(
                Actor::from(caller),
                now,
                "RoleManagement",
                "Add member to role",
                "Assign",
                ctx.request_id.as_deref(),
            )
            .target(
                &principal_id,
                kind.audit_type(),
                None,
                vec!["roleDefinitionId".into()],
            )
            .detail("roleDefinitionId", role_id.clone())
            .detail("roleName", role_name)
            .on_behalf_of(&principal_id, kind.audit_type(), None),
        )
        .await?;
        tx.commit().await?;
        Ok(assignment)
    }

    pub async fn delete_role_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let assignment = self.get_role_assignment(caller, id).await?;
        caller.require_directory_write()?;
        require_direct(&assignment.holder, "directory role assignment")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if assignment.role_definition_id == roles::GLOBAL_ADMINISTRATOR {
            super::deletion::guard_last_admin(tx.as_mut(), &assignment.principal_id, now).await?;
        }
        if !tx.delete_role_assignment(id).await? {
            return Err(DomainError::not_found("unifiedRoleAssignment", id));
        }
        tx.append_audit(
            &AuditRecord::success(
                Actor::from(caller),
                now,
                "RoleManagement",
                "Remove member from role",
                "Unassign",
                ctx.request_id.as_deref(),
            )
            .target(
                &assignment.principal_id,
                "DirectoryObject",
                None,
                vec!["roleDefinitionId".into()],
            )
            .detail("roleDefinitionId", assignment.role_definition_id.clone())
            .on_behalf_of(&assignment.principal_id, "DirectoryObject", None),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The principal a delegated grant acts for: its user (`Principal` consent), otherwise the client
/// for every user (`AllPrincipals`).
fn grant_subject(grant: &PermissionGrant) -> (&str, &'static str) {
    match &grant.principal_id {
        Some(user) => (user, "User"),
        None => (&grant.client_id, "ServicePrincipal"),
    }
}
