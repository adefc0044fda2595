//! `application` (and its `agentIdentityBlueprint` cast) with the complex types it carries:
//! `appRole`, `permissionScope` (under `api`) and `passwordCredential`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{
    AppRole as DomainAppRole, Application as DomainApplication, ApplicationKind, ClientSecret,
    PermissionScope as DomainPermissionScope,
};

use crate::wire::instant;

/// A role an application declares, assignable through `appRoleAssignments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = appRole)]
pub struct AppRole {
    pub id: String,
    /// `User` and/or `Application`.
    pub allowed_member_types: Vec<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub is_enabled: bool,
    pub value: Option<String>,
    /// Always `Application`.
    pub origin: String,
}

impl From<&DomainAppRole> for AppRole {
    fn from(role: &DomainAppRole) -> Self {
        Self {
            id: role.id.clone(),
            allowed_member_types: role.allowed_member_types.clone(),
            description: role.description.clone(),
            display_name: role.display_name.clone(),
            is_enabled: role.is_enabled,
            value: role.value.clone(),
            origin: "Application".into(),
        }
    }
}

/// A delegated permission an API exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = permissionScope)]
pub struct PermissionScope {
    pub id: String,
    pub admin_consent_description: Option<String>,
    pub admin_consent_display_name: Option<String>,
    pub is_enabled: bool,
    /// `User` or `Admin`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub user_consent_description: Option<String>,
    pub user_consent_display_name: Option<String>,
    pub value: Option<String>,
    /// Always `Application`.
    pub origin: String,
}

impl From<&DomainPermissionScope> for PermissionScope {
    fn from(scope: &DomainPermissionScope) -> Self {
        Self {
            id: scope.id.clone(),
            admin_consent_description: scope.admin_consent_description.clone(),
            admin_consent_display_name: scope.admin_consent_display_name.clone(),
            is_enabled: scope.is_enabled,
            kind: scope.kind.clone(),
            user_consent_description: scope.user_consent_description.clone(),
            user_consent_display_name: scope.user_consent_display_name.clone(),
            value: scope.value.clone(),
            origin: "Application".into(),
        }
    }
}

/// An application's `api`: the delegated permissions it exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = apiApplication)]
pub struct ApiApplication {
    pub oauth2_permission_scopes: Vec<PermissionScope>,
}

/// A client secret: its text (`secretText`) only in the response of `addPassword`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = passwordCredential)]
pub struct PasswordCredential {
    /// Always `null`.
    pub custom_key_identifier: Option<String>,
    pub display_name: Option<String>,
    #[schema(format = DateTime)]
    pub end_date_time: String,
    pub hint: String,
    pub key_id: String,
    pub secret_text: Option<String>,
    #[schema(format = DateTime)]
    pub start_date_time: String,
}

impl From<&ClientSecret> for PasswordCredential {
    fn from(c: &ClientSecret) -> Self {
        Self {
            custom_key_identifier: None,
            display_name: c.display_name.clone(),
            end_date_time: instant(c.end_date_time),
            hint: c.hint.clone(),
            key_id: c.key_id.clone(),
            secret_text: None,
            start_date_time: instant(c.start_date_time),
        }
    }
}

impl PasswordCredential {
    /// The credential `addPassword` created, with the secret shown this once.
    pub fn with_secret(c: &ClientSecret, secret_text: &str) -> Self {
        Self {
            secret_text: Some(secret_text.to_owned()),
            ..Self::from(c)
        }
    }
}

/// An application or agent identity blueprint (`@odata.type`
/// `#microsoft.graph.agentIdentityBlueprint`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = application)]
pub struct Application {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub app_roles: Vec<AppRole>,
    pub api: ApiApplication,
    pub identifier_uris: Vec<String>,
    pub sign_in_audience: String,
    pub tags: Vec<String>,
    pub password_credentials: Vec<PasswordCredential>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

/// `application` or `agentIdentityBlueprint`.
pub fn type_name(app: &DomainApplication) -> &'static str {
    match app.kind {
        ApplicationKind::Application => "application",
        ApplicationKind::AgentIdentityBlueprint => "agentIdentityBlueprint",
    }
}

impl Application {
    /// The application with its client secrets (never their text).
    pub fn new(app: &DomainApplication, credentials: &[ClientSecret]) -> Self {
        Self {
            odata_type: (app.kind == ApplicationKind::AgentIdentityBlueprint)
                .then(|| "#microsoft.graph.agentIdentityBlueprint".to_owned()),
            id: app.id.clone(),
            app_id: app.app_id.clone(),
            display_name: app.display_name.clone(),
            description: app.description.clone(),
            app_roles: app.app_roles.iter().map(AppRole::from).collect(),
            api: ApiApplication {
                oauth2_permission_scopes: app
                    .oauth2_permission_scopes
                    .iter()
                    .map(PermissionScope::from)
                    .collect(),
            },
            identifier_uris: app.identifier_uris.clone(),
            sign_in_audience: app.sign_in_audience.clone(),
            tags: app.tags.clone(),
            password_credentials: credentials.iter().map(PasswordCredential::from).collect(),
            created_date_time: instant(app.created_date_time),
        }
    }

    /// The application in a polymorphic collection: `@odata.type` always present.
    pub fn typed(app: &DomainApplication) -> Self {
        Self {
            odata_type: Some(format!("#microsoft.graph.{}", type_name(app))),
            ..Self::new(app, &[])
        }
    }
}

/// Without its credentials (a newly created application has none).
impl From<&DomainApplication> for Application {
    fn from(app: &DomainApplication) -> Self {
        Self::new(app, &[])
    }
}
