//! `/identityGovernance/lifecycleWorkflows/lifecyclePolicies` (DESIGN section 17, Graph's
//! `agentIdentityLifecyclePolicy`): create, list, get, update, delete; and an agent identity's
//! `lifecycle` (its compliance issues and governing policy) and `attest`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::idempotency;
use crate::json_input::JsonObject;
use crate::odata::ODataQuery;
use crate::state::AppState;
use crate::wire::directory::lifecycle::{AgentIdentityLifecycle, LifecyclePolicy};
use crate::wire::object;

const CONTEXT: &str = "identityGovernance/lifecycleWorkflows/lifecyclePolicies";
const TYPE: &str = "agentIdentityLifecyclePolicy";
const LIFECYCLE_TYPE: &str = "agentIdentityLifecycle";

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
) -> ApiResult<Json<Value>> {
    query.check_expand(TYPE, &[])?;
    let policies = state
        .directory
        .list_lifecycle_policies(&auth.caller)
        .await?;
    let items = policies
        .iter()
        .map(|p| object(&LifecyclePolicy::from(p)))
        .collect();
    let page = super::small_collection(&query, items)?;
    Ok(Json(query.collection(CONTEXT, TYPE, page)?))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    query.for_create()?;
    idempotency::run(
        &state,
        &auth,
        &format!("POST {}", query.path),
        &headers,
        &body.raw,
        || async {
            let policy = state
                .directory
                .create_lifecycle_policy(&auth.caller, &auth.context(), body.fields.clone())
                .await?;
            query.entity(CONTEXT, TYPE, object(&LifecyclePolicy::from(&policy)))
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
    query.check_expand(TYPE, &[])?;
    let policy = state
        .directory
        .get_lifecycle_policy(&auth.caller, &id)
        .await?;
    Ok(Json(query.entity(
        CONTEXT,
        TYPE,
        object(&LifecyclePolicy::from(&policy)),
    )?))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<StatusCode> {
    state
        .directory
        .update_lifecycle_policy(&auth.caller, &auth.context(), &id, body.fields)
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
        .delete_lifecycle_policy(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /servicePrincipals/{id}/lifecycle` (Graph beta's path for an agent identity's
/// `identityLifecycle`), `$expand=effectiveGoverningPolicy` supported.
pub async fn get_lifecycle(
    State(state): State<AppState>,
    auth: Authenticated,
    query: ODataQuery,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    query.single_entity()?;
    query.check_expand(
        LIFECYCLE_TYPE,
        &["effectiveGoverningPolicy", "complianceIssues"],
    )?;
    let lifecycle = state.directory.agent_lifecycle(&auth.caller, &id).await?;
    let wire = AgentIdentityLifecycle::new(&lifecycle, query.expands("effectiveGoverningPolicy"));
    Ok(Json(query.entity(
        &format!("servicePrincipals('{}')/lifecycle", lifecycle.agent_id),
        LIFECYCLE_TYPE,
        object(&wire),
    )?))
}

/// `POST /servicePrincipals/{id}/attest`: no body (any is ignored, as Graph takes none), `204`.
pub async fn attest(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .directory
        .attest_agent(&auth.caller, &auth.context(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes (under the Graph version prefixes), with their documentation.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::*;
    use crate::routes::Method::*;
    const POLICIES: &str = "/identityGovernance/lifecycleWorkflows/lifecyclePolicies";
    r.route(Get, POLICIES, Collection, "List lifecycle policies", list)
        .returns_page("agentIdentityLifecyclePolicy")
        .route(Post, POLICIES, Create, "Create a lifecycle policy", create)
        .body("agentIdentityLifecyclePolicyBody")
        .returns("agentIdentityLifecyclePolicy")
        .route(
            Get,
            "/identityGovernance/lifecycleWorkflows/lifecyclePolicies/{id}",
            Entity,
            "Get a lifecycle policy",
            get,
        )
        .returns("agentIdentityLifecyclePolicy")
        .route(
            Patch,
            "/identityGovernance/lifecycleWorkflows/lifecyclePolicies/{id}",
            NoContent,
            "Update a lifecycle policy",
            update,
        )
        .body("agentIdentityLifecyclePolicyBody")
        .route(
            Delete,
            "/identityGovernance/lifecycleWorkflows/lifecyclePolicies/{id}",
            NoContent,
            "Delete a lifecycle policy",
            delete,
        )
        .route(
            Get,
            "/servicePrincipals/{id}/lifecycle",
            Entity,
            "Get an agent identity's lifecycle state: compliance issues and governing policy",
            get_lifecycle,
        )
        .returns("agentIdentityLifecycle")
        .route(
            Post,
            "/servicePrincipals/{id}/attest",
            NoContent,
            "Attest an agent identity (its sponsor, owner or a Global Administrator)",
            attest,
        )
}
