//! `…/entitlementManagement/connectedOrganizations` (with internal and external sponsors),
//! `…/entitlementManagement/settings`, and `…/catalogs/{id}/customWorkflowExtensions`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::{
    ConnectedOrganizationInput, CustomExtensionInput, ExtensionSettings,
};
use writ_domain::patch::Patch;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::super::{directory_object_json, small_collection};
use super::BASE;
use crate::wire::body::{WireBody, read, read_as};
use crate::wire::entitlement::organizations::{
    ConnectedOrganization as WireOrganization, CustomCalloutExtension,
    EntitlementManagementSettings,
};
use crate::wire::entitlement::organizations::{
    ConnectedOrganizationBody, CustomCalloutExtensionBody, SettingsBody,
};
use crate::wire::object;

const ORG: &str = "connectedOrganization";

fn organization_input(body: &JsonObject) -> ApiResult<ConnectedOrganizationInput> {
    let body = read::<ConnectedOrganizationBody>(body)?;
    let identity_sources = match body.identity_sources {
        Patch::Absent => None,
        // `null` is refused by the domain's model, with the message any invalid value gets.
        Patch::Null => Some(Value::Null),
        Patch::Value(value) => Some(value),
    }
    .map(|value| {
        serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request(format!("property 'identitySources' is not valid: {e}"))
        })
    })
    .transpose()?;
    Ok(ConnectedOrganizationInput {
        display_name: body.display_name,
        description: body.description,
        state: body.state,
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
        items.push(object(&WireOrganization::from(o)));
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
                object(&WireOrganization::from(&o)),
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
        object(&WireOrganization::from(&o)),
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
    body.extend(object(&EntitlementManagementSettings::from(&s)));
    Ok(Json(Value::Object(body)))
}

pub async fn update_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let body = read::<SettingsBody>(&body)?;
    state
        .entitlement
        .update_settings(
            &auth.caller,
            &auth.context(),
            body.duration_until_external_user_deleted_after_blocked
                .into_option(),
            body.external_user_lifecycle_action.into_option(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- custom workflow extensions -----

/// `base`: on PATCH, the stored configuration, which the body's configurations update.
fn extension_input(
    body: &JsonObject,
    base: Option<&ExtensionSettings>,
) -> ApiResult<CustomExtensionInput> {
    let kind = body.odata_type()?;
    let type_name = kind
        .as_deref()
        .unwrap_or(CustomCalloutExtensionBody::GRAPH_TYPE);
    read_as::<CustomCalloutExtensionBody>(body, type_name)?.into_input(kind, base)
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
        items.push(object(&CustomCalloutExtension::from(x)));
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
                object(&CustomCalloutExtension::from(&x)),
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
        object(&CustomCalloutExtension::from(&x)),
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

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations", Collection, "List connected organizations", list_organizations).returns("connectedOrganization")
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations", Create, "Create a connected organization", create_organization).body("connectedOrganization").returns("connectedOrganization")
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", Entity, "Get a connected organization", get_organization).returns("connectedOrganization")
        .route(Patch, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", NoContent, "Update a connected organization", update_organization).body("connectedOrganization")
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", NoContent, "Delete a connected organization", delete_organization)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors", Collection, "List internal sponsors", list_internal_sponsors).returns("directoryObject")
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors/$ref", NoContent, "Add an internal sponsor", add_internal_sponsor)
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors/{sponsor_id}/$ref", NoContent, "Remove an internal sponsor", remove_internal_sponsor)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors", Collection, "List external sponsors", list_external_sponsors).returns("directoryObject")
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors/$ref", NoContent, "Add an external sponsor", add_external_sponsor)
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors/{sponsor_id}/$ref", NoContent, "Remove an external sponsor", remove_external_sponsor)
        .route(Get, "/identityGovernance/entitlementManagement/settings", Entity, "Get entitlement-management settings", get_settings).returns("entitlementManagementSettings")
        .route(Patch, "/identityGovernance/entitlementManagement/settings", NoContent, "Update entitlement-management settings", update_settings).body("entitlementManagementSettings")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions", Collection, "List a catalog's custom workflow extensions", list_extensions).returns("customCalloutExtension")
        .route(Post, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions", Create, "Create a custom workflow extension", create_extension).body("customCalloutExtensionBody").returns("customCalloutExtension")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", Entity, "Get a custom workflow extension", get_extension).returns("customCalloutExtension")
        .route(Patch, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", NoContent, "Update a custom workflow extension", update_extension).body("customCalloutExtensionBody")
        .route(Delete, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", NoContent, "Delete a custom workflow extension (409 while a policy uses it)", delete_extension)
}
