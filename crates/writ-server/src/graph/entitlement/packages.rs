//! `…/entitlementManagement/accessPackages` and their `resourceRoleScopes`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::{AccessPackage, CurrentUserFunction, PackageInput};
use writ_domain::patch::Patch;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::body::read;
use crate::wire::entitlement::catalogs::{
    AccessPackage as WirePackage, AccessPackageCatalog, AccessPackageResourceRoleScope,
};
use crate::wire::entitlement::catalogs::{AccessPackageBody, AccessPackageResourceRoleScopeBody};
use crate::wire::entitlement::policies::{
    AccessPackageAssignmentPolicy, AccessPackageAssignmentRequestRequirements,
};
use crate::wire::object;

const TYPE: &str = "accessPackage";
const EXPANDABLE: &[(&str, &[&str])] = &[
    ("resourceRoleScopes", &["role", "scope"]),
    ("catalog", &[]),
    ("assignmentPolicies", &[]),
];

fn input(body: &JsonObject) -> ApiResult<PackageInput> {
    let body = read::<AccessPackageBody>(body)?;
    let catalog_id = match body.catalog {
        Patch::Value(c) => match c.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "property 'catalog.id' must be a string",
                ));
            }
        },
        Patch::Null => return Err(ApiError::bad_request("property 'catalog' cannot be null")),
        Patch::Absent => None,
    };
    Ok(PackageInput {
        display_name: body.display_name,
        description: body.description,
        is_hidden: body.is_hidden,
        catalog_id,
    })
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    p: &AccessPackage,
) -> ApiResult<Map<String, Value>> {
    let mut wire = WirePackage::from(p);
    if query.expands("catalog") {
        let c = state.entitlement.package_catalog(&auth.caller, p).await?;
        wire.catalog = Some(Box::new(AccessPackageCatalog::from(&c)));
    }
    if query.expands("resourceRoleScopes") {
        let with_role = query.expands_nested("resourceRoleScopes", "role");
        let with_scope = query.expands_nested("resourceRoleScopes", "scope");
        let scopes = state
            .entitlement
            .package_role_scopes(&auth.caller, &p.id)
            .await?;
        wire.resource_role_scopes = Some(
            scopes
                .iter()
                .map(|(rs, role, scope)| {
                    AccessPackageResourceRoleScope::new(rs, role, scope, with_role, with_scope)
                })
                .collect(),
        );
    }
    let mut m = object(&wire);
    if query.expands("assignmentPolicies") {
        let policies = state
            .entitlement
            .policies_of_package(&auth.caller, &p.id)
            .await?;
        let mut items = Vec::with_capacity(policies.len());
        for policy in &policies {
            items.push(Value::Object(object(&AccessPackageAssignmentPolicy::from(
                policy,
            ))));
        }
        m.insert("assignmentPolicies".into(), Value::Array(items));
    }
    Ok(m)
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand_nested(TYPE, EXPANDABLE)?;
    let page = state
        .entitlement
        .list_packages(&auth.caller, &query.list_query(), None)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for p in &page.items {
        items.push(render(&state, &auth, &query, p).await?);
    }
    Ok(Json(query.collection(
        &format!("{BASE}/accessPackages"),
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
                .create_package(&auth.caller, &auth.context(), input)
                .await?;
            query.entity(
                &format!("{BASE}/accessPackages"),
                TYPE,
                object(&WirePackage::from(&p)),
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
    query.check_expand_nested(TYPE, EXPANDABLE)?;
    let p = state.entitlement.get_package(&auth.caller, &id).await?;
    let rendered = render(&state, &auth, &query, &p).await?;
    Ok(Json(query.entity(
        &format!("{BASE}/accessPackages"),
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
        .update_package(&auth.caller, &auth.context(), &id, input)
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
        .delete_package(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_role_scopes(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("accessPackageResourceRoleScope", &["role", "scope"])?;
    let scopes = state
        .entitlement
        .package_role_scopes(&auth.caller, &id)
        .await?;
    let items = scopes
        .iter()
        .map(|(rs, role, scope)| {
            object(&AccessPackageResourceRoleScope::new(
                rs,
                role,
                scope,
                query.expands("role"),
                query.expands("scope"),
            ))
        })
        .collect();
    let page = super::super::small_collection(&query, items)?;
    Ok(Json(query.collection(
        &format!("{BASE}/accessPackages('{id}')/resourceRoleScopes"),
        "accessPackageResourceRoleScope",
        page,
    )?))
}

/// `POST …/accessPackages/{id}/resourceRoleScopes`: `{role: {…}, scope: {…}}` as Graph's docs
/// show; the role by id or by `originId` and `resource.id`, the scope by id or `originId`.
pub async fn add_role_scope(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let input = read::<AccessPackageResourceRoleScopeBody>(&body)?.into_input()?;
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let (rs, role, scope) = state
                .entitlement
                .add_role_scope(&auth.caller, &auth.context(), &id, input)
                .await?;
            // Live assignments of the package are re-delivered with the new role.
            state.job_waker.wake();
            query.entity(
                &format!("{BASE}/accessPackages('{id}')/resourceRoleScopes"),
                "accessPackageResourceRoleScope",
                object(&AccessPackageResourceRoleScope::new(
                    &rs, &role, &scope, true, true,
                )),
            )
        },
    )
    .await
}

pub async fn remove_role_scope(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, role_scope)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .remove_role_scope(&auth.caller, &auth.context(), &id, &role_scope)
        .await?;
    // Live assignments of the package lose the role on their re-delivery.
    state.job_waker.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/accessPackages/filterByCurrentUser(on='allowedRequestor')` (the `on` parameter parsed
/// as for the other `filterByCurrentUser` functions).
pub async fn filter_by_current_user(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(arguments): Path<String>,
) -> ApiResult<Json<Value>> {
    super::current_user::parse_on(&arguments, CurrentUserFunction::AccessPackages)?;
    query.check_expand(TYPE, &[])?;
    let packages = state.entitlement.requestable_packages(&auth.caller).await?;
    let items = packages
        .iter()
        .map(|p| object(&WirePackage::from(p)))
        .collect();
    let page = super::super::small_collection(&query, items)?;
    Ok(Json(query.collection(
        &format!("{BASE}/accessPackages"),
        TYPE,
        page,
    )?))
}

/// `POST …/accessPackages/{id}/getApplicablePolicyRequirements`.
pub async fn applicable_policy_requirements(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let policies = state
        .entitlement
        .applicable_policies(&auth.caller, &id)
        .await?;
    let items: Vec<Value> = policies
        .iter()
        .map(|p| Value::Object(object(&AccessPackageAssignmentRequestRequirements::from(p))))
        .collect();
    Ok(Json(serde_json::json!({
        "@odata.context": query.context("Collection(microsoft.graph.accessPackageAssignmentRequestRequirements)"),
        "value": items,
    })))
}

fn package_reference(body: &JsonObject) -> ApiResult<String> {
    if body.fields.keys().any(|k| k != "@odata.id") {
        return Err(ApiError::bad_request(
            "a $ref body holds exactly one property, '@odata.id'",
        ));
    }
    let url = body
        .fields
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("property '@odata.id' (a URL) is required"))?;
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit_once("/accessPackages/")
        .and_then(|(_, id)| writ_domain::ids::parse_guid(id.trim_end_matches('/')))
        .ok_or_else(|| ApiError::bad_request(format!("'{url}' does not name an access package")))
}

async fn package_list(
    state: &AppState,
    auth: &Authenticated,
    query: &ODataQuery,
    id: &str,
    outgoing: bool,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &[])?;
    let packages = state
        .entitlement
        .incompatible_packages(&auth.caller, id, outgoing)
        .await?;
    let items = packages
        .iter()
        .map(|p| object(&WirePackage::from(p)))
        .collect();
    let page = super::super::small_collection(query, items)?;
    Ok(Json(query.collection(
        &format!("{BASE}/accessPackages"),
        TYPE,
        page,
    )?))
}

pub async fn list_incompatible_packages(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    package_list(&state, &auth, &query, &id, true).await
}

pub async fn list_incompatible_with(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    package_list(&state, &auth, &query, &id, false).await
}

pub async fn add_incompatible_package(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let other = package_reference(&body)?;
    state
        .entitlement
        .change_incompatibility(&auth.caller, &auth.context(), &id, &other, false, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_incompatible_package(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, other)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .change_incompatibility(&auth.caller, &auth.context(), &id, &other, false, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_incompatible_groups(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.check_expand("group", &[])?;
    let groups = state
        .entitlement
        .incompatible_groups(&auth.caller, &id)
        .await?;
    let items = groups
        .iter()
        .map(crate::graph::groups::group_json)
        .collect();
    let page = super::super::small_collection(&query, items)?;
    Ok(Json(query.collection("groups", "group", page)?))
}

pub async fn add_incompatible_group(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    let group = body.reference()?;
    state
        .entitlement
        .change_incompatibility(&auth.caller, &auth.context(), &id, &group, true, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_incompatible_group(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .entitlement
        .change_incompatibility(&auth.caller, &auth.context(), &id, &group, true, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    r
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages", Collection, "List access packages (filtered to the caller's catalogs)", list).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages", Create, "Create an access package", create).body("accessPackage").returns("accessPackage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}", Entity, "Get an access package", get).returns("accessPackage")
        .route(Patch, "/identityGovernance/entitlementManagement/accessPackages/{id}", NoContent, "Update an access package", update).body("accessPackage")
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}", NoContent, "Delete an access package", delete)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes", Collection, "List the resource roles a package grants", list_role_scopes).returns("accessPackageResourceRoleScope")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes", Create, "Add a resource role to a package", add_role_scope).body("accessPackageResourceRoleScopeBody").returns("accessPackageResourceRoleScope")
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes/{role_scope_id}", NoContent, "Remove a resource role from a package", remove_role_scope)
        .function("/identityGovernance/entitlementManagement/accessPackages", "filterByCurrentUser", vec![super::current_user::on_parameter(CurrentUserFunction::AccessPackages)], Collection, "Packages the caller may request for itself", filter_by_current_user).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/getApplicablePolicyRequirements", Plain, "The caller's requirements under each policy it may request through", applicable_policy_requirements).returns_page("accessPackageAssignmentRequestRequirements")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages", Collection, "Packages incompatible with this one", list_incompatible_packages).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages/$ref", NoContent, "Add an incompatible package", add_incompatible_package)
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages/{other_id}/$ref", NoContent, "Remove an incompatible package", remove_incompatible_package)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/accessPackagesIncompatibleWith", Collection, "Packages that declare this one incompatible", list_incompatible_with).returns("accessPackage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups", Collection, "Groups incompatible with this package", list_incompatible_groups).returns("group")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups/$ref", NoContent, "Add an incompatible group", add_incompatible_group)
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups/{group_id}/$ref", NoContent, "Remove an incompatible group", remove_incompatible_group)
}
