//! `…/entitlementManagement/assignmentPolicies`: create, read, list, replace (PUT), update
//! (PATCH), delete. Bodies are read into `AccessPackageAssignmentPolicyBody`, whose nested
//! settings are parsed into the domain's typed model; anything that is not a property of Graph's
//! types is refused.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::PolicyInput;
use writ_domain::entitlement::policy_model::AssignmentPolicy;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::body::read;
use crate::wire::entitlement::catalogs::{AccessPackage, AccessPackageCatalog};
use crate::wire::entitlement::policies::{
    AccessPackageAssignmentPolicy, AccessPackageAssignmentPolicyBody,
};
use crate::wire::object;

const TYPE: &str = "accessPackageAssignmentPolicy";

fn input(body: &JsonObject) -> ApiResult<PolicyInput> {
    read::<AccessPackageAssignmentPolicyBody>(body)?.into_input()
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    p: &AssignmentPolicy,
) -> ApiResult<Map<String, Value>> {
    let mut wire = AccessPackageAssignmentPolicy::from(p);
    if query.expands("accessPackage") {
        let package = state
            .entitlement
            .get_package(&auth.caller, &p.access_package_id)
            .await?;
        wire.access_package = Some(AccessPackage::from(&package));
    }
    if query.expands("catalog") {
        let catalog = state
            .entitlement
            .get_catalog(&auth.caller, &p.catalog_id)
            .await?;
        wire.catalog = Some(AccessPackageCatalog::from(&catalog));
    }
    Ok(object(&wire))
}

const EXPANDABLE: &[&str] = &[
    "accessPackage",
    "catalog",
    "questions",
    "customExtensionStageSettings",
];

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, EXPANDABLE)?;
    let page = state
        .entitlement
        .list_policies(&auth.caller, &query.list_query())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for p in &page.items {
        items.push(render(&state, &auth, &query, p).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/assignmentPolicies"),
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
            let p = state
                .entitlement
                .create_policy(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{BASE}/assignmentPolicies"),
                TYPE,
                object(&AccessPackageAssignmentPolicy::from(&p)),
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
    query.check_expand(TYPE, EXPANDABLE)?;
    let p = state.entitlement.get_policy(&auth.caller, &id).await?;
    let rendered = render(&state, &auth, &query, &p).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/assignmentPolicies"),
        TYPE,
        rendered,
    )?))
}

/// `PUT`: the body replaces the policy (Graph's documented way of updating one); returns it.
pub async fn replace(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let input = input(&body)?;
    let p = state
        .entitlement
        .update_policy(&auth.caller, &auth.context(), &id, input, true)
        .await?;
    Ok(Json(query.entity(
        &format!("{BASE}/assignmentPolicies"),
        TYPE,
        object(&AccessPackageAssignmentPolicy::from(&p)),
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
        .update_policy(&auth.caller, &auth.context(), &id, input, false)
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
        .delete_policy(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/identityGovernance/entitlementManagement/assignmentPolicies",
        Collection,
        "List assignment policies",
        list,
    )
    .returns("accessPackageAssignmentPolicy")
    .route(
        Post,
        "/identityGovernance/entitlementManagement/assignmentPolicies",
        Create,
        "Create an assignment policy",
        create,
    )
    .body("accessPackageAssignmentPolicyBody")
    .returns("accessPackageAssignmentPolicy")
    .route(
        Get,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        Entity,
        "Get an assignment policy",
        get,
    )
    .returns("accessPackageAssignmentPolicy")
    .route(
        Put,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        Entity,
        "Replace an assignment policy",
        replace,
    )
    .body("accessPackageAssignmentPolicyBody")
    .returns("accessPackageAssignmentPolicy")
    .route(
        Patch,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        NoContent,
        "Update an assignment policy",
        update,
    )
    .body("accessPackageAssignmentPolicyBody")
    .route(
        Delete,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        NoContent,
        "Delete an assignment policy",
        delete,
    )
}
