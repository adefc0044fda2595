//! `/roleManagement/directory`: the built-in role definitions and role assignments. The
//! authorization of every call reads these assignments from the database.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use writ_domain::authz::roles;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::{GraphVersion, ODataQuery};
use crate::state::AppState;
use crate::wire::directory::input;
use crate::wire::directory::role_management::UnifiedRoleAssignmentBody;
use crate::wire::directory::{UnifiedRoleAssignment, UnifiedRoleDefinition};
use crate::wire::object;

use super::small_collection;

pub async fn list_definitions(_auth: Authenticated, query: ODataQuery) -> ApiResult<Json<Value>> {
    query.check_expand("unifiedRoleDefinition", &[])?;
    let items = roles::BUILT_IN
        .iter()
        .map(|d| {
            object(&UnifiedRoleDefinition::built_in(
                *d,
                query.version == GraphVersion::Beta,
            ))
        })
        .collect();
    let page = small_collection(&query, items)?;
    Ok(Json(query.collection(
        "roleManagement/directory/roleDefinitions",
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
    let definition = roles::definition(&id)
        .ok_or_else(|| ApiError::not_found(format!("role definition '{id}' was not found")))?;
    Ok(Json(query.entity(
        "roleManagement/directory/roleDefinitions",
        "unifiedRoleDefinition",
        object(&UnifiedRoleDefinition::built_in(
            definition,
            query.version == GraphVersion::Beta,
        )),
    )?))
}

pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("unifiedRoleAssignment", &[])?;
    let page = state
        .directory
        .list_role_assignments(&auth.caller, &query.list_query())
        .await?;
    let page: Page<_> = page.map(|a| object(&UnifiedRoleAssignment::from(&a)));
    Ok(Json(query.collection(
        "roleManagement/directory/roleAssignments",
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
        .directory
        .get_role_assignment(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        "roleManagement/directory/roleAssignments",
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
    body.check_properties(
        "unifiedRoleAssignment",
        &["principalId", "roleDefinitionId", "directoryScopeId"],
    )?;
    let input = input::read::<UnifiedRoleAssignmentBody>(&body)?.into_input()?;
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
                .create_role_assignment(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                "roleManagement/directory/roleAssignments",
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
        .directory
        .delete_role_assignment(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/roleManagement/directory/roleDefinitions",
        Collection,
        "List directory role definitions",
        list_definitions,
    )
    .returns("unifiedRoleDefinition")
    .route(
        Get,
        "/roleManagement/directory/roleDefinitions/{id}",
        Entity,
        "Get a directory role definition",
        get_definition,
    )
    .returns("unifiedRoleDefinition")
    .route(
        Get,
        "/roleManagement/directory/roleAssignments",
        Collection,
        "List directory role assignments",
        list_assignments,
    )
    .returns("unifiedRoleAssignment")
    .route(
        Post,
        "/roleManagement/directory/roleAssignments",
        Create,
        "Assign a directory role",
        create_assignment,
    )
    .body("unifiedRoleAssignmentBody")
    .returns("unifiedRoleAssignment")
    .route(
        Get,
        "/roleManagement/directory/roleAssignments/{id}",
        Entity,
        "Get a directory role assignment",
        get_assignment,
    )
    .returns("unifiedRoleAssignment")
    .route(
        Delete,
        "/roleManagement/directory/roleAssignments/{id}",
        NoContent,
        "Remove a directory role assignment",
        delete_assignment,
    )
}
