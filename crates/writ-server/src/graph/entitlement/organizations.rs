//! `…/entitlementManagement/connectedOrganizations` (with internal and external sponsors),
//! `…/entitlementManagement/settings`, and `…/catalogs/{id}/customWorkflowExtensions`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::{
    ConnectedOrganization, ConnectedOrganizationInput, CustomExtension, CustomExtensionInput,
    EmSettings, ExtensionSettings,
};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::super::{datetime, directory_object_json, small_collection};
use super::BASE;

const ORG: &str = "connectedOrganization";

fn organization_json(o: &ConnectedOrganization) -> ApiResult<Map<String, Value>> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(o.id.clone()));
    m.insert("displayName".into(), Value::from(o.display_name.clone()));
    m.insert(
        "description".into(),
        o.description.clone().map_or(Value::Null, Value::from),
    );
    m.insert("state".into(), Value::from(o.state.clone()));
    m.insert(
        "identitySources".into(),
        serde_json::to_value(&o.identity_sources)
            .map_err(|e| ApiError::internal(&e.to_string()))?,
    );
    m.insert("createdDateTime".into(), datetime(o.created_date_time));
    m.insert("modifiedDateTime".into(), datetime(o.modified_date_time));
    Ok(m)
}

fn organization_input(body: &JsonObject) -> ApiResult<ConnectedOrganizationInput> {
    body.check_properties(
        ORG,
        &["displayName", "description", "state", "identitySources"],
    )?;
    let identity_sources = match body.fields.get("identitySources") {
        None => None,
        Some(value) => Some(serde_json::from_value(value.clone()).map_err(|e| {
            ApiError::bad_request(format!("property 'identitySources' is not valid: {e}"))
        })?),
    };
    Ok(ConnectedOrganizationInput {
        display_name: body.string("displayName")?,
        description: body.string("description")?,
        state: body.string("state")?,
        identity_sources,
    })
}

pub async fn list_organizations(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(ORG, &[])?;
    let page = state
        .entitlement
        .list_connected_organizations(&auth.caller, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for o in &page.items {
        items.push(organization_json(o)?);
    }
    let page = writ_domain::query::Page {
        items,
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.collection(
        &format!("{BASE}/connectedOrganizations"),
        ORG,
        page,
    )?))
}

pub async fn create_organization(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = organization_input(&body)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let o = state
                .entitlement
                .create_connected_organization(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{BASE}/connectedOrganizations"),
                ORG,
                organization_json(&o)?,
            )
        },
    )
    .await
}

pub async fn get_organization(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(ORG, &[])?;
    let o = state
        .entitlement
        .get_connected_organization(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        &format!("{BASE}/connectedOrganizations"),
        ORG,
        organization_json(&o)?,
    )?))
}

pub async fn update_organization(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = organization_input(&body)?;
    state
        .entitlement
        .update_connected_organization(&auth.caller, &auth.context(), &id, input)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_organization(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .delete_connected_organization(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sponsors(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    id: &str,
    internal: bool,
) -> ApiResult<Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let list = state
        .entitlement
        .connected_organization_sponsors(&auth.caller, id, internal)
        .await?;
    let page = small_collection(query, list.iter().map(directory_object_json).collect())?;
    Ok(Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}

pub async fn list_internal_sponsors(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    sponsors(&state, &auth, &query, &id, true).await
}

pub async fn list_external_sponsors(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    sponsors(&state, &auth, &query, &id, false).await
}

pub async fn add_internal_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let sponsor = body.reference()?;
    state
        .entitlement
        .change_connected_organization_sponsor(
            &auth.caller,
            &auth.context(),
            &id,
            &sponsor,
            true,
            true,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_external_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let sponsor = body.reference()?;
    state
        .entitlement
        .change_connected_organization_sponsor(
            &auth.caller,
            &auth.context(),
            &id,
            &sponsor,
            false,
            true,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_internal_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, sponsor)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .change_connected_organization_sponsor(
            &auth.caller,
            &auth.context(),
            &id,
            &sponsor,
            true,
            false,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_external_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, sponsor)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .change_connected_organization_sponsor(
            &auth.caller,
            &auth.context(),
            &id,
            &sponsor,
            false,
            false,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn settings_json(s: &EmSettings) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from("settings"));
    m.insert(
        "durationUntilExternalUserDeletedAfterBlocked".into(),
        Value::from(s.duration_until_external_user_deleted_after_blocked.clone()),
    );
    m.insert(
        "externalUserLifecycleAction".into(),
        Value::from(s.external_user_lifecycle_action.clone()),
    );
    m
}

pub async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    let s = state.entitlement.settings(&auth.caller).await?;
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::from(query.context(&format!("{BASE}/settings/$entity"))),
    );
    body.extend(settings_json(&s));
    Ok(Json(Value::Object(body)))
}

pub async fn update_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    body.check_properties(
        "entitlementManagementSettings",
        &[
            "durationUntilExternalUserDeletedAfterBlocked",
            "externalUserLifecycleAction",
        ],
    )?;
    state
        .entitlement
        .update_settings(
            &auth.caller,
            &auth.context(),
            body.string("durationUntilExternalUserDeletedAfterBlocked")?
                .into_option(),
            body.string("externalUserLifecycleAction")?.into_option(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- custom workflow extensions -----

fn extension_json(x: &CustomExtension) -> ApiResult<Map<String, Value>> {
    let settings =
        serde_json::to_value(&x.settings).map_err(|e| ApiError::internal(&e.to_string()))?;
    let mut m = match settings {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert(
        "@odata.type".into(),
        Value::from(format!("#microsoft.graph.{}", x.kind)),
    );
    m.insert("id".into(), Value::from(x.id.clone()));
    m.insert("displayName".into(), Value::from(x.display_name.clone()));
    m.insert(
        "description".into(),
        x.description.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "createdBy".into(),
        x.created_by.clone().map_or(Value::Null, Value::from),
    );
    m.insert("createdDateTime".into(), datetime(x.created_date_time));
    m.insert(
        "lastModifiedBy".into(),
        x.modified_by.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "lastModifiedDateTime".into(),
        datetime(x.modified_date_time),
    );
    Ok(m)
}

const EXTENSION_WRITABLE: &[&str] = &[
    "displayName",
    "description",
    "endpointConfiguration",
    "authenticationConfiguration",
    "clientConfiguration",
    "callbackConfiguration",
];

/// `base`: on PATCH, the stored configuration, which the body's configurations update.
fn extension_input(
    body: &JsonObject,
    base: Option<&ExtensionSettings>,
) -> ApiResult<CustomExtensionInput> {
    let kind = body.odata_type()?;
    let type_name = kind
        .clone()
        .unwrap_or_else(|| "customCalloutExtension".into());
    body.check_properties(&type_name, EXTENSION_WRITABLE)?;
    let configures = [
        "endpointConfiguration",
        "authenticationConfiguration",
        "clientConfiguration",
        "callbackConfiguration",
    ]
    .iter()
    .any(|k| body.fields.contains_key(*k));
    let settings = if configures {
        let mut object = match base.map(serde_json::to_value) {
            Some(Ok(Value::Object(stored))) => stored,
            _ => Map::new(),
        };
        for key in [
            "endpointConfiguration",
            "authenticationConfiguration",
            "clientConfiguration",
            "callbackConfiguration",
        ] {
            if let Some(mut value) = body.fields.get(key).cloned() {
                // Client and callback configurations are plain complex types: drop the type tag
                // clients add (e.g. accessPackageRequestApprovalStageCallbackConfiguration).
                if matches!(key, "clientConfiguration" | "callbackConfiguration")
                    && let Some(obj) = value.as_object_mut()
                {
                    obj.remove("@odata.type");
                }
                object.insert(key.to_owned(), value);
            }
        }
        Some(
            serde_json::from_value::<ExtensionSettings>(Value::Object(object)).map_err(|e| {
                ApiError::bad_request(format!("the extension's configuration is not valid: {e}"))
            })?,
        )
    } else {
        None
    };
    Ok(CustomExtensionInput {
        kind,
        display_name: body.string("displayName")?,
        description: body.string("description")?,
        settings,
    })
}

pub async fn list_extensions(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(catalog): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("customCalloutExtension", &[])?;
    let list = state
        .entitlement
        .list_custom_extensions(&auth.caller, &catalog)
        .await?;
    let mut items = Vec::with_capacity(list.len());
    for x in &list {
        items.push(extension_json(x)?);
    }
    let page = small_collection(&query, items)?;
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs('{catalog}')/customWorkflowExtensions"),
        "customCalloutExtension",
        page,
    )?))
}

pub async fn create_extension(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    Path(catalog): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = extension_input(&body, None)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let x = state
                .entitlement
                .create_custom_extension(&auth.caller, &auth.context(), &catalog, input)
                .await?;
            query.entity(
                &format!("{BASE}/catalogs('{catalog}')/customWorkflowExtensions"),
                "customCalloutExtension",
                extension_json(&x)?,
            )
        },
    )
    .await
}

pub async fn get_extension(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path((catalog, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("customCalloutExtension", &[])?;
    let x = state
        .entitlement
        .get_custom_extension(&auth.caller, &catalog, &id)
        .await?;
    Ok(Json(query.entity(
        &format!("{BASE}/catalogs('{catalog}')/customWorkflowExtensions"),
        "customCalloutExtension",
        extension_json(&x)?,
    )?))
}

pub async fn update_extension(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((catalog, id)): Path<(String, String)>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let existing = state
        .entitlement
        .get_custom_extension(&auth.caller, &catalog, &id)
        .await?;
    let input = extension_input(&body, Some(&existing.settings))?;
    state
        .entitlement
        .update_custom_extension(&auth.caller, &auth.context(), &catalog, &id, input)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_extension(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((catalog, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .delete_custom_extension(&auth.caller, &auth.context(), &catalog, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
