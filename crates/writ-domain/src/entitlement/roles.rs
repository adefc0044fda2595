//! Entitlement-management role assignments (`roleManagement/entitlementManagement`): catalog
//! creator (tenant-wide), and per catalog (`appScopeId` `/AccessPackageCatalog/{id}`, or `/` for
//! every catalog) owner, reader, access package manager and assignment manager. They belong to
//! enabled human users only; a catalog owner assigns them in its own catalog.

use crate::authz::{Caller, em_roles};
use crate::directory::{RequestContext, UserKind};
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_object_id, parse_guid};
use crate::model::EmRoleAssignment;
use crate::query::{ListQuery, Page};

use super::Entitlement;
use super::catalogs::audit;

#[derive(Debug, Clone)]
pub struct EmRoleAssignmentInput {
    pub principal_id: String,
    pub role_definition_id: String,
    pub app_scope_id: String,
}

/// `/` or `/AccessPackageCatalog/{id}` → the catalog id (`None` for every catalog).
fn parse_app_scope(scope: &str) -> DomainResult<Option<String>> {
    if scope == "/" {
        return Ok(None);
    }
    scope
        .strip_prefix("/AccessPackageCatalog/")
        .and_then(parse_guid)
        .map(Some)
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "appScopeId '{scope}' must be '/' or '/AccessPackageCatalog/{{catalogId}}'"
            ))
        })
}

impl Entitlement {
    pub async fn create_em_role_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: EmRoleAssignmentInput,
    ) -> DomainResult<EmRoleAssignment> {
        let role_id = parse_guid(&input.role_definition_id)
            .ok_or_else(|| DomainError::invalid("roleDefinitionId must be a GUID"))?;
        let (_, role_name, _, tenant_wide) = em_roles::definition(&role_id).ok_or_else(|| {
            DomainError::invalid(format!(
                "roleDefinitionId '{role_id}' is not an entitlement-management role"
            ))
        })?;
        let catalog_id = parse_app_scope(&input.app_scope_id)?;
        match (&catalog_id, tenant_wide) {
            (Some(_), true) => {
                return Err(DomainError::invalid(format!(
                    "'{role_name}' is assigned tenant-wide (appScopeId '/')"
                )));
            }
            (Some(catalog), false) => {
                let (_, rights) = self
                    .catalog_with_rights(caller, catalog)
                    .await
                    .map_err(|e| match e {
                        DomainError::NotFound { .. } => {
                            DomainError::invalid(format!("catalog '{catalog}' does not exist"))
                        }
                        other => other,
                    })?;
                if !rights.manage_role_assignments {
                    return Err(DomainError::forbidden(
                        "assigning roles in this catalog requires its owner or an administrator",
                    ));
                }
            }
            (None, _) => {
                if !caller.is_em_admin() {
                    return Err(DomainError::forbidden(
                        "tenant-wide entitlement-management roles are assigned by administrators",
                    ));
                }
            }
        }
        let principal_id = parse_guid(&input.principal_id)
            .ok_or_else(|| DomainError::invalid("principalId must be a GUID"))?;
        match self.store.user(&principal_id).await? {
            Some(u) if u.kind == UserKind::User && u.account_enabled => {}
            Some(_) => {
                return Err(DomainError::invalid(
                    "catalog roles belong to enabled human users only (not agent users)",
                ));
            }
            None => {
                return Err(DomainError::invalid(format!(
                    "principal '{principal_id}' is not a user: catalog roles belong to enabled human users only"
                )));
            }
        }
        let now = self.clock.now();
        let assignment = EmRoleAssignment {
            id: new_object_id(),
            role_definition_id: role_id.clone(),
            principal_id: principal_id.clone(),
            catalog_id: catalog_id.clone(),
            app_scope_id: match &catalog_id {
                Some(c) => format!("/AccessPackageCatalog/{c}"),
                None => "/".into(),
            },
            created_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        if !tx.insert_em_role_assignment(&assignment).await? {
            return Err(DomainError::Conflict(format!(
                "the principal already holds '{role_name}' at this scope"
            )));
        }
        let mut record = audit(
            caller,
            ctx,
            now,
            ("Add catalog role assignment", "Assign"),
            ("User", &principal_id, ""),
        )
        .detail("roleDefinitionId", role_id)
        .detail("appScopeId", assignment.app_scope_id.clone())
        .on_behalf_of(&principal_id, "User", None);
        if let Some(catalog_id) = &assignment.catalog_id {
            record = record.in_catalog(catalog_id);
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(assignment)
    }

    fn may_read_assignment(caller: &Caller, a: &EmRoleAssignment) -> bool {
        caller.id == a.principal_id
            || match &a.catalog_id {
                Some(c) => caller.catalog_rights(c).read_role_assignments,
                None => caller.reads_all_role_assignments(),
            }
    }

    pub async fn get_em_role_assignment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<EmRoleAssignment> {
        self.store
            .em_role_assignment(id)
            .await?
            .filter(|a| Self::may_read_assignment(caller, a))
            .ok_or_else(|| DomainError::not_found("unifiedRoleAssignment", id))
    }

    pub async fn list_em_role_assignments(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<EmRoleAssignment>> {
        let restriction = if caller.reads_all_role_assignments() {
            None
        } else if caller.may_list_catalogs() {
            Some(caller.id.clone())
        } else {
            return Err(DomainError::forbidden(
                "the caller may not list role assignments",
            ));
        };
        Ok(self
            .store
            .list_em_role_assignments(query, restriction.as_deref())
            .await?)
    }

    pub async fn delete_em_role_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let assignment = self.get_em_role_assignment(caller, id).await?;
        let allowed = match &assignment.catalog_id {
            Some(c) => caller.catalog_rights(c).manage_role_assignments,
            None => caller.is_em_admin(),
        };
        if !allowed {
            return Err(DomainError::forbidden(
                "removing this role assignment requires the catalog's owner or an administrator",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx.delete_em_role_assignment(id).await? {
            return Err(DomainError::not_found("unifiedRoleAssignment", id));
        }
        let mut record = audit(
            caller,
            ctx,
            now,
            ("Remove catalog role assignment", "Unassign"),
            ("User", &assignment.principal_id, ""),
        )
        .detail("roleDefinitionId", assignment.role_definition_id.clone())
        .detail("appScopeId", assignment.app_scope_id.clone())
        .on_behalf_of(&assignment.principal_id, "User", None);
        if let Some(catalog_id) = &assignment.catalog_id {
            record = record.in_catalog(catalog_id);
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }
}
