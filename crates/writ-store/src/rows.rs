//! Rows to domain entities and back: the column lists and the decoding of each directory table,
//! and the conventions every table's decoding follows. A row is read into a
//! `#[derive(FromRow)]` struct named after its columns, holding what the database holds
//! (microseconds as `i64`, JSON as text, booleans as [`DbBool`]), and converted into the domain's
//! type by one `TryFrom`, where parsing (kinds, states, JSON) can fail as data corruption.
//! Single-column reads (a count, an id) stay `try_get`; so do the keyset reads of `list`, whose
//! columns are chosen at run time.

use sqlx::any::{Any, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Decode, FromRow, Type};
use writ_domain::clock::from_micros;
use writ_domain::directory::{
    AppRoleAssignment, ApplicationKind, PermissionGrant, RoleAssignment, ServicePrincipalKind,
    UserKind,
};
use writ_domain::directory::{Application, ClientSecret, Group, ServicePrincipal, User};
use writ_domain::store::{StoreError, StoreResult};

use crate::error::ResultExt;

/// A boolean column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite. Decodes from either, so one
/// row struct serves both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbBool(pub(crate) bool);

impl Type<Any> for DbBool {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for DbBool {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<'r, Any>>::decode(value.clone()) {
            Ok(b) => Ok(Self(b)),
            Err(_) => Ok(Self(<i64 as Decode<'r, Any>>::decode(value)? != 0)),
        }
    }
}

impl From<DbBool> for bool {
    fn from(value: DbBool) -> Self {
        value.0
    }
}

/// Decodes a row into its row struct (`R`, derived `FromRow`) and converts that into the
/// domain's entity (`T`, one `TryFrom` per row struct).
pub(crate) fn decode<R, T>(row: &AnyRow) -> StoreResult<T>
where
    R: for<'r> FromRow<'r, AnyRow>,
    T: TryFrom<R, Error = StoreError>,
{
    T::try_from(R::from_row(row).store()?)
}

/// A JSON text column decoded into a value; `column` names it in the error.
pub(crate) fn json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(format!("{column}: {e}")))
}

/// A timestamp column held as microseconds since the epoch, when not NULL.
pub(crate) fn micros_opt(value: Option<i64>) -> Option<time::OffsetDateTime> {
    value.map(from_micros)
}

pub(crate) const USER_COLUMNS: &str = "t.id, t.kind, t.identity_parent_id, t.display_name, t.user_principal_name, t.mail_nickname, \
     t.account_enabled, t.given_name, t.surname, t.mail, t.job_title, t.department, \
     t.office_location, t.mobile_phone, t.business_phones, t.employee_id, t.company_name, \
     t.usage_location, t.preferred_language, t.user_type, t.created_at, t.manager_id, \
     t.password_hash, t.force_change_password";

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: String,
    kind: String,
    identity_parent_id: Option<String>,
    display_name: String,
    user_principal_name: String,
    mail_nickname: String,
    account_enabled: DbBool,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    office_location: Option<String>,
    mobile_phone: Option<String>,
    business_phones: String,
    employee_id: Option<String>,
    company_name: Option<String>,
    usage_location: Option<String>,
    preferred_language: Option<String>,
    user_type: String,
    created_at: i64,
    manager_id: Option<String>,
    password_hash: Option<String>,
    force_change_password: DbBool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> StoreResult<Self> {
        Ok(User {
            kind: UserKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Other(format!("users.kind '{}'", r.kind)))?,
            business_phones: json("users.business_phones", &r.business_phones)?,
            id: r.id,
            identity_parent_id: r.identity_parent_id,
            display_name: r.display_name,
            user_principal_name: r.user_principal_name,
            mail_nickname: r.mail_nickname,
            account_enabled: r.account_enabled.into(),
            given_name: r.given_name,
            surname: r.surname,
            mail: r.mail,
            job_title: r.job_title,
            department: r.department,
            office_location: r.office_location,
            mobile_phone: r.mobile_phone,
            employee_id: r.employee_id,
            company_name: r.company_name,
            usage_location: r.usage_location,
            preferred_language: r.preferred_language,
            user_type: r.user_type,
            created_date_time: from_micros(r.created_at),
            manager_id: r.manager_id,
            password_hash: r.password_hash,
            force_change_password_next_sign_in: r.force_change_password.into(),
            identities: Vec::new(),
        })
    }
}

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    decode::<UserRow, _>(row)
}

pub(crate) const GROUP_COLUMNS: &str = "t.id, t.display_name, t.description, t.mail_nickname, \
     t.mail_enabled, t.security_enabled, t.is_unified, t.mail, t.visibility, \
     t.is_assignable_to_role, t.created_at";

#[derive(FromRow)]
pub(crate) struct GroupRow {
    id: String,
    display_name: String,
    description: Option<String>,
    mail_nickname: String,
    mail_enabled: DbBool,
    security_enabled: DbBool,
    is_unified: DbBool,
    mail: Option<String>,
    visibility: Option<String>,
    is_assignable_to_role: DbBool,
    created_at: i64,
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;

    fn try_from(r: GroupRow) -> StoreResult<Self> {
        Ok(Group {
            id: r.id,
            display_name: r.display_name,
            description: r.description,
            mail_nickname: r.mail_nickname,
            mail_enabled: r.mail_enabled.into(),
            security_enabled: r.security_enabled.into(),
            group_types: if r.is_unified.into() {
                vec!["Unified".to_owned()]
            } else {
                Vec::new()
            },
            mail: r.mail,
            visibility: r.visibility,
            is_assignable_to_role: r.is_assignable_to_role.into(),
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn group(row: &AnyRow) -> Result<Group, StoreError> {
    decode::<GroupRow, _>(row)
}

pub(crate) const APPLICATION_COLUMNS: &str = "t.id, t.app_id, t.display_name, t.kind, \
     t.description, t.app_roles, t.oauth2_permission_scopes, t.identifier_uris, \
     t.sign_in_audience, t.tags, t.client_settings, t.is_fallback_public_client, t.created_at";

#[derive(FromRow)]
pub(crate) struct ApplicationRow {
    id: String,
    app_id: String,
    display_name: String,
    kind: String,
    description: Option<String>,
    app_roles: String,
    oauth2_permission_scopes: String,
    identifier_uris: String,
    sign_in_audience: String,
    tags: String,
    client_settings: String,
    is_fallback_public_client: DbBool,
    created_at: i64,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;

    fn try_from(r: ApplicationRow) -> StoreResult<Self> {
        Ok(Application {
            kind: ApplicationKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Other(format!("applications.kind '{}'", r.kind)))?,
            app_roles: json("app_roles", &r.app_roles)?,
            oauth2_permission_scopes: json(
                "oauth2_permission_scopes",
                &r.oauth2_permission_scopes,
            )?,
            identifier_uris: json("identifier_uris", &r.identifier_uris)?,
            tags: json("tags", &r.tags)?,
            clients: json("client_settings", &r.client_settings)?,
            is_fallback_public_client: r.is_fallback_public_client.into(),
            id: r.id,
            app_id: r.app_id,
            display_name: r.display_name,
            description: r.description,
            sign_in_audience: r.sign_in_audience,
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn application(row: &AnyRow) -> Result<Application, StoreError> {
    decode::<ApplicationRow, _>(row)
}

pub(crate) const SERVICE_PRINCIPAL_COLUMNS: &str = "t.id, t.app_id, t.display_name, \
     t.account_enabled, t.service_principal_type, t.kind, t.description, \
     t.agent_identity_blueprint_id, t.tags, t.created_at";

#[derive(FromRow)]
pub(crate) struct ServicePrincipalRow {
    id: String,
    app_id: String,
    display_name: String,
    account_enabled: DbBool,
    service_principal_type: String,
    kind: String,
    description: Option<String>,
    agent_identity_blueprint_id: Option<String>,
    tags: String,
    created_at: i64,
}

impl TryFrom<ServicePrincipalRow> for ServicePrincipal {
    type Error = StoreError;

    fn try_from(r: ServicePrincipalRow) -> StoreResult<Self> {
        Ok(ServicePrincipal {
            kind: ServicePrincipalKind::parse(&r.kind).ok_or_else(|| {
                StoreError::Other(format!("service_principals.kind '{}'", r.kind))
            })?,
            tags: json("tags", &r.tags)?,
            id: r.id,
            app_id: r.app_id,
            display_name: r.display_name,
            account_enabled: r.account_enabled.into(),
            service_principal_type: r.service_principal_type,
            description: r.description,
            agent_identity_blueprint_id: r.agent_identity_blueprint_id,
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn service_principal(row: &AnyRow) -> Result<ServicePrincipal, StoreError> {
    decode::<ServicePrincipalRow, _>(row)
}

/// App role assignments with the display names Graph returns alongside.
pub(crate) const APP_ROLE_ASSIGNMENT_SELECT: &str = "SELECT a.id, a.app_role_id, \
     a.principal_id, a.resource_id, a.holder, a.ends_at, a.created_at, d.object_type, \
     COALESCE(u.display_name, g.display_name, p.display_name, '') AS principal_display_name, \
     r.display_name AS resource_display_name \
     FROM app_role_assignments a \
     JOIN directory_objects d ON d.id = a.principal_id \
     LEFT JOIN users u ON u.id = a.principal_id \
     LEFT JOIN groups g ON g.id = a.principal_id \
     LEFT JOIN service_principals p ON p.id = a.principal_id \
     JOIN service_principals r ON r.id = a.resource_id";

#[derive(FromRow)]
pub(crate) struct AppRoleAssignmentRow {
    id: String,
    app_role_id: String,
    principal_id: String,
    resource_id: String,
    holder: String,
    ends_at: Option<i64>,
    created_at: i64,
    object_type: String,
    principal_display_name: String,
    resource_display_name: String,
}

impl TryFrom<AppRoleAssignmentRow> for AppRoleAssignment {
    type Error = StoreError;

    fn try_from(r: AppRoleAssignmentRow) -> StoreResult<Self> {
        Ok(AppRoleAssignment {
            principal_type: match r.object_type.as_str() {
                "user" => "User",
                "group" => "Group",
                _ => "ServicePrincipal",
            }
            .to_owned(),
            id: r.id,
            app_role_id: r.app_role_id,
            principal_id: r.principal_id,
            principal_display_name: r.principal_display_name,
            resource_id: r.resource_id,
            resource_display_name: r.resource_display_name,
            holder: r.holder,
            ends_at: micros_opt(r.ends_at),
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn app_role_assignment(row: &AnyRow) -> Result<AppRoleAssignment, StoreError> {
    decode::<AppRoleAssignmentRow, _>(row)
}

pub(crate) const PERMISSION_GRANT_COLUMNS: &str = "t.id, t.client_id, t.consent_type, \
     t.principal_id, t.resource_id, t.scope, t.holder, t.ends_at, t.created_at";

#[derive(FromRow)]
pub(crate) struct PermissionGrantRow {
    id: String,
    client_id: String,
    consent_type: String,
    principal_id: Option<String>,
    resource_id: String,
    scope: String,
    holder: String,
    ends_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<PermissionGrantRow> for PermissionGrant {
    type Error = StoreError;

    fn try_from(r: PermissionGrantRow) -> StoreResult<Self> {
        Ok(PermissionGrant {
            id: r.id,
            client_id: r.client_id,
            consent_type: r.consent_type,
            principal_id: r.principal_id,
            resource_id: r.resource_id,
            scope: r.scope,
            holder: r.holder,
            ends_at: micros_opt(r.ends_at),
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn permission_grant(row: &AnyRow) -> Result<PermissionGrant, StoreError> {
    decode::<PermissionGrantRow, _>(row)
}

pub(crate) const ROLE_ASSIGNMENT_COLUMNS: &str = "t.id, t.role_definition_id, t.principal_id, t.directory_scope_id, t.holder, t.created_at, \
     t.ends_at";

#[derive(FromRow)]
pub(crate) struct RoleAssignmentRow {
    id: String,
    role_definition_id: String,
    principal_id: String,
    directory_scope_id: String,
    holder: String,
    created_at: i64,
    ends_at: Option<i64>,
}

impl TryFrom<RoleAssignmentRow> for RoleAssignment {
    type Error = StoreError;

    fn try_from(r: RoleAssignmentRow) -> StoreResult<Self> {
        Ok(RoleAssignment {
            id: r.id,
            role_definition_id: r.role_definition_id,
            principal_id: r.principal_id,
            directory_scope_id: r.directory_scope_id,
            holder: r.holder,
            created_date_time: from_micros(r.created_at),
            ends_at: micros_opt(r.ends_at),
        })
    }
}

pub(crate) fn role_assignment(row: &AnyRow) -> Result<RoleAssignment, StoreError> {
    decode::<RoleAssignmentRow, _>(row)
}

#[derive(FromRow)]
pub(crate) struct ClientSecretRow {
    key_id: String,
    owner_id: String,
    secret_hash: String,
    hint: String,
    display_name: Option<String>,
    start_at: i64,
    end_at: i64,
}

impl TryFrom<ClientSecretRow> for ClientSecret {
    type Error = StoreError;

    fn try_from(r: ClientSecretRow) -> StoreResult<Self> {
        Ok(ClientSecret {
            key_id: r.key_id,
            owner_id: r.owner_id,
            secret_hash: r.secret_hash,
            hint: r.hint,
            display_name: r.display_name,
            start_date_time: from_micros(r.start_at),
            end_date_time: from_micros(r.end_at),
        })
    }
}

pub(crate) fn client_secret(row: &AnyRow) -> Result<ClientSecret, StoreError> {
    decode::<ClientSecretRow, _>(row)
}
