//! `/groups`: create, read, update, delete, list; `members` and `owners` with `$ref`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::directory::{Group, GroupInput};
use writ_domain::query::{ListQuery, Page};

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::group::GroupBody;
use crate::wire::directory::input;
use crate::wire::directory::{DirectoryObject as WireObject, Group as WireGroup};
use crate::wire::object;

const TYPE: &str = "group";
const EXPANDABLE: &[&str] = &["members", "owners"];
/// Graph returns at most 20 objects for an expanded member or owner list.
const EXPANDED_LIMIT: u32 = 20;
const WRITABLE: &[&str] = &[
    "displayName",
    "description",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "visibility",
    "isAssignableToRole",
    "members@odata.bind",
    "owners@odata.bind",
];

/// The Graph form of a group; kept for callers outside this file.
pub fn group_json(g: &Group) -> Map<String, Value> {
    object(&WireGroup::from(g))
}

fn group_input(body: &JsonObject) -> ApiResult<GroupInput> {
    body.check_properties(TYPE, WRITABLE)?;
    let wire: GroupBody = input::read(body)?;
    Ok(wire.into())
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    group: &Group,
) -> ApiResult<Map<String, Value>> {
    let mut wire = WireGroup::from(group);
    for (navigation, owners) in [("members", false), ("owners", true)] {
        if !query.expands(navigation) {
            continue;
        }
        let first = ListQuery::first(EXPANDED_LIMIT);
        let page = if owners {
            state
                .directory
                .list_group_owners(&auth.caller, &group.id, &first)
                .await?
        } else {
            state
                .directory
                .list_group_members(&auth.caller, &group.id, &first)
                .await?
        };
        let items = Some(page.items.iter().map(WireObject::from).collect());
        if owners {
            wire.owners = items;
        } else {
            wire.members = items;
        }
    }
    Ok(object(&wire))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, EXPANDABLE)?;
    let page = state
        .directory
        .list_groups(&auth.caller, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for group in &page.items {
        items.push(render(&state, &auth, &query, group).await?);
    }
    let page = Page {
        items,
        next_skiptoken: page.next_skiptoken,
        count: page.count,
    };
    Ok(Json(query.collection("groups", TYPE, page)?))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = group_input(&body)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let group = state
                .directory
                .create_group(&auth.caller, &auth.context(), input)
                .await?;
            query.entity("groups", TYPE, object(&WireGroup::from(&group)))
        },
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
    query.check_expand(TYPE, EXPANDABLE)?;
    let group = state.directory.get_group(&auth.caller, &id).await?;
    let rendered = render(&state, &auth, &query, &group).await?;
    Ok(Json(query.entity("groups", TYPE, rendered)?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = group_input(&body)?;
    if !input.member_ids.is_empty() || !input.owner_ids.is_empty() {
        return Err(crate::error::ApiError::bad_request(
            "members and owners are changed with members/$ref and owners/$ref",
        ));
    }
    state
        .directory
        .update_group(&auth.caller, &auth.context(), &id, input)
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
        .delete_group(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_links(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    id: &str,
    owners: bool,
) -> ApiResult<Json<Value>> {
    query.check_expand("directoryObject", &[])?;
    let list_query = query.list_query();
    let page = if owners {
        state
            .directory
            .list_group_owners(&auth.caller, id, &list_query)
            .await?
    } else {
        state
            .directory
            .list_group_members(&auth.caller, id, &list_query)
            .await?
    };
    let page = page.map(|o| object(&WireObject::from(&o)));
    Ok(Json(query.collection(
        "directoryObjects",
        "directoryObject",
        page,
    )?))
}

pub async fn list_members(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    list_links(&state, &auth, &query, &id, false).await
}

pub async fn list_owners(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    list_links(&state, &auth, &query, &id, true).await
}

pub async fn add_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let member = body.reference()?;
    state
        .directory
        .change_group_member(&auth.caller, &auth.context(), &id, &member, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .change_group_member(&auth.caller, &auth.context(), &id, &member, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_owner(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let owner = body.reference()?;
    state
        .directory
        .change_group_owner(&auth.caller, &auth.context(), &id, &owner, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_owner(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, owner)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .change_group_owner(&auth.caller, &auth.context(), &id, &owner, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /groups/$count`.
pub async fn count(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Response> {
    let page = state
        .directory
        .list_groups(&auth.caller, &query.count_query()?)
        .await?;
    Ok(crate::odata::count_response(page.count.unwrap_or(0)))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(Get, "/groups", Collection, "List groups", list)
        .returns("group")
        .route(
            Get,
            "/groups/$count",
            Plain,
            "Count groups (text/plain; $filter applies)",
            count,
        )
        .route(Post, "/groups", Create, "Create a group", create)
        .body("groupBody")
        .returns("group")
        .route(Get, "/groups/{id}", Entity, "Get a group", get)
        .returns("group")
        .route(Patch, "/groups/{id}", NoContent, "Update a group", update)
        .body("groupBody")
        .route(Delete, "/groups/{id}", NoContent, "Delete a group", delete)
        .route(
            Get,
            "/groups/{id}/members",
            Collection,
            "List a group's members",
            list_members,
        )
        .returns("directoryObject")
        .route(
            Post,
            "/groups/{id}/members/$ref",
            NoContent,
            "Add a member",
            add_member,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/groups/{id}/members/{member_id}/$ref",
            NoContent,
            "Remove a member",
            remove_member,
        )
        .route(
            Get,
            "/groups/{id}/owners",
            Collection,
            "List a group's owners",
            list_owners,
        )
        .returns("directoryObject")
        .route(
            Post,
            "/groups/{id}/owners/$ref",
            NoContent,
            "Add an owner",
            add_owner,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/groups/{id}/owners/{owner_id}/$ref",
            NoContent,
            "Remove an owner",
            remove_owner,
        )
        .route(
            Get,
            "/groups/{id}/appRoleAssignments",
            Collection,
            "List a group's app role assignments",
            super::grants::list_assignments,
        )
        .returns("appRoleAssignment")
        .route(
            Post,
            "/groups/{id}/appRoleAssignments",
            Create,
            "Assign an app role to a group",
            super::grants::assign_to_principal,
        )
        .body("appRoleAssignmentBody")
        .returns("appRoleAssignment")
        .route(
            Delete,
            "/groups/{id}/appRoleAssignments/{assignment_id}",
            NoContent,
            "Remove an app role assignment",
            super::grants::remove_assignment,
        )
}
