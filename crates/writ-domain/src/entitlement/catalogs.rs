//! Catalogs: create (a catalog creator becomes its owner), read, update, delete (refused while it
//! holds packages), list filtered to the caller's catalogs; the built-in General catalog.

use time::OffsetDateTime;

use crate::authz::{Caller, em_roles};
use crate::directory::RequestContext;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{
    Actor, AuditRecord, CATALOG_TYPE_SERVICE_DEFAULT, CATALOG_TYPE_USER_MANAGED, Catalog,
    EmRoleAssignment, GENERAL_CATALOG_NAME,
};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};
use crate::store::StoreTx;

use super::{Entitlement, require};

pub(super) const CATEGORY: &str = "EntitlementManagement";

#[derive(Debug, Clone, Default)]
pub struct CatalogInput {
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub is_externally_visible: Patch<bool>,
    pub state: Patch<String>,
    pub catalog_type: Patch<String>,
}

fn canonical(value: &str, allowed: &[&str], name: &str) -> DomainResult<String> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "'{value}' is not a valid value for property '{name}' ({})",
                allowed.join(", ")
            ))
        })
}

pub(super) fn audit(
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    what: (&str, &str),
    target: (&str, &str, &str),
) -> AuditRecord {
    let mut record = AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        what.0,
        what.1,
        ctx.request_id.as_deref(),
    )
    .target(target.1, target.0, Some(target.2), Vec::new());
    // A catalog's own records belong to it, for its owners and readers.
    if target.0 == "AccessPackageCatalog" {
        record = record.in_catalog(target.1);
    }
    record
}

/// Creates the General catalog if the directory has none (first start, under the bootstrap lock).
pub async fn ensure_general_catalog(tx: &mut dyn StoreTx, now: OffsetDateTime) -> DomainResult<()> {
    if tx.general_catalog().await?.is_some() {
        return Ok(());
    }
    let catalog = Catalog {
        id: new_object_id(),
        display_name: GENERAL_CATALOG_NAME.into(),
        description: Some("Built-in catalog.".into()),
        catalog_type: CATALOG_TYPE_SERVICE_DEFAULT.into(),
        state: "published".into(),
        is_externally_visible: true,
        created_date_time: now,
        modified_date_time: now,
    };
    tx.insert_catalog(&catalog).await?;
    tx.append_audit(
        &AuditRecord::success(
            Actor::system(),
            now,
            CATEGORY,
            "Create catalog",
            "Add",
            None,
        )
        .target(
            &catalog.id,
            "AccessPackageCatalog",
            Some(&catalog.display_name),
            Vec::new(),
        )
        .in_catalog(&catalog.id)
        .detail("reason", "built-in General catalog"),
    )
    .await?;
    Ok(())
}

fn check_name(name: &str) -> DomainResult<()> {
    crate::text::check_display_name(name, "displayName")
}

impl Entitlement {
    pub async fn create_catalog(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: CatalogInput,
    ) -> DomainResult<Catalog> {
        if !caller.can_create_catalogs() {
            return Err(DomainError::forbidden(
                "creating catalogs requires an administrator or the Catalog creator role",
            ));
        }
        let display_name = match std::mem::take(&mut input.display_name) {
            Patch::Value(name) => name,
            _ => return Err(DomainError::invalid("property 'displayName' is required")),
        };
        check_name(&display_name)?;
        if let Patch::Value(t) = &input.catalog_type
            && canonical(
                t,
                &[
                    CATALOG_TYPE_USER_MANAGED,
                    CATALOG_TYPE_SERVICE_DEFAULT,
                    "serviceManaged",
                ],
                "catalogType",
            )? != CATALOG_TYPE_USER_MANAGED
        {
            return Err(DomainError::invalid(
                "only userManaged catalogs can be created",
            ));
        }
        let state = match std::mem::take(&mut input.state) {
            Patch::Value(s) => canonical(&s, &["published", "unpublished"], "state")?,
            _ => "published".into(),
        };
        let now = self.clock.now();
        let catalog = Catalog {
            id: new_object_id(),
            display_name,
            description: input.description.into_option(),
            catalog_type: CATALOG_TYPE_USER_MANAGED.into(),
            state,
            is_externally_visible: input.is_externally_visible.into_option().unwrap_or(false),
            created_date_time: now,
            modified_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_catalog(&catalog).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Create catalog", "Add"),
            ("AccessPackageCatalog", &catalog.id, &catalog.display_name),
        ))
        .await?;
        // A catalog creator who is not an administrator owns what it creates.
        if !caller.is_em_admin() {
            let ownership = EmRoleAssignment {
                id: new_object_id(),
                role_definition_id: em_roles::CATALOG_OWNER.into(),
                principal_id: caller.id.clone(),
                catalog_id: Some(catalog.id.clone()),
                app_scope_id: format!("/AccessPackageCatalog/{}", catalog.id),
                created_date_time: now,
            };
            tx.insert_em_role_assignment(&ownership).await?;
            tx.append_audit(
                &audit(
                    caller,
                    ctx,
                    now,
                    ("Add catalog role assignment", "Assign"),
                    ("User", &caller.id, &caller.display_name),
                )
                .detail("roleDefinitionId", em_roles::CATALOG_OWNER)
                .detail("catalogId", catalog.id.clone())
                .in_catalog(&catalog.id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(catalog)
    }

    pub async fn get_catalog(&self, caller: &Caller, id: &str) -> DomainResult<Catalog> {
        Ok(self.catalog_with_rights(caller, id).await?.0)
    }

    pub async fn list_catalogs(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<Catalog>> {
        let restriction = self.list_restriction(caller, "catalogs")?;
        Ok(self
            .store
            .list_catalogs(query, restriction.as_deref())
            .await?)
    }

    pub async fn update_catalog(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: CatalogInput,
    ) -> DomainResult<()> {
        let (mut catalog, rights) = self.catalog_with_rights(caller, id).await?;
        require(rights.manage_catalog, "updating the catalog")?;
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
                catalog.display_name = name;
                changed.push("displayName".to_owned());
            }
        }
        let description = std::mem::take(&mut input.description);
        if !description.is_absent() {
            description.apply_to(&mut catalog.description);
            changed.push("description".to_owned());
        }
        match std::mem::take(&mut input.is_externally_visible) {
            Patch::Absent => {}
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'isExternallyVisible' cannot be null",
                ));
            }
            Patch::Value(v) => {
                catalog.is_externally_visible = v;
                changed.push("isExternallyVisible".to_owned());
            }
        }
        match std::mem::take(&mut input.state) {
            Patch::Absent => {}
            Patch::Null => return Err(DomainError::invalid("property 'state' cannot be null")),
            Patch::Value(s) => {
                catalog.state = canonical(&s, &["published", "unpublished"], "state")?;
                changed.push("state".to_owned());
            }
        }
        if !input.catalog_type.is_absent() {
            return Err(DomainError::invalid(
                "property 'catalogType' cannot be changed",
            ));
        }
        if changed.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        catalog.modified_date_time = now;
        let mut tx = self.store.begin().await?;
        tx.update_catalog(&catalog).await?;
        let mut record = audit(
            caller,
            ctx,
            now,
            ("Update catalog", "Update"),
            ("AccessPackageCatalog", &catalog.id, &catalog.display_name),
        );
        if let Some(target) = record.target_resources.first_mut() {
            target.modified_properties = changed;
        }
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_catalog(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let (catalog, rights) = self.catalog_with_rights(caller, id).await?;
        require(rights.manage_catalog, "deleting the catalog")?;
        if catalog.catalog_type == CATALOG_TYPE_SERVICE_DEFAULT {
            return Err(DomainError::invalid(
                "the built-in General catalog cannot be deleted",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx.count_packages_in_catalog(id).await? > 0 {
            return Err(DomainError::Conflict(
                "the catalog holds access packages: delete them first".into(),
            ));
        }
        tx.delete_catalog(id).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Delete catalog", "Delete"),
            ("AccessPackageCatalog", &catalog.id, &catalog.display_name),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
