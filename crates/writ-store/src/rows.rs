//! Rows to domain entities and back: the column lists and the decoding of each table.

use sqlx::Row;
use sqlx::any::AnyRow;
use writ_domain::clock::from_micros;
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

pub(crate) const USER_COLUMNS: &str = "t.id, t.display_name, t.user_principal_name, t.mail_nickname, \
     t.account_enabled, t.given_name, t.surname, t.mail, t.job_title, t.department, \
     t.office_location, t.mobile_phone, t.business_phones, t.employee_id, t.company_name, \
     t.usage_location, t.preferred_language, t.user_type, t.created_at, t.manager_id, \
     t.password_hash, t.force_change_password";

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    let phones: String = row.try_get("business_phones").store()?;
    Ok(User {
        id: row.try_get("id").store()?,
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

pub(crate) const APPLICATION_COLUMNS: &str = "t.id, t.app_id, t.display_name, t.created_at";

pub(crate) fn application(row: &AnyRow) -> Result<Application, StoreError> {
    Ok(Application {
        id: row.try_get("id").store()?,
        app_id: row.try_get("app_id").store()?,
        display_name: row.try_get("display_name").store()?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) const SERVICE_PRINCIPAL_COLUMNS: &str =
    "t.id, t.app_id, t.display_name, t.account_enabled, t.service_principal_type, t.created_at";

pub(crate) fn service_principal(row: &AnyRow) -> Result<ServicePrincipal, StoreError> {
    Ok(ServicePrincipal {
        id: row.try_get("id").store()?,
        app_id: row.try_get("app_id").store()?,
        display_name: row.try_get("display_name").store()?,
        account_enabled: get_bool(row, "account_enabled")?,
        service_principal_type: row.try_get("service_principal_type").store()?,
        created_date_time: from_micros(row.try_get("created_at").store()?),
    })
}

pub(crate) fn client_secret(row: &AnyRow) -> Result<ClientSecret, StoreError> {
    Ok(ClientSecret {
        key_id: row.try_get("key_id").store()?,
        application_id: row.try_get("application_id").store()?,
        secret_hash: row.try_get("secret_hash").store()?,
        hint: row.try_get("hint").store()?,
        display_name: row.try_get("display_name").store()?,
        start_date_time: from_micros(row.try_get("start_at").store()?),
        end_date_time: from_micros(row.try_get("end_at").store()?),
    })
}
