//! `application` (and its `agentIdentityBlueprint` cast) with the complex types it carries:
//! `appRole`, `permissionScope` (under `api`) and `passwordCredential`; the bodies creating or
//! updating one, and those of `addPassword` and `removePassword`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use writ_domain::directory::{
    AppRole as DomainAppRole, Application as DomainApplication, ApplicationInput, ApplicationKind,
    ClientRegistrationInput, ClientSecret, PasswordCredentialInput,
    PermissionScope as DomainPermissionScope,
};
use writ_domain::patch::Patch;

use super::input::{Binds, Field, FieldValue, PROPERTY};
use crate::error::{ApiError, ApiResult};

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
    /// Redirect URIs of native and command-line apps (custom schemes and loopback `http`).
    pub public_client: PublicClientApplication,
    /// Redirect URIs of single-page apps.
    pub spa: SpaApplication,
    /// Redirect URIs and sign-out URL of web apps (confidential clients).
    pub web: WebApplication,
    /// The application is a public client whatever its redirect URI (device code, password).
    pub is_fallback_public_client: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

/// Graph's `publicClientApplication`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = publicClientApplication)]
pub struct PublicClientApplication {
    pub redirect_uris: Vec<String>,
}

/// Graph's `spaApplication`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = spaApplication)]
pub struct SpaApplication {
    pub redirect_uris: Vec<String>,
}

/// Graph's `implicitGrantSettings`: always both false (Writ has no implicit flow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = implicitGrantSettings)]
pub struct ImplicitGrantSettings {
    pub enable_access_token_issuance: bool,
    pub enable_id_token_issuance: bool,
}

/// Graph's `webApplication` (`redirectUriSettings` is not served: `redirectUris` says it all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = webApplication)]
pub struct WebApplication {
    pub home_page_url: Option<String>,
    pub implicit_grant_settings: ImplicitGrantSettings,
    pub logout_url: Option<String>,
    pub redirect_uris: Vec<String>,
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
            public_client: PublicClientApplication {
                redirect_uris: app.clients.public_client_redirect_uris.clone(),
            },
            spa: SpaApplication {
                redirect_uris: app.clients.spa_redirect_uris.clone(),
            },
            web: WebApplication {
                home_page_url: app.clients.web.home_page_url.clone(),
                implicit_grant_settings: ImplicitGrantSettings {
                    enable_access_token_issuance: app.clients.web.enable_access_token_issuance,
                    enable_id_token_issuance: app.clients.web.enable_id_token_issuance,
                },
                logout_url: app.clients.web.logout_url.clone(),
                redirect_uris: app.clients.web.redirect_uris.clone(),
            },
            is_fallback_public_client: app.is_fallback_public_client,
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

impl From<AppRole> for DomainAppRole {
    fn from(role: AppRole) -> Self {
        Self {
            id: role.id,
            allowed_member_types: role.allowed_member_types,
            description: role.description,
            display_name: role.display_name,
            is_enabled: role.is_enabled,
            value: role.value,
        }
    }
}

impl From<PermissionScope> for DomainPermissionScope {
    fn from(scope: PermissionScope) -> Self {
        Self {
            id: scope.id,
            admin_consent_description: scope.admin_consent_description,
            admin_consent_display_name: scope.admin_consent_display_name,
            is_enabled: scope.is_enabled,
            kind: scope.kind,
            user_consent_description: scope.user_consent_description,
            user_consent_display_name: scope.user_consent_display_name,
            value: scope.value,
        }
    }
}

/// Written `appRoles`: `origin` and `@odata.type` are dropped and `isEnabled` defaults to true.
impl FieldValue for Vec<AppRole> {
    fn from_json(value: Value) -> Result<Self, String> {
        let Value::Array(items) = value else {
            return Err("property 'appRoles' must be an array".into());
        };
        let mut roles = Vec::with_capacity(items.len());
        for mut item in items {
            if let Some(obj) = item.as_object_mut() {
                obj.remove("@odata.type");
                obj.remove("origin");
                obj.entry("isEnabled").or_insert(Value::Bool(true));
                for key in obj.keys() {
                    if !matches!(
                        key.as_str(),
                        "id" | "allowedMemberTypes"
                            | "description"
                            | "displayName"
                            | "isEnabled"
                            | "value"
                    ) {
                        return Err(format!(
                            "Property '{key}' does not exist on type 'microsoft.graph.appRole'."
                        ));
                    }
                }
            }
            let role: DomainAppRole = serde_json::from_value(item)
                .map_err(|e| format!("property 'appRoles' is not valid: {e}"))?;
            roles.push(AppRole::from(&role));
        }
        Ok(roles)
    }
}

/// Written `api`: only `oauth2PermissionScopes` (and the ignored `requestedAccessTokenVersion`);
/// each scope as in `appRoles`, `isEnabled` defaulting to true.
impl FieldValue for ApiApplication {
    fn from_json(value: Value) -> Result<Self, String> {
        let Value::Object(api) = value else {
            return Err("property 'api' must be an object".into());
        };
        for key in api.keys() {
            if !matches!(
                key.as_str(),
                "oauth2PermissionScopes" | "@odata.type" | "requestedAccessTokenVersion"
            ) {
                return Err(format!("api.{key} is not supported by Writ"));
            }
        }
        let mut list = match api.get("oauth2PermissionScopes") {
            None | Some(Value::Null) => {
                return Ok(Self {
                    oauth2_permission_scopes: Vec::new(),
                });
            }
            Some(list @ Value::Array(_)) => list.clone(),
            Some(_) => {
                return Err("property 'api.oauth2PermissionScopes' must be an array".into());
            }
        };
        if let Some(items) = list.as_array_mut() {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.remove("@odata.type");
                item.remove("origin");
                item.entry("isEnabled").or_insert(Value::Bool(true));
                if let Some(key) = item.keys().find(|k| {
                    !matches!(
                        k.as_str(),
                        "id" | "adminConsentDescription"
                            | "adminConsentDisplayName"
                            | "isEnabled"
                            | "type"
                            | "userConsentDescription"
                            | "userConsentDisplayName"
                            | "value"
                    )
                }) {
                    return Err(format!(
                        "Property '{key}' does not exist on type 'microsoft.graph.permissionScope'."
                    ));
                }
            }
        }
        let scopes: Vec<DomainPermissionScope> = serde_json::from_value(list)
            .map_err(|e| format!("property 'api.oauth2PermissionScopes' is not valid: {e}"))?;
        Ok(Self {
            oauth2_permission_scopes: scopes.iter().map(PermissionScope::from).collect(),
        })
    }
}

/// The body creating or updating an application or agent identity blueprint (`@odata.type`
/// chooses; the handler refuses properties the type does not have).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = applicationBody)]
pub struct ApplicationBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    /// `origin` is ignored; `isEnabled` defaults to true.
    #[serde(default)]
    #[schema(value_type = Option<Vec<AppRole>>)]
    pub app_roles: Field<Vec<AppRole>>,
    #[serde(default)]
    #[schema(value_type = Option<ApiApplication>)]
    pub api: Field<ApiApplication>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub identifier_uris: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sign_in_audience: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Field<Vec<String>>,
    /// `{"redirectUris": [...]}`; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<PublicClientApplication>)]
    pub public_client: Field<RedirectUrisInput>,
    /// `{"redirectUris": [...]}`; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<SpaApplication>)]
    pub spa: Field<RedirectUrisInput>,
    /// The properties given are set (`null` clears one), the others kept; `null` clears all.
    #[serde(default)]
    #[schema(value_type = Option<WebApplication>)]
    pub web: Field<WebInput>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_fallback_public_client: Field<bool>,
    /// Blueprints only: directory object URLs.
    #[serde(rename = "sponsors@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub sponsors: Binds,
    /// Directory object URLs.
    #[serde(rename = "owners@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub owners: Binds,
}

impl ApplicationBody {
    /// The domain's input; `kind` is what the route and `@odata.type` decided.
    pub fn into_input(self, kind: Option<ApplicationKind>) -> ApplicationInput {
        ApplicationInput {
            kind,
            display_name: self.display_name.into_patch(),
            description: self.description.into_patch(),
            app_roles: self
                .app_roles
                .map(|roles| roles.into_iter().map(DomainAppRole::from).collect())
                .into_patch(),
            oauth2_permission_scopes: self
                .api
                .map(|api| {
                    api.oauth2_permission_scopes
                        .into_iter()
                        .map(DomainPermissionScope::from)
                        .collect()
                })
                .into_patch(),
            identifier_uris: self.identifier_uris.into_patch(),
            sign_in_audience: self.sign_in_audience.into_patch(),
            tags: self.tags.into_patch(),
            clients: client_input(self.public_client, self.spa, self.web),
            is_fallback_public_client: self.is_fallback_public_client.into_patch(),
            sponsor_ids: self.sponsors.0,
            owner_ids: self.owners.0,
        }
    }
}

/// The domain's input for `publicClient`, `spa` and `web`: an object sets what it names; `null`
/// for the whole object clears all of it.
fn client_input(
    public_client: Field<RedirectUrisInput>,
    spa: Field<RedirectUrisInput>,
    web: Field<WebInput>,
) -> ClientRegistrationInput {
    fn uris(field: Field<RedirectUrisInput>) -> Patch<Vec<String>> {
        match field {
            Field::Absent => Patch::Absent,
            Field::Null => Patch::Null,
            Field::Value(v) => v.0,
        }
    }
    let web = match web {
        Field::Absent => WebInput::default(),
        Field::Null => WebInput {
            redirect_uris: Patch::Null,
            home_page_url: Patch::Null,
            logout_url: Patch::Null,
            enable_access_token_issuance: Patch::Null,
            enable_id_token_issuance: Patch::Null,
        },
        Field::Value(web) => web,
    };
    ClientRegistrationInput {
        public_client_redirect_uris: uris(public_client),
        spa_redirect_uris: uris(spa),
        web_redirect_uris: web.redirect_uris,
        home_page_url: web.home_page_url,
        logout_url: web.logout_url,
        enable_access_token_issuance: web.enable_access_token_issuance,
        enable_id_token_issuance: web.enable_id_token_issuance,
    }
}

/// Written `publicClient` or `spa`: `redirectUris` (absent: unchanged; `null`: cleared).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedirectUrisInput(Patch<Vec<String>>);

fn object_of(value: Value, name: &str, allowed: &[&str]) -> Result<Map<String, Value>, String> {
    let Value::Object(object) = value else {
        return Err(format!("property '{name}' must be an object"));
    };
    if let Some(key) = object
        .keys()
        .find(|k| k.as_str() != "@odata.type" && !allowed.contains(&k.as_str()))
    {
        return Err(if name == "web" && key == "redirectUriSettings" {
            "web.redirectUriSettings cannot be set in Writ: set web.redirectUris".into()
        } else {
            format!(
                "{name}.{key} is not a property Writ supports here (allowed: {})",
                allowed.join(", ")
            )
        });
    }
    Ok(object)
}

fn patch_of<T: FieldValue>(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Patch<T>, String> {
    match object.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Null),
        Some(value) => T::from_json(value.clone())
            .map(Patch::Value)
            .map_err(|e| e.replace(PROPERTY, path)),
    }
}

impl FieldValue for RedirectUrisInput {
    fn from_json(value: Value) -> Result<Self, String> {
        let object = object_of(value, PROPERTY, &["redirectUris"])?;
        Ok(Self(patch_of(
            &object,
            "redirectUris",
            &format!("{PROPERTY}.redirectUris"),
        )?))
    }
}

/// Written `web`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebInput {
    redirect_uris: Patch<Vec<String>>,
    home_page_url: Patch<String>,
    logout_url: Patch<String>,
    enable_access_token_issuance: Patch<bool>,
    enable_id_token_issuance: Patch<bool>,
}

impl FieldValue for WebInput {
    fn from_json(value: Value) -> Result<Self, String> {
        let web = object_of(
            value,
            "web",
            &[
                "redirectUris",
                "homePageUrl",
                "logoutUrl",
                "implicitGrantSettings",
            ],
        )?;
        let (access, id) = match web.get("implicitGrantSettings") {
            None => (Patch::Absent, Patch::Absent),
            Some(Value::Null) => (Patch::Null, Patch::Null),
            Some(settings) => {
                let settings = object_of(
                    settings.clone(),
                    "web.implicitGrantSettings",
                    &["enableAccessTokenIssuance", "enableIdTokenIssuance"],
                )?;
                (
                    patch_of(
                        &settings,
                        "enableAccessTokenIssuance",
                        "web.implicitGrantSettings.enableAccessTokenIssuance",
                    )?,
                    patch_of(
                        &settings,
                        "enableIdTokenIssuance",
                        "web.implicitGrantSettings.enableIdTokenIssuance",
                    )?,
                )
            }
        };
        Ok(Self {
            redirect_uris: patch_of(&web, "redirectUris", "web.redirectUris")?,
            home_page_url: patch_of(&web, "homePageUrl", "web.homePageUrl")?,
            logout_url: patch_of(&web, "logoutUrl", "web.logoutUrl")?,
            enable_access_token_issuance: access,
            enable_id_token_issuance: id,
        })
    }
}

/// What `addPassword` may set of the new credential; the server generates the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = passwordCredentialBody)]
pub struct PasswordCredentialBody {
    pub display_name: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_date_time: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_date_time: Option<String>,
}

fn instant_of(value: Option<&Value>, name: &str) -> Result<Option<OffsetDateTime>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => OffsetDateTime::parse(text, &Rfc3339)
            .map(Some)
            .map_err(|_| format!("{name} must be an ISO 8601 date-time")),
        Some(_) => Err(format!("{name} must be an ISO 8601 date-time")),
    }
}

impl FieldValue for PasswordCredentialInput {
    fn from_json(value: Value) -> Result<Self, String> {
        let Value::Object(credential) = value else {
            return Err(format!("property '{PROPERTY}' must be an object"));
        };
        for key in credential.keys() {
            if !matches!(
                key.as_str(),
                "displayName" | "startDateTime" | "endDateTime" | "@odata.type"
            ) {
                return Err(format!(
                    "passwordCredential.{key} cannot be set: the server generates the secret"
                ));
            }
        }
        let display_name = match credential.get("displayName") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("passwordCredential.displayName must be a string".into()),
        };
        Ok(Self {
            display_name,
            start_date_time: instant_of(
                credential.get("startDateTime"),
                "passwordCredential.startDateTime",
            )?,
            end_date_time: instant_of(
                credential.get("endDateTime"),
                "passwordCredential.endDateTime",
            )?,
        })
    }
}

/// The body of `addPassword` (on applications and agent identities).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = addPasswordBody)]
pub struct AddPasswordBody {
    #[serde(default)]
    #[schema(value_type = Option<PasswordCredentialBody>)]
    pub password_credential: Field<PasswordCredentialInput>,
}

impl From<AddPasswordBody> for PasswordCredentialInput {
    fn from(body: AddPasswordBody) -> Self {
        body.password_credential
            .into_option()
            .unwrap_or(PasswordCredentialInput {
                display_name: None,
                start_date_time: None,
                end_date_time: None,
            })
    }
}

/// The body of `removePassword`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = removePasswordBody)]
pub struct RemovePasswordBody {
    /// The credential's `keyId` (a GUID).
    #[serde(default)]
    #[schema(value_type = String)]
    pub key_id: Field<String>,
}

impl RemovePasswordBody {
    /// The key id, a GUID.
    pub fn key_id(self) -> ApiResult<String> {
        match self.key_id {
            Field::Value(k) => writ_domain::ids::parse_guid(&k)
                .ok_or_else(|| ApiError::bad_request("keyId must be a GUID")),
            _ => Err(ApiError::bad_request("property 'keyId' is required")),
        }
    }
}
