//! Catalog resources: `resourceRequests`, `catalogs/{id}/resources` (`$expand=roles,scopes`),
//! `resourceRoles` (`$expand=resource`), `resourceScopes`, and `resources/{id}/refresh`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::CatalogResource;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::body::read;
use crate::wire::entitlement::catalogs::{
    AccessPackageResource, AccessPackageResourceRequest, AccessPackageResourceRequestBody,
    AccessPackageResourceRole, AccessPackageResourceScope,
};
use crate::wire::object;

/// `POST /resourceRequests`: `{requestType, catalog: {id}, resource: {originId, originSystem, …}}`.
pub async fn create_request(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = read::<AccessPackageResourceRequestBody>(&body)?.into_input()?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let request = state
                .entitlement
                .request_resource(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{BASE}/resourceRequests"),
                "accessPackageResourceRequest",
                object(&AccessPackageResourceRequest::from(&request)),
            )
        },
    )
    .await
}

pub async fn list_requests(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackageResourceRequest", &[])?;
    let page = state
        .entitlement
        .list_resource_requests(&auth.caller, &query.list_query())
        .await?;
    let page = page.map(|r| object(&AccessPackageResourceRequest::from(&r)));
    Ok(Json(query.collection(
        &format!("{BASE}/resourceRequests"),
        "accessPackageResourceRequest",
        page,
    )?))
}

async fn render_resource(
    state: &AppState,
    query: &ODataQuery,
    r: &CatalogResource,
) -> ApiResult<Map<String, Value>> {
    let mut wire = AccessPackageResource::from(r);
    if query.expands("roles") || query.expands("scopes") {
        let (roles, scopes) = state.entitlement.resource_roles_and_scopes(&r.id).await?;
        if query.expands("roles") {
            wire.roles = Some(roles.iter().map(AccessPackageResourceRole::from).collect());
        }
        if query.expands("scopes") {
            wire.scopes = Some(
                scopes
                    .iter()
                    .map(AccessPackageResourceScope::from)
                    .collect(),
            );
        }
    }
    Ok(object(&wire))
}

pub async fn list_resources(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(catalog): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackageResource", &["roles", "scopes"])?;
    let page = state
        .entitlement
        .list_catalog_resources(&auth.caller, &catalog, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for r in &page.items {
        items.push(render_resource(&state, &query, r).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs('{catalog}')/resources"),
        "accessPackageResource",
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

pub async fn get_resource(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path((catalog, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand("accessPackageResource", &["roles", "scopes"])?;
    let r = state
        .entitlement
        .get_catalog_resource(&auth.caller, &catalog, &id)
        .await?;
    let rendered = render_resource(&state, &query, &r).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/catalogs('{catalog}')/resources"),
        "accessPackageResource",
        rendered,
    )?))
}

pub async fn refresh(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((catalog, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .refresh_resource(&auth.caller, &auth.context(), &catalog, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_roles(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(catalog): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackageResourceRole", &["resource"])?;
    let page = state
        .entitlement
        .list_resource_roles(&auth.caller, &catalog, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for role in &page.items {
        let mut wire = AccessPackageResourceRole::from(role);
        if query.expands("resource")
            && let Some(resource) = state.entitlement.resource_by_id(&role.resource_id).await?
        {
            wire.resource = Some(Box::new(AccessPackageResource::from(&resource)));
        }
        items.push(object(&wire));
    }
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs('{catalog}')/resourceRoles"),
        "accessPackageResourceRole",
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

pub async fn list_scopes(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(catalog): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackageResourceScope", &["resource"])?;
    let page = state
        .entitlement
        .list_resource_scopes(&auth.caller, &catalog, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for scope in &page.items {
        let mut wire = AccessPackageResourceScope::from(scope);
        if query.expands("resource")
            && let Some(resource) = state.entitlement.resource_by_id(&scope.resource_id).await?
        {
            wire.resource = Some(Box::new(AccessPackageResource::from(&resource)));
        }
        items.push(object(&wire));
    }
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs('{catalog}')/resourceScopes"),
        "accessPackageResourceScope",
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}/resources",
        Collection,
        "List a catalog's resources",
        list_resources,
    )
    .returns("accessPackageResource")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}/resources/{resource_id}",
        Entity,
        "Get a catalog resource",
        get_resource,
    )
    .returns("accessPackageResource")
    .route(
        Post,
        "/identityGovernance/entitlementManagement/catalogs/{id}/resources/{resource_id}/refresh",
        NoContent,
        "Rediscover a resource's roles",
        refresh,
    )
    .route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}/resourceRoles",
        Collection,
        "List a catalog's resource roles",
        list_roles,
    )
    .returns("accessPackageResourceRole")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}/resourceScopes",
        Collection,
        "List a catalog's resource scopes",
        list_scopes,
    )
    .returns("accessPackageResourceScope")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/resourceRequests",
        Collection,
        "List resource requests",
        list_requests,
    )
    .returns("accessPackageResourceRequest")
    .route(
        Post,
        "/identityGovernance/entitlementManagement/resourceRequests",
        Create,
        "Add, refresh or remove a catalog resource",
        create_request,
    )
    .body("accessPackageResourceRequestBody")
    .returns("accessPackageResourceRequest")
}
