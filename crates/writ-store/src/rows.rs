//! Rows to domain entities and back: the column lists and the decoding of each table.

use sqlx::Row;
use sqlx::any::AnyRow;
use writ_domain::clock::from_micros;
use writ_domain::directory::{
    AppRoleAssignment, ApplicationKind, PermissionGrant, RoleAssignment, ServicePrincipalKind,
    UserKind,
};
use writ_domain::directory::{Application, ClientSecret, Group, ServicePrincipal, User};
use writ_domain::store::StoreError;

use crate::error::ResultExt;

/// Booleans are BOOLEAN on PostgreSQL and INTEGER 0/1 on SQLite; read either.
pub(crate) fn get_bool(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    if let Ok(b) = row.try_get::<bool, _>(column) {
        return Ok(b);
    }
    let n: i64 = row.try_get(column).store()?;
    Ok(n != 0)
}

/// A JSON text column decoded into a value.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column).store()?;
    serde_json::from_str(&text).map_err(|e| StoreError::Other(format!("{column}: {e}")))
}

fn get_micros_opt(row: &AnyRow, column: &str) -> Result<Option<time::OffsetDateTime>, StoreError> {
    let value: Option<i64> = row.try_get(column).store()?;
    Ok(value.map(from_micros))
}

pub(crate) const USER_COLUMNS: &str = "t.id, t.kind, t.identity_parent_id, t.display_name, t.user_principal_name, t.mail_nickname, \
     t.account_enabled, t.given_name, t.surname, t.mail, t.job_title, t.department, \
     t.office_location, t.mobile_phone, t.business_phones, t.employee_id, t.company_name, \
     t.usage_location, t.preferred_language, t.user_type, t.created_at, t.manager_id, \
     t.password_hash, t.force_change_password";

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    let phones: String = row.try_get("business_phones").store()?;
    let kind: String = row.try_get("kind").store()?;
    Ok(User {
        id: row.try_get("id").store()?,
        kind: UserKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(format!("users.kind '{kind}'")))?,
        identity_parent_id: row.try_get("identity_parent_id").store()?,
        display_name: row.try_get("display_name").store()?,
        user_principal_name: row.try_get("user_principal_name").store()?,
        mail_nickname: row.try_get("mail_nickname").store()?,
        account_enabled: get_bool(row, "account_enabled")?,
        given_name: row.try_get("given_name").store()?,
        surname: row.try_get("surname").store()?,
        mail: row.try_get("mail").store()?,
        job_title: row.try_get("job_title").store()?,
        department: row.try_get("department").store()?,
        office_location: row.try_get("office_location").store()?,
        mobile_phone: row.try_get("mobile_phone").store()?,
        business_phones: serde_json::from_str(&phones)
            .map_err(|e| StoreError::Other(format!("users.business_phones: {e}")))?,
        employee_id: row.try_get("employee_id").store()?,
        company_name: row.try_get("company_name").store()?,
        usage_location: row.try_get("usage_location").store()?,
        preferred_language: row.try_get("preferred_language").store()?,
        user_type: row.try_get("user_type").store()?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
        manager_id: row.try_get("manager_id").store()?,
        password_hash: row.try_get("password_hash").store()?,
        force_change_password_next_sign_in: get_bool(row, "force_change_password")?,
    })
}

pub(crate) const GROUP_COLUMNS: &str = "t.id, t.display_name, t.description, t.mail_nickname, \
     t.mail_enabled, t.security_enabled, t.is_unified, t.mail, t.visibility, \
     t.is_assignable_to_role, t.created_at";

pub(crate) fn group(row: &AnyRow) -> Result<Group, StoreError> {
    let unified = get_bool(row, "is_unified")?;
    Ok(Group {
        id: row.try_get("id").store()?,
        display_name: row.try_get("display_name").store()?,
        description: row.try_get("description").store()?,
        mail_nickname: row.try_get("mail_nickname").store()?,
        mail_enabled: get_bool(row, "mail_enabled")?,
        security_enabled: get_bool(row, "security_enabled")?,
        group_types: if unified {
            vec!["Unified".to_owned()]
        } else {
            Vec::new()
        },
        mail: row.try_get("mail").store()?,
        visibility: row.try_get("visibility").store()?,
        is_assignable_to_role: get_bool(row, "is_assignable_to_role")?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) const APPLICATION_COLUMNS: &str = "t.id, t.app_id, t.display_name, t.kind, \
     t.description, t.app_roles, t.oauth2_permission_scopes, t.identifier_uris, \
     t.sign_in_audience, t.tags, t.created_at";

pub(crate) fn application(row: &AnyRow) -> Result<Application, StoreError> {
    let kind: String = row.try_get("kind").store()?;
    Ok(Application {
        id: row.try_get("id").store()?,
        app_id: row.try_get("app_id").store()?,
        display_name: row.try_get("display_name").store()?,
        kind: ApplicationKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(format!("applications.kind '{kind}'")))?,
        description: row.try_get("description").store()?,
        app_roles: get_json(row, "app_roles")?,
        oauth2_permission_scopes: get_json(row, "oauth2_permission_scopes")?,
        identifier_uris: get_json(row, "identifier_uris")?,
        sign_in_audience: row.try_get("sign_in_audience").store()?,
        tags: get_json(row, "tags")?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) const SERVICE_PRINCIPAL_COLUMNS: &str = "t.id, t.app_id, t.display_name, \
     t.account_enabled, t.service_principal_type, t.kind, t.description, \
     t.agent_identity_blueprint_id, t.tags, t.created_at";

pub(crate) fn service_principal(row: &AnyRow) -> Result<ServicePrincipal, StoreError> {
    let kind: String = row.try_get("kind").store()?;
    Ok(ServicePrincipal {
        id: row.try_get("id").store()?,
        app_id: row.try_get("app_id").store()?,
        display_name: row.try_get("display_name").store()?,
        account_enabled: get_bool(row, "account_enabled")?,
        service_principal_type: row.try_get("service_principal_type").store()?,
        kind: ServicePrincipalKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(format!("service_principals.kind '{kind}'")))?,
        description: row.try_get("description").store()?,
        agent_identity_blueprint_id: row.try_get("agent_identity_blueprint_id").store()?,
        tags: get_json(row, "tags")?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
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

pub(crate) fn app_role_assignment(row: &AnyRow) -> Result<AppRoleAssignment, StoreError> {
    let object_type: String = row.try_get("object_type").store()?;
    Ok(AppRoleAssignment {
        id: row.try_get("id").store()?,
        app_role_id: row.try_get("app_role_id").store()?,
        principal_id: row.try_get("principal_id").store()?,
        principal_type: match object_type.as_str() {
            "user" => "User",
            "group" => "Group",
            _ => "ServicePrincipal",
        }
        .to_owned(),
        principal_display_name: row.try_get("principal_display_name").store()?,
        resource_id: row.try_get("resource_id").store()?,
        resource_display_name: row.try_get("resource_display_name").store()?,
        holder: row.try_get("holder").store()?,
        ends_at: get_micros_opt(row, "ends_at")?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) const PERMISSION_GRANT_COLUMNS: &str = "t.id, t.client_id, t.consent_type, \
     t.principal_id, t.resource_id, t.scope, t.holder, t.ends_at, t.created_at";

pub(crate) fn permission_grant(row: &AnyRow) -> Result<PermissionGrant, StoreError> {
    Ok(PermissionGrant {
        id: row.try_get("id").store()?,
        client_id: row.try_get("client_id").store()?,
        consent_type: row.try_get("consent_type").store()?,
        principal_id: row.try_get("principal_id").store()?,
        resource_id: row.try_get("resource_id").store()?,
        scope: row.try_get("scope").store()?,
        holder: row.try_get("holder").store()?,
        ends_at: get_micros_opt(row, "ends_at")?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) const ROLE_ASSIGNMENT_COLUMNS: &str = "t.id, t.role_definition_id, t.principal_id, t.directory_scope_id, t.holder, t.created_at, \
     t.ends_at";

pub(crate) fn role_assignment(row: &AnyRow) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        id: row.try_get("id").store()?,
        role_definition_id: row.try_get("role_definition_id").store()?,
        principal_id: row.try_get("principal_id").store()?,
        directory_scope_id: row.try_get("directory_scope_id").store()?,
        holder: row.try_get("holder").store()?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
        ends_at: get_micros_opt(row, "ends_at")?,
    })
}

pub(crate) fn client_secret(row: &AnyRow) -> Result<ClientSecret, StoreError> {
    Ok(ClientSecret {
        key_id: row.try_get("key_id").store()?,
        owner_id: row.try_get("owner_id").store()?,
        secret_hash: row.try_get("secret_hash").store()?,
        hint: row.try_get("hint").store()?,
        display_name: row.try_get("display_name").store()?,
        start_date_time: from_micros(row.try_get("start_at").store()?),
        end_date_time: from_micros(row.try_get("end_at").store()?),
    })
}
