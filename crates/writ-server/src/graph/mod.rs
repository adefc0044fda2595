//! Graph-shaped handlers, one file per resource, and the wire form of each entity: domain types
//! to Graph JSON (property names, enum spellings, `@odata.type`) in one direction, JSON bodies to
//! domain inputs in the other.

pub mod applications;
pub mod audit_logs;
pub mod directory_objects;
pub mod entitlement;
pub mod grants;
pub mod groups;
pub mod role_management;
pub mod service_principals;
pub mod users;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use writ_domain::directory::{
    AppRole, Application, ApplicationKind, ClientSecret, DirectoryObject, PermissionScope,
    ServicePrincipal, ServicePrincipalKind,
};

pub(crate) fn datetime(t: OffsetDateTime) -> Value {
    // Graph writes instants in UTC with a `Z`; whole seconds keep them stable across backends.
    let t = t.replace_nanosecond(0).unwrap_or(t);
    Value::from(t.format(&Rfc3339).unwrap_or_default())
}

pub(crate) fn opt(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::from)
}

pub(crate) fn string_list(values: &[String]) -> Value {
    Value::from(values.to_vec())
}

pub(crate) fn app_role_json(role: &AppRole) -> Value {
    serde_json::json!({
        "id": role.id,
        "allowedMemberTypes": role.allowed_member_types,
        "description": role.description,
        "displayName": role.display_name,
        "isEnabled": role.is_enabled,
        "value": role.value,
        "origin": "Application",
    })
}

pub(crate) fn permission_scope_json(scope: &PermissionScope) -> Value {
    serde_json::json!({
        "id": scope.id,
        "adminConsentDescription": scope.admin_consent_description,
        "adminConsentDisplayName": scope.admin_consent_display_name,
        "isEnabled": scope.is_enabled,
        "type": scope.kind,
        "userConsentDescription": scope.user_consent_description,
        "userConsentDisplayName": scope.user_consent_display_name,
        "value": scope.value,
        "origin": "Application",
    })
}

/// The Graph type name of a service principal.
pub(crate) fn service_principal_type_name(sp: &ServicePrincipal) -> &'static str {
    match sp.kind {
        ServicePrincipalKind::ServicePrincipal => "servicePrincipal",
        ServicePrincipalKind::AgentIdentityBlueprintPrincipal => "agentIdentityBlueprintPrincipal",
        ServicePrincipalKind::AgentIdentity => "agentIdentity",
    }
}

/// A service principal; `app` (its application) adds the roles and scopes it exposes.
pub(crate) fn service_principal_json(
    sp: &ServicePrincipal,
    app: Option<&Application>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(sp.id.clone()));
    m.insert("appId".into(), Value::from(sp.app_id.clone()));
    m.insert("displayName".into(), Value::from(sp.display_name.clone()));
    m.insert("accountEnabled".into(), Value::from(sp.account_enabled));
    m.insert(
        "servicePrincipalType".into(),
        Value::from(sp.service_principal_type.clone()),
    );
    m.insert("description".into(), opt(&sp.description));
    m.insert("tags".into(), string_list(&sp.tags));
    let mut names = vec![sp.app_id.clone()];
    if let Some(app) = app {
        m.insert(
            "appDisplayName".into(),
            Value::from(app.display_name.clone()),
        );
        m.insert(
            "appRoles".into(),
            Value::Array(app.app_roles.iter().map(app_role_json).collect()),
        );
        m.insert(
            "oauth2PermissionScopes".into(),
            Value::Array(
                app.oauth2_permission_scopes
                    .iter()
                    .map(permission_scope_json)
                    .collect(),
            ),
        );
        names.extend(app.identifier_uris.iter().cloned());
    }
    m.insert("servicePrincipalNames".into(), Value::from(names));
    if sp.kind == ServicePrincipalKind::AgentIdentity {
        m.insert(
            "agentIdentityBlueprintId".into(),
            opt(&sp.agent_identity_blueprint_id),
        );
        m.insert("createdDateTime".into(), datetime(sp.created_date_time));
    }
    if sp.kind != ServicePrincipalKind::ServicePrincipal {
        m.insert(
            "@odata.type".into(),
            Value::from(format!(
                "#microsoft.graph.{}",
                service_principal_type_name(sp)
            )),
        );
    }
    m
}

pub(crate) fn password_credential_json(c: &ClientSecret, secret_text: Option<&str>) -> Value {
    serde_json::json!({
        "customKeyIdentifier": null,
        "displayName": c.display_name,
        "endDateTime": datetime(c.end_date_time),
        "hint": c.hint,
        "keyId": c.key_id,
        "secretText": secret_text,
        "startDateTime": datetime(c.start_date_time),
    })
}

pub(crate) fn application_json(
    app: &Application,
    credentials: &[ClientSecret],
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(app.id.clone()));
    m.insert("appId".into(), Value::from(app.app_id.clone()));
    m.insert("displayName".into(), Value::from(app.display_name.clone()));
    m.insert("description".into(), opt(&app.description));
    m.insert(
        "appRoles".into(),
        Value::Array(app.app_roles.iter().map(app_role_json).collect()),
    );
    m.insert(
        "api".into(),
        serde_json::json!({
            "oauth2PermissionScopes": app.oauth2_permission_scopes.iter().map(permission_scope_json).collect::<Vec<_>>(),
        }),
    );
    m.insert("identifierUris".into(), string_list(&app.identifier_uris));
    m.insert(
        "signInAudience".into(),
        Value::from(app.sign_in_audience.clone()),
    );
    m.insert("tags".into(), string_list(&app.tags));
    m.insert(
        "passwordCredentials".into(),
        Value::Array(
            credentials
                .iter()
                .map(|c| password_credential_json(c, None))
                .collect(),
        ),
    );
    m.insert("createdDateTime".into(), datetime(app.created_date_time));
    if app.kind == ApplicationKind::AgentIdentityBlueprint {
        m.insert(
            "@odata.type".into(),
            Value::from("#microsoft.graph.agentIdentityBlueprint"),
        );
    }
    m
}

/// A directory object in a polymorphic collection: its own properties plus `@odata.type`.
pub(crate) fn directory_object_json(object: &DirectoryObject) -> Map<String, Value> {
    let (type_name, mut m) = match object {
        DirectoryObject::User(u) => (users::user_type_name(u), users::user_json(u)),
        DirectoryObject::Group(g) => ("group", groups::group_json(g)),
        DirectoryObject::ServicePrincipal(sp) => (
            service_principal_type_name(sp),
            service_principal_json(sp, None),
        ),
        DirectoryObject::Application(app) => (
            if app.kind == ApplicationKind::AgentIdentityBlueprint {
                "agentIdentityBlueprint"
            } else {
                "application"
            },
            application_json(app, &[]),
        ),
    };
    m.insert(
        "@odata.type".into(),
        Value::from(format!("#microsoft.graph.{type_name}")),
    );
    m
}

/// A bounded list (sponsors, owners: at most a few hundred) paged in memory with an opaque
/// offset token. Filtering and ordering are refused, never done in memory.
pub(crate) fn small_collection(
    query: &crate::odata::ODataQuery,
    items: Vec<Map<String, Value>>,
) -> crate::error::ApiResult<writ_domain::query::Page<Map<String, Value>>> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if query.filter.is_some() || query.orderby.is_some() {
        return Err(crate::error::ApiError::bad_request(
            "$filter and $orderby are not supported on this collection",
        ));
    }
    let offset = match &query.skiptoken {
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| {
                crate::error::ApiError::bad_request("$skiptoken is not valid for this query")
            })?,
        None => 0,
    };
    let total = items.len();
    let top = query.top as usize;
    let page: Vec<_> = items.into_iter().skip(offset).take(top).collect();
    // The offset comes from the client: a forged one near usize::MAX must not overflow.
    let end = offset.saturating_add(top);
    let next = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    Ok(writ_domain::query::Page {
        items: page,
        next_skiptoken: next,
        count: query
            .count
            .then(|| i64::try_from(total).unwrap_or(i64::MAX)),
    })
}

/// `GET …/sponsors` of any sponsor-holding object.
pub(crate) async fn sponsors_response(
    state: &crate::state::AppState,
    auth: &crate::auth::Authenticated,
    query: &crate::odata::ODataQuery,
    object_id: &str,
) -> crate::error::ApiResult<axum::Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let sponsors = state
        .directory
        .list_sponsors(&auth.caller, object_id)
        .await?;
    let items = sponsors.iter().map(directory_object_json).collect();
    let page = small_collection(query, items)?;
    Ok(axum::Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}

/// `GET …/owners` of an application or service principal.
pub(crate) async fn owners_response(
    state: &crate::state::AppState,
    auth: &crate::auth::Authenticated,
    query: &crate::odata::ODataQuery,
    object_id: &str,
) -> crate::error::ApiResult<axum::Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let owners = state
        .directory
        .list_object_owners(&auth.caller, object_id)
        .await?;
    let items = owners.iter().map(directory_object_json).collect();
    let page = small_collection(query, items)?;
    Ok(axum::Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}
