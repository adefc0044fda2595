//! Entitlement-management entities as the domain holds them: catalogs, their resources, roles
//! and scopes, access packages and catalog role assignments.

use time::OffsetDateTime;

pub const CATALOG_TYPE_USER_MANAGED: &str = "userManaged";
pub const CATALOG_TYPE_SERVICE_DEFAULT: &str = "serviceDefault";
pub const GENERAL_CATALOG_NAME: &str = "General";

#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `userManaged`, or `serviceDefault` for the built-in General catalog.
    pub catalog_type: String,
    /// `published` or `unpublished`.
    pub state: String,
    pub is_externally_visible: bool,
    pub created_date_time: OffsetDateTime,
    pub modified_date_time: OffsetDateTime,
}

/// The origin systems Writ delivers to.
pub const ORIGIN_GROUP: &str = "AadGroup";
pub const ORIGIN_APPLICATION: &str = "AadApplication";
pub const ORIGIN_DIRECTORY_ROLE: &str = "DirectoryRole";

#[derive(Debug, Clone, PartialEq)]
pub struct CatalogResource {
    pub id: String,
    pub catalog_id: String,
    pub origin_system: String,
    pub origin_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub created_date_time: OffsetDateTime,
    pub modified_date_time: OffsetDateTime,
    /// Whether a Global Administrator made the last onboarding or refresh of this resource (not
    /// on the wire). A role-assignable group's roles are delivered only then.
    pub onboarded_by_global_admin: bool,
    /// Whether the resource is a group created with `isAssignableToRole` (read from the group,
    /// not stored; not on the wire): its membership carries the group's directory roles.
    pub role_assignable_group: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRole {
    pub id: String,
    pub resource_id: String,
    pub catalog_id: String,
    pub origin_system: String,
    pub origin_id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// Graph's `roleType`: `active`, `eligible`, `application`, `delegated`; none for groups.
    pub role_type: Option<String>,
    /// Who can receive it: `User` and/or `Application` (from the app role's member types; both
    /// for group roles; `User` for delegated scopes).
    pub allowed_member_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceScope {
    pub id: String,
    pub resource_id: String,
    pub catalog_id: String,
    pub origin_system: String,
    pub origin_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_root_scope: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRequest {
    pub id: String,
    pub catalog_id: String,
    pub resource_id: Option<String>,
    /// `adminAdd`, `adminUpdate`, `adminRemove`.
    pub request_type: String,
    /// `delivered` once applied (they apply synchronously).
    pub state: String,
    pub origin_system: String,
    pub origin_id: String,
    pub created_date_time: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessPackage {
    pub id: String,
    pub catalog_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_hidden: bool,
    pub created_date_time: OffsetDateTime,
    pub modified_date_time: OffsetDateTime,
}

/// A resource role (in a scope) that a package grants; `id` is `{roleId}_{scopeId}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageRoleScope {
    pub id: String,
    pub package_id: String,
    pub role_id: String,
    pub scope_id: String,
    pub created_date_time: OffsetDateTime,
}

/// An entitlement-management role assignment (`roleManagement/entitlementManagement`).
#[derive(Debug, Clone, PartialEq)]
pub struct EmRoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    /// `None` for `appScopeId` `/` (every catalog).
    pub catalog_id: Option<String>,
    pub app_scope_id: String,
    pub created_date_time: OffsetDateTime,
}
