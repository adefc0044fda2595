//! `/roleManagement/directory`: `unifiedRoleDefinition` (the built-in roles) and
//! `unifiedRoleAssignment`, and the body creating one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{RoleAssignment, RoleAssignmentInput};

use super::input::Field;
use crate::error::ApiResult;

/// The permissions of a role definition; Writ's built-in roles list none (their rights are
/// DESIGN section 9's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = unifiedRolePermission)]
pub struct UnifiedRolePermission {
    pub allowed_resource_actions: Vec<String>,
}

/// A built-in directory role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = unifiedRoleDefinition)]
pub struct UnifiedRoleDefinition {
    pub id: String,
    pub template_id: String,
    pub display_name: String,
    pub description: String,
    pub is_built_in: bool,
    pub is_enabled: bool,
    pub resource_scopes: Vec<String>,
    pub role_permissions: Vec<UnifiedRolePermission>,
    pub version: String,
    /// `/beta` only: not in the v1.0 schema (the v1.0 SDK model does not declare it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_privileged: Option<bool>,
}

impl UnifiedRoleDefinition {
    /// A built-in definition as `writ_domain::authz::roles::BUILT_IN` lists it; `beta` adds
    /// `isPrivileged`.
    pub fn built_in(
        (id, name, description, privileged): (&str, &str, &str, bool),
        beta: bool,
    ) -> Self {
        Self {
            id: id.to_owned(),
            template_id: id.to_owned(),
            display_name: name.to_owned(),
            description: description.to_owned(),
            is_built_in: true,
            is_enabled: true,
            resource_scopes: vec!["/".to_owned()],
            role_permissions: Vec::new(),
            version: "1".to_owned(),
            is_privileged: beta.then_some(privileged),
        }
    }
}

/// A directory role held by a principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = unifiedRoleAssignment)]
pub struct UnifiedRoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: String,
}

impl From<&RoleAssignment> for UnifiedRoleAssignment {
    fn from(a: &RoleAssignment) -> Self {
        Self {
            id: a.id.clone(),
            role_definition_id: a.role_definition_id.clone(),
            principal_id: a.principal_id.clone(),
            directory_scope_id: a.directory_scope_id.clone(),
        }
    }
}

/// The body assigning a directory role.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = unifiedRoleAssignmentBody)]
pub struct UnifiedRoleAssignmentBody {
    #[serde(default)]
    #[schema(value_type = String)]
    pub principal_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub role_definition_id: Field<String>,
    /// `/` (the default) for the whole directory.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub directory_scope_id: Field<String>,
}

impl UnifiedRoleAssignmentBody {
    /// The domain's input: principal and role required, scope `/` unless given.
    pub fn into_input(self) -> ApiResult<RoleAssignmentInput> {
        Ok(RoleAssignmentInput {
            principal_id: self.principal_id.required("principalId")?,
            role_definition_id: self.role_definition_id.required("roleDefinitionId")?,
            directory_scope_id: self
                .directory_scope_id
                .into_option()
                .unwrap_or_else(|| "/".into()),
        })
    }
}
