//! Directory entities as the domain holds them (not the wire shape, not the row shape).

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

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
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

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub created_date_time: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `Application` (later issues add the Agent ID types).
    pub service_principal_type: String,
    pub created_date_time: OffsetDateTime,
}

/// A client secret, stored as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSecret {
    pub key_id: String,
    /// Object id of the application that owns the secret.
    pub application_id: String,
    pub secret_hash: String,
    pub hint: String,
    pub display_name: Option<String>,
    pub start_date_time: OffsetDateTime,
    pub end_date_time: OffsetDateTime,
}

/// Any object of the directory, as returned by `directoryObjects/{id}` and member listings.
#[derive(Debug, Clone, PartialEq)]
#[expect(
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
