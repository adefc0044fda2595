//! `servicePrincipal` (and its `agentIdentity` and `agentIdentityBlueprintPrincipal` casts), and
//! the body that creates or updates one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{
    Application as DomainApplication, ServicePrincipal as DomainServicePrincipal,
    ServicePrincipalInput, ServicePrincipalKind,
};

use super::application::{AppRole, PermissionScope};
use super::input::{Binds, Field};
use crate::wire::instant;

/// A service principal; the roles and scopes it exposes come from its application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = servicePrincipal)]
pub struct ServicePrincipal {
    /// Present for the agent casts, and for every kind in polymorphic collections.
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `Application`, or `ServiceIdentity` for agent identities.
    pub service_principal_type: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// When the application is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_roles: Option<Vec<AppRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2_permission_scopes: Option<Vec<PermissionScope>>,
    /// The appId, then the application's identifier URIs.
    pub service_principal_names: Vec<String>,
    /// Agent identities only (present, possibly `null`): the blueprint's appId.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub agent_identity_blueprint_id: Option<Option<String>>,
    /// Agent identities only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub created_date_time: Option<String>,
}

/// The Graph type name of a service principal.
pub fn type_name(sp: &DomainServicePrincipal) -> &'static str {
    match sp.kind {
        ServicePrincipalKind::ServicePrincipal => "servicePrincipal",
        ServicePrincipalKind::AgentIdentityBlueprintPrincipal => "agentIdentityBlueprintPrincipal",
        ServicePrincipalKind::AgentIdentity => "agentIdentity",
    }
}

impl ServicePrincipal {
    /// The service principal; `app` (its application) adds the roles and scopes it exposes.
    pub fn new(sp: &DomainServicePrincipal, app: Option<&DomainApplication>) -> Self {
        let agent = sp.kind == ServicePrincipalKind::AgentIdentity;
        let mut names = vec![sp.app_id.clone()];
        if let Some(app) = app {
            names.extend(app.identifier_uris.iter().cloned());
        }
        Self {
            odata_type: (sp.kind != ServicePrincipalKind::ServicePrincipal)
                .then(|| format!("#microsoft.graph.{}", type_name(sp))),
            id: sp.id.clone(),
            app_id: sp.app_id.clone(),
            display_name: sp.display_name.clone(),
            account_enabled: sp.account_enabled,
            service_principal_type: sp.service_principal_type.clone(),
            description: sp.description.clone(),
            tags: sp.tags.clone(),
            app_display_name: app.map(|a| a.display_name.clone()),
            app_roles: app.map(|a| a.app_roles.iter().map(AppRole::from).collect()),
            oauth2_permission_scopes: app.map(|a| {
                a.oauth2_permission_scopes
                    .iter()
                    .map(PermissionScope::from)
                    .collect()
            }),
            service_principal_names: names,
            agent_identity_blueprint_id: agent.then(|| sp.agent_identity_blueprint_id.clone()),
            created_date_time: agent.then(|| instant(sp.created_date_time)),
        }
    }

    /// The service principal in a polymorphic collection: `@odata.type` always present.
    pub fn typed(sp: &DomainServicePrincipal) -> Self {
        Self {
            odata_type: Some(format!("#microsoft.graph.{}", type_name(sp))),
            ..Self::new(sp, None)
        }
    }
}

/// Without its application's roles and scopes.
impl From<&DomainServicePrincipal> for ServicePrincipal {
    fn from(sp: &DomainServicePrincipal) -> Self {
        Self::new(sp, None)
    }
}

/// The body creating or updating a service principal, blueprint principal or agent identity
/// (`@odata.type` chooses; the handler refuses properties the type does not have).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = servicePrincipalBody)]
pub struct ServicePrincipalBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub app_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub account_enabled: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    /// Agent identities only: the blueprint's appId.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub agent_identity_blueprint_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Field<Vec<String>>,
    /// Agent identities and blueprint principals only: directory object URLs.
    #[serde(rename = "sponsors@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub sponsors: Binds,
    /// Directory object URLs.
    #[serde(rename = "owners@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub owners: Binds,
}

impl ServicePrincipalBody {
    /// The domain's input; `kind` is what the route and `@odata.type` decided.
    pub fn into_input(self, kind: Option<ServicePrincipalKind>) -> ServicePrincipalInput {
        ServicePrincipalInput {
            kind,
            app_id: self.app_id.into_patch(),
            display_name: self.display_name.into_patch(),
            account_enabled: self.account_enabled.into_patch(),
            description: self.description.into_patch(),
            agent_identity_blueprint_id: self.agent_identity_blueprint_id.into_patch(),
            tags: self.tags.into_patch(),
            sponsor_ids: self.sponsors.0,
            owner_ids: self.owners.0,
        }
    }
}
