//! `/roleManagement/entitlementManagement`: the catalog role definitions and assignments.
//! Graph's types are `unifiedRoleDefinition` and `unifiedRoleAssignment`; under
//! entitlement management they carry other properties than the directory's (an assignment's
//! `appScopeId` names the catalog), so their schemas are named apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use writ_domain::entitlement::EmRoleAssignment;
use writ_domain::patch::Patch;

use crate::wire::body::WireBody;

/// A built-in catalog role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = entitlementManagement::unifiedRoleDefinition)]
pub struct UnifiedRoleDefinition {
    pub id: String,
    pub template_id: String,
    pub display_name: String,
    pub description: String,
    pub is_built_in: bool,
    pub is_enabled: bool,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub role_permissions: Vec<Value>,
}

impl UnifiedRoleDefinition {
    /// A definition as `writ_domain::authz::em_roles::BUILT_IN` lists it.
    pub fn built_in((id, name, description, _): (&str, &str, &str, bool)) -> Self {
        Self {
            id: id.to_owned(),
            template_id: id.to_owned(),
            display_name: name.to_owned(),
            description: description.to_owned(),
            is_built_in: true,
            is_enabled: true,
            role_permissions: Vec::new(),
        }
    }
}

/// A catalog role held by a principal; `appScopeId` is `/` (every catalog) or
/// `/AccessPackageCatalog/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = entitlementManagement::unifiedRoleAssignment)]
pub struct UnifiedRoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub app_scope_id: String,
    /// Always `/`.
    pub directory_scope_id: String,
}

impl From<&EmRoleAssignment> for UnifiedRoleAssignment {
    fn from(a: &EmRoleAssignment) -> Self {
        Self {
            id: a.id.clone(),
            role_definition_id: a.role_definition_id.clone(),
            principal_id: a.principal_id.clone(),
            app_scope_id: a.app_scope_id.clone(),
            directory_scope_id: "/".to_owned(),
        }
    }
}

/// The body that assigns a catalog role (POST).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnifiedRoleAssignmentBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub principal_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub role_definition_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub app_scope_id: Patch<String>,
    /// `/` only.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub directory_scope_id: Patch<String>,
}

impl WireBody for UnifiedRoleAssignmentBody {
    const GRAPH_TYPE: &'static str = "unifiedRoleAssignment";
}
