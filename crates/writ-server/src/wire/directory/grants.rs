//! Direct grants: `appRoleAssignment` and `oAuth2PermissionGrant`, and the bodies creating them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{
    AppRoleAssignment as DomainAssignment, PermissionGrant, PermissionGrantInput,
};

use super::input::Field;
use crate::error::ApiResult;
use crate::wire::instant;

/// An app role held by a user, group or service principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = appRoleAssignment)]
pub struct AppRoleAssignment {
    pub id: String,
    pub app_role_id: String,
    pub principal_id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: String,
    pub principal_display_name: String,
    pub resource_id: String,
    pub resource_display_name: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    /// Always `null`: removed assignments are gone.
    #[schema(format = DateTime)]
    pub deleted_date_time: Option<String>,
}

impl From<&DomainAssignment> for AppRoleAssignment {
    fn from(a: &DomainAssignment) -> Self {
        Self {
            id: a.id.clone(),
            app_role_id: a.app_role_id.clone(),
            principal_id: a.principal_id.clone(),
            principal_type: a.principal_type.clone(),
            principal_display_name: a.principal_display_name.clone(),
            resource_id: a.resource_id.clone(),
            resource_display_name: a.resource_display_name.clone(),
            created_date_time: instant(a.created_date_time),
            deleted_date_time: None,
        }
    }
}

/// A delegated permission grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = oAuth2PermissionGrant)]
pub struct OAuth2PermissionGrant {
    pub id: String,
    /// Object id of the client service principal.
    pub client_id: String,
    /// `AllPrincipals` or `Principal`.
    pub consent_type: String,
    pub principal_id: Option<String>,
    /// Object id of the resource (API) service principal.
    pub resource_id: String,
    /// Space-separated scope values.
    pub scope: String,
}

impl From<&PermissionGrant> for OAuth2PermissionGrant {
    fn from(g: &PermissionGrant) -> Self {
        Self {
            id: g.id.clone(),
            client_id: g.client_id.clone(),
            consent_type: g.consent_type.clone(),
            principal_id: g.principal_id.clone(),
            resource_id: g.resource_id.clone(),
            scope: g.scope.clone(),
        }
    }
}

/// The body assigning an app role (`appRoleAssignedTo` on the resource, `appRoleAssignments` on
/// the principal): the id the URL names may be left out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = appRoleAssignmentBody)]
pub struct AppRoleAssignmentBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub principal_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resource_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub app_role_id: Field<String>,
}

/// The body granting delegated permissions (all properties), or changing a grant (`scope`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = oAuth2PermissionGrantBody)]
pub struct OAuth2PermissionGrantBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_id: Field<String>,
    /// `AllPrincipals` or `Principal`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub consent_type: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub principal_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resource_id: Field<String>,
    /// Space-separated scope values.
    #[serde(default)]
    #[schema(value_type = String)]
    pub scope: Field<String>,
}

impl OAuth2PermissionGrantBody {
    /// A create's input: every property but `principalId` required.
    pub fn into_input(self) -> ApiResult<PermissionGrantInput> {
        Ok(PermissionGrantInput {
            client_id: self.client_id.required("clientId")?,
            consent_type: self.consent_type.required("consentType")?,
            principal_id: self.principal_id.into_option(),
            resource_id: self.resource_id.required("resourceId")?,
            scope: self.scope.required("scope")?,
        })
    }
}
