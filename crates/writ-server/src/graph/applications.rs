//! `/applications` and the `microsoft.graph.agentIdentityBlueprint` cast: create, read, update,
//! delete, list; `addPassword`/`removePassword`; `owners` and (blueprints) `sponsors`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::directory::{
    Application, ApplicationInput, ApplicationKind, PasswordCredentialInput,
};
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::application::{AddPasswordBody, ApplicationBody, RemovePasswordBody};
use crate::wire::directory::input;
use crate::wire::directory::{Application as WireApplication, PasswordCredential};
use crate::wire::object;

use super::{owners_response, sponsors_response};

const TYPE: &str = "application";
const WRITABLE: &[&str] = &[
    "displayName",
    "description",
    "appRoles",
    "api",
    "identifierUris",
    "signInAudience",
    "tags",
    "publicClient",
    "spa",
    "web",
    "isFallbackPublicClient",
    "owners@odata.bind",
];
const BLUEPRINT_EXTRA: &[&str] = &["sponsors@odata.bind"];

fn application_input(
    body: &JsonObject,
    forced: Option<ApplicationKind>,
) -> ApiResult<ApplicationInput> {
    let kind = match (body.odata_type()?.as_deref(), forced) {
        (None, forced) => forced,
        (Some("application"), None) => Some(ApplicationKind::Application),
        (Some("agentIdentityBlueprint"), None | Some(ApplicationKind::AgentIdentityBlueprint)) => {
            Some(ApplicationKind::AgentIdentityBlueprint)
        }
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "@odata.type 'microsoft.graph.{other}' cannot be written to this collection"
            )));
        }
    };
    let mut writable = WRITABLE.to_vec();
    if kind == Some(ApplicationKind::AgentIdentityBlueprint) {
        writable.extend_from_slice(BLUEPRINT_EXTRA);
    }
    let type_name = match kind {
        Some(ApplicationKind::AgentIdentityBlueprint) => "agentIdentityBlueprint",
        _ => TYPE,
    };
    body.check_properties(type_name, &writable)?;
    let wire: ApplicationBody = input::read(body)?;
    Ok(wire.into_input(kind))
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    app: &Application,
) -> ApiResult<Map<String, Value>> {
    let credentials = state
        .directory
        .password_credentials(&auth.caller, &app.id)
        .await?;
    Ok(object(&WireApplication::new(app, &credentials)))
}

async fn list_of(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    kind: Option<ApplicationKind>,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &[])?;
    let page = state
        .directory
        .list_applications(&auth.caller, &query.list_query(), kind)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for app in &page.items {
        items.push(render(&state, &auth, app).await?);
    }
    let fragment = match kind {
        Some(ApplicationKind::AgentIdentityBlueprint) => {
            "applications/microsoft.graph.agentIdentityBlueprint"
        }
        _ => "applications",
    };
    Ok(Json(query.collection(
        fragment,
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

pub async fn list_blueprints(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    list_of(
        state,
        auth,
        query,
        Some(ApplicationKind::AgentIdentityBlueprint),
    )
    .await
}

async fn create_of(
    state: AppState,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
    forced: Option<ApplicationKind>,
) -> ApiResult<Response> {
    let input = application_input(&body, forced)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let app = state
                .directory
                .create_application(&auth.caller, &auth.context(), input)
                .await?;
            query.entity("applications", TYPE, object(&WireApplication::from(&app)))
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

pub async fn create_blueprint(
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
        Some(ApplicationKind::AgentIdentityBlueprint),
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
    let app = state.directory.get_application(&auth.caller, &id).await?;
    let rendered = render(&state, &auth, &app).await?;
    Ok(Json(query.entity("applications", TYPE, rendered)?))
}

/// `GET /applications(appId='…')`.
pub async fn get_by_app_id(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    app_id: &str,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    let app = state
        .directory
        .find_application_by_app_id(&auth.caller, app_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("application with appId '{app_id}' was not found"))
        })?;
    let rendered = render(state, auth, &app).await?;
    Ok(Json(query.entity("applications", TYPE, rendered)?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = application_input(&body, None)?;
    state
        .directory
        .update_application(&auth.caller, &auth.context(), &id, input)
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
        .delete_application(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `addPassword`: `{"passwordCredential": {displayName, startDateTime, endDateTime}}`.
pub(crate) fn password_input(body: &JsonObject) -> ApiResult<PasswordCredentialInput> {
    body.check_properties("passwordCredential", &["passwordCredential"])?;
    let wire: AddPasswordBody = input::read(body)?;
    Ok(wire.into())
}

/// The body of `removePassword`: `{"keyId": "…"}`.
pub(crate) fn key_id_input(body: &JsonObject) -> ApiResult<String> {
    body.check_properties("removePassword", &["keyId"])?;
    let wire: RemovePasswordBody = input::read(body)?;
    wire.key_id()
}

/// `POST /applications/{id}/addPassword` (and on agent identities): the secret is in this
/// response only.
pub async fn add_password(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let input = password_input(&body)?;
    let created = state
        .directory
        .add_password(&auth.caller, &auth.context(), &id, input)
        .await?;
    let mut value = object(&PasswordCredential::with_secret(
        &created.credential,
        &created.secret_text,
    ));
    value.insert(
        "@odata.context".into(),
        Value::from(query.context("microsoft.graph.passwordCredential")),
    );
    Ok(Json(Value::Object(value)))
}

pub async fn remove_password(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let key_id = key_id_input(&body)?;
    state
        .directory
        .remove_password(&auth.caller, &auth.context(), &id, &key_id)
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

pub async fn add_owner(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let owner = body.reference()?;
    state
        .directory
        .change_object_owner(&auth.caller, &auth.context(), &id, &owner, true)
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
        .change_object_owner(&auth.caller, &auth.context(), &id, &owner, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_sponsors(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    sponsors_response(&state, &auth, &query, &id).await
}

pub async fn add_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let sponsor = body.reference()?;
    state
        .directory
        .change_sponsor(&auth.caller, &auth.context(), &id, &sponsor, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_sponsor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, sponsor)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .change_sponsor(&auth.caller, &auth.context(), &id, &sponsor, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /applications/$count`.
pub async fn count(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Response> {
    let page = state
        .directory
        .list_applications(&auth.caller, &query.count_query()?, None)
        .await?;
    Ok(crate::odata::count_response(page.count.unwrap_or(0)))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(Get, "/applications", Collection, "List applications", list)
        .returns("application")
        .route(
            Get,
            "/applications/$count",
            Plain,
            "Count applications (text/plain; $filter applies)",
            count,
        )
        .route(
            Post,
            "/applications",
            Create,
            "Create an application or blueprint (by @odata.type)",
            create,
        )
        .body("applicationBody")
        .returns("application")
        .route(
            Get,
            "/applications/microsoft.graph.agentIdentityBlueprint",
            Collection,
            "List agent identity blueprints",
            list_blueprints,
        )
        .returns("application")
        .route(
            Post,
            "/applications/microsoft.graph.agentIdentityBlueprint",
            Create,
            "Create an agent identity blueprint",
            create_blueprint,
        )
        .body("applicationBody")
        .returns("application")
        .route(Get, "/applications/{id}", Entity, "Get an application", get)
        .returns("application")
        .route(
            Patch,
            "/applications/{id}",
            NoContent,
            "Update an application",
            update,
        )
        .body("applicationBody")
        .route(
            Delete,
            "/applications/{id}",
            NoContent,
            "Delete an application and its service principal",
            delete,
        )
        .route(
            Post,
            "/applications/{id}/addPassword",
            Plain,
            "Add a client secret (shown once)",
            add_password,
        )
        .body("addPasswordBody")
        .returns("passwordCredential")
        .route(
            Post,
            "/applications/{id}/removePassword",
            NoContent,
            "Remove a client secret",
            remove_password,
        )
        .body("removePasswordBody")
        .route(
            Get,
            "/applications/{id}/owners",
            Collection,
            "List owners",
            list_owners,
        )
        .returns("directoryObject")
        .route(
            Post,
            "/applications/{id}/owners/$ref",
            NoContent,
            "Add an owner",
            add_owner,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/applications/{id}/owners/{owner_id}/$ref",
            NoContent,
            "Remove an owner",
            remove_owner,
        )
        .route(
            Get,
            "/applications/{id}/sponsors",
            Collection,
            "List a blueprint's sponsors",
            list_sponsors,
        )
        .returns("directoryObject")
        .route(
            Post,
            "/applications/{id}/sponsors/$ref",
            NoContent,
            "Add a sponsor to a blueprint",
            add_sponsor,
        )
        .body("referenceBody")
        .route(
            Delete,
            "/applications/{id}/sponsors/{sponsor_id}/$ref",
            NoContent,
            "Remove a blueprint sponsor",
            remove_sponsor,
        )
}
