//! Resources onboarded into a catalog through `resourceRequests`, with their roles and scopes
//! discovered from the directory:
//!
//! | originSystem | originId | roles (originId) |
//! |---|---|---|
//! | `AadGroup` | group id | `Member_<groupId>`, `Owner_<groupId>` |
//! | `AadApplication` | service principal id | each app role (`application`), each delegated scope (`delegated`) |
//! | `DirectoryRole` | role definition id | `Active` |
//!
//! Only Global Administrators onboard directory roles, role-assignable groups (whose membership
//! carries the group's directory roles: DESIGN section 3 treats them as directory roles) and
//! applications with application permissions; a catalog owner who is not an administrator
//! onboards only groups and applications it owns. Each onboarding and refresh records whether a
//! Global Administrator made it, which delivery re-checks for role-assignable groups
//! (`delivery.rs`).

use time::OffsetDateTime;

use crate::authz::{Caller, roles};
use crate::directory::{ApplicationKind, RequestContext};
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_object_id, parse_guid};
use crate::model::{
    CatalogResource, ORIGIN_APPLICATION, ORIGIN_DIRECTORY_ROLE, ORIGIN_GROUP, ResourceRequest,
    ResourceRole, ResourceScope,
};
use crate::query::{ListQuery, Page};

use super::catalogs::audit;
use super::{Entitlement, require};

#[derive(Debug, Clone)]
pub struct ResourceRequestInput {
    pub request_type: String,
    pub catalog_id: String,
    pub origin_system: String,
    pub origin_id: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
}

/// A role the origin system offers.
struct DiscoveredRole {
    origin_id: String,
    display_name: String,
    description: Option<String>,
    role_type: Option<String>,
    allowed_member_types: Vec<String>,
}

fn discovered_role(
    origin_id: String,
    display_name: String,
    description: Option<String>,
    role_type: Option<String>,
    allowed_member_types: Vec<String>,
) -> DiscoveredRole {
    DiscoveredRole {
        origin_id,
        display_name,
        description,
        role_type,
        allowed_member_types,
    }
}

/// What the directory says a resource is, and the roles it offers.
struct Discovered {
    display_name: String,
    description: Option<String>,
    roles: Vec<DiscoveredRole>,
    /// Global Administrator only (directory roles, role-assignable groups, application
    /// permissions).
    needs_global_admin: bool,
    /// The objects whose ownership lets a catalog owner onboard it.
    owned_via: Vec<String>,
}

const BOTH: &[&str] = &["User", "Application"];

impl Entitlement {
    async fn discover(&self, origin_system: &str, origin_id: &str) -> DomainResult<Discovered> {
        let missing = || {
            DomainError::invalid(format!(
                "no {origin_system} with originId '{origin_id}' exists in the directory"
            ))
        };
        match origin_system {
            ORIGIN_GROUP => {
                let group = self.store.group(origin_id).await?.ok_or_else(missing)?;
                let both: Vec<String> = BOTH.iter().map(|s| (*s).to_owned()).collect();
                Ok(Discovered {
                    display_name: group.display_name.clone(),
                    description: group.description.clone(),
                    roles: vec![
                        discovered_role(
                            format!("Member_{}", group.id),
                            "Member".into(),
                            Some(format!("Member of {}", group.display_name)),
                            None,
                            both.clone(),
                        ),
                        discovered_role(
                            format!("Owner_{}", group.id),
                            "Owner".into(),
                            Some(format!("Owner of {}", group.display_name)),
                            None,
                            both,
                        ),
                    ],
                    // A role-assignable group is a directory role by another name: whoever holds
                    // its membership holds its roles (Global Administrator, say).
                    needs_global_admin: group.is_assignable_to_role,
                    owned_via: vec![group.id],
                })
            }
            ORIGIN_APPLICATION => {
                let sp = self
                    .store
                    .service_principal(origin_id)
                    .await?
                    .ok_or_else(missing)?;
                let app = self
                    .store
                    .application_by_app_id(&sp.app_id)
                    .await?
                    .filter(|a| a.kind == ApplicationKind::Application)
                    .ok_or_else(|| {
                        DomainError::invalid(format!(
                            "service principal '{origin_id}' is not the principal of an application"
                        ))
                    })?;
                let mut found = Vec::new();
                let mut application_permissions = false;
                for role in app.app_roles.iter().filter(|r| r.is_enabled) {
                    if role.allowed_member_types.iter().any(|t| t == "Application") {
                        application_permissions = true;
                    }
                    found.push(discovered_role(
                        role.id.clone(),
                        role.display_name
                            .clone()
                            .or_else(|| role.value.clone())
                            .unwrap_or_else(|| role.id.clone()),
                        role.description.clone(),
                        Some("application".to_owned()),
                        role.allowed_member_types.clone(),
                    ));
                }
                for scope in app.oauth2_permission_scopes.iter().filter(|s| s.is_enabled) {
                    found.push(discovered_role(
                        scope.id.clone(),
                        scope
                            .admin_consent_display_name
                            .clone()
                            .or_else(|| scope.value.clone())
                            .unwrap_or_else(|| scope.id.clone()),
                        scope.admin_consent_description.clone(),
                        Some("delegated".to_owned()),
                        vec!["User".to_owned()],
                    ));
                }
                Ok(Discovered {
                    display_name: app.display_name.clone(),
                    description: app.description.clone(),
                    roles: found,
                    needs_global_admin: application_permissions,
                    owned_via: vec![sp.id, app.id],
                })
            }
            ORIGIN_DIRECTORY_ROLE => {
                let (id, name, description, _) =
                    roles::definition(origin_id).ok_or_else(missing)?;
                Ok(Discovered {
                    display_name: name.into(),
                    description: Some(description.into()),
                    roles: vec![discovered_role(
                        "Active".into(),
                        "Active Member".into(),
                        Some(format!("Active member of {name}")),
                        Some("active".into()),
                        BOTH.iter().map(|s| (*s).to_owned()).collect(),
                    )],
                    needs_global_admin: true,
                    owned_via: vec![id.to_owned()],
                })
            }
            other => Err(DomainError::Invalid {
                code: "notSupported",
                message: format!(
                    "originSystem '{other}' is not supported (AadGroup, AadApplication, DirectoryRole)"
                ),
            }),
        }
    }

    /// `POST /resourceRequests`: add, refresh or remove a catalog resource; applied at once.
    pub async fn request_resource(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: ResourceRequestInput,
    ) -> DomainResult<ResourceRequest> {
        let (catalog, rights) = self.catalog_with_rights(caller, &input.catalog_id).await?;
        require(rights.manage_resources, "managing its resources")?;
        let request_type = ["adminAdd", "adminUpdate", "adminRemove"]
            .iter()
            .find(|t| t.eq_ignore_ascii_case(&input.request_type))
            .copied()
            .ok_or_else(|| DomainError::invalid(format!(
                "requestType '{}' is not valid for resource requests (adminAdd, adminUpdate, adminRemove)",
                input.request_type
            )))?;
        let origin_system = [ORIGIN_GROUP, ORIGIN_APPLICATION, ORIGIN_DIRECTORY_ROLE]
            .iter()
            .find(|o| o.eq_ignore_ascii_case(&input.origin_system))
            .copied()
            .ok_or_else(|| DomainError::Invalid {
                code: "notSupported",
                message: format!(
                    "originSystem '{}' is not supported (AadGroup, AadApplication, DirectoryRole)",
                    input.origin_system
                ),
            })?;
        let origin_id = parse_guid(&input.origin_id).ok_or_else(|| {
            DomainError::invalid(format!(
                "resource originId '{}' is not a GUID",
                input.origin_id
            ))
        })?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let existing = tx
            .catalog_resource_by_origin(&catalog.id, origin_system, &origin_id)
            .await?;
        let resource_id = match request_type {
            "adminRemove" => {
                let resource = existing.ok_or_else(|| {
                    DomainError::not_found("accessPackageResource", origin_id.clone())
                })?;
                if tx.resource_in_use(&resource.id).await? {
                    return Err(DomainError::Conflict(
                        "an access package grants a role of this resource: remove it from the packages first".into(),
                    ));
                }
                tx.delete_catalog_resource(&resource.id).await?;
                tx.append_audit(
                    &audit(
                        caller,
                        ctx,
                        now,
                        ("Remove resource from catalog", "Delete"),
                        (
                            "AccessPackageResource",
                            &resource.id,
                            &resource.display_name,
                        ),
                    )
                    .in_catalog(&catalog.id)
                    .detail("catalogId", catalog.id.clone()),
                )
                .await?;
                Some(resource.id)
            }
            _ => {
                let discovered = self.discover(origin_system, &origin_id).await?;
                self.check_onboarding(caller, tx.as_mut(), &discovered)
                    .await?;
                let resource = match (request_type, existing) {
                    ("adminAdd", Some(_)) => {
                        return Err(DomainError::Conflict(format!(
                            "this {origin_system} is already a resource of the catalog"
                        )));
                    }
                    ("adminUpdate", None) => {
                        return Err(DomainError::not_found(
                            "accessPackageResource",
                            origin_id.clone(),
                        ));
                    }
                    (_, Some(mut resource)) => {
                        resource.display_name = discovered.display_name.clone();
                        resource.description =
                            input.description.clone().or(discovered.description.clone());
                        resource.modified_date_time = now;
                        // A Global Administrator's refresh vouches for a resource onboarded
                        // before Writ reserved role-assignable groups to it.
                        resource.onboarded_by_global_admin = caller.is_global_admin();
                        tx.update_catalog_resource(&resource).await?;
                        resource
                    }
                    (_, None) => {
                        let resource = CatalogResource {
                            id: new_object_id(),
                            catalog_id: catalog.id.clone(),
                            origin_system: origin_system.into(),
                            origin_id: origin_id.clone(),
                            display_name: input
                                .display_name
                                .clone()
                                .unwrap_or_else(|| discovered.display_name.clone()),
                            description: input
                                .description
                                .clone()
                                .or(discovered.description.clone()),
                            created_date_time: now,
                            modified_date_time: now,
                            onboarded_by_global_admin: caller.is_global_admin(),
                            role_assignable_group: discovered.needs_global_admin
                                && origin_system == ORIGIN_GROUP,
                        };
                        tx.insert_catalog_resource(&resource).await?;
                        tx.insert_resource_scope(&ResourceScope {
                            id: new_object_id(),
                            resource_id: resource.id.clone(),
                            catalog_id: catalog.id.clone(),
                            origin_system: origin_system.into(),
                            origin_id: origin_id.clone(),
                            display_name: "Root".into(),
                            description: Some("Root Scope".into()),
                            is_root_scope: true,
                        })
                        .await?;
                        resource
                    }
                };
                sync_roles(tx.as_mut(), &resource, &discovered, now).await?;
                let activity = if request_type == "adminAdd" {
                    "Add resource to catalog"
                } else {
                    "Refresh catalog resource"
                };
                tx.append_audit(
                    &audit(
                        caller,
                        ctx,
                        now,
                        (
                            activity,
                            if request_type == "adminAdd" {
                                "Add"
                            } else {
                                "Update"
                            },
                        ),
                        (
                            "AccessPackageResource",
                            &resource.id,
                            &resource.display_name,
                        ),
                    )
                    .in_catalog(&catalog.id)
                    .detail("catalogId", catalog.id.clone()),
                )
                .await?;
                Some(resource.id)
            }
        };
        let request = ResourceRequest {
            id: new_object_id(),
            catalog_id: catalog.id.clone(),
            resource_id,
            request_type: request_type.into(),
            state: "delivered".into(),
            origin_system: origin_system.into(),
            origin_id,
            created_date_time: now,
        };
        tx.insert_resource_request(&request).await?;
        tx.commit().await?;
        Ok(request)
    }

    async fn check_onboarding(
        &self,
        caller: &Caller,
        tx: &mut dyn crate::store::StoreTx,
        discovered: &Discovered,
    ) -> DomainResult<()> {
        if caller.is_global_admin() {
            return Ok(());
        }
        if discovered.needs_global_admin {
            return Err(DomainError::forbidden(
                "only a Global Administrator adds directory roles, role-assignable groups and applications with application permissions to a catalog",
            ));
        }
        if caller.is_em_admin() {
            return Ok(());
        }
        let now = self.clock.now();
        for object in &discovered.owned_via {
            if tx.owns(&caller.id, object, now).await? {
                return Ok(());
            }
        }
        Err(DomainError::forbidden(
            "a catalog owner adds only groups and applications it owns",
        ))
    }

    /// `POST …/resources/{id}/refresh`: rediscovers names and roles.
    pub async fn refresh_resource(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        catalog_id: &str,
        resource_id: &str,
    ) -> DomainResult<()> {
        let resource = self
            .get_catalog_resource(caller, catalog_id, resource_id)
            .await?;
        self.request_resource(
            caller,
            ctx,
            ResourceRequestInput {
                request_type: "adminUpdate".into(),
                catalog_id: catalog_id.into(),
                origin_system: resource.origin_system,
                origin_id: resource.origin_id,
                display_name: None,
                description: None,
            },
        )
        .await
        .map(|_| ())
    }

    pub async fn get_catalog_resource(
        &self,
        caller: &Caller,
        catalog_id: &str,
        resource_id: &str,
    ) -> DomainResult<CatalogResource> {
        self.catalog_with_rights(caller, catalog_id).await?;
        self.store
            .catalog_resource(resource_id)
            .await?
            .filter(|r| r.catalog_id == catalog_id)
            .ok_or_else(|| DomainError::not_found("accessPackageResource", resource_id))
    }

    pub async fn list_catalog_resources(
        &self,
        caller: &Caller,
        catalog_id: &str,
        query: &ListQuery,
    ) -> DomainResult<Page<CatalogResource>> {
        self.catalog_with_rights(caller, catalog_id).await?;
        Ok(self.store.list_catalog_resources(catalog_id, query).await?)
    }

    pub async fn resource_roles_and_scopes(
        &self,
        resource_id: &str,
    ) -> DomainResult<(Vec<ResourceRole>, Vec<ResourceScope>)> {
        Ok((
            self.store.resource_roles_of(resource_id).await?,
            self.store.resource_scopes_of(resource_id).await?,
        ))
    }

    pub async fn list_resource_roles(
        &self,
        caller: &Caller,
        catalog_id: &str,
        query: &ListQuery,
    ) -> DomainResult<Page<ResourceRole>> {
        self.catalog_with_rights(caller, catalog_id).await?;
        Ok(self.store.list_resource_roles(catalog_id, query).await?)
    }

    pub async fn list_resource_scopes(
        &self,
        caller: &Caller,
        catalog_id: &str,
        query: &ListQuery,
    ) -> DomainResult<Page<ResourceScope>> {
        self.catalog_with_rights(caller, catalog_id).await?;
        Ok(self.store.list_resource_scopes(catalog_id, query).await?)
    }

    pub async fn list_resource_requests(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<ResourceRequest>> {
        let restriction = self.list_restriction(caller, "resource requests")?;
        Ok(self
            .store
            .list_resource_requests(query, restriction.as_deref())
            .await?)
    }

    /// A resource of the catalog, for expansions.
    pub async fn resource_by_id(&self, id: &str) -> DomainResult<Option<CatalogResource>> {
        Ok(self.store.catalog_resource(id).await?)
    }
}

/// Brings a resource's roles in line with the directory: new roles added, names updated, roles
/// gone from the origin removed unless a package still grants them.
async fn sync_roles(
    tx: &mut dyn crate::store::StoreTx,
    resource: &CatalogResource,
    discovered: &Discovered,
    _now: OffsetDateTime,
) -> DomainResult<()> {
    let current = tx.resource_roles_of(&resource.id).await?;
    for found in &discovered.roles {
        let id = current
            .iter()
            .find(|r| r.origin_id == found.origin_id)
            .map(|r| r.id.clone())
            .unwrap_or_else(new_object_id);
        tx.upsert_resource_role(&ResourceRole {
            id,
            resource_id: resource.id.clone(),
            catalog_id: resource.catalog_id.clone(),
            origin_system: resource.origin_system.clone(),
            origin_id: found.origin_id.clone(),
            display_name: found.display_name.clone(),
            description: found.description.clone(),
            role_type: found.role_type.clone(),
            allowed_member_types: found.allowed_member_types.clone(),
        })
        .await?;
    }
    for stale in current
        .iter()
        .filter(|r| !discovered.roles.iter().any(|d| d.origin_id == r.origin_id))
    {
        if !tx.role_in_use(&stale.id).await? {
            tx.delete_resource_role(&stale.id).await?;
        }
    }
    Ok(())
}

/// A directory object being deleted leaves the catalogs it is a resource of; refused (`409`)
/// while a package grants one of its roles. Runs inside the deleting transaction.
pub(crate) async fn release_catalog_resources(
    tx: &mut dyn crate::store::StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    object_id: &str,
) -> DomainResult<()> {
    for resource in tx.catalog_resources_with_origin(object_id).await? {
        if tx.resource_in_use(&resource.id).await? {
            return Err(DomainError::Conflict(format!(
                "an access package grants a role of this object (resource '{}' of catalog {}): remove it from the packages first",
                resource.display_name, resource.catalog_id
            )));
        }
        tx.delete_catalog_resource(&resource.id).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Remove resource from catalog", "Delete"),
                (
                    "AccessPackageResource",
                    &resource.id,
                    &resource.display_name,
                ),
            )
            .in_catalog(&resource.catalog_id)
            .detail("catalogId", resource.catalog_id.clone())
            .detail("reason", "the directory object was deleted"),
        )
        .await?;
    }
    Ok(())
}
