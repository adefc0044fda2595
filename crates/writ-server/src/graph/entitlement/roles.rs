//! `/roleManagement/entitlementManagement`: the catalog role definitions and assignments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use writ_domain::authz::em_roles;
use writ_domain::entitlement::EmRoleAssignmentInput;
use writ_domain::patch::Patch;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::body::read;
use crate::wire::entitlement::roles::{
    UnifiedRoleAssignment, UnifiedRoleAssignmentBody, UnifiedRoleDefinition,
};
use crate::wire::object;

const SET: &str = "roleManagement/entitlementManagement";

pub async fn list_definitions(_auth: Authenticated, query: ODataQuery) -> ApiResult<Json<Value>> {
    query.check_expand("unifiedRoleDefinition", &[])?;
    let items = em_roles::BUILT_IN
        .iter()
        .map(|d| object(&UnifiedRoleDefinition::built_in(*d)))
        .collect();
    let page = crate::graph::small_collection(&query, items)?;
    Ok(Json(query.collection(
        &format!("{SET}/roleDefinitions"),
        "unifiedRoleDefinition",
        page,
    )?))
}

pub async fn get_definition(
    _auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("unifiedRoleDefinition", &[])?;
    let d = em_roles::definition(&id)
        .ok_or_else(|| ApiError::not_found(format!("role definition '{id}' was not found")))?;
    Ok(Json(query.entity(
        &format!("{SET}/roleDefinitions"),
        "unifiedRoleDefinition",
        object(&UnifiedRoleDefinition::built_in(d)),
    )?))
}

pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("unifiedRoleAssignment", &[])?;
    let page = state
        .entitlement
        .list_em_role_assignments(&auth.caller, &query.list_query())
        .await?;
    let page = page.map(|a| object(&UnifiedRoleAssignment::from(&a)));
    Ok(Json(query.collection(
        &format!("{SET}/roleAssignments"),
        "unifiedRoleAssignment",
        page,
    )?))
}

pub async fn get_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("unifiedRoleAssignment", &[])?;
    let a = state
        .entitlement
        .get_em_role_assignment(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        &format!("{SET}/roleAssignments"),
        "unifiedRoleAssignment",
        object(&UnifiedRoleAssignment::from(&a)),
    )?))
}

pub async fn create_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let wire = read::<UnifiedRoleAssignmentBody>(&body)?;
    let required = |value: Patch<String>, name: &str| -> ApiResult<String> {
        match value {
            Patch::Value(v) => Ok(v),
            _ => Err(ApiError::bad_request(format!(
                "property '{name}' is required"
            ))),
        }
    };
    if let Patch::Value(d) = &wire.directory_scope_id
        && d != "/"
    {
        return Err(ApiError::bad_request(
            "directoryScopeId must be '/' for entitlement-management roles",
        ));
    }
    let input = EmRoleAssignmentInput {
        principal_id: required(wire.principal_id, "principalId")?,
        role_definition_id: required(wire.role_definition_id, "roleDefinitionId")?,
        app_scope_id: required(wire.app_scope_id, "appScopeId")?,
    };
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let a = state
                .entitlement
                .create_em_role_assignment(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{SET}/roleAssignments"),
                "unifiedRoleAssignment",
                object(&UnifiedRoleAssignment::from(&a)),
            )
        },
    )
    .await
}

pub async fn delete_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .delete_em_role_assignment(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/roleManagement/entitlementManagement/roleDefinitions",
        Collection,
        "List catalog role definitions",
        list_definitions,
    )
    .returns("entitlementManagement.unifiedRoleDefinition")
    .route(
        Get,
        "/roleManagement/entitlementManagement/roleDefinitions/{id}",
        Entity,
        "Get a catalog role definition",
        get_definition,
    )
    .returns("entitlementManagement.unifiedRoleDefinition")
    .route(
        Get,
        "/roleManagement/entitlementManagement/roleAssignments",
        Collection,
        "List catalog role assignments",
        list_assignments,
    )
    .returns("entitlementManagement.unifiedRoleAssignment")
    .route(
        Post,
        "/roleManagement/entitlementManagement/roleAssignments",
        Create,
        "Assign a catalog role",
        create_assignment,
    )
    .body("entitlementManagement.unifiedRoleAssignment")
    .returns("entitlementManagement.unifiedRoleAssignment")
    .route(
        Get,
        "/roleManagement/entitlementManagement/roleAssignments/{id}",
        Entity,
        "Get a catalog role assignment",
        get_assignment,
    )
    .returns("entitlementManagement.unifiedRoleAssignment")
    .route(
        Delete,
        "/roleManagement/entitlementManagement/roleAssignments/{id}",
        NoContent,
        "Remove a catalog role assignment",
        delete_assignment,
    )
}
