//! `/servicePrincipals` with the `microsoft.graph.agentIdentity` and
//! `microsoft.graph.agentIdentityBlueprintPrincipal` casts: create, read, update, delete, list;
//! agent identities' own credentials; `owners`, `sponsors`, `appRoleAssignedTo`,
//! `appRoleAssignments`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::directory::{ServicePrincipal, ServicePrincipalInput, ServicePrincipalKind};
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::ServicePrincipal as WireServicePrincipal;
use crate::wire::directory::input;
use crate::wire::directory::service_principal::ServicePrincipalBody;
use crate::wire::object;

use super::{owners_response, sponsors_response};

const TYPE: &str = "servicePrincipal";
const WRITABLE: &[&str] = &[
    "appId",
    "displayName",
    "accountEnabled",
    "description",
    "tags",
    "owners@odata.bind",
];
const AGENT_EXTRA: &[&str] = &["agentIdentityBlueprintId", "sponsors@odata.bind"];
const BLUEPRINT_PRINCIPAL_EXTRA: &[&str] = &["sponsors@odata.bind"];

fn kind_of(name: &str) -> Option<ServicePrincipalKind> {
    match name {
        "servicePrincipal" => Some(ServicePrincipalKind::ServicePrincipal),
        "agentIdentity" => Some(ServicePrincipalKind::AgentIdentity),
        "agentIdentityBlueprintPrincipal" => {
            Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal)
        }
        _ => None,
    }
}

fn principal_input(
    body: &JsonObject,
    forced: Option<ServicePrincipalKind>,
) -> ApiResult<ServicePrincipalInput> {
    let kind = match (body.odata_type()?, forced) {
        (None, forced) => forced,
        (Some(name), forced) => match (kind_of(&name), forced) {
            (Some(k), None) => Some(k),
            (Some(k), Some(f)) if k == f => Some(k),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "@odata.type 'microsoft.graph.{name}' cannot be written to this collection"
                )));
            }
        },
    };
    let mut writable = WRITABLE.to_vec();
    let type_name = match kind {
        Some(ServicePrincipalKind::AgentIdentity) => {
            writable.extend_from_slice(AGENT_EXTRA);
            "agentIdentity"
        }
        Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal) => {
            writable.extend_from_slice(BLUEPRINT_PRINCIPAL_EXTRA);
            "agentIdentityBlueprintPrincipal"
        }
        _ => TYPE,
    };
    body.check_properties(type_name, &writable)?;
    let wire: ServicePrincipalBody = input::read(body)?;
    Ok(wire.into_input(kind))
}

pub(crate) async fn render(
    state: &AppState,
    sp: &ServicePrincipal,
) -> ApiResult<Map<String, Value>> {
    let app = state.directory.application_of(sp).await?;
    Ok(object(&WireServicePrincipal::new(sp, app.as_ref())))
}

fn fragment(kind: Option<ServicePrincipalKind>) -> &'static str {
    match kind {
        Some(ServicePrincipalKind::AgentIdentity) => {
            "servicePrincipals/microsoft.graph.agentIdentity"
        }
        Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal) => {
            "servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal"
        }
        _ => "servicePrincipals",
    }
}

async fn list_of(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    kind: Option<ServicePrincipalKind>,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &[])?;
    let page = state
        .directory
        .list_service_principals(&auth.caller, &query.list_query(), kind)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for sp in &page.items {
        items.push(render(&state, sp).await?);
    }
    Ok(Json(query.collection(
        fragment(kind),
        TYPE,
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(state, auth, query, None).await
}

pub async fn list_agent_identities(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(
        state,
        auth,
        query,
        Some(ServicePrincipalKind::AgentIdentity),
    )
    .await
}

pub async fn list_blueprint_principals(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(
        state,
        auth,
        query,
        Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal),
    )
    .await
}

async fn create_of(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
    forced: Option<ServicePrincipalKind>,
) -> ApiResult<Response> {
    let input = principal_input(&body, forced)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let sp = state
                .directory
                .create_service_principal(&auth.caller, &auth.context(), input)
                .await?;
            let rendered = render(&state, &sp).await?;
            query.entity("servicePrincipals", TYPE, rendered)
        },
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    create_of(state, auth, query, headers, body, None).await
}

pub async fn create_agent_identity(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    create_of(
        state,
        auth,
        query,
        headers,
        body,
        Some(ServicePrincipalKind::AgentIdentity),
    )
    .await
}

pub async fn create_blueprint_principal(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    create_of(
        state,
        auth,
        query,
        headers,
        body,
        Some(ServicePrincipalKind::AgentIdentityBlueprintPrincipal),
    )
    .await
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(TYPE, &[])?;
    let sp = state
        .directory
        .get_service_principal(&auth.caller, &id)
        .await?;
    let mut rendered = render(&state, &sp).await?;
    super::add_sign_in_activity(&state, &auth, &query, &sp.id, &mut rendered).await?;
    Ok(Json(query.entity("servicePrincipals", TYPE, rendered)?))
}

/// `GET /servicePrincipals(appId='…')`.
pub async fn get_by_app_id(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    app_id: &str,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    let sp = state
        .directory
        .get_service_principal_by_app_id(&auth.caller, app_id)
        .await?;
    let rendered = render(state, &sp).await?;
    Ok(Json(query.entity("servicePrincipals", TYPE, rendered)?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = principal_input(&body, None)?;
    state
        .directory
        .update_service_principal(&auth.caller, &auth.context(), &id, input)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .delete_service_principal(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_owners(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    owners_response(&state, &auth, &query, &id).await
}

pub async fn list_sponsors(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    sponsors_response(&state, &auth, &query, &id).await
}

/// `GET /servicePrincipals/$count`.
pub async fn count(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Response> {
    let page = state
        .directory
        .list_service_principals(&auth.caller, &query.count_query()?, None)
        .await?;
    Ok(crate::odata::count_response(page.count.unwrap_or(0)))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/servicePrincipals",
        Collection,
        "List service principals",
        list,
    )
    .returns("servicePrincipal")
    .route(
        Get,
        "/servicePrincipals/$count",
        Plain,
        "Count servicePrincipals (text/plain; $filter applies)",
        count,
    )
    .route(
        Post,
        "/servicePrincipals",
        Create,
        "Create a service principal, blueprint principal or agent identity (by @odata.type)",
        create,
    )
    .body("servicePrincipalBody")
    .returns("servicePrincipal")
    .route(
        Get,
        "/servicePrincipals/microsoft.graph.agentIdentity",
        Collection,
        "List agent identities",
        list_agent_identities,
    )
    .returns("servicePrincipal")
    .route(
        Post,
        "/servicePrincipals/microsoft.graph.agentIdentity",
        Create,
        "Create an agent identity",
        create_agent_identity,
    )
    .body("servicePrincipalBody")
    .returns("servicePrincipal")
    .route(
        Get,
        "/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        Collection,
        "List blueprint principals",
        list_blueprint_principals,
    )
    .returns("servicePrincipal")
    .route(
        Post,
        "/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
        Create,
        "Create a blueprint principal",
        create_blueprint_principal,
    )
    .body("servicePrincipalBody")
    .returns("servicePrincipal")
    .route(
        Get,
        "/servicePrincipals/{id}",
        Entity,
        "Get a service principal",
        get,
    )
    .returns("servicePrincipal")
    .route(
        Patch,
        "/servicePrincipals/{id}",
        NoContent,
        "Update a service principal",
        update,
    )
    .body("servicePrincipalBody")
    .route(
        Delete,
        "/servicePrincipals/{id}",
        NoContent,
        "Delete a service principal",
        delete,
    )
    .route(
        Post,
        "/servicePrincipals/{id}/addPassword",
        Plain,
        "Add a client secret to an agent identity (shown once)",
        super::applications::add_password,
    )
    .body("addPasswordBody")
    .returns("passwordCredential")
    .route(
        Post,
        "/servicePrincipals/{id}/removePassword",
        NoContent,
        "Remove an agent identity's client secret",
        super::applications::remove_password,
    )
    .body("removePasswordBody")
    .route(
        Get,
        "/servicePrincipals/{id}/owners",
        Collection,
        "List owners",
        list_owners,
    )
    .returns("directoryObject")
    .route(
        Post,
        "/servicePrincipals/{id}/owners/$ref",
        NoContent,
        "Add an owner",
        super::applications::add_owner,
    )
    .body("referenceBody")
    .route(
        Delete,
        "/servicePrincipals/{id}/owners/{owner_id}/$ref",
        NoContent,
        "Remove an owner",
        super::applications::remove_owner,
    )
    .route(
        Get,
        "/servicePrincipals/{id}/sponsors",
        Collection,
        "List sponsors",
        list_sponsors,
    )
    .returns("directoryObject")
    .route(
        Post,
        "/servicePrincipals/{id}/sponsors/$ref",
        NoContent,
        "Add a sponsor",
        super::applications::add_sponsor,
    )
    .body("referenceBody")
    .route(
        Delete,
        "/servicePrincipals/{id}/sponsors/{sponsor_id}/$ref",
        NoContent,
        "Remove a sponsor",
        super::applications::remove_sponsor,
    )
    .route(
        Get,
        "/servicePrincipals/{id}/appRoleAssignedTo",
        Collection,
        "List app role assignments granted on this resource",
        super::grants::list_assigned_to,
    )
    .returns("appRoleAssignment")
    .route(
        Post,
        "/servicePrincipals/{id}/appRoleAssignedTo",
        Create,
        "Assign an app role of this resource",
        super::grants::assign_to_resource,
    )
    .body("appRoleAssignmentBody")
    .returns("appRoleAssignment")
    .route(
        Delete,
        "/servicePrincipals/{id}/appRoleAssignedTo/{assignment_id}",
        NoContent,
        "Remove an app role assignment",
        super::grants::remove_assignment,
    )
    .route(
        Get,
        "/servicePrincipals/{id}/appRoleAssignments",
        Collection,
        "List app roles this principal holds",
        super::grants::list_assignments,
    )
    .returns("appRoleAssignment")
    .route(
        Post,
        "/servicePrincipals/{id}/appRoleAssignments",
        Create,
        "Assign an app role to this principal",
        super::grants::assign_to_principal,
    )
    .body("appRoleAssignmentBody")
    .returns("appRoleAssignment")
    .route(
        Delete,
        "/servicePrincipals/{id}/appRoleAssignments/{assignment_id}",
        NoContent,
        "Remove an app role assignment",
        super::grants::remove_assignment,
    )
}
