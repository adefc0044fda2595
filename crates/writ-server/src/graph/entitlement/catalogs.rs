//! `…/entitlementManagement/catalogs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::{Catalog, CatalogInput};
use writ_domain::query::{ListQuery, Page};

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::body::read;
use crate::wire::entitlement::catalogs::{AccessPackage, AccessPackageCatalog, CatalogBody};
use crate::wire::object;

const TYPE: &str = "accessPackageCatalog";
/// Graph's page size for an expanded collection.
const EXPANDED_LIMIT: u32 = 100;

fn input(body: &JsonObject) -> ApiResult<CatalogInput> {
    Ok(read::<CatalogBody>(body)?.into())
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    c: &Catalog,
) -> ApiResult<Map<String, Value>> {
    let mut wire = AccessPackageCatalog::from(c);
    if query.expands("accessPackages") {
        let packages = state
            .entitlement
            .list_packages(&auth.caller, &ListQuery::first(EXPANDED_LIMIT), Some(&c.id))
            .await?;
        wire.access_packages = Some(packages.items.iter().map(AccessPackage::from).collect());
    }
    Ok(object(&wire))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &["accessPackages"])?;
    let page = state
        .entitlement
        .list_catalogs(&auth.caller, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for c in &page.items {
        items.push(render(&state, &auth, &query, c).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs"),
        TYPE,
        Page {
            items,
            next_skiptoken: page.next_skiptoken,
            count: page.count,
        },
    )?))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = input(&body)?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let c = state
                .entitlement
                .create_catalog(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{BASE}/catalogs"),
                TYPE,
                object(&AccessPackageCatalog::from(&c)),
            )
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
    query.check_expand(TYPE, &["accessPackages"])?;
    let c = state.entitlement.get_catalog(&auth.caller, &id).await?;
    let rendered = render(&state, &auth, &query, &c).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/catalogs"),
        TYPE,
        rendered,
    )?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let input = input(&body)?;
    state
        .entitlement
        .update_catalog(&auth.caller, &auth.context(), &id, input)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .delete_catalog(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_packages(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackage", &[])?;
    let page = state
        .entitlement
        .list_packages(&auth.caller, &query.list_query(), Some(&id))
        .await?;
    let page = page.map(|p| object(&AccessPackage::from(&p)));
    Ok(Json(query.collection(
        &format!("{BASE}/catalogs('{id}')/accessPackages"),
        "accessPackage",
        page,
    )?))
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs",
        Collection,
        "List catalogs (filtered to the caller's)",
        list,
    )
    .returns("accessPackageCatalog")
    .route(
        Post,
        "/identityGovernance/entitlementManagement/catalogs",
        Create,
        "Create a catalog",
        create,
    )
    .body("accessPackageCatalog")
    .returns("accessPackageCatalog")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}",
        Entity,
        "Get a catalog",
        get,
    )
    .returns("accessPackageCatalog")
    .route(
        Patch,
        "/identityGovernance/entitlementManagement/catalogs/{id}",
        NoContent,
        "Update a catalog",
        update,
    )
    .body("accessPackageCatalog")
    .route(
        Delete,
        "/identityGovernance/entitlementManagement/catalogs/{id}",
        NoContent,
        "Delete a catalog (409 while it holds packages)",
        delete,
    )
    .route(
        Get,
        "/identityGovernance/entitlementManagement/catalogs/{id}/accessPackages",
        Collection,
        "List a catalog's packages",
        list_packages,
    )
    .returns("accessPackage")
}
