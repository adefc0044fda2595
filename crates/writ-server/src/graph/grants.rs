//! Direct grants: app role assignments (`appRoleAssignedTo` on a resource,
//! `appRoleAssignments` on a principal) and delegated permission grants
//! (`/oauth2PermissionGrants`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use writ_domain::directory::{AppRoleAssignment, AppRoleAssignmentInput};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::grants::{AppRoleAssignmentBody, OAuth2PermissionGrantBody};
use crate::wire::directory::input;
use crate::wire::directory::{AppRoleAssignment as WireAssignment, OAuth2PermissionGrant};
use crate::wire::object;

use super::small_collection;

/// Both POST shapes carry the same body; `fixed` is the id the URL pins (`resourceId` for
/// `appRoleAssignedTo`, `principalId` for `appRoleAssignments`), which must agree with the body.
fn assignment_input(body: &JsonObject, fixed: (&str, &str)) -> ApiResult<AppRoleAssignmentInput> {
    body.check_properties(
        "appRoleAssignment",
        &["principalId", "resourceId", "appRoleId"],
    )?;
    let (field, value) = fixed;
    let wire: AppRoleAssignmentBody = input::read(body)?;
    let mut input = AppRoleAssignmentInput {
        principal_id: wire.principal_id.into_option().unwrap_or_default(),
        resource_id: wire.resource_id.into_option().unwrap_or_default(),
        app_role_id: wire.app_role_id.required("appRoleId")?,
    };
    let slot = if field == "resourceId" {
        &mut input.resource_id
    } else {
        &mut input.principal_id
    };
    if slot.is_empty() {
        *slot = value.to_owned();
    } else if !slot.eq_ignore_ascii_case(value) {
        return Err(ApiError::bad_request(format!(
            "{field} in the body must match the URL"
        )));
    }
    if input.principal_id.is_empty() {
        return Err(ApiError::bad_request("property 'principalId' is required"));
    }
    if input.resource_id.is_empty() {
        return Err(ApiError::bad_request("property 'resourceId' is required"));
    }
    Ok(input)
}

async fn create_assignment(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
    fixed: (&str, &str),
) -> ApiResult<Response> {
    let input = assignment_input(&body, fixed)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let a = state
                .directory
                .assign_app_role(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                "appRoleAssignments",
                "appRoleAssignment",
                object(&WireAssignment::from(&a)),
            )
        },
    )
    .await
}

fn list_response(query: &ODataQuery, list: Vec<AppRoleAssignment>) -> ApiResult<Json<Value>> {
    query.check_expand("appRoleAssignment", &[])?;
    let items = list
        .iter()
        .map(|a| object(&WireAssignment::from(a)))
        .collect();
    let page = small_collection(query, items)?;
    Ok(Json(query.collection(
        "appRoleAssignments",
        "appRoleAssignment",
        page,
    )?))
}

/// `POST /servicePrincipals/{id}/appRoleAssignedTo`.
pub async fn assign_to_resource(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    create_assignment(state, auth, query, headers, body, ("resourceId", &id)).await
}

/// `POST /{servicePrincipals|users|groups}/{id}/appRoleAssignments`.
pub async fn assign_to_principal(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    create_assignment(state, auth, query, headers, body, ("principalId", &id)).await
}

pub async fn list_assigned_to(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let list = state
        .directory
        .app_role_assignments_to(&auth.caller, &id)
        .await?;
    list_response(&query, list)
}

pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let list = state
        .directory
        .app_role_assignments_of(&auth.caller, &id)
        .await?;
    list_response(&query, list)
}

pub async fn remove_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, assignment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .remove_app_role_assignment(&auth.caller, &auth.context(), &id, &assignment)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- oauth2PermissionGrants -----

pub async fn list_permission_grants(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("oAuth2PermissionGrant", &[])?;
    let page = state
        .directory
        .list_permission_grants(&auth.caller, &query.list_query())
        .await?;
    let page = page.map(|g| object(&OAuth2PermissionGrant::from(&g)));
    Ok(Json(query.collection(
        "oauth2PermissionGrants",
        "oAuth2PermissionGrant",
        page,
    )?))
}

pub async fn create_permission_grant(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    body.check_properties(
        "oAuth2PermissionGrant",
        &[
            "clientId",
            "consentType",
            "principalId",
            "resourceId",
            "scope",
        ],
    )?;
    let input = input::read::<OAuth2PermissionGrantBody>(&body)?.into_input()?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let g = state
                .directory
                .create_permission_grant(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                "oauth2PermissionGrants",
                "oAuth2PermissionGrant",
                object(&OAuth2PermissionGrant::from(&g)),
            )
        },
    )
    .await
}

pub async fn get_permission_grant(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    let g = state
        .directory
        .get_permission_grant(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        "oauth2PermissionGrants",
        "oAuth2PermissionGrant",
        object(&OAuth2PermissionGrant::from(&g)),
    )?))
}

pub async fn update_permission_grant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    body.check_properties("oAuth2PermissionGrant", &["scope"])?;
    let scope = input::read::<OAuth2PermissionGrantBody>(&body)?
        .scope
        .required("scope")?;
    state
        .directory
        .update_permission_grant(&auth.caller, &auth.context(), &id, scope)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_permission_grant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .delete_permission_grant(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/oauth2PermissionGrants",
        Collection,
        "List delegated permission grants",
        list_permission_grants,
    )
    .returns("oAuth2PermissionGrant")
    .route(
        Post,
        "/oauth2PermissionGrants",
        Create,
        "Grant delegated permissions",
        create_permission_grant,
    )
    .body("oAuth2PermissionGrantBody")
    .returns("oAuth2PermissionGrant")
    .route(
        Get,
        "/oauth2PermissionGrants/{id}",
        Entity,
        "Get a delegated permission grant",
        get_permission_grant,
    )
    .returns("oAuth2PermissionGrant")
    .route(
        Patch,
        "/oauth2PermissionGrants/{id}",
        NoContent,
        "Change a grant's scope",
        update_permission_grant,
    )
    .body("oAuth2PermissionGrantBody")
    .route(
        Delete,
        "/oauth2PermissionGrants/{id}",
        NoContent,
        "Revoke a delegated permission grant",
        delete_permission_grant,
    )
}
