//! Directory entities as the domain holds them (not the wire shape, not the row shape): users,
//! groups, applications, service principals and the grants between them.

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    User,
    Group,
    ServicePrincipal,
    Application,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::ServicePrincipal => "servicePrincipal",
            ObjectKind::Application => "application",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(ObjectKind::User),
            "group" => Some(ObjectKind::Group),
            "servicePrincipal" => Some(ObjectKind::ServicePrincipal),
            "application" => Some(ObjectKind::Application),
            _ => None,
        }
    }

    /// The name audit records use for `targetResources[].type`.
    pub fn audit_type(self) -> &'static str {
        match self {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
            ObjectKind::ServicePrincipal => "ServicePrincipal",
            ObjectKind::Application => "Application",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    User,
    /// An agent's user account, tied to its parent agent identity.
    AgentUser,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::User => "user",
            UserKind::AgentUser => "agentUser",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(UserKind::User),
            "agentUser" => Some(UserKind::AgentUser),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub kind: UserKind,
    /// For agent users: the object id of the parent agent identity.
    pub identity_parent_id: Option<String>,
    pub display_name: String,
    pub user_principal_name: String,
    pub mail_nickname: String,
    pub account_enabled: bool,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub office_location: Option<String>,
    pub mobile_phone: Option<String>,
    pub business_phones: Vec<String>,
    pub employee_id: Option<String>,
    pub company_name: Option<String>,
    pub usage_location: Option<String>,
    pub preferred_language: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: String,
    pub created_date_time: OffsetDateTime,
    pub manager_id: Option<String>,
    /// argon2 hash of the local password; never leaves the server.
    pub password_hash: Option<String>,
    pub force_change_password_next_sign_in: bool,
    /// `identities`: the upstream accounts this user signs in with (the local password is not
    /// one of them).
    pub identities: Vec<ObjectIdentity>,
}

/// Graph's `objectIdentity`: one account at an identity provider that signs in as this user.
/// Writ stores only `signInType: federated` (an upstream OpenID provider: `issuer` its issuer
/// URL, `issuerAssignedId` its `sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentity {
    pub sign_in_type: String,
    pub issuer: String,
    pub issuer_assigned_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    pub group_types: Vec<String>,
    pub mail: Option<String>,
    /// `Public`, `Private` or `HiddenMembership`.
    pub visibility: Option<String>,
    pub is_assignable_to_role: bool,
    pub created_date_time: OffsetDateTime,
}

/// What an application object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationKind {
    Application,
    /// An Agent ID blueprint: the template of a kind of agent; sponsors required.
    AgentIdentityBlueprint,
}

impl ApplicationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Application => "application",
            ApplicationKind::AgentIdentityBlueprint => "agentIdentityBlueprint",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "application" => Some(ApplicationKind::Application),
            "agentIdentityBlueprint" => Some(ApplicationKind::AgentIdentityBlueprint),
            _ => None,
        }
    }
}

/// A role an application defines, assignable to users and/or applications.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    pub id: String,
    /// `User` and/or `Application`.
    pub allowed_member_types: Vec<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub is_enabled: bool,
    pub value: Option<String>,
}

/// A delegated permission an API exposes (`api.oauth2PermissionScopes`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub kind: ApplicationKind,
    pub description: Option<String>,
    pub app_roles: Vec<AppRole>,
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    pub identifier_uris: Vec<String>,
    pub sign_in_audience: String,
    pub tags: Vec<String>,
    /// Where the application receives authorization responses, by kind of client.
    pub clients: ClientRegistration,
    /// Graph's `isFallbackPublicClient`: the application is a public client even where its
    /// redirect URI (or the flow, e.g. device code) does not say so.
    pub is_fallback_public_client: bool,
    pub created_date_time: OffsetDateTime,
}

/// An application's registrations as an OAuth client: Graph's `publicClient`, `spa` and `web`
/// (stored as one JSON document; the wire names are Graph's).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientRegistration {
    /// `publicClient.redirectUris`: native and command-line apps (custom schemes allowed).
    pub public_client_redirect_uris: Vec<String>,
    /// `spa.redirectUris`: browser apps (public clients, code + PKCE).
    pub spa_redirect_uris: Vec<String>,
    /// `web`: confidential clients.
    pub web: WebRegistration,
}

/// Graph's `webApplication`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebRegistration {
    pub redirect_uris: Vec<String>,
    pub home_page_url: Option<String>,
    pub logout_url: Option<String>,
    /// `implicitGrantSettings.enableAccessTokenIssuance` (Writ issues no implicit-flow tokens).
    pub enable_access_token_issuance: bool,
    /// `implicitGrantSettings.enableIdTokenIssuance` (likewise).
    pub enable_id_token_issuance: bool,
}

impl Application {
    pub fn new(id: String, app_id: String, display_name: String, now: OffsetDateTime) -> Self {
        Self {
            id,
            app_id,
            display_name,
            kind: ApplicationKind::Application,
            description: None,
            app_roles: Vec::new(),
            oauth2_permission_scopes: Vec::new(),
            identifier_uris: Vec::new(),
            sign_in_audience: "AzureADMyOrg".into(),
            tags: Vec::new(),
            clients: ClientRegistration::default(),
            is_fallback_public_client: false,
            created_date_time: now,
        }
    }
}

/// What a service principal object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServicePrincipalKind {
    ServicePrincipal,
    /// A blueprint's presence in the tenant; must exist before agent identities of the blueprint.
    AgentIdentityBlueprintPrincipal,
    /// An agent's own identity: its own appId, 1–100 sponsors.
    AgentIdentity,
}

impl ServicePrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServicePrincipalKind::ServicePrincipal => "servicePrincipal",
            ServicePrincipalKind::AgentIdentityBlueprintPrincipal => {
                "agentIdentityBlueprintPrincipal"
            }
            ServicePrincipalKind::AgentIdentity => "agentIdentity",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "servicePrincipal" => Some(ServicePrincipalKind::ServicePrincipal),
            "agentIdentityBlueprintPrincipal" => {
                Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal)
            }
            "agentIdentity" => Some(ServicePrincipalKind::AgentIdentity),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `Application`, or `ServiceIdentity` for agent identities.
    pub service_principal_type: String,
    pub kind: ServicePrincipalKind,
    pub description: Option<String>,
    /// For agent identities: the blueprint's appId.
    pub agent_identity_blueprint_id: Option<String>,
    pub tags: Vec<String>,
    pub created_date_time: OffsetDateTime,
}

impl ServicePrincipal {
    pub fn new(id: String, app_id: String, display_name: String, now: OffsetDateTime) -> Self {
        Self {
            id,
            app_id,
            display_name,
            account_enabled: true,
            service_principal_type: "Application".into(),
            kind: ServicePrincipalKind::ServicePrincipal,
            description: None,
            agent_identity_blueprint_id: None,
            tags: Vec::new(),
            created_date_time: now,
        }
    }

    pub fn is_agent(&self) -> bool {
        self.kind == ServicePrincipalKind::AgentIdentity
    }
}

/// A client secret, stored as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSecret {
    pub key_id: String,
    /// Object id of the application or service principal (agent identity) that owns the secret.
    pub owner_id: String,
    pub secret_hash: String,
    pub hint: String,
    pub display_name: Option<String>,
    pub start_date_time: OffsetDateTime,
    pub end_date_time: OffsetDateTime,
}

/// Any object of the directory, as returned by `directoryObjects/{id}` and member listings.
#[derive(Debug, Clone, PartialEq)]
// `allow`, not `expect`: whether the lint fires depends on how the variants' sizes compare, which
// moves as entities gain properties (users and applications both grow with issue 16).
#[allow(
    clippy::large_enum_variant,
    reason = "short-lived values in listings; boxing would only add allocations"
)]
pub enum DirectoryObject {
    User(User),
    Group(Group),
    ServicePrincipal(ServicePrincipal),
    Application(Application),
}

impl DirectoryObject {
    pub fn id(&self) -> &str {
        match self {
            DirectoryObject::User(u) => &u.id,
            DirectoryObject::Group(g) => &g.id,
            DirectoryObject::ServicePrincipal(sp) => &sp.id,
            DirectoryObject::Application(app) => &app.id,
        }
    }
}

/// An app role held by a principal on a resource service principal.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRoleAssignment {
    pub id: String,
    pub app_role_id: String,
    pub principal_id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: String,
    pub principal_display_name: String,
    pub resource_id: String,
    pub resource_display_name: String,
    /// `direct` for administrators' assignments; a package's holder id for delivered ones.
    pub holder: String,
    pub ends_at: Option<OffsetDateTime>,
    pub created_date_time: OffsetDateTime,
}

/// A delegated permission grant (`oauth2PermissionGrant`).
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionGrant {
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
    pub holder: String,
    pub ends_at: Option<OffsetDateTime>,
    pub created_date_time: OffsetDateTime,
}

/// A directory role held by a principal (`unifiedRoleAssignment`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: String,
    /// `direct` for administrators' assignments; an access package assignment's id for
    /// delivered ones.
    pub holder: String,
    pub created_date_time: OffsetDateTime,
    pub ends_at: Option<OffsetDateTime>,
}

/// One object a departing sponsor sponsored, as sponsor succession changed it
/// (`DirectoryStoreTx::hand_over_sponsorships`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SponsorHandover {
    pub object_id: String,
    pub object_kind: ObjectKind,
    /// The object's `displayName` (for the notices: a blueprint's is not among the names the
    /// email dispatcher reads).
    pub display_name: Option<String>,
    /// The heir was added as a sponsor of this object (it was not one already).
    pub heir_added: bool,
    /// The heir was a sponsor already, so the object only lost the departing one.
    pub heir_was_sponsor: bool,
    /// Sponsors the object has after the change.
    pub remaining: i64,
}
