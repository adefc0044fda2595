//! `/roleManagement/entitlementManagement`: the catalog role definitions and assignments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::authz::em_roles;
use writ_domain::entitlement::{EmRoleAssignment, EmRoleAssignmentInput};
use writ_domain::patch::Patch;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

const SET: &str = "roleManagement/entitlementManagement";

fn definition_json((id, name, description, _): (&str, &str, &str, bool)) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(id));
    m.insert("templateId".into(), Value::from(id));
    m.insert("displayName".into(), Value::from(name));
    m.insert("description".into(), Value::from(description));
    m.insert("isBuiltIn".into(), Value::from(true));
    m.insert("isEnabled".into(), Value::from(true));
    m.insert("rolePermissions".into(), serde_json::json!([]));
    m
}

pub async fn list_definitions(_auth: Authenticated, query: ODataQuery) -> ApiResult<Json<Value>> {
    query.check_expand("unifiedRoleDefinition", &[])?;
    let items = em_roles::BUILT_IN
        .iter()
        .map(|d| definition_json(*d))
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
        definition_json(d),
    )?))
}

fn assignment_json(a: &EmRoleAssignment) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(a.id.clone()));
    m.insert(
        "roleDefinitionId".into(),
        Value::from(a.role_definition_id.clone()),
    );
    m.insert("principalId".into(), Value::from(a.principal_id.clone()));
    m.insert("appScopeId".into(), Value::from(a.app_scope_id.clone()));
    m.insert("directoryScopeId".into(), Value::from("/"));
    m
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
    let page = page.map(|a| assignment_json(&a));
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
        assignment_json(&a),
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
        &[
            "principalId",
            "roleDefinitionId",
            "appScopeId",
            "directoryScopeId",
        ],
    )?;
    let required = |name: &str| -> ApiResult<String> {
        match body.string(name)? {
            Patch::Value(v) => Ok(v),
            _ => Err(ApiError::bad_request(format!(
                "property '{name}' is required"
            ))),
        }
    };
    if let Patch::Value(d) = body.string("directoryScopeId")?
        && d != "/"
    {
        return Err(ApiError::bad_request(
            "directoryScopeId must be '/' for entitlement-management roles",
        ));
    }
    let input = EmRoleAssignmentInput {
        principal_id: required("principalId")?,
        role_definition_id: required("roleDefinitionId")?,
        app_scope_id: required("appScopeId")?,
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
                assignment_json(&a),
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
