//! Catalogs, their resources (with roles and scopes), resource requests, access packages and the
//! resource role scopes a package grants; the bodies that create and update catalogs and
//! packages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::entitlement::{
    AccessPackage as Package, Catalog, CatalogInput, CatalogResource, PackageRoleScope,
    ResourceRequest, ResourceRole, ResourceScope,
};
use writ_domain::patch::Patch;

use crate::wire::body::{WireBody, patch, serialize_patch};
use crate::wire::instant;

/// `accessPackageCatalog`; `accessPackages` only when expanded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageCatalog)]
pub struct AccessPackageCatalog {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `userManaged`, or `serviceDefault` for the built-in General catalog.
    pub catalog_type: String,
    /// `published` or `unpublished`.
    pub state: String,
    pub is_externally_visible: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_packages: Option<Vec<AccessPackage>>,
}

impl From<&Catalog> for AccessPackageCatalog {
    fn from(c: &Catalog) -> Self {
        Self {
            id: c.id.clone(),
            display_name: c.display_name.clone(),
            description: c.description.clone(),
            catalog_type: c.catalog_type.clone(),
            state: c.state.clone(),
            is_externally_visible: c.is_externally_visible,
            created_date_time: instant(c.created_date_time),
            modified_date_time: instant(c.modified_date_time),
            access_packages: None,
        }
    }
}

/// `accessPackageResource`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResource)]
pub struct AccessPackageResource {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    /// `AadGroup`, `AadApplication` or `DirectoryRole`.
    pub origin_system: String,
    /// Always empty: Writ's resources carry no attributes.
    pub attributes: Vec<serde_json::Value>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<AccessPackageResourceRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<AccessPackageResourceScope>>,
}

impl From<&CatalogResource> for AccessPackageResource {
    fn from(r: &CatalogResource) -> Self {
        Self {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            description: r.description.clone(),
            origin_id: r.origin_id.clone(),
            origin_system: r.origin_system.clone(),
            attributes: Vec::new(),
            created_date_time: instant(r.created_date_time),
            modified_date_time: instant(r.modified_date_time),
            roles: None,
            scopes: None,
        }
    }
}

/// `accessPackageResourceRole`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRole)]
pub struct AccessPackageResourceRole {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    pub origin_system: String,
    /// Graph's role type (`active`, `eligible`, `application`, `delegated`); none for groups.
    #[serde(rename = "type")]
    pub role_type: Option<String>,
    /// The resource, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub resource: Option<Box<AccessPackageResource>>,
}

impl From<&ResourceRole> for AccessPackageResourceRole {
    fn from(r: &ResourceRole) -> Self {
        Self {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            description: r.description.clone(),
            origin_id: r.origin_id.clone(),
            origin_system: r.origin_system.clone(),
            role_type: r.role_type.clone(),
            resource: None,
        }
    }
}

/// `accessPackageResourceScope`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceScope)]
pub struct AccessPackageResourceScope {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    pub origin_system: String,
    pub is_root_scope: bool,
    /// The resource, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub resource: Option<Box<AccessPackageResource>>,
}

impl From<&ResourceScope> for AccessPackageResourceScope {
    fn from(s: &ResourceScope) -> Self {
        Self {
            id: s.id.clone(),
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            origin_id: s.origin_id.clone(),
            origin_system: s.origin_system.clone(),
            is_root_scope: s.is_root_scope,
            resource: None,
        }
    }
}

/// `accessPackageResourceRequest`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRequest)]
pub struct AccessPackageResourceRequest {
    pub id: String,
    /// `adminAdd`, `adminUpdate` or `adminRemove`.
    pub request_type: String,
    /// `delivered` once applied.
    pub state: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

impl From<&ResourceRequest> for AccessPackageResourceRequest {
    fn from(r: &ResourceRequest) -> Self {
        Self {
            id: r.id.clone(),
            request_type: r.request_type.clone(),
            state: r.state.clone(),
            created_date_time: instant(r.created_date_time),
        }
    }
}

/// `accessPackage`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackage)]
pub struct AccessPackage {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_hidden: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    /// The catalog, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub catalog: Option<Box<AccessPackageCatalog>>,
    /// The roles it grants, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_role_scopes: Option<Vec<AccessPackageResourceRoleScope>>,
}

impl From<&Package> for AccessPackage {
    fn from(p: &Package) -> Self {
        Self {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            is_hidden: p.is_hidden,
            created_date_time: instant(p.created_date_time),
            modified_date_time: instant(p.modified_date_time),
            catalog: None,
            resource_role_scopes: None,
        }
    }
}

/// `accessPackageResourceRoleScope`: a role (in a scope) a package grants; `role` and `scope`
/// when expanded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRoleScope)]
pub struct AccessPackageResourceRoleScope {
    pub id: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccessPackageResourceRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<AccessPackageResourceScope>,
}

impl AccessPackageResourceRoleScope {
    /// The role scope, with its role and scope when `with_role` / `with_scope`.
    pub fn new(
        rs: &PackageRoleScope,
        role: &ResourceRole,
        scope: &ResourceScope,
        with_role: bool,
        with_scope: bool,
    ) -> Self {
        Self {
            id: rs.id.clone(),
            created_date_time: instant(rs.created_date_time),
            role: with_role.then(|| AccessPackageResourceRole::from(role)),
            scope: with_scope.then(|| AccessPackageResourceScope::from(scope)),
        }
    }
}

/// The body that creates (POST) or updates (PATCH) a catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogBody {
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<bool>)]
    pub is_externally_visible: Patch<bool>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub state: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub catalog_type: Patch<String>,
}

impl WireBody for CatalogBody {
    const GRAPH_TYPE: &'static str = "accessPackageCatalog";
}

impl From<CatalogBody> for CatalogInput {
    fn from(b: CatalogBody) -> Self {
        Self {
            display_name: b.display_name,
            description: b.description,
            is_externally_visible: b.is_externally_visible,
            state: b.state,
            catalog_type: b.catalog_type,
        }
    }
}

/// The body that creates (POST) or updates (PATCH) an access package; `catalog` (`{"id": …}`)
/// only on create.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageBody {
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<bool>)]
    pub is_hidden: Patch<bool>,
    #[serde(
        default,
        deserialize_with = "patch",
        serialize_with = "serialize_patch"
    )]
    #[serde(skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub catalog: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl WireBody for AccessPackageBody {
    const GRAPH_TYPE: &'static str = "accessPackage";
}
