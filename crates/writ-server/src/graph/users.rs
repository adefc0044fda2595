//! `/users` and the `microsoft.graph.agentUser` cast: create, read, update, delete, list,
//! `$count`; `manager`; `sponsors`; `/me`; `revokeSignInSessions`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::directory::{User, UserInput, UserKind};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::User as WireUser;
use crate::wire::directory::input;
use crate::wire::directory::user::UserBody;
use crate::wire::object;

const TYPE: &str = "user";
const EXPANDABLE: &[&str] = &["manager"];
const WRITABLE: &[&str] = &[
    "displayName",
    "userPrincipalName",
    "mailNickname",
    "accountEnabled",
    "passwordProfile",
    "givenName",
    "surname",
    "mail",
    "jobTitle",
    "department",
    "officeLocation",
    "mobilePhone",
    "businessPhones",
    "employeeId",
    "companyName",
    "usageLocation",
    "preferredLanguage",
    "userType",
    "identities",
];

const AGENT_USER_EXTRA: &[&str] = &["identityParentId", "sponsors@odata.bind"];

/// `forced`: the kind a cast segment fixes (`users/microsoft.graph.agentUser`).
fn user_input(body: &JsonObject, forced: Option<UserKind>) -> ApiResult<UserInput> {
    let kind = match (body.odata_type()?.as_deref(), forced) {
        (None, forced) => forced,
        (Some("user"), None) => Some(UserKind::User),
        (Some("agentUser"), None | Some(UserKind::AgentUser)) => Some(UserKind::AgentUser),
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "@odata.type 'microsoft.graph.{other}' cannot be written to this collection"
            )));
        }
    };
    let mut writable: Vec<&str> = WRITABLE.to_vec();
    writable.push("sponsors@odata.bind");
    if kind == Some(UserKind::AgentUser) {
        writable.extend_from_slice(AGENT_USER_EXTRA);
    }
    let type_name = if kind == Some(UserKind::AgentUser) {
        "agentUser"
    } else {
        TYPE
    };
    body.check_properties(type_name, &writable)?;
    let wire: UserBody = input::read(body)?;
    Ok(wire.into_input(kind))
}

/// `/users/{id}` accepts the object id or the userPrincipalName, as Graph does.
async fn resolve(state: &AppState, auth: &Authenticated, key: &str) -> ApiResult<User> {
    if key.contains('@') {
        return Ok(state
            .directory
            .get_user_by_principal_name(&auth.caller, key)
            .await?);
    }
    Ok(state.directory.get_user(&auth.caller, key).await?)
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    user: &User,
) -> ApiResult<Map<String, Value>> {
    let mut wire = WireUser::from(user);
    if query.expands("manager") {
        wire.manager = Some(match &user.manager_id {
            Some(_) => match state.directory.get_manager(&auth.caller, &user.id).await {
                Ok(manager) => Some(Box::new(WireUser::typed(&manager))),
                Err(writ_domain::DomainError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        });
    }
    Ok(object(&wire))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(&state, &auth, &query, None).await
}

/// `GET /users/microsoft.graph.agentUser`: agent users only.
pub async fn list_agent_users(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(&state, &auth, &query, Some(UserKind::AgentUser)).await
}

async fn list_of(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    kind: Option<UserKind>,
) -> ApiResult<Json<Value>> {
    let (state, auth) = (state.clone(), auth.clone());
    query.check_expand(TYPE, EXPANDABLE)?;
    let page = state
        .directory
        .list_users(&auth.caller, &query.list_query(), kind)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for user in &page.items {
        items.push(render(&state, &auth, query, user).await?);
    }
    let page = writ_domain::query::Page {
        items,
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    let fragment = if kind == Some(UserKind::AgentUser) {
        "users/microsoft.graph.agentUser"
    } else {
        "users"
    };
    Ok(Json(query.collection(fragment, TYPE, page)?))
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

/// `POST /users/microsoft.graph.agentUser`.
pub async fn create_agent_user(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    create_of(state, auth, query, headers, body, Some(UserKind::AgentUser)).await
}

async fn create_of(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
    forced: Option<UserKind>,
) -> ApiResult<Response> {
    let input = user_input(&body, forced)?;
    let route = &format!("POST {}", query.path);
    query.for_create()?;
    idempotency::run(&state, &auth, route, &headers, &body.raw, || async {
        let user = state
            .directory
            .create_user(&auth.caller, &auth.context(), input)
            .await?;
        query.entity("users", TYPE, object(&WireUser::from(&user)))
    })
    .await
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(TYPE, EXPANDABLE)?;
    let user = resolve(&state, &auth, &id).await?;
    let mut rendered = render(&state, &auth, &query, &user).await?;
    super::add_sign_in_activity(&state, &auth, &query, &user.id, &mut rendered).await?;
    Ok(Json(query.entity("users", TYPE, rendered)?))
}

/// `GET /me`: the signed-in user; app-only tokens have no "me".
pub async fn me(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    if !auth.caller.is_human_user() {
        return Err(ApiError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    query.single_entity()?;
    query.check_expand(TYPE, EXPANDABLE)?;
    let user = state
        .directory
        .get_user(&auth.caller, &auth.caller.id)
        .await?;
    let rendered = render(&state, &auth, &query, &user).await?;
    Ok(Json(query.entity("users", TYPE, rendered)?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = user_input(&body, None)?;
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .update_user(&auth.caller, &auth.context(), &user.id, input)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .delete_user(&auth.caller, &auth.context(), &user.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/{id}/revokeSignInSessions`: Graph answers `200` with `{"value": true}`.
pub async fn revoke_sign_in_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .revoke_sign_in_sessions(&auth.caller, &auth.context(), &user.id)
        .await?;
    Ok(Json(Value::Object(object(
        &crate::wire::directory::user::RevokeSignInSessionsResponse {
            odata_context: query.context("Edm.Boolean"),
            value: true,
        },
    ))))
}

/// `POST /me/revokeSignInSessions`.
pub async fn revoke_my_sign_in_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    if !auth.caller.is_human_user() {
        return Err(ApiError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let id = auth.caller.id.clone();
    revoke_sign_in_sessions(State(state), auth, query, Path(id)).await
}

pub async fn get_manager(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(TYPE, &[])?;
    let user = resolve(&state, &auth, &id).await?;
    let manager = state.directory.get_manager(&auth.caller, &user.id).await?;
    Ok(Json(query.entity(
        "directoryObjects",
        "directoryObject",
        object(&WireUser::typed(&manager)),
    )?))
}

pub async fn set_manager(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let manager_id = body.reference()?;
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .set_manager(&auth.caller, &auth.context(), &user.id, Some(&manager_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_manager(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .set_manager(&auth.caller, &auth.context(), &user.id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/{id}/sponsors`.
pub async fn list_sponsors(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = resolve(&state, &auth, &id).await?;
    super::sponsors_response(&state, &auth, &query, &user.id).await
}

/// `POST /users/{id}/sponsors/$ref`.
pub async fn add_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let sponsor = body.reference()?;
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .change_sponsor(&auth.caller, &auth.context(), &user.id, &sponsor, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /users/{id}/sponsors/{sponsor}/$ref`.
pub async fn remove_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, sponsor)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let user = resolve(&state, &auth, &id).await?;
    state
        .directory
        .change_sponsor(&auth.caller, &auth.context(), &user.id, &sponsor, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/$count`.
pub async fn count(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Response> {
    let page = state
        .directory
        .list_users(&auth.caller, &query.count_query()?, None)
        .await?;
    Ok(crate::odata::count_response(page.count.unwrap_or(0)))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(Get, "/users", Collection, "List users", list)
        .returns("user")
        .route(
            Get,
            "/users/$count",
            Plain,
            "Count users (text/plain; $filter applies)",
            count,
        )
        .route(Post, "/users", Create, "Create a user", create)
        .body("userBody")
        .returns("user")
        .route(
            Get,
            "/users/{id}",
            Entity,
            "Get a user (by id or userPrincipalName)",
            get,
        )
        .returns("user")
        .route(Patch, "/users/{id}", NoContent, "Update a user", update)
        .body("userBody")
        .route(Delete, "/users/{id}", NoContent, "Delete a user", delete)
        .route(
            Get,
            "/users/{id}/manager",
            Entity,
            "Get a user's manager",
            get_manager,
        )
        .returns("directoryObject")
        .route(
            Put,
            "/users/{id}/manager/$ref",
            NoContent,
            "Set a user's manager",
            set_manager,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/users/{id}/manager/$ref",
            NoContent,
            "Remove a user's manager",
            remove_manager,
        )
        .route(Get, "/me", Entity, "Get the signed-in user", me)
        .returns("user")
        .route(
            Post,
            "/users/{id}/revokeSignInSessions",
            Plain,
            "Revoke a user's sign-in sessions and refresh tokens",
            revoke_sign_in_sessions,
        )
        .returns("revokeSignInSessionsResponse")
        .route(
            Post,
            "/me/revokeSignInSessions",
            Plain,
            "Revoke the signed-in user's sessions and refresh tokens",
            revoke_my_sign_in_sessions,
        )
        .returns("revokeSignInSessionsResponse")
        .route(
            Get,
            "/users/microsoft.graph.agentUser",
            Collection,
            "List agent users",
            list_agent_users,
        )
        .returns("user")
        .route(
            Post,
            "/users/microsoft.graph.agentUser",
            Create,
            "Create an agent user",
            create_agent_user,
        )
        .body("userBody")
        .returns("user")
        .route(
            Get,
            "/users/{id}/sponsors",
            Collection,
            "List a user's sponsors",
            list_sponsors,
        )
        .returns("directoryObject")
        .route(
            Post,
            "/users/{id}/sponsors/$ref",
            NoContent,
            "Add a sponsor",
            add_sponsor,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/users/{id}/sponsors/{sponsor_id}/$ref",
            NoContent,
            "Remove a sponsor",
            remove_sponsor,
        )
        .route(
            Get,
            "/users/{id}/appRoleAssignments",
            Collection,
            "List a user's app role assignments",
            super::grants::list_assignments,
        )
        .returns("appRoleAssignment")
        .route(
            Post,
            "/users/{id}/appRoleAssignments",
            Create,
            "Assign an app role to a user",
            super::grants::assign_to_principal,
        )
        .body("appRoleAssignmentBody")
        .returns("appRoleAssignment")
        .route(
            Delete,
            "/users/{id}/appRoleAssignments/{assignment_id}",
            NoContent,
            "Remove an app role assignment",
            super::grants::remove_assignment,
        )
}
