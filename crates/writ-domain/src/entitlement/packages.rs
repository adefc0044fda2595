//! Access packages and the resource roles they grant (`resourceRoleScopes`).

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{AccessPackage, Catalog, PackageRoleScope, ResourceRole, ResourceScope};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};

use super::catalogs::audit;
use super::{Entitlement, require};

#[derive(Debug, Clone, Default)]
pub struct PackageInput {
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub is_hidden: Patch<bool>,
    pub catalog_id: Option<String>,
}

/// A role scope as a client names it: the role by id, or by its resource and origin id; the
/// scope by id, or by its origin id, or the resource's root scope when left out.
#[derive(Debug, Clone, Default)]
pub struct RoleScopeInput {
    pub role_id: Option<String>,
    pub role_origin_id: Option<String>,
    pub role_resource_id: Option<String>,
    pub scope_id: Option<String>,
    pub scope_origin_id: Option<String>,
}

fn check_name(name: &str) -> DomainResult<()> {
    crate::text::check_display_name(name, "displayName")
}

impl Entitlement {
    async fn package_with_rights(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<(AccessPackage, crate::authz::CatalogRights)> {
        let package = self
            .store
            .access_package(id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackage", id))?;
        let rights = caller.catalog_rights(&package.catalog_id);
        if !rights.read {
            return Err(DomainError::not_found("accessPackage", id));
        }
        Ok((package, rights))
    }

    pub async fn create_package(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: PackageInput,
    ) -> DomainResult<AccessPackage> {
        let catalog_id = input
            .catalog_id
            .clone()
            .ok_or_else(|| DomainError::invalid("property 'catalog' ({\"id\": …}) is required"))?;
        let (catalog, rights) = self
            .catalog_with_rights(caller, &catalog_id)
            .await
            .map_err(|e| match e {
                DomainError::NotFound { .. } => {
                    DomainError::invalid(format!("catalog '{catalog_id}' does not exist"))
                }
                other => other,
            })?;
        require(rights.manage_packages, "creating access packages")?;
        let display_name = match std::mem::take(&mut input.display_name) {
            Patch::Value(name) => name,
            _ => return Err(DomainError::invalid("property 'displayName' is required")),
        };
        check_name(&display_name)?;
        let now = self.clock.now();
        let package = AccessPackage {
            id: new_object_id(),
            catalog_id: catalog.id.clone(),
            display_name,
            description: input.description.into_option(),
            is_hidden: input.is_hidden.into_option().unwrap_or(false),
            created_date_time: now,
            modified_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_access_package(&package).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Create access package", "Add"),
                ("AccessPackage", &package.id, &package.display_name),
            )
            .in_catalog(&catalog.id)
            .detail("catalogId", catalog.id),
        )
        .await?;
        tx.commit().await?;
        Ok(package)
    }

    pub async fn get_package(&self, caller: &Caller, id: &str) -> DomainResult<AccessPackage> {
        Ok(self.package_with_rights(caller, id).await?.0)
    }

    pub async fn list_packages(
        &self,
        caller: &Caller,
        query: &ListQuery,
        catalog_id: Option<&str>,
    ) -> DomainResult<Page<AccessPackage>> {
        if let Some(catalog_id) = catalog_id {
            self.catalog_with_rights(caller, catalog_id).await?;
            return Ok(self
                .store
                .list_access_packages(query, Some(catalog_id), None)
                .await?);
        }
        let restriction = self.list_restriction(caller, "access packages")?;
        Ok(self
            .store
            .list_access_packages(query, None, restriction.as_deref())
            .await?)
    }

    pub async fn package_catalog(
        &self,
        caller: &Caller,
        package: &AccessPackage,
    ) -> DomainResult<Catalog> {
        self.get_catalog(caller, &package.catalog_id).await
    }

    pub async fn update_package(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: PackageInput,
    ) -> DomainResult<()> {
        let (mut package, rights) = self.package_with_rights(caller, id).await?;
        require(rights.manage_packages, "changing access packages")?;
        if let Some(catalog) = &input.catalog_id
            && catalog != &package.catalog_id
        {
            return Err(DomainError::invalid(
                "an access package cannot move to another catalog",
            ));
        }
        let mut changed = Vec::new();
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'displayName' cannot be null",
                ));
            }
            Patch::Value(name) => {
                check_name(&name)?;
                package.display_name = name;
                changed.push("displayName".to_owned());
            }
        }
        let description = std::mem::take(&mut input.description);
        if !description.is_absent() {
            description.apply_to(&mut package.description);
            changed.push("description".to_owned());
        }
        match std::mem::take(&mut input.is_hidden) {
            Patch::Absent => {}
            Patch::Null => return Err(DomainError::invalid("property 'isHidden' cannot be null")),
            Patch::Value(v) => {
                package.is_hidden = v;
                changed.push("isHidden".to_owned());
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        package.modified_date_time = now;
        let mut tx = self.store.begin().await?;
        tx.update_access_package(&package).await?;
        let mut record = audit(
            caller,
            ctx,
            now,
            ("Update access package", "Update"),
            ("AccessPackage", &package.id, &package.display_name),
        )
        .in_catalog(&package.catalog_id);
        if let Some(target) = record.target_resources.first_mut() {
            target.modified_properties = changed;
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_package(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let (package, rights) = self.package_with_rights(caller, id).await?;
        require(rights.manage_packages, "deleting access packages")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        // Graph's rule: a package with assignments (or requests under way) is not deleted; they
        // are removed first, so that no access outlives the package it came from.
        if tx.package_in_use(id).await? {
            return Err(DomainError::Conflict(
                "the access package has assignments or requests in progress: remove them first"
                    .into(),
            ));
        }
        tx.delete_access_package(id).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Delete access package", "Delete"),
                ("AccessPackage", &package.id, &package.display_name),
            )
            .in_catalog(&package.catalog_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The role scopes of a package, with their roles and scopes.
    pub async fn package_role_scopes(
        &self,
        caller: &Caller,
        package_id: &str,
    ) -> DomainResult<Vec<(PackageRoleScope, ResourceRole, ResourceScope)>> {
        self.package_with_rights(caller, package_id).await?;
        let mut out = Vec::new();
        for rs in self.store.package_role_scopes(package_id).await? {
            let role = self.store.resource_role(&rs.role_id).await?;
            let scope = self.store.resource_scope(&rs.scope_id).await?;
            if let (Some(role), Some(scope)) = (role, scope) {
                out.push((rs, role, scope));
            }
        }
        Ok(out)
    }

    pub async fn add_role_scope(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        package_id: &str,
        input: RoleScopeInput,
    ) -> DomainResult<(PackageRoleScope, ResourceRole, ResourceScope)> {
        let (package, rights) = self.package_with_rights(caller, package_id).await?;
        require(rights.manage_packages, "changing access packages")?;
        let role = match (
            &input.role_id,
            &input.role_resource_id,
            &input.role_origin_id,
        ) {
            (Some(id), _, _) => self.store.resource_role(id).await?,
            (None, Some(resource), Some(origin)) => self
                .store
                .resource_roles_of(resource)
                .await?
                .into_iter()
                .find(|r| r.origin_id.eq_ignore_ascii_case(origin)),
            _ => {
                return Err(DomainError::invalid(
                    "role: give its id, or its originId and resource.id",
                ));
            }
        }
        .filter(|r| r.catalog_id == package.catalog_id)
        .ok_or_else(|| {
            DomainError::invalid("the role is not a role of a resource in the package's catalog")
        })?;
        let scopes = self.store.resource_scopes_of(&role.resource_id).await?;
        let scope = match (&input.scope_id, &input.scope_origin_id) {
            (Some(id), _) => scopes.into_iter().find(|s| &s.id == id),
            (None, Some(origin)) => scopes
                .into_iter()
                .find(|s| s.origin_id.eq_ignore_ascii_case(origin)),
            (None, None) => scopes.into_iter().find(|s| s.is_root_scope),
        }
        .ok_or_else(|| DomainError::invalid("the scope is not a scope of the role's resource"))?;
        self.check_role_against_policies(&package.id, &role).await?;
        let now = self.clock.now();
        let role_scope = PackageRoleScope {
            id: format!("{}_{}", role.id, scope.id),
            package_id: package.id.clone(),
            role_id: role.id.clone(),
            scope_id: scope.id.clone(),
            created_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        if !tx.insert_package_role_scope(&role_scope).await? {
            return Err(DomainError::Conflict(
                "the package already grants this role in this scope".into(),
            ));
        }
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Add resource role to access package", "Update"),
                ("AccessPackage", &package.id, &package.display_name),
            )
            .in_catalog(&package.catalog_id)
            .detail("roleId", role.id.clone())
            .detail("roleOriginId", role.origin_id.clone())
            .detail("scopeId", scope.id.clone()),
        )
        .await?;
        super::reprocess::reconcile_package(tx.as_mut(), &package.id, now).await?;
        tx.commit().await?;
        Ok((role_scope, role, scope))
    }

    pub async fn remove_role_scope(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        package_id: &str,
        role_scope_id: &str,
    ) -> DomainResult<()> {
        let (package, rights) = self.package_with_rights(caller, package_id).await?;
        require(rights.manage_packages, "changing access packages")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx
            .delete_package_role_scope(package_id, role_scope_id)
            .await?
        {
            return Err(DomainError::not_found(
                "accessPackageResourceRoleScope",
                role_scope_id,
            ));
        }
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Remove resource role from access package", "Update"),
                ("AccessPackage", &package.id, &package.display_name),
            )
            .in_catalog(&package.catalog_id)
            .detail("resourceRoleScopeId", role_scope_id),
        )
        .await?;
        super::reprocess::reconcile_package(tx.as_mut(), &package.id, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Entitlement {
    /// `incompatibleAccessPackages` (`outgoing`) or `accessPackagesIncompatibleWith`.
    pub async fn incompatible_packages(
        &self,
        caller: &Caller,
        package_id: &str,
        outgoing: bool,
    ) -> DomainResult<Vec<AccessPackage>> {
        self.package_with_rights(caller, package_id).await?;
        Ok(self
            .store
            .incompatible_packages(package_id, outgoing)
            .await?)
    }

    pub async fn incompatible_groups(
        &self,
        caller: &Caller,
        package_id: &str,
    ) -> DomainResult<Vec<crate::directory::Group>> {
        self.package_with_rights(caller, package_id).await?;
        Ok(self.store.incompatible_groups(package_id).await?)
    }

    /// Adds or removes an incompatible package (`with_group` false) or group.
    pub async fn change_incompatibility(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        package_id: &str,
        other_id: &str,
        with_group: bool,
        add: bool,
    ) -> DomainResult<()> {
        let (package, rights) = self.package_with_rights(caller, package_id).await?;
        require(rights.manage_packages, "changing access packages")?;
        if add {
            if with_group {
                if self.store.group(other_id).await?.is_none() {
                    return Err(DomainError::invalid(format!(
                        "group '{other_id}' does not exist"
                    )));
                }
            } else {
                if other_id == package_id {
                    return Err(DomainError::invalid(
                        "a package cannot be incompatible with itself",
                    ));
                }
                let other = self
                    .store
                    .access_package(other_id)
                    .await?
                    .filter(|p| caller.catalog_rights(&p.catalog_id).read);
                if other.is_none() {
                    return Err(DomainError::invalid(format!(
                        "access package '{other_id}' does not exist"
                    )));
                }
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let changed = tx
            .change_incompatibility(package_id, other_id, with_group, add)
            .await?;
        match (changed, add) {
            (false, true) => {
                return Err(DomainError::Conflict(
                    "this incompatibility already exists".into(),
                ));
            }
            (false, false) => {
                return Err(DomainError::not_found(
                    if with_group { "group" } else { "accessPackage" },
                    other_id,
                ));
            }
            _ => {}
        }
        let what = match (with_group, add) {
            (false, true) => "Add incompatible access package",
            (false, false) => "Remove incompatible access package",
            (true, true) => "Add incompatible group",
            (true, false) => "Remove incompatible group",
        };
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                (what, "Update"),
                ("AccessPackage", &package.id, &package.display_name),
            )
            .in_catalog(&package.catalog_id)
            .detail("incompatibleWith", other_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
