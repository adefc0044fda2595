//! `…/entitlementManagement/assignmentPolicies`: create, read, list, replace (PUT), update
//! (PATCH), delete. Nested settings are parsed into the domain's typed model; anything that is
//! not a property of Graph's types is refused.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use writ_domain::entitlement::PolicyInput;
use writ_domain::entitlement::policy_model::AssignmentPolicy;
use writ_domain::patch::Patch;
use writ_domain::query::Page;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;

use super::BASE;
use crate::wire::entitlement::catalogs::{AccessPackage, AccessPackageCatalog};
use crate::wire::entitlement::policies::AccessPackageAssignmentPolicy;
use crate::wire::object;

const TYPE: &str = "accessPackageAssignmentPolicy";
const WRITABLE: &[&str] = &[
    "displayName",
    "description",
    "allowedTargetScope",
    "specificAllowedTargets",
    "expiration",
    "requestorSettings",
    "requestApprovalSettings",
    "notificationSettings",
    "questions",
    "customExtensionStageSettings",
    "automaticRequestSettings",
    "reviewSettings",
    "accessPackage",
    "catalog",
];
/// Arrays whose items are polymorphic (`@odata.type` chooses the type).
const POLYMORPHIC: &[&str] = &[
    "specificAllowedTargets",
    "onBehalfRequestors",
    "primaryApprovers",
    "fallbackPrimaryApprovers",
    "escalationApprovers",
    "fallbackEscalationApprovers",
    "questions",
];

/// Drops the annotations clients add to non-polymorphic objects (`@odata.type` of complex
/// types) and the `isBackup` flag some documents put on subject sets, which Graph v1.0 does not
/// declare.
fn normalize(value: &mut Value, polymorphic_item: bool) {
    match value {
        Value::Object(map) => {
            if polymorphic_item {
                map.remove("isBackup");
            } else {
                map.remove("@odata.type");
            }
            for (key, inner) in map.iter_mut() {
                match inner {
                    Value::Array(items) if POLYMORPHIC.contains(&key.as_str()) => {
                        for item in items.iter_mut() {
                            normalize(item, true);
                        }
                    }
                    other => normalize(other, false),
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                normalize(item, false);
            }
        }
        _ => {}
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    body: &Map<String, Value>,
    name: &str,
) -> ApiResult<Option<T>> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Err(ApiError::bad_request(format!(
            "property '{name}' cannot be null"
        ))),
        Some(value) => {
            let mut value = value.clone();
            match &mut value {
                Value::Array(items) if POLYMORPHIC.contains(&name) => {
                    for item in items.iter_mut() {
                        normalize(item, true);
                    }
                }
                other => normalize(other, false),
            }
            serde_json::from_value(value)
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("property '{name}' is not valid: {e}")))
        }
    }
}

/// Whether an optional settings object is present with `flag` true.
fn enabled(body: &Map<String, Value>, name: &str, flag: &str) -> bool {
    body.get(name)
        .and_then(|v| v.get(flag))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn input(body: &JsonObject) -> ApiResult<PolicyInput> {
    body.check_properties(TYPE, WRITABLE)?;
    let fields = &body.fields;
    let access_package_id = match body.object("accessPackage")? {
        Patch::Value(p) => Some(
            p.get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_request("property 'accessPackage.id' must be a string")
                })?
                .to_owned(),
        ),
        _ => None,
    };
    let questions = typed(fields, "questions")?;
    Ok(PolicyInput {
        display_name: body.string("displayName")?,
        description: body.string("description")?,
        allowed_target_scope: body.string("allowedTargetScope")?,
        specific_allowed_targets: typed(fields, "specificAllowedTargets")?,
        expiration: typed(fields, "expiration")?,
        requestor_settings: typed(fields, "requestorSettings")?,
        request_approval_settings: typed(fields, "requestApprovalSettings")?,
        notification_settings: typed(fields, "notificationSettings")?,
        questions,
        custom_extension_stage_settings: typed(fields, "customExtensionStageSettings")?,
        automatic_requests_enabled: enabled(
            fields,
            "automaticRequestSettings",
            "requestAccessForAllowedTargets",
        ),
        reviews_enabled: enabled(fields, "reviewSettings", "isEnabled"),
        access_package_id,
        catalog_id: match body.object("catalog")? {
            Patch::Value(c) => Some(
                c.get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("property 'catalog.id' must be a string"))?
                    .to_owned(),
            ),
            _ => None,
        },
    })
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
    .body("accessPackageAssignmentPolicy")
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
    .body("accessPackageAssignmentPolicy")
    .returns("accessPackageAssignmentPolicy")
    .route(
        Patch,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        NoContent,
        "Update an assignment policy",
        update,
    )
    .body("accessPackageAssignmentPolicy")
    .route(
        Delete,
        "/identityGovernance/entitlementManagement/assignmentPolicies/{id}",
        NoContent,
        "Delete an assignment policy",
        delete,
    )
}
